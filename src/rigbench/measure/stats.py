"""Statistics: medians with 95% bootstrap confidence intervals, paired A/B ratios and the
one rule that turns a paired ratio into a verdict. Pure: no I/O.

A pair is one A value and one B value measured side by side (same depth and repeat, the
same session turn, the same tune repeat). ``paired`` gives B/A of the medians with a paired
bootstrap interval (pairs resampled together); ``pooled`` gives one B/A over several groups
(depths). With fewer than ``SMALL_N`` pairs the percentile bootstrap is known to be too
narrow, so the interval is widened to at least a Student-t interval on the per-pair log
ratios.

``verdict_of`` decides every verdict (per depth, overall, tune, lab): a side wins only when
the interval excludes 1 at the precision shown (three decimals) *and* the effect
``|B/A - 1|`` is at least the minimum detectable effect ``mde_pct`` (the interval's
half-width in percent of the ratio; compared on the log scale, so that swapping A and B
flips the verdict exactly). Otherwise the verdict is ``no_difference``, stated with
what the data allow: no difference larger than ``bound_pct`` either way (the farther end of
the interval from 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SMALL_N",
    "Paired",
    "Summary",
    "Verdict",
    "bootstrap_ci",
    "paired",
    "paired_ratio",
    "pooled",
    "summarize",
    "t_quantile",
    "verdict_of",
]

_B = 2000
SMALL_N = 8
_SHOWN = 3  # decimals a ratio and its interval are shown with


@dataclass(frozen=True)
class Summary:
    median: float | None
    ci: tuple[float, float] | None
    n: int


def _clean(values: Sequence[float | None]) -> np.ndarray:
    arr = np.array([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    return arr


def bootstrap_ci(values: Sequence[float | None], *, level: float = 0.95, seed: int = 0,
                 n_boot: int = _B) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the median. None with fewer than two values."""
    arr = _clean(values)
    if arr.size < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    meds = _row_medians(arr[idx])
    lo, hi = np.quantile(meds, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _row_medians(samples: np.ndarray) -> np.ndarray:
    """``np.median(samples, axis=1)`` to the bit (the middle value, or the mean of the two middle
    ones: ``(a + b) / 2``), from one sort, several times faster on the small rows of a bootstrap."""
    s = np.sort(samples, axis=1)
    n = s.shape[1]
    return s[:, n // 2] if n % 2 else (s[:, n // 2 - 1] + s[:, n // 2]) / 2


def summarize(values: Sequence[float | None], *, seed: int = 0, ci: bool = True) -> Summary:
    """Median, its bootstrap CI (``ci=False``: not computed, None) and the count."""
    arr = _clean(values)
    if arr.size == 0:
        return Summary(None, None, 0)
    return Summary(float(np.median(arr)), bootstrap_ci(arr.tolist(), seed=seed) if ci else None, int(arr.size))


def paired_ratio(a: Sequence[float], b: Sequence[float], *, level: float = 0.95, seed: int = 0,
                 n_boot: int = _B) -> tuple[float | None, tuple[float, float] | None]:
    """Ratio of medians B/A with a paired bootstrap CI (pairs resampled together)."""
    pairs = [(x, y) for x, y in zip(a, b, strict=False) if x and y and np.isfinite(x) and np.isfinite(y)]
    if not pairs:
        return None, None
    arr = np.array(pairs, dtype=float)
    ratio = float(np.median(arr[:, 1]) / np.median(arr[:, 0]))
    if len(pairs) < 2:
        return ratio, None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pairs), size=(n_boot, len(pairs)))
    ra = _row_medians(arr[idx, 1]) / _row_medians(arr[idx, 0])
    lo, hi = np.quantile(ra, [(1 - level) / 2, 1 - (1 - level) / 2])
    return ratio, (float(lo), float(hi))


# -- paired A/B ratios ----------------------------------------------------------------------
# two-sided 95% Student-t quantiles by degrees of freedom (df > 30: the normal's 1.96)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError("df must be at least 1")
    return _T975[df - 1] if df <= len(_T975) else 1.96


@dataclass(frozen=True)
class Verdict:
    """What a paired ratio and its interval allow us to say."""

    verdict: str  # b_faster | a_faster | no_difference
    mde_pct: float | None  # CI half-width in % of the ratio: smaller differences are not seen
    effect_pct: float | None  # |B/A - 1| in %
    bound_pct: float | None  # no_difference only: no difference larger than this, either way (%)


def verdict_of(ratio: float | None, ci: tuple[float, float] | None) -> Verdict:
    """The one verdict rule. A winner needs an interval that excludes 1 at the precision
    shown and an effect at least the minimum detectable one; anything else is
    ``no_difference`` with the largest difference the interval still allows."""
    if ratio is None or ci is None or not ratio > 0:
        return Verdict("no_difference", None, None, None)
    lo, hi = ci
    mde = (hi - lo) / 2 / ratio * 100
    effect = abs(ratio - 1) * 100
    # effect against MDE on the log scale, where swapping A and B only flips signs (near 1 it
    # is effect_pct >= mde_pct)
    big_enough = lo > 0 and abs(math.log(ratio)) >= (math.log(hi) - math.log(lo)) / 2
    if round(lo, _SHOWN) > 1.0 and big_enough:
        return Verdict("b_faster", mde, effect, None)
    if round(hi, _SHOWN) < 1.0 and big_enough:
        return Verdict("a_faster", mde, effect, None)
    # rounded up to 0.1% so the statement stays true (after dropping float noise: 1.06 - 1 is 6.0%, not 6.1%)
    bound = math.ceil(round(max(hi - 1.0, 1.0 - lo, 0.0) * 1000, 6)) / 10
    return Verdict("no_difference", mde, effect, bound)


@dataclass(frozen=True)
class Paired:
    ratio: float | None  # B/A
    ci: tuple[float, float] | None
    n: int  # pairs used
    verdict: str  # b_faster | a_faster | no_difference (``verdict_of``)
    mde_pct: float | None  # CI half-width in % of the ratio: smaller differences are not seen
    method: str  # how the interval was made
    effect_pct: float | None = None  # |B/A - 1| in %
    bound_pct: float | None = None  # no_difference: no difference larger than this either way (%)

    def to_json(self) -> dict[str, Any]:
        return {"ratio": _r(self.ratio, 4), "ci": [_r(self.ci[0], 4), _r(self.ci[1], 4)] if self.ci else None,
                "n": self.n, "verdict": self.verdict, "mde_pct": _r(self.mde_pct, 1), "ci_method": self.method,
                "effect_pct": _r(self.effect_pct, 1), "bound_pct": self.bound_pct}


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def _good(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def _pairs(a: Sequence[float | None], b: Sequence[float | None]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in zip(a, b, strict=False) if _good(x) and _good(y)]  # type: ignore[arg-type]


def _t_interval(logs: np.ndarray) -> tuple[float, float] | None:
    if logs.size < 2:
        return None
    half = t_quantile(int(logs.size) - 1) * float(np.std(logs, ddof=1)) / math.sqrt(logs.size)
    m = float(np.mean(logs))
    return math.exp(m - half), math.exp(m + half)


def _finish(ratio: float | None, ci: tuple[float, float] | None, n: int, method: str) -> Paired:
    if ratio is None or ci is None:
        return Paired(ratio, None, n, "no_difference", None, "none (fewer than two pairs)")
    v = verdict_of(ratio, ci)
    return Paired(ratio, ci, n, v.verdict, v.mde_pct, method, v.effect_pct, v.bound_pct)


def _widen(ci: tuple[float, float] | None, logs: np.ndarray) -> tuple[tuple[float, float] | None, str]:
    method = "paired bootstrap"
    if logs.size < SMALL_N:
        t = _t_interval(logs)
        if t is not None:
            ci = (min(ci[0], t[0]), max(ci[1], t[1])) if ci else t
            method = f"paired bootstrap widened to a t interval ({logs.size} pairs < {SMALL_N})"
    return ci, method


def paired(a: Sequence[float | None], b: Sequence[float | None], *, seed: int = 0) -> Paired:
    """B/A for pairs measured side by side (``a[i]`` with ``b[i]``); missing values drop the pair."""
    pairs = _pairs(a, b)
    if not pairs:
        return Paired(None, None, 0, "no_difference", None, "none (no pairs)")
    xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
    ratio, ci = paired_ratio(xs, ys, seed=seed)
    logs = np.log(np.array(ys) / np.array(xs))
    ci, method = _widen(ci, logs)
    return _finish(ratio, ci, len(pairs), method)


def pooled(groups: Sequence[tuple[Sequence[float | None], Sequence[float | None]]], *, seed: int = 0,
           n_boot: int = _B) -> Paired:
    """One B/A over several groups (depths): the geometric mean of the groups' ratios of
    medians, with a bootstrap that resamples pairs within each group."""
    clean = [np.array(p, dtype=float) for p in (_pairs(a, b) for a, b in groups) if p]
    if not clean:
        return Paired(None, None, 0, "no_difference", None, "none (no pairs)")
    n = sum(len(g) for g in clean)
    logs_g = [math.log(float(np.median(g[:, 1])) / float(np.median(g[:, 0]))) for g in clean]
    ratio = math.exp(sum(logs_g) / len(logs_g))
    if n < 2:
        return _finish(ratio, None, n, "none")
    rng = np.random.default_rng(seed)
    acc = np.zeros(n_boot)
    for g in clean:
        idx = rng.integers(0, len(g), size=(n_boot, len(g)))
        acc += np.log(_row_medians(g[idx, 1]) / _row_medians(g[idx, 0]))
    boots = np.exp(acc / len(clean))
    lo, hi = np.quantile(boots, [0.025, 0.975])
    all_logs = np.concatenate([np.log(g[:, 1] / g[:, 0]) for g in clean])
    ci, method = _widen((float(lo), float(hi)), all_logs)
    return _finish(ratio, ci, n, method.replace("paired bootstrap", "stratified paired bootstrap"))
