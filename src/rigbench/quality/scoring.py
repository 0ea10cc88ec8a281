"""From graded answers to the figures on the card: score /5 per prompt (mean over
repeats), per category (mean over its prompts) and overall (mean over prompts), each
with a 95% percentile-bootstrap confidence interval over prompts. Pure functions."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rigbench.results.quality import QualityItem

__all__ = ["Aggregate", "Scored", "aggregate", "bootstrap_mean_ci"]

_B = 2000


@dataclass(frozen=True)
class Scored:
    prompt_id: str
    category: str
    rep: int
    score: float  # 0..5


@dataclass(frozen=True)
class Aggregate:
    """A suite's figures from its graded answers: the score over prompts and its interval
    (None with fewer than two prompts), each category's mean and interval, each prompt's."""

    score: float | None
    ci: list[float] | None
    categories: dict[str, float]  # in suite order
    category_ci: dict[str, list[float] | None]
    items: dict[str, QualityItem]  # by prompt id, in suite order


def bootstrap_mean_ci(values: Sequence[float], *, level: float = 0.95, seed: int = 0,
                      n_boot: int = _B) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean (``measure.stats.bootstrap_ci`` is the median's).
    None with fewer than two values."""
    arr = np.array([v for v in values if np.isfinite(v)], dtype=float)
    if arr.size < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _r(v: Any) -> float:
    return round(float(v), 3)


def aggregate(scored: Sequence[Scored], categories: Mapping[str, str]) -> Aggregate:
    """``categories`` maps every prompt id of the suite to its category, in suite order;
    a prompt with no graded answer counts as 0 (it was asked and gave nothing gradable)."""
    by_prompt: dict[str, list[float]] = defaultdict(list)
    for s in scored:
        by_prompt[s.prompt_id].append(s.score)
    prompt_scores = {pid: (float(np.mean(by_prompt[pid])) if by_prompt.get(pid) else 0.0) for pid in categories}
    by_cat: dict[str, list[float]] = defaultdict(list)
    for pid, cat in categories.items():
        by_cat[cat].append(prompt_scores[pid])
    overall = list(prompt_scores.values())
    ci = bootstrap_mean_ci(overall)
    return Aggregate(
        score=_r(np.mean(overall)) if overall else None,
        ci=[_r(ci[0]), _r(ci[1])] if ci else None,
        categories={c: _r(np.mean(v)) for c, v in by_cat.items()},
        category_ci={c: ([_r(x) for x in ci_c] if (ci_c := bootstrap_mean_ci(v)) else None)
                     for c, v in by_cat.items()},
        items={pid: QualityItem(category=categories[pid], score=_r(prompt_scores[pid]),
                                scores=[_r(x) for x in by_prompt.get(pid, [])]) for pid in categories},
    )
