"""How long one request may take and how much it may generate, derived from what it asks
for (pure arithmetic, no I/O).

- **Deadline**: every request gets a total limit, from sending it to the end of its
  stream: ``DEADLINE_MARGIN`` times the time its work should take (its new prompt tokens
  at the prefill rate, its ``max_tokens`` at the decode rate, both the slowest measured so
  far on this server, or pessimistic defaults before any is), plus a floor that is the
  longest silence allowed (``--timeout``) or ``DEADLINE_FLOOR_S``, whichever is larger. So
  ``--timeout`` raises every deadline with it.
- **Overrun bound**: a server that generates past ``max_tokens`` has its stream closed
  once more than ``OVERRUN_FACTOR`` × asked + ``OVERRUN_MARGIN`` token-carrying chunks
  (or ``OVERRUN_CHARS_PER_TOKEN`` characters of text per allowed chunk) have arrived.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEADLINE_FLOOR_S",
    "DEADLINE_MARGIN",
    "OVERRUN_FACTOR",
    "OVERRUN_MARGIN",
    "Deadline",
    "Rates",
    "asked_tokens",
    "deadline",
    "overrun_bound",
    "prompt_tokens_upper",
]

DEADLINE_MARGIN = 3.0
DEADLINE_FLOOR_S = 120.0
DEFAULT_PREFILL_TOK_S = 20.0  # before any rate is measured: a slow CPU at depth
DEFAULT_DECODE_TOK_S = 5.0
OVERRUN_FACTOR = 2
OVERRUN_MARGIN = 64
OVERRUN_CHARS_PER_TOKEN = 1024  # no real token's text comes near this
_MIN_PREFILL_SAMPLE = 64  # prompt tokens below which a prefill rate is mostly overhead
_MIN_DECODE_SAMPLE = 4


@dataclass(frozen=True)
class Deadline:
    total_s: float
    basis: str  # how it was derived, in words, for the error that names it


def deadline(new_tokens: int, gen_tokens: int, prefill_tok_s: float | None, decode_tok_s: float | None,
             read_s: float) -> Deadline:
    """The total limit for one request: a margin over its expected time, plus the floor."""
    pre = prefill_tok_s or DEFAULT_PREFILL_TOK_S
    dec = decode_tok_s or DEFAULT_DECODE_TOK_S
    expected = max(new_tokens, 0) / pre + max(gen_tokens, 0) / dec
    floor = max(DEADLINE_FLOOR_S, read_s)
    total = DEADLINE_MARGIN * expected + floor
    nd = 1 if expected < 100 else 0
    basis = (f"{DEADLINE_MARGIN:g} × the {expected:,.{nd}f} s expected for about {new_tokens:,} new prompt and "
             f"{gen_tokens:,} generated tokens at {pre:,.0f} tok/s prefill ({_how(prefill_tok_s)}) and "
             f"{dec:,.1f} tok/s decode ({_how(decode_tok_s)}), plus {floor:.0f} s, at least --timeout")
    return Deadline(total, basis)


def _how(rate: float | None) -> str:
    return "measured" if rate else "assumed"


def asked_tokens(body: Mapping[str, Any]) -> int | None:
    """The output length a request body asks for, if it names one."""
    for key in ("max_tokens", "max_completion_tokens", "n_predict"):
        v = body.get(key)
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            return v
    return None


def prompt_tokens_upper(body: Mapping[str, Any]) -> int:
    """A generous estimate of a request's prompt tokens: one per two UTF-8 bytes of its
    messages (or prompt), which no tokenizer in use exceeds for ordinary text."""
    payload = body.get("messages") if body.get("messages") is not None else body.get("prompt")
    if payload is None:
        return 0
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)
    return -(-len(text.encode("utf-8", "replace")) // 2)


def overrun_bound(asked: int) -> int:
    """Token-carrying chunks after which a stream that ignores ``max_tokens`` is closed."""
    return OVERRUN_FACTOR * asked + OVERRUN_MARGIN


@dataclass
class Rates:
    """The slowest prefill and decode rates measured so far on one server (slowest, so
    that a deadline derived from them errs on the generous side)."""

    prefill_tok_s: float | None = None
    decode_tok_s: float | None = None

    def observe(self, processed_tokens: int | None, prefill_tok_s: float | None, generated_tokens: int | None,
                decode_tok_s: float | None) -> None:
        if prefill_tok_s and (processed_tokens or 0) >= _MIN_PREFILL_SAMPLE:
            self.prefill_tok_s = min(self.prefill_tok_s or prefill_tok_s, prefill_tok_s)
        if decode_tok_s and (generated_tokens or 0) >= _MIN_DECODE_SAMPLE:
            self.decode_tok_s = min(self.decode_tok_s or decode_tok_s, decode_tok_s)
