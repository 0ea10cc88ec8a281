"""Decoding techniques as experiments against the baseline: draft-model speculation, prompt
lookup (n-gram speculation), KV-cache types, and a synthetic acceptance for the speedup
curve. ``job`` runs a lab, ``summary`` recomputes it from the store, ``card`` renders it."""
