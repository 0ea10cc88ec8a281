"""Bundled quality suites (YAML data, loaded with importlib.resources by rigbench.quality.suite)."""
