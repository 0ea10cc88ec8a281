"""The bandwidth ceiling beside every decode figure (pure).

A run stores its *basis* (the bandwidth used and where it came from, the weights read per
token, and the KV bytes each context token adds per layer kind, with sliding windows); the
ceiling at any depth is recomputed from it: bandwidth / (active bytes + KV bytes read at
that depth). Decode then shows as a % of that ceiling.

A model split over N devices (``basis["split"]``, from ``split_basis``) changes the
bandwidth term. Layer split (llama.cpp's default, and what its RPC backend does) puts whole
layers on each device and runs them one after another for every token: each device reads
its share of the bytes while the others wait, so the ceiling is one device's (the split buys
capacity, not speed). Row split (and llama.cpp's tensor split) cuts every weight matrix
across the devices, which read their parts at once: N x one device's bandwidth, an upper
bound that ignores the synchronisation between them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["annotate_points", "bytes_per_token_at", "ceiling_at", "ceiling_statement", "split_basis"]

PARALLEL_SPLITS = ("row", "tensor")


def split_basis(devices: Sequence[Mapping[str, str]], mode: str | None) -> dict[str, Any] | None:
    """The split part of a basis: the devices the model is loaded on (the boot log's
    ``model_devices``) and llama.cpp's split mode (``-sm``; layer when not given). None for
    one device, or for ``-sm none`` (llama.cpp then uses the main GPU only)."""
    names = [f"{str(d.get('name', '?'))[:40]} {str(d.get('description', ''))[:80]}".strip() for d in devices[:64]]
    mode = (mode or "layer").lower()
    if len(names) < 2 or mode == "none":
        return None
    rpc = any(str(d.get("name", "")).startswith("RPC") for d in devices)
    parallel = mode in PARALLEL_SPLITS
    return {"mode": mode, "devices": names, "rpc": rpc, "factor": len(names) if parallel else 1}


def _split_words(split: Mapping[str, Any]) -> str:
    names = ", ".join(split.get("devices") or [])
    n = len(split.get("devices") or [])
    how = "over llama.cpp's RPC backend, " if split.get("rpc") else ""
    if int(split.get("factor") or 1) > 1:
        return (f"split by {split['mode']} {how}over {n} devices ({names}): they read their parts of each weight "
                f"at once, so the ceiling counts {n} x one device's bandwidth (an upper bound)")
    return (f"split by {split.get('mode', 'layer')} {how}over {n} devices ({names}): they run one after another "
            "for each token, so the ceiling is one device's (the split adds capacity, not bandwidth)")

NOT_BANDWIDTH_BOUND_PCT = 50.0


def bytes_per_token_at(basis: Mapping[str, Any], depth: int) -> float:
    total = float(basis.get("active_bytes_per_token") or 0) + float(basis.get("state_bytes") or 0)
    for per_token, window in basis.get("kv_terms") or []:
        total += float(per_token) * (min(depth, int(window)) if window else depth)
    return total


def split_factor(basis: Mapping[str, Any]) -> int:
    split = basis.get("split") or {}
    return max(1, int(split.get("factor") or 1))


def ceiling_at(basis: Mapping[str, Any], depth: int) -> float | None:
    bw = (basis.get("bandwidth") or {}).get("gb_s")
    bw = float(bw) * split_factor(basis) if bw else bw
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
    factor = split_factor(basis)
    gb_s = f"{factor} x {bw['gb_s']:,.1f} GB/s" if factor > 1 else f"{bw['gb_s']:,.1f} GB/s"
    text = (f"{c0:,.0f} tok/s at depth 0 = {gb_s} / {b0 / 1e9:,.3f} GB read per token "
            f"(bandwidth: {bw.get('source', '?')})")
    split = basis.get("split")
    if split:
        text += f"; {_split_words(split)}"
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
    out = {
        "bandwidth_gb_s": bw["gb_s"],
        "bandwidth_source": bw.get("source"),
        "bytes_per_token_depth0": b0,
        "ceiling_tok_s_depth0": round(c0, 1) if c0 else None,
        "bound": bound,
        "statement": text,
    }
    if split:  # an addition: absent for one device, so one-device JSON is unchanged
        out["split"] = {"mode": split.get("mode"), "devices": list(split.get("devices") or []),
                        "rpc": bool(split.get("rpc")), "bandwidth_factor": factor}
    return out
