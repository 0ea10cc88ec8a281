"""Tuning campaigns: search llama.cpp's settings, keep or discard each with evidence, and
hand back the winning command. ``space`` (what to try), ``objective`` (what to optimise
and the workload that measures it), ``trial`` (one configuration on a running server),
``journal`` (hypotheses and decisions), ``gate`` (quality check for lossy changes),
``final`` (the side-by-side re-measure), ``campaign`` (the search loop and resume),
``result`` (the summary) and ``export`` (launchers)."""

from __future__ import annotations

__all__: list[str] = []
