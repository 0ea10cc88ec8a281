"""A tuning campaign (``rigbench tune --json``): its trials, the winner and the journal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field

__all__ = ["TuneResult", "TuneTrial"]


@dataclass(frozen=True, kw_only=True)
class TuneTrial(Result):
    """One configuration tried: its figures, score against the defaults and the decision."""

    n: int
    config: JsonObject = key(factory=dict)
    label: str | None = None
    status: str = "?"
    prefill_tok_s: float | None = None
    prefill_ci: list[float] | None = None
    decode_tok_s: float | None = None
    decode_ci: list[float] | None = None
    score: float | None = None
    decision: str | None = None
    reason: str | None = None
    hypothesis: str | None = None
    evidence: JsonObject = key(factory=dict)
    restart: Any = None
    quality_gate: Any = None
    log_tail: Any = None
    notes: list[str] = key(factory=list)
    load: Any = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class TuneResult(Result):
    """The campaign: objective, space, trials, the final side-by-side, the winner, the journal."""

    campaign_id: int
    status: str = "?"
    reason: str | None = None
    objective: JsonObject = key(factory=dict)  # kind, depth, text, description
    space: Any = None
    search: Any = None
    workload: Any = None
    defaults: JsonObject | None = None
    model: str | None = None
    machine: JsonObject = key(factory=dict)
    trials: list[TuneTrial] = key(factory=list)
    final: JsonObject | None = None
    winner: JsonObject | None = None
    improvement: JsonObject | None = None
    notes: list[str] = key(factory=list)
    command: str | None = None
    journal: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    kind = "tune"
