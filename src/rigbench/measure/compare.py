"""A/B comparison figures from stored rows: per-depth entries, floors, crossover, the
overall verdict and the per-turn figures of a scripted session. Pure: no I/O.

A pair is one A request and one B request measured back to back (same depth, same
repeat, or the same session turn). The paired statistics are ``measure.stats``'s:
``paired`` per depth (or turn band), ``pooled`` over them, and one rule, ``verdict_of``,
decides every verdict, per depth and overall: a winner needs an interval that excludes 1
and an effect at least the minimum detectable one (``mde_pct``); otherwise the verdict is
``no_difference`` with the largest difference the data allow (``bound_pct``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.measure.speed import figures
from rigbench.measure.stats import paired, pooled, summarize

__all__ = [
    "compare_depths",
    "compare_result",
    "compare_statement",
    "crossover",
    "floors",
    "session_bands",
    "session_figures",
    "session_statement",
]


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def _good(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


# -- rows -> per-depth figures ------------------------------------------------------------


def _is_grow(r: Mapping[str, Any]) -> bool:
    return r.get("role") == "grow" or (r.get("extra") or {}).get("step") == "grow"


def _by_depth(rows: Sequence[Mapping[str, Any]]) -> dict[int, dict[int, Mapping[str, Any]]]:
    """depth -> rep -> the ok request (the last one if a repeat was measured twice)."""
    out: dict[int, dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for r in rows:
        if r.get("status") == "ok" and r.get("depth") is not None and r.get("rep") is not None:
            out[int(r["depth"])][int(r["rep"])] = r
    return out


def _side(reps: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    figs = {k: figures(r) for k, r in reps.items()}
    dec = summarize([f.decode_tok_s for f in figs.values()])
    grow_rep = next((k for k in sorted(reps) if _is_grow(reps[k])), min(reps) if reps else None)
    g = figs.get(grow_rep) if grow_rep is not None else None
    cache = [(reps[k].get("extra") or {}).get("cache_verified") for k in reps]
    return {
        "decode": dec.median, "decode_ci": list(dec.ci) if dec.ci else None, "n": dec.n,
        "prefill": g.prefill_tok_s if g else None, "ttft_ms": g.ttft_ms if g else None,
        "prompt_tokens": g.prompt_tokens if g else None,
        "prefill_new_tokens": g.processed_tokens if g else None,
        "cache_verified": False if False in cache else (True if True in cache else None),
        "decode_by_rep": {k: f.decode_tok_s for k, f in figs.items()},
    }


Groups = list[tuple[list[float | None], list[float | None]]]


def compare_depths(a_rows: Sequence[Mapping[str, Any]], b_rows: Sequence[Mapping[str, Any]], *,
                   seed: int = 0) -> tuple[list[dict[str, Any]], Groups]:
    """One entry per depth both sides measured: decode and prefill of each, B/A with its CI;
    and the decode pairs of each depth (for ``pooled``)."""
    a_by, b_by = _by_depth(a_rows), _by_depth(b_rows)
    out: list[dict[str, Any]] = []
    groups: Groups = []
    for depth in sorted(set(a_by) & set(b_by)):
        sa, sb = _side(a_by[depth]), _side(b_by[depth])
        reps = sorted(set(sa["decode_by_rep"]) & set(sb["decode_by_rep"]))
        p = paired([sa["decode_by_rep"][k] for k in reps], [sb["decode_by_rep"][k] for k in reps], seed=seed)
        pre = sb["prefill"] / sa["prefill"] if _good(sa["prefill"]) and _good(sb["prefill"]) else None
        groups.append(([sa["decode_by_rep"][k] for k in reps], [sb["decode_by_rep"][k] for k in reps]))
        out.append({
            "depth": depth,
            "a_decode_tok_s": _r(sa["decode"]), "b_decode_tok_s": _r(sb["decode"]),
            "a_prefill_tok_s": _r(sa["prefill"]), "b_prefill_tok_s": _r(sb["prefill"]),
            "ratio": _r(p.ratio, 4), "ci": [_r(p.ci[0], 4), _r(p.ci[1], 4)] if p.ci else None,
            "verdict": p.verdict, "mde_pct": _r(p.mde_pct, 1), "pairs": p.n, "ci_method": p.method,
            "effect_pct": _r(p.effect_pct, 1), "bound_pct": p.bound_pct,
            "a_decode_ci": _rl(sa["decode_ci"]), "b_decode_ci": _rl(sb["decode_ci"]),
            "a_ttft_ms": _r(sa["ttft_ms"], 1), "b_ttft_ms": _r(sb["ttft_ms"], 1),
            "a_prompt_tokens": sa["prompt_tokens"], "b_prompt_tokens": sb["prompt_tokens"],
            "a_prefill_new_tokens": sa["prefill_new_tokens"], "b_prefill_new_tokens": sb["prefill_new_tokens"],
            "prefill_ratio": _r(pre, 4),
            "a_cache_verified": sa["cache_verified"], "b_cache_verified": sb["cache_verified"],
        })
    return out, groups


def _rl(v: Sequence[float] | None) -> list[float | None] | None:
    return [_r(x) for x in v] if v else None


def floors(points: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Each side's sustained floor: its worst decode across the depths, and where."""
    out: dict[str, dict[str, Any] | None] = {}
    for side in ("a", "b"):
        measured = [p for p in points if p.get(f"{side}_decode_tok_s") is not None]
        worst = min(measured, key=lambda p: p[f"{side}_decode_tok_s"]) if measured else None
        out[side] = {"decode_tok_s": worst[f"{side}_decode_tok_s"], "depth": worst["depth"]} if worst else None
    return out


def crossover(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The first depth where the side that was ahead (by a significant verdict) falls behind.

    Depths whose verdict is ``no_difference`` neither lead nor break a lead; None when the
    lead never changes hands."""
    leader: str | None = None
    leader_depth: int | None = None
    for p in points:
        v = p.get("verdict")
        now = "b" if v == "b_faster" else "a" if v == "a_faster" else None
        if now is None:
            continue
        if leader is not None and now != leader:
            return {"depth": p["depth"], "after_depth": leader_depth, "from": leader, "to": now,
                    "statement": f"{now.upper()} overtakes {leader.upper()} between depth {leader_depth:,} "
                                 f"and {p['depth']:,}"}
        leader, leader_depth = now, p["depth"]
    return None


# -- a scripted session -------------------------------------------------------------------


def session_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per-turn figures of one session (rows with ``rep`` = turn) and what they add up to:
    the sustained decode (median over turns) with its CI, the worst dip, TTFT and the
    prompt-cache reuse as the server counted it."""
    turns = sorted((r for r in rows if r.get("rep") is not None), key=lambda r: (int(r["rep"]), r.get("seq", 0)))
    per: list[dict[str, Any]] = []
    reused = processed = 0
    expected_total = 0
    verified = missed = unknown = 0
    for r in turns:
        f = figures(r)
        x = r.get("extra") or {}
        cache_n = f.cached_tokens
        exp = x.get("expected_reuse")
        if r.get("status") == "ok":
            if cache_n is not None:
                reused += cache_n
            if f.processed_tokens is not None:
                processed += f.processed_tokens
            if isinstance(exp, int) and exp > 0:
                expected_total += exp
            ok = x.get("cache_verified")
            verified += ok is True
            missed += ok is False
            unknown += ok is None and isinstance(exp, int) and exp > 0
        per.append({
            "turn": int(r["rep"]), "kind": x.get("turn_kind") or r.get("role"), "status": r.get("status"),
            "depth": r.get("depth"), "prompt_tokens": f.prompt_tokens, "processed_tokens": f.processed_tokens,
            "cache_n": cache_n, "expected_reuse": exp, "ttft_ms": _r(f.ttft_ms, 1),
            "prefill_tok_s": _r(f.prefill_tok_s), "decode_tok_s": _r(f.decode_tok_s),
            "generated_tokens": f.generated_tokens,
        })
    ok = [p for p in per if p["status"] == "ok"]
    dec = summarize([p["decode_tok_s"] for p in ok])
    with_dec = [p for p in ok if p["decode_tok_s"] is not None]
    worst = min(with_dec, key=lambda p: p["decode_tok_s"]) if with_dec else None
    best = max(with_dec, key=lambda p: p["decode_tok_s"]) if with_dec else None
    ttft = summarize([p["ttft_ms"] for p in ok])
    pre = summarize([p["prefill_tok_s"] for p in ok if (p["processed_tokens"] or 0) >= 64])
    ctx = [p["prompt_tokens"] for p in ok if p["prompt_tokens"] is not None]
    total_prompt = sum(ctx)
    out: dict[str, Any] = {
        "turns": len(per), "turns_ok": len(ok),
        "decode_median_tok_s": _r(dec.median), "decode_ci": _rl(list(dec.ci) if dec.ci else None),
        "decode_worst_tok_s": worst["decode_tok_s"] if worst else None,
        "worst_turn": worst["turn"] if worst else None, "worst_depth": worst["depth"] if worst else None,
        "decode_best_tok_s": best["decode_tok_s"] if best else None,
        "ttft_median_ms": _r(ttft.median, 1),
        "ttft_worst_ms": max((p["ttft_ms"] for p in ok if p["ttft_ms"] is not None), default=None),
        "prefill_median_tok_s": _r(pre.median),
        "context_start": ctx[0] if ctx else None, "context_end": ctx[-1] if ctx else None,
        "cache": {
            "reused_tokens": reused, "processed_tokens": processed,
            "reuse_pct": _r(reused / total_prompt * 100, 1) if total_prompt else None,
            "expected_reuse_tokens": expected_total,
            "verified_turns": verified, "missed_turns": missed, "unknown_turns": unknown,
        },
        "per_turn": per,
    }
    out["statement"] = session_statement(out)
    return out


def session_statement(s: Mapping[str, Any]) -> str:
    if s.get("decode_median_tok_s") is None:
        return "no turn produced a decode figure"
    text = (f"decode {s['decode_median_tok_s']:.1f} tok/s sustained (median of {s['turns_ok']} turns"
            f"{', range ' + format(s['decode_worst_tok_s'], '.1f') + ' to ' + format(s['decode_best_tok_s'], '.1f')}"
            f"); worst dip {s['decode_worst_tok_s']:.1f} at turn {s['worst_turn'] + 1}")
    if s.get("worst_depth") is not None:
        text += f" (context {s['worst_depth']:,})"
    if s.get("context_end"):
        text += f"; context grew from {s.get('context_start') or 0:,} to {s['context_end']:,} tokens"
    c = s.get("cache") or {}
    if c.get("reuse_pct") is not None:
        text += f"; the server reused {c['reuse_pct']:.0f}% of prompt tokens from its cache"
        if c.get("missed_turns"):
            text += f" (re-prefilled on {c['missed_turns']} turns)"
    return text


def session_bands(a_rows: Sequence[Mapping[str, Any]], b_rows: Sequence[Mapping[str, Any]], *,
                  band: int = 6, seed: int = 0) -> tuple[list[dict[str, Any]], Groups]:
    """A session compare as depth entries: consecutive turns in bands of about ``band``
    pairs; a band's depth is the context at its first turn (the mean of the two sides).
    Also returns each band's decode pairs (for ``pooled``)."""
    a_t = {int(r["rep"]): r for r in a_rows if r.get("status") == "ok" and r.get("rep") is not None}
    b_t = {int(r["rep"]): r for r in b_rows if r.get("status") == "ok" and r.get("rep") is not None}
    turns = sorted(set(a_t) & set(b_t))
    chunks = [turns[i:i + band] for i in range(0, len(turns), band)]
    if len(chunks) > 1 and len(chunks[-1]) < 2:  # a lone last turn joins the band before it
        last = chunks.pop()
        chunks[-1] = chunks[-1] + last
    out: list[dict[str, Any]] = []
    groups: Groups = []
    for chunk in chunks:
        fa = [figures(a_t[k]) for k in chunk]
        fb = [figures(b_t[k]) for k in chunk]
        da, db = [f.decode_tok_s for f in fa], [f.decode_tok_s for f in fb]
        pa, pb = [f.prefill_tok_s for f in fa], [f.prefill_tok_s for f in fb]
        p = paired(da, db, seed=seed)
        pp = paired(pa, pb, seed=seed)
        groups.append((da, db))
        depths = [x for x in (a_t[chunk[0]].get("depth"), b_t[chunk[0]].get("depth")) if x is not None]
        sa, sb = summarize(da), summarize(db)
        out.append({
            "depth": int(sum(depths) / len(depths)) if depths else 0,
            "turns": [chunk[0] + 1, chunk[-1] + 1],
            "a_decode_tok_s": _r(sa.median), "b_decode_tok_s": _r(sb.median),
            "a_prefill_tok_s": _r(summarize(pa).median), "b_prefill_tok_s": _r(summarize(pb).median),
            "ratio": _r(p.ratio, 4), "ci": [_r(p.ci[0], 4), _r(p.ci[1], 4)] if p.ci else None,
            "verdict": p.verdict, "mde_pct": _r(p.mde_pct, 1), "pairs": p.n, "ci_method": p.method,
            "effect_pct": _r(p.effect_pct, 1), "bound_pct": p.bound_pct,
            "a_decode_ci": _rl(sa.ci), "b_decode_ci": _rl(sb.ci),
            "prefill_ratio": _r(pp.ratio, 4),
            "prefill_ci": [_r(pp.ci[0], 4), _r(pp.ci[1], 4)] if pp.ci else None,
        })
    return out, groups


# -- the whole comparison -----------------------------------------------------------------


def compare_result(a_rows: Sequence[Mapping[str, Any]], b_rows: Sequence[Mapping[str, Any]], *,
                   session: bool = False, seed: int = 0) -> dict[str, Any]:
    """Everything a comparison says, from each side's request rows: per-depth entries
    (per turn band for a session), the pooled B/A, floors, crossover and the verdict."""
    out: dict[str, Any] = {}
    if session:
        points, groups = session_bands(a_rows, b_rows, seed=seed)
        sa, sb = session_figures(a_rows), session_figures(b_rows)
        out["sessions"] = {"a": sa, "b": sb}
        fl: dict[str, dict[str, Any] | None] = {
            k: ({"decode_tok_s": s["decode_worst_tok_s"], "depth": s["worst_depth"], "turn": s["worst_turn"]}
                if s["decode_worst_tok_s"] is not None else None) for k, s in (("a", sa), ("b", sb))}
    else:
        points, groups = compare_depths(a_rows, b_rows, seed=seed)
        fl = floors(points)
    overall = pooled(groups, seed=seed)
    cross = crossover(points)
    seen = {p["verdict"] for p in points}
    verdict = "mixed" if {"a_faster", "b_faster"} <= seen else overall.verdict
    out.update({
        "depths": points, "verdict": verdict, "ratio": _r(overall.ratio, 4),
        "ci": [_r(overall.ci[0], 4), _r(overall.ci[1], 4)] if overall.ci else None,
        "mde_pct": _r(overall.mde_pct, 1), "pairs": overall.n, "ci_method": overall.method,
        "effect_pct": _r(overall.effect_pct, 1), "bound_pct": overall.bound_pct if verdict == "no_difference" else None,
        "floors": fl, "crossover": cross,
    })
    out["statement"] = compare_statement(out, len(points), "turn bands" if session else "depths")
    return out


def compare_statement(r: Mapping[str, Any], groups: int, unit: str) -> str:
    """The overall verdict in words. A winner is named only as ``verdict_of`` allows; a
    no-difference says the largest difference the data still allow, and a lean toward one
    side smaller than the detectable effect is called what it is."""
    ratio, ci, mde = r.get("ratio"), r.get("ci"), r.get("mde_pct")
    if ratio is None:
        return "no pair of requests was measured on both sides"
    ci_s = f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else " (no interval: too few pairs)"
    over = f"over {groups} {unit}, {r.get('pairs')} pairs"
    v = r.get("verdict")
    if v == "mixed":
        cross = r.get("crossover") or {}
        return f"it depends on the depth: B/A {ratio:.3f}{ci_s} {over}; {cross.get('statement', 'the lead changes')}"
    alone = ""
    if v in ("b_faster", "a_faster") and groups > 1 and all(
            p.get("verdict") == "no_difference" for p in r.get("depths") or []):
        alone = f"; pooled over the {unit}: no single one shows it alone"
    if v == "b_faster":
        return f"B decodes faster: {ratio:.3f}× A{ci_s} {over}{alone}"
    if v == "a_faster":
        return f"A decodes faster: B runs at {ratio:.3f}× A{ci_s} {over}{alone}"
    bound = r.get("bound_pct")
    text = f"no difference larger than {bound:.1f}% either way: B/A {ratio:.3f}{ci_s} {over}" if bound is not None \
        else f"no difference detected: B/A {ratio:.3f}{ci_s} {over}"
    effect = r.get("effect_pct")
    if ci and mde is not None and effect is not None and (ci[0] > 1.0 or ci[1] < 1.0):
        side = "B" if ratio > 1 else "A"
        if effect < mde:
            return (text + f"; the {effect:.1f}% lean toward {side} is smaller than the ±{mde:.1f}% this compare "
                    "can detect")
        return text + f"; the {effect:.1f}% lean toward {side} has an interval that reaches 1.000 as shown"
    if mde is not None:
        text += f"; a difference under ±{mde:.1f}% cannot be seen at this noise"
    return text
