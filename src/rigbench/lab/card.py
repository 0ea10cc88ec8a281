"""The lab card lives with the other renderers, in ``rigbench.report.lab``."""

from rigbench.report.lab import identity_words, lab_card, pct, verdict_style

__all__ = ["identity_words", "lab_card", "pct", "verdict_style"]
