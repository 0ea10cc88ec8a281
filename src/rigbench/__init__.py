"""rigbench: evidence, not impressions, for LLMs served on your own machine."""

__version__ = "0.1.0"
