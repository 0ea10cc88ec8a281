"""A run's quality score (``run --json``'s ``quality``): the machine-graded suite, 0-5."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field

__all__ = ["QualityItem", "QualityResult"]


@dataclass(frozen=True, kw_only=True)
class QualityItem(Result):
    """One prompt: its category, its score (mean over repeats) and each repeat's score."""

    category: str | None = None
    score: float | None = None
    scores: list[float] = key(factory=list)
    more: JsonObject = more_field()


@dataclass(frozen=True, kw_only=True)
class QualityResult(Result):
    """Score /5 over prompts with its 95% bootstrap CI, per category, per prompt, and the suite
    the score is from (scores of different suites or versions are not comparable)."""

    suite: str | None = key(omit_none=True)
    suite_version: Any = key(omit_none=True)
    score: float | None = None
    ci: list[float] | None = None
    repeats: int | None = key(omit_none=True)
    prompts: int | None = key(omit_none=True)
    categories: dict[str, float | None] = key(factory=dict)
    category_ci: dict[str, list[float] | None] | None = key(omit_none=True)
    items: dict[str, QualityItem] | None = key(omit_none=True)
    more: JsonObject = more_field()  # the pass's details: mode, reasons, sandbox, speed, judge, wall_s ...
    key_order: tuple[str, ...] = order_field()
