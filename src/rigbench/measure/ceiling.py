"""The bandwidth ceiling beside every decode figure (pure).

A run stores its *basis* (the bandwidth used and where it came from, the weights read per
token, and the KV bytes each context token adds per layer kind, with sliding windows); the
ceiling at any depth is recomputed from it: bandwidth / (active bytes + KV bytes read at
that depth). Decode then shows as a % of that ceiling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["annotate_points", "bytes_per_token_at", "ceiling_at", "ceiling_statement"]

NOT_BANDWIDTH_BOUND_PCT = 50.0


def bytes_per_token_at(basis: Mapping[str, Any], depth: int) -> float:
    total = float(basis.get("active_bytes_per_token") or 0) + float(basis.get("state_bytes") or 0)
    for per_token, window in basis.get("kv_terms") or []:
        total += float(per_token) * (min(depth, int(window)) if window else depth)
    return total


def ceiling_at(basis: Mapping[str, Any], depth: int) -> float | None:
    bw = (basis.get("bandwidth") or {}).get("gb_s")
    need = bytes_per_token_at(basis, depth)
    if not bw or need <= 0:
        return None
    return float(bw) * 1e9 / need


def annotate_points(points: Sequence[dict[str, Any]], basis: Mapping[str, Any] | None) -> None:
    """Add ``ceiling_tok_s`` and ``pct_of_ceiling`` to each depth point, in place."""
    for p in points:
        c = ceiling_at(basis, int(p["depth"])) if basis else None
        p["ceiling_tok_s"] = round(c, 1) if c else None
        d = p.get("decode_tok_s")
        p["pct_of_ceiling"] = round(d / c * 100, 1) if c and d is not None else None


def ceiling_statement(basis: Mapping[str, Any] | None, points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    if not basis:
        return None
    bw = basis.get("bandwidth") or {}
    if not bw.get("gb_s"):
        return None
    b0 = bytes_per_token_at(basis, 0)
    c0 = ceiling_at(basis, 0)
    text = (f"{c0:,.0f} tok/s at depth 0 = {bw['gb_s']:,.1f} GB/s / {b0 / 1e9:,.3f} GB read per token "
            f"(bandwidth: {bw.get('source', '?')})")
    pcts = [p["pct_of_ceiling"] for p in points if p.get("pct_of_ceiling") is not None]
    bound = None
    if pcts:
        best = max(pcts)
        if best < NOT_BANDWIDTH_BOUND_PCT:
            bound = (f"decode reaches at most {best:.0f}% of it: this configuration is not bandwidth-bound "
                     "(compute, dequantization or scheduling limit it)")
        else:
            bound = f"decode reaches up to {best:.0f}% of it"
        text += f". {bound[0].upper()}{bound[1:]}"
    for extra in (bw.get("warning"), basis.get("note")):
        if extra:
            text += f". {extra[0].upper()}{extra[1:]}"
    return {
        "bandwidth_gb_s": bw["gb_s"],
        "bandwidth_source": bw.get("source"),
        "bytes_per_token_depth0": b0,
        "ceiling_tok_s_depth0": round(c0, 1) if c0 else None,
        "bound": bound,
        "statement": text,
    }
