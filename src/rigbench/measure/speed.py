"""Per-request speed figures, as DESIGN.md defines them, from raw stored observations.

Works on a request row (the dict the store returns, or ``row_from_record``), so every
figure on a card can be recomputed from the database without re-running anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rigbench.types import RequestRecord

__all__ = ["RequestFigures", "figures", "gap_pct", "row_from_record"]


@dataclass(frozen=True)
class RequestFigures:
    ok: bool
    ttft_ms: float | None
    ttfvt_ms: float | None
    decode_tok_s: float | None
    prefill_tok_s: float | None
    decode_tok_s_server: float | None
    prefill_tok_s_server: float | None
    generated_tokens: int | None
    processed_tokens: int | None
    prompt_tokens: int | None
    cached_tokens: int | None
    reasoning_tokens: int | None
    e2e_s: float | None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _pos_float(v: Any) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0:
        return float(v)
    return None


def figures(row: Mapping[str, Any]) -> RequestFigures:
    timings = row.get("timings") or {}
    sent = row.get("t_sent_ns")
    first = row.get("t_first_token_ns")
    first_vis = row.get("t_first_content_ns")
    last = row.get("t_last_token_ns")
    end = row.get("t_end_ns")
    generated = _int(row.get("completion_tokens"))
    if generated is None:
        generated = _int(timings.get("predicted_n"))
    processed = _int(timings.get("prompt_n"))
    prompt = _int(row.get("prompt_tokens"))
    cached = _int(row.get("cached_tokens"))
    if cached is None:
        cached = _int(timings.get("cache_n"))
    if cached is None:  # the server's /metrics prefix-cache hits over this request (vLLM)
        cached = _int(((row.get("extra") or {}).get("server_metrics") or {}).get("prefix_cache_hits"))
    if processed is None and prompt is not None and cached is not None:
        processed = prompt - cached
    ttft_ms = (first - sent) / 1e6 if sent is not None and first is not None else None
    ttfvt_ms = (first_vis - sent) / 1e6 if sent is not None and first_vis is not None else None
    decode = None
    if generated is not None and generated >= 2 and first is not None and last is not None and last > first:
        decode = (generated - 1) / ((last - first) / 1e9)
    prefill = None
    if processed is not None and processed > 0 and ttft_ms is not None and ttft_ms > 0:
        prefill = processed / (ttft_ms / 1e3)
    e2e = (end - sent) / 1e9 if sent is not None and end is not None else None
    return RequestFigures(
        ok=row.get("status") == "ok",
        ttft_ms=ttft_ms,
        ttfvt_ms=ttfvt_ms,
        decode_tok_s=decode,
        prefill_tok_s=prefill,
        decode_tok_s_server=_pos_float(timings.get("predicted_per_second")),
        prefill_tok_s_server=_pos_float(timings.get("prompt_per_second")),
        generated_tokens=generated,
        processed_tokens=processed,
        prompt_tokens=prompt,
        cached_tokens=cached,
        reasoning_tokens=_int(row.get("reasoning_tokens")),
        e2e_s=e2e,
    )


def row_from_record(rec: RequestRecord) -> dict[str, Any]:
    return {
        "status": rec.status,
        "t_sent_ns": rec.t_sent_ns,
        "t_first_token_ns": rec.t_first_token_ns,
        "t_first_content_ns": rec.t_first_content_ns,
        "t_last_token_ns": rec.t_last_token_ns,
        "t_end_ns": rec.t_end_ns,
        "completion_tokens": rec.completion_tokens,
        "prompt_tokens": rec.prompt_tokens,
        "cached_tokens": rec.cached_tokens,
        "reasoning_tokens": rec.reasoning_tokens,
        "timings": rec.timings,
    }


def gap_pct(client: float | None, server: float | None) -> float | None:
    """How far the client's figure is from the server's own, in percent of the server's."""
    if client is None or server is None or server <= 0:
        return None
    return (client - server) / server * 100.0
