"""Verdicts from the measured intervals, and the table in the shape people post. Pure.

A technique's verdict reads its speedup over the baseline, pooled over depths, per kind
of work, and the 95% interval of each:

- ``best general case``: faster on every kind of work (each interval above 1), and the
  fastest such technique overall; others that are faster everywhere: ``faster on all work``;
- ``grounded tasks only`` / ``open tasks only``: faster on that kind, not on the other;
- ``slower than baseline``: slower on some kind of work (interval below 1), faster on none;
- ``no gain at short context``: no interval excludes 1 and every depth is short (under
  ``SHORT_CONTEXT`` tokens); ``no gain`` when deeper contexts were measured too.

Before any of these: a lossy KV cache that fails the quality gate is ``quality loss``; a
speculative technique whose greedy output differs from the baseline's beyond a near-tie
is ``output differs`` (it must be lossless); a synthetic arm is ``synthetic (output not
valid)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.units import fmt_speedup

__all__ = ["SHORT_CONTEXT", "VERDICTS", "arm_verdict", "assign_verdicts", "speed_words", "technique_table"]

SHORT_CONTEXT = 8192
VERDICTS = ("best general case", "faster on all work", "grounded tasks only", "open tasks only",
            "slower than baseline", "no gain at short context", "no gain", "quality loss", "output differs",
            "synthetic (output not valid)", "not measured")


def arm_verdict(by_work: Mapping[str, Mapping[str, Any]], *, depths: Sequence[int], identity: str | None,
                gate_passed: bool | None = None, synthetic: bool = False) -> str:
    """One arm's verdict (before ``best general case`` is chosen among arms)."""
    if synthetic:
        return "synthetic (output not valid)"
    if gate_passed is False:
        return "quality loss"
    if identity == "differs":
        return "output differs"
    measured = {w: p for w, p in by_work.items() if p.get("speedup") is not None}
    if not measured:
        return "not measured"
    faster = {w for w, p in measured.items() if p.get("paired_verdict") == "b_faster"}
    slower = {w for w, p in measured.items() if p.get("paired_verdict") == "a_faster"}
    if faster and faster == set(measured) and len(measured) > 1:
        return "faster on all work"
    if "grounded" in faster:
        return "grounded tasks only"
    if "open" in faster:
        return "open tasks only"
    if faster:
        return "faster on all work"
    if slower:
        return "slower than baseline"
    return "no gain at short context" if depths and max(depths) < SHORT_CONTEXT else "no gain"


def assign_verdicts(arms: Sequence[dict[str, Any]]) -> None:
    """Set ``verdict`` on each arm figure (``lab.figures.arm_figures`` plus ``gate``); the
    fastest of those faster on all work becomes ``best general case``."""
    for a in arms:
        gate = a.get("gate") or {}
        a["verdict"] = arm_verdict(a["by_work"], depths=a.get("depths") or [], identity=a.get("identity"),
                                   gate_passed=gate.get("passed"), synthetic=a["arm"].get("synthetic") is not None)
    general = [a for a in arms if a["verdict"] == "faster on all work"]
    if general:
        best = max(general, key=lambda a: a["overall"].get("speedup") or 0.0)
        best["verdict"] = "best general case"


def _anchor(a: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """Which figures stand for an arm in the table: the kind of work its verdict names,
    else all work pooled."""
    v = a.get("verdict")
    by_work = a.get("by_work") or {}
    if v == "grounded tasks only" and "grounded" in by_work:
        return "grounded", by_work["grounded"]
    if v == "open tasks only" and "open" in by_work:
        return "open", by_work["open"]
    if len(by_work) == 1:
        work = next(iter(by_work))
        return work, by_work[work]
    return "all", a.get("overall") or {}


def speed_words(speedup: float | None) -> str:
    """1.52 -> "1.52x"; 0.88 -> "12% slower" (as the seed's table puts it): ``units.fmt_speedup``."""
    return fmt_speedup(speedup)


def technique_table(baseline: Mapping[str, Any], arms: Sequence[Mapping[str, Any]],
                    target: str) -> list[dict[str, Any]]:
    """Technique | Target | Result tok/s | Speedup | Acceptance | Verdict: the baseline, then
    one row per technique (its best draft length; the sweep is in the detail rows)."""
    rows: list[dict[str, Any]] = [{
        "technique": "Baseline", "arm": "baseline", "target": target, "work": "all",
        "decode_tok_s": baseline.get("decode_tok_s"), "speedup": 1.0, "ci": None, "acceptance": None,
        "identity": None, "verdict": "the baseline", "draft_n_max": None}]
    best: dict[str, Mapping[str, Any]] = {}
    for a in arms:
        label = a["arm"]["label"] + (f" {a['arm']['synthetic']:.2f}" if a["arm"].get("synthetic") is not None else "")
        _, fig = _anchor(a)
        cur = best.get(label)
        if cur is None or (fig.get("speedup") or 0.0) > (_anchor(cur)[1].get("speedup") or 0.0):
            best[label] = a
    for label, a in best.items():
        work, fig = _anchor(a)
        n = a["arm"].get("draft_n_max")
        rows.append({
            "technique": label + (f", n_max {n}" if n and a["arm"].get("synthetic") is None else ""),
            "arm": a["arm"]["name"], "target": target, "work": work,
            "decode_tok_s": fig.get("decode_tok_s"), "speedup": fig.get("speedup"), "ci": fig.get("ci"),
            "acceptance": fig.get("acceptance"), "identity": a.get("identity"), "verdict": a.get("verdict"),
            "draft_n_max": a["arm"].get("draft_n_max"), "speed_words": speed_words(fig.get("speedup")),
        })
    rows[0]["speed_words"] = "1.00x"
    return rows
