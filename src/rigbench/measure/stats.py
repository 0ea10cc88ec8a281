"""Statistics: medians with 95% bootstrap confidence intervals, paired A/B ratios."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Summary", "bootstrap_ci", "paired_ratio", "summarize"]

_B = 2000


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
    meds = np.median(arr[idx], axis=1)
    lo, hi = np.quantile(meds, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def summarize(values: Sequence[float | None], *, seed: int = 0) -> Summary:
    arr = _clean(values)
    if arr.size == 0:
        return Summary(None, None, 0)
    return Summary(float(np.median(arr)), bootstrap_ci(arr.tolist(), seed=seed), int(arr.size))


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
    ra = np.median(arr[idx, 1], axis=1) / np.median(arr[idx, 0], axis=1)
    lo, hi = np.quantile(ra, [(1 - level) / 2, 1 - (1 - level) / 2])
    return ratio, (float(lo), float(hi))
