"""A compare (``rigbench compare --json``): two sides, per-depth (or per-turn-band) entries,
the pooled B/A and the overall verdict."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field
from rigbench.results.run import RequestCounts, Verdict
from rigbench.results.session import SessionResult

__all__ = ["CompareDepth", "CompareFloor", "CompareResult", "CompareSide", "Crossover"]


@dataclass(frozen=True, kw_only=True)
class CompareSide(Result):
    """One side: what it is (the spec as written), what served it and its model."""

    name: str
    label: str | None = None
    text: str = "?"
    kind: str | None = None
    engine: JsonObject | None = None  # the EngineSpec as stored
    run_id: int | None = None
    interleaved: bool = True
    engine_kind: str | None = None
    software: JsonObject = key(factory=dict)
    flags: dict[str, Any] = key(factory=dict)
    server_bin: str | None = None
    build: str | None = None
    base_url: str | None = None
    model: str | None = None
    quant: str | None = None
    native_context: int | None = None
    granted_context: int | None = None
    command: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()
    # the two bars for this side alone (the board's row): derived, not part of the JSON
    verdict: Verdict | None = key(internal=True)


@dataclass(frozen=True, kw_only=True)
class CompareDepth(Result):
    """One depth (a session: one band of turns): each side's figures and the paired B/A."""

    depth: int
    turns: list[int] | None = key(omit_none=True)
    a_decode_tok_s: float | None = None
    b_decode_tok_s: float | None = None
    a_prefill_tok_s: float | None = None
    b_prefill_tok_s: float | None = None
    ratio: float | None = None
    ci: list[float | None] | None = None
    verdict: str | None = None  # b_faster | a_faster | no_difference | ...
    mde_pct: float | None = None
    pairs: int = 0
    ci_method: str | None = None
    effect_pct: float | None = None
    bound_pct: float | None = None
    a_decode_ci: list[float | None] | None = None
    b_decode_ci: list[float | None] | None = None
    a_ttft_ms: float | None = key(omit_none=True)
    b_ttft_ms: float | None = key(omit_none=True)
    a_prompt_tokens: int | None = key(omit_none=True)
    b_prompt_tokens: int | None = key(omit_none=True)
    prefill_ratio: float | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    def side(self, name: str, figure: str) -> Any:
        """``side("a", "decode_tok_s")`` is ``a_decode_tok_s``."""
        value = getattr(self, f"{name}_{figure}", None)
        return value if value is not None else self.more.get(f"{name}_{figure}")


@dataclass(frozen=True, kw_only=True)
class CompareFloor(Result):
    """A side's worst decode: at which depth (and turn, in a session)."""

    decode_tok_s: float | None = None
    depth: int | None = None
    turn: int | None = key(omit_none=True)


@dataclass(frozen=True, kw_only=True)
class Crossover(Result):
    depth: int
    statement: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class CompareResult(Result):
    """A compare run's evidence, recomputed from the stored requests of both sides."""

    compare_id: int
    run_id: int
    kind: str = "compare"
    status: str = "?"
    reason: str | None = None
    created_at: str | None = None
    a: CompareSide
    b: CompareSide
    mode: str = "depth"  # depth | session
    interleaved: bool = True
    other_load: JsonObject | None = None
    sessions: dict[str, SessionResult] | None = key(omit_none=True)
    depths: list[CompareDepth] = key(factory=list)
    verdict: str | None = None
    ratio: float | None = None
    ci: list[float | None] | None = None
    mde_pct: float | None = None
    pairs: int = 0
    ci_method: str | None = None
    effect_pct: float | None = None
    bound_pct: float | None = None
    floors: dict[str, CompareFloor | None] = key(factory=dict)
    crossover: Crossover | None = None
    statement: str = ""
    params: JsonObject = key(factory=dict)
    notes: list[str] = key(factory=list)
    command: str | None = None
    tool_version: str | None = None
    machine: JsonObject = key(factory=dict)
    requests: RequestCounts = key(factory=RequestCounts)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    def side(self, name: str) -> CompareSide:
        return self.a if name == "a" else self.b
