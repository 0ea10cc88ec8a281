"""An agent session's figures (``run --json``'s ``session``; a session compare's ``sessions``)."""

from __future__ import annotations

from dataclasses import dataclass

from rigbench.results._base import JsonObject, Result, key, more_field, order_field

__all__ = ["SessionCache", "SessionResult", "SessionTurn"]


@dataclass(frozen=True, kw_only=True)
class SessionTurn(Result):
    """One turn of the scripted session, as measured."""

    turn: int
    kind: str | None = None
    status: str | None = None
    depth: int | None = None
    prompt_tokens: int | None = None
    processed_tokens: int | None = None
    cache_n: int | None = None
    expected_reuse: int | None = None
    ttft_ms: float | None = None
    prefill_tok_s: float | None = None
    decode_tok_s: float | None = None
    generated_tokens: int | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class SessionCache(Result):
    """The prompt-cache reuse over the session, as the server counted it."""

    reused_tokens: int = 0
    processed_tokens: int = 0
    reuse_pct: float | None = None
    expected_reuse_tokens: int = 0
    verified_turns: int = 0
    missed_turns: int = 0
    unknown_turns: int = 0
    more: JsonObject = more_field()


@dataclass(frozen=True, kw_only=True)
class SessionResult(Result):
    """The sustained decode (median over turns) with its CI, the worst dip, TTFT, prefill,
    the context reached and the cache reuse; ``per_turn`` for the curve."""

    workload: str | None = key(omit_none=True)
    turns: int = 0
    turns_ok: int = 0
    decode_median_tok_s: float | None = None
    decode_ci: list[float | None] | None = None
    decode_worst_tok_s: float | None = None
    worst_turn: int | None = None
    worst_depth: int | None = None
    decode_best_tok_s: float | None = None
    ttft_median_ms: float | None = None
    ttft_worst_ms: float | None = None
    prefill_median_tok_s: float | None = None
    context_start: int | None = None
    context_end: int | None = None
    cache: SessionCache | None = None
    per_turn: list[SessionTurn] = key(factory=list)
    statement: str = ""
    plan: JsonObject | None = key(omit_none=True)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    @property
    def ok_turns(self) -> list[SessionTurn]:
        return [t for t in self.per_turn if t.status == "ok"]
