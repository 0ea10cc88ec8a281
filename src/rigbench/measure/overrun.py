"""A server that ignored ``max_tokens``, found in stored request rows (pure).

A row records what it asked for (``extra.max_tokens``) and, when rigbench closed the
stream because the server ran past the bound, the bound (``extra.cut_at_chunks``); its
generated tokens are then the chunks received. A request generated more than it asked
when either holds, or when the server's own count exceeds what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.client.limits import OVERRUN_FACTOR, OVERRUN_MARGIN
from rigbench.measure.speed import figures

__all__ = ["max_tokens_overrun", "overrun_notes"]


def _asked(row: Mapping[str, Any]) -> int | None:
    v = (row.get("extra") or {}).get("max_tokens")
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


def max_tokens_overrun(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """None when every request that named ``max_tokens`` kept to it; otherwise the
    example to quote (a speed request if there is one), the counts, and one sentence."""
    asked_rows = [r for r in rows if _asked(r) is not None]
    over: list[tuple[Mapping[str, Any], int, int, int | None]] = []
    for r in asked_rows:
        asked = _asked(r)
        assert asked is not None
        cut = (r.get("extra") or {}).get("cut_at_chunks")
        got = figures(r).generated_tokens
        if isinstance(cut, int) or (got is not None and got > asked):
            over.append((r, asked, got or 0, cut if isinstance(cut, int) else None))
    if not over:
        return None
    speed = [o for o in over if o[0].get("phase") == "speed"]
    row, asked, got, cut = max(speed or over, key=lambda o: (o[2] - o[1], o[0].get("seq") or 0))
    statement = f"the server ignored max_tokens: asked {asked:,}, got {got:,}"
    if cut is not None:
        statement += (f" before rigbench closed the stream (its bound: {OVERRUN_FACTOR} × {asked:,} + "
                      f"{OVERRUN_MARGIN} token chunks)")
    statement += (f"; {len(over)} of {len(asked_rows)} requests ran past what they asked; figures use the tokens "
                  "received")
    return {
        "asked": asked,
        "got": got,
        "closed_by_rigbench": cut is not None,
        "bound_chunks": cut,
        "requests": len(over),
        "of": len(asked_rows),
        "phase": row.get("phase"),
        "statement": statement,
    }


def overrun_notes(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The overrun's sentence as a list of notes (empty when every request kept to max_tokens)."""
    o = max_tokens_overrun(rows)
    return [o["statement"]] if o else []
