"""Depth points, the verdict, and the run summary (the ``rigbench run --json`` contract),
derived from stored rows only."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.measure.speed import figures, gap_pct
from rigbench.measure.stats import summarize

__all__ = ["CONTEXT_BAR", "DECODE_BAR", "GAP_FLAG_PCT", "depth_points", "server_counters", "sweep_cost", "verdict"]

DECODE_BAR = 100.0
CONTEXT_BAR = 1_000_000
GAP_FLAG_PCT = 5.0
SHORT_PROMPT = 256
WORKING_DEPTH = 32768


def _round(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def depth_points(rows: Sequence[Mapping[str, Any]], *, phase: str = "speed") -> list[dict[str, Any]]:
    by_depth: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("phase") == phase and r.get("depth") is not None:
            by_depth[int(r["depth"])].append(r)
    points = []
    for depth in sorted(by_depth):
        rs = by_depth[depth]
        ok = [r for r in rs if r.get("status") == "ok"]
        figs = [figures(r) for r in ok]
        grow = next((r for r in ok if r.get("role") == "grow"), ok[0] if ok else None)
        gfig = figures(grow) if grow is not None else None
        dec = summarize([f.decode_tok_s for f in figs])
        # only the client decode's CI is shown: the other medians skip the bootstrap
        dec_srv = summarize([f.decode_tok_s_server for f in figs], ci=False)
        gen = summarize([f.generated_tokens for f in figs], ci=False)
        probes = [f.ttft_ms for r, f in zip(ok, figs, strict=False) if r is not grow]
        checks = [(r.get("extra") or {}).get("cache_verified") for r in ok]
        cache_verified = False if False in checks else (True if True in checks else None)
        point: dict[str, Any] = {
            "depth": depth,
            "ttft_ms": _round(gfig.ttft_ms if gfig else None, 1),
            "prefill_tok_s": _round(gfig.prefill_tok_s if gfig else None),
            "prefill_tok_s_server": _round(gfig.prefill_tok_s_server if gfig else None),
            "decode_tok_s": _round(dec.median),
            "decode_tok_s_server": _round(dec_srv.median),
            "generated_tokens": int(gen.median) if gen.median is not None else None,
            "reasoning_tokens": None,
            "cache_verified": cache_verified,
            "decode_ci": [round(x, 2) for x in dec.ci] if dec.ci else None,
            "n": dec.n,
            "failed": len(rs) - len(ok),
            "prompt_tokens": gfig.prompt_tokens if gfig else None,
            "prefill_new_tokens": gfig.processed_tokens if gfig else None,
            "ttft_warm_ms": _round(summarize(probes, ci=False).median, 1) if probes else None,
            "decode_gap_pct": _round(gap_pct(dec.median, dec_srv.median)),
            "prefill_gap_pct": _round(gap_pct(gfig.prefill_tok_s, gfig.prefill_tok_s_server) if gfig else None),
        }
        if figs and all(f.reasoning_tokens is not None for f in figs):  # median per request
            point["reasoning_tokens"] = int(summarize([f.reasoning_tokens for f in figs], ci=False).median or 0)
        flags = []
        for name in ("decode_gap_pct", "prefill_gap_pct"):
            g = point[name]
            if g is not None and abs(g) > GAP_FLAG_PCT:
                text = f"{name.split('_')[0]} client/server gap {g:+.1f}%"
                new = point["prefill_new_tokens"]
                if name == "prefill_gap_pct" and new is not None and new < SHORT_PROMPT:
                    text += (f" (only {new} new prompt tokens: the client's TTFT also holds the first decode step "
                             "and the HTTP round trip)")
                flags.append(text)
        if point["cache_verified"] is False:
            flags.append("server re-prefilled the cached context")
        warm = [(r.get("extra") or {}).get("warm_cache_tokens") for r in ok]
        point["warm_cache_tokens"] = max((w for w in warm if w), default=None)  # the run's notes say so
        sources = {(r.get("extra") or {}).get("cache_source") for r in ok} - {None}
        point["cache_source"] = sources.pop() if len(sources) == 1 else ("mixed" if sources else None)
        point["flags"] = flags
        points.append(point)
    return points


def sweep_cost(rows: Sequence[Mapping[str, Any]], *, phase: str = "speed") -> dict[str, Any]:
    """Prompt tokens the server actually processed during a sweep, against its deepest depth."""
    processed = 0
    known = True
    deepest = 0
    for r in rows:
        if r.get("phase") != phase:
            continue
        f = figures(r)
        if f.processed_tokens is None:
            known = False
        else:
            processed += f.processed_tokens
        if r.get("status") == "ok" and r.get("depth") is not None:
            deepest = max(deepest, int(r["depth"]))
    ratio = processed / deepest if known and deepest > 0 else None
    return {"processed_tokens": processed if known else None, "deepest": deepest, "ratio": ratio}


def server_counters(rows: Sequence[Mapping[str, Any]], *, phase: str = "speed") -> dict[str, Any] | None:
    """The server's own token totals over the measured requests (from its /metrics counters,
    scraped before and after each) beside the client's sums of the same requests' usage;
    None when the server has no counters."""
    keys = ("generation_tokens", "prompt_tokens", "prefix_cache_hits", "prefix_cache_queries")
    server: dict[str, int] = {}
    client_gen = client_prompt = 0
    n = 0
    for r in rows:
        delta = (r.get("extra") or {}).get("server_metrics")
        if r.get("phase") != phase or not isinstance(delta, Mapping):
            continue
        n += 1
        for k in keys:
            if isinstance(delta.get(k), int):
                server[k] = server.get(k, 0) + int(delta[k])
        client_gen += int(r.get("completion_tokens") or 0)
        client_prompt += int(r.get("prompt_tokens") or 0)
    if not n:
        return None
    return {"requests": n, "server": server,
            "client": {"generation_tokens": client_gen, "prompt_tokens": client_prompt}}


def verdict(points: Sequence[Mapping[str, Any]], native_context: int | None, *,
            working_depth: int = WORKING_DEPTH, session: Mapping[str, Any] | None = None,
            granted_context: int | None = None) -> dict[str, Any]:
    """The two bars against the decode at the working depth (or the deepest measured below
    it); a run without a depth sweep (an agent session) is judged on the session's sustained
    decode, the median over its turns. The working depth is never above the context the
    server grants: there it is capped, and the verdict says so."""
    wanted_depth = working_depth
    capped = bool(granted_context and granted_context < working_depth)
    if capped and granted_context:
        working_depth = granted_context
    measured = [p for p in points if p.get("decode_tok_s") is not None]
    at = [p for p in measured if p["depth"] <= working_depth]
    chosen: Mapping[str, Any] | None
    chosen = max(at, key=lambda p: p["depth"]) if at else min(measured, key=lambda p: p["depth"]) if measured else None
    decode = chosen["decode_tok_s"] if chosen else None
    basis = "depth" if chosen else None
    where = ""
    if chosen is not None:
        where = f"at depth {chosen['depth']:,}"
        if chosen["depth"] != working_depth:
            where += f" (the deepest measured; the working depth is {working_depth:,}"
            where += (f", {wanted_depth:,} capped at the granted context)" if capped else ")")
        elif capped:
            where += f" (the working depth, {wanted_depth:,} capped at the granted context)"
    elif session and session.get("decode_median_tok_s") is not None:
        decode, basis = float(session["decode_median_tok_s"]), "session"
        where = f"sustained over a {session.get('turns_ok')}-turn agent session"
        if session.get("context_end"):
            where += f" (context up to {session['context_end']:,})"
    decode_ok = decode is not None and decode >= DECODE_BAR
    context_ok = native_context is not None and native_context >= CONTEXT_BAR
    parts = []
    if decode is None:
        parts.append("no decode figure was measured")
    else:
        parts.append(f"decode {decode:.1f} tok/s {where} {'clears' if decode_ok else 'is below'} the "
                     f"{DECODE_BAR:.0f} tok/s bar")
    if native_context is None:
        parts.append("native context unknown")
    else:
        parts.append(f"native context {native_context:,} tokens {'meets' if context_ok else 'is short of'} the "
                     f"{CONTEXT_BAR:,} bar")
    cls = "interactive" if decode_ok and context_ok else "background"
    return {
        "decode_bar_tok_s": DECODE_BAR,
        "context_bar_tokens": CONTEXT_BAR,
        "decode_ok": decode_ok,
        "context_ok": context_ok,
        "class": cls,
        "decode_tok_s": decode,
        "basis": basis,
        "at_depth": chosen["depth"] if chosen else None,
        "working_depth": working_depth,
        "working_depth_capped": capped,
        "summary": "; ".join(parts) + (". Interactive coding use: yes." if cls == "interactive"
                                        else ". Background-worker class."),
    }
