"""Planning a depth sweep: what fits the granted context, and what fits the time budget."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rigbench.errors import UsageError
from rigbench.units import parse_count

__all__ = ["DEFAULT_DEPTHS", "StepEstimate", "estimate_step", "fit_context", "parse_depths", "parse_duration"]

DEFAULT_DEPTHS = (0, 1024, 4096, 16384, 32768)
MAX_DEPTH = 10_000_000


def parse_depths(text: str) -> list[int]:
    """``"0,1k,4096,16K,1M"`` -> sorted unique token counts (``units.parse_count``: k = 1024)."""
    if not text or not text.strip():
        raise UsageError("the depth list is empty", "give depths like --depths 0,1024,4096")
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise UsageError(f"empty entry in the depth list {text!r}", "write depths like 0,1024,4096")
        value = parse_count(part, "--depths")
        if value > MAX_DEPTH:
            raise UsageError(f"depth {part} is beyond {MAX_DEPTH:,} tokens", "give a smaller depth")
        out.add(value)
    return sorted(out)


def parse_duration(text: str) -> float:
    """``"90"``, ``"90s"``, ``"10m"``, ``"1h"`` -> seconds."""
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|min)?\s*$", text or "")
    if not m:
        raise UsageError(f"{text!r} is not a duration", "write it like 300, 300s, 10m or 1h")
    value = float(m.group(1)) * {"s": 1, None: 1, "m": 60, "min": 60, "h": 3600}[m.group(2)]
    if value <= 0:
        raise UsageError(f"duration {text!r} must be positive", "for example --budget 5m")
    return value


def fit_context(depths: list[int], granted: int | None, need_after: int) -> tuple[list[int], list[tuple[int, str]]]:
    """Keep depths whose request (depth + probe + generation) fits one slot's context."""
    if not granted:
        return list(depths), []
    keep: list[int] = []
    skipped: list[tuple[int, str]] = []
    for d in depths:
        if d + need_after <= granted:
            keep.append(d)
        else:
            skipped.append((d, f"needs {d + need_after:,} tokens of context; the server grants {granted:,} per slot"))
    return keep, skipped


@dataclass(frozen=True)
class StepEstimate:
    seconds: float
    prefill_s: float
    decode_s: float


def estimate_step(new_tokens: int, requests: int, gen_tokens: int, prefill_tok_s: float | None,
                  decode_tok_s: float | None, *, depth_from: int = 0, depth_to: int = 0) -> StepEstimate | None:
    """Time to grow the context by ``new_tokens`` and run ``requests`` generations there.

    Rates come from the last measured depth; attention makes both slower deeper in the
    context, so they are derated by the relative growth of the context (never below
    half), a deliberately pessimistic guess.
    """
    if not prefill_tok_s or not decode_tok_s:
        return None
    growth = (1 + depth_to / 4096) / (1 + depth_from / 4096)
    derate = min(2.0, max(1.0, growth ** 0.5))
    prefill_s = new_tokens / prefill_tok_s * derate
    decode_s = requests * gen_tokens / decode_tok_s * derate
    return StepEstimate(prefill_s + decode_s, prefill_s, decode_s)
