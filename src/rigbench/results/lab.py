"""A techniques lab (``rigbench lab --json``): the baseline, one row per technique, kind of
work and depth, the table of techniques and the synthetic speedup curve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field
from rigbench.results.run import RequestCounts

__all__ = ["LabArm", "LabBaseline", "LabEngine", "LabGate", "LabResult", "LabRow", "LabSynthetic", "LabTableRow"]


@dataclass(frozen=True, kw_only=True)
class LabEngine(Result):
    """What served the baseline (and, with each arm's flags, the techniques)."""

    kind: str | None = None
    flags: dict[str, Any] = key(factory=dict)
    build: str | None = None
    server_bin: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LabBaseline(Result):
    decode_tok_s: float | None = None
    decode_ci: list[float | None] | None = None
    requests: int = 0
    by_work: JsonObject = key(factory=dict)
    flags: dict[str, Any] = key(factory=dict)
    engine: str | None = None
    build: str | None = None
    server_bin: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LabRow(Result):
    """One technique at one kind of work and depth, paired with the baseline."""

    technique: str | None = None
    arm: str | None = None
    kind: str | None = None
    work: str | None = None
    depth: int | None = None
    draft_n_max: int | None = None
    decode_tok_s: float | None = None
    decode_ci: list[float | None] | None = None
    baseline_decode_tok_s: float | None = None
    speedup: float | None = None
    ci: list[float | None] | None = None
    paired_verdict: str | None = None
    mde_pct: float | None = None
    pairs: int | None = None
    acceptance: float | None = None
    accepted_share: float | None = None
    draft_n: int | None = None
    draft_n_accepted: int | None = None
    identical: bool | None = None
    identity: str | None = None
    ci_method: str | None = None
    verdict: str | None = None
    arm_verdict: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LabTableRow(Result):
    """A line of the table of techniques (the baseline's first)."""

    technique: str
    arm: str
    target: str | None = None
    work: str | None = None
    decode_tok_s: float | None = None
    speedup: float | None = None
    ci: list[float | None] | None = None
    acceptance: float | None = None
    identity: str | None = None
    verdict: str | None = None
    draft_n_max: int | None = None
    speed_words: str | None = key(omit_none=True)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LabSynthetic(Result):
    """A point of the speedup-against-acceptance curve (drafts accepted at random)."""

    acceptance_target: float
    acceptance: float | None = None
    speedup: float | None = None
    ci: list[float | None] | None = None
    decode_tok_s: float | None = None
    draft_n_max: int | None = None


@dataclass(frozen=True, kw_only=True)
class LabGate(Result):
    passed: bool | None = None
    statement: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LabArm(Result):
    """A technique's figures: per cell, per kind of work, overall, its verdict and gate."""

    arm: JsonObject  # the Arm as stored (name, technique, label, draft_n_max, synthetic, lossy ...)
    cells: list[JsonObject] = key(factory=list)
    by_work: JsonObject = key(factory=dict)
    overall: JsonObject = key(factory=dict)
    identity: str | None = None
    depths: list[int] = key(factory=list)
    gate: LabGate | None = None
    verdict: str | None = key(omit_none=True)
    speculative_log: list[Any] | None = key(omit_none=True)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    @property
    def name(self) -> str:
        return str(self.arm.get("name") or "?")


@dataclass(frozen=True, kw_only=True)
class LabResult(Result):
    lab_id: int
    run_id: int
    kind: str = "lab"
    status: str = "?"
    reason: str | None = None
    created_at: str | None = None
    target: str = "?"
    model: JsonObject = key(factory=dict)
    engine: LabEngine = key(factory=LabEngine)
    baseline: LabBaseline = key(factory=LabBaseline)
    rows: list[LabRow] = key(factory=list)
    arms: list[LabArm] = key(factory=list)
    table: list[LabTableRow] = key(factory=list)
    synthetic: list[LabSynthetic] = key(factory=list)
    depths: list[int] = key(factory=list)
    repeats: int | None = None
    gen_tokens: int | None = None
    mode: str | None = None
    other_load: JsonObject | None = None
    params: JsonObject = key(factory=dict)
    notes: list[str] = key(factory=list)
    command: str | None = None
    tool_version: str | None = None
    machine: JsonObject = key(factory=dict)
    requests: RequestCounts = key(factory=RequestCounts)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()
