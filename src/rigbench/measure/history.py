"""Pure figures for the fleet's views: the change between two runs of one model on one
machine (two engine builds, two dates), and a model's rows across machines.

Two runs made on different days are not paired samples (request i of one has nothing to do
with request i of the other), so the change is a ratio of medians with an *independent*
bootstrap: each side's decode values at a depth are resampled on their own; over several
depths the ratio is the geometric mean of the depths' ratios (as ``stats.pooled`` does for
paired data). The interval and its verdict go through ``stats.verdict_of``, the one rule
behind every A/B verdict. With fewer than two values on a side at every common depth there
is a ratio and no interval, and the entry says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rigbench.measure.stats import verdict_of

__all__ = ["build_change", "machine_rows"]

_B = 2000


def _clean(values: Sequence[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None and math.isfinite(v) and v > 0], dtype=float)


def build_change(before: Mapping[int, Sequence[float | None]], after: Mapping[int, Sequence[float | None]], *,
                 seed: int = 0, n_boot: int = _B) -> dict[str, Any]:
    """after/before decode ratio over the depths both measured: ``ratio``, ``ci`` (95%, or
    None), ``pct`` (the change in %), ``verdict`` (b_faster | a_faster | no_difference, with
    b = after), ``depths``, ``n`` (values on each side) and ``ci_method``."""
    depths = sorted(d for d in set(before) & set(after) if _clean(before[d]).size and _clean(after[d]).size)
    if not depths:
        return {"ratio": None, "ci": None, "pct": None, "verdict": None, "depths": [], "n": [0, 0],
                "ci_method": "none (no depth measured by both runs)"}
    a = [_clean(before[d]) for d in depths]
    b = [_clean(after[d]) for d in depths]
    logs = [math.log(float(np.median(y)) / float(np.median(x))) for x, y in zip(a, b, strict=True)]
    ratio = math.exp(sum(logs) / len(logs))
    n = [int(sum(x.size for x in a)), int(sum(y.size for y in b))]
    boot = [(x, y) for x, y in zip(a, b, strict=True) if x.size >= 2 and y.size >= 2]
    ci: tuple[float, float] | None = None
    method = "none (fewer than two repeats on a side)"
    if boot:
        rng = np.random.default_rng(seed)
        acc = np.zeros(n_boot)
        for x, y in boot:
            mx = np.median(x[rng.integers(0, x.size, size=(n_boot, x.size))], axis=1)
            my = np.median(y[rng.integers(0, y.size, size=(n_boot, y.size))], axis=1)
            acc += np.log(my / mx)
        lo, hi = np.quantile(np.exp(acc / len(boot)), [0.025, 0.975])
        ci = (float(lo), float(hi))
        method = "independent bootstrap of medians" + (f" ({len(boot)} of {len(depths)} depths)"
                                                        if len(boot) < len(depths) else "")
        if len(boot) < len(depths):  # the interval covers the depths with repeats; the ratio all of them
            ratio_b = math.exp(sum(math.log(float(np.median(y)) / float(np.median(x))) for x, y in boot) / len(boot))
            ratio = ratio_b
    v = verdict_of(ratio, ci) if ci else None
    return {"ratio": round(ratio, 4), "ci": [round(ci[0], 4), round(ci[1], 4)] if ci else None,
            "pct": round((ratio - 1) * 100, 1), "verdict": v.verdict if v else None, "depths": depths, "n": n,
            "ci_method": method}


def machine_rows(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One model+quant across machines: each machine's decode at the depth its verdict used,
    its ceiling there and the % of it, the fastest first; ``rel`` is each row's decode over
    the fastest's."""
    rows = sorted(entries, key=lambda e: -(e.get("decode_tok_s") or 0.0))
    top = next((r.get("decode_tok_s") for r in rows if r.get("decode_tok_s")), None)
    out = []
    for r in rows:
        d = r.get("decode_tok_s")
        out.append({**r, "rel_to_fastest": round(d / top, 3) if d and top else None})
    return out
