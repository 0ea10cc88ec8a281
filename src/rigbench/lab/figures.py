"""A lab's figures from its stored requests. Pure: no I/O.

Every technique arm ran interleaved with the baseline: request *r* of the arm at one
(work, depth) and the baseline's request *r* right before it, same prompt, form a pair.
Per cell (arm, work, depth): decode tok/s of each side, the speedup (arm / baseline) with
its paired 95% interval (``measure.stats.paired``), the acceptance the server counted
(``timings.draft_n_accepted`` / ``timings.draft_n``) and the identity of the outputs. Per
arm and work the depths pool (``measure.stats.pooled``); that pooled speedup is what
the verdicts read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rigbench.lab.techniques import Arm
from rigbench.measure.speed import figures
from rigbench.measure.stats import paired, pooled, summarize

__all__ = ["acceptance", "arm_figures", "baseline_figures", "cell_figures", "identity_of"]


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def _int(v: Any) -> int:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0


def acceptance(rows: Iterable[Mapping[str, Any]], *, speculative: bool = False) -> dict[str, Any]:
    """Drafted and accepted tokens as the server counted them, summed over ``rows``. llama.cpp
    leaves ``draft_n`` out when nothing was drafted: for a ``speculative`` arm that is 0."""
    drafted = accepted = generated = 0
    seen = speculative
    for r in rows:
        t = r.get("timings") or {}
        if "draft_n" in t:
            seen = True
        drafted += _int(t.get("draft_n"))
        accepted += _int(t.get("draft_n_accepted"))
        generated += _int(r.get("completion_tokens") or t.get("predicted_n"))
    return {"draft_n": drafted if seen else None, "draft_n_accepted": accepted if seen else None,
            "acceptance": _r(accepted / drafted, 3) if drafted else None,
            "accepted_share": _r(accepted / generated, 3) if seen and generated else None}


def identity_of(rows: Sequence[Mapping[str, Any]], arm: Arm) -> tuple[bool | None, str]:
    """(every pair's output identical?, the cell's identity: identical | near-tie | differs,
    or lossy / synthetic where identity is not expected)."""
    flags = [(r.get("extra") or {}).get("identical") for r in rows]
    known = [f for f in flags if isinstance(f, bool)]
    identical = all(known) if known else None
    if arm.synthetic is not None:
        return identical, "synthetic"
    if arm.lossy:
        return identical, "lossy"
    states = {str((r.get("extra") or {}).get("identity") or "") for r in rows}
    if identical:
        return True, "identical"
    if "differs" in states:
        return identical, "differs"
    if "near-tie" in states:
        return identical, "near-tie"
    return identical, "unknown"


def _ok_by_rep(rows: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    return {int(r["rep"]): r for r in rows if r.get("status") == "ok" and r.get("rep") is not None}


def _group(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], list[Mapping[str, Any]]]:
    """(role or the arm a baseline row was paired with, work, depth) -> rows."""
    out: dict[tuple[str, str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("phase") != "lab" or r.get("depth") is None:
            continue
        x = r.get("extra") or {}
        if x.get("stage") not in (None, "measure"):
            continue
        role = str(r.get("role") or "")
        key = f"baseline>{x.get('pair')}" if role == "baseline" else role
        out[(key, str(x.get("work")), int(r["depth"]))].append(r)
    return out


def cell_figures(arm: Arm, work: str, depth: int, arm_rows: Sequence[Mapping[str, Any]],
                 base_rows: Sequence[Mapping[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    a_by, b_by = _ok_by_rep(base_rows), _ok_by_rep(arm_rows)
    reps = sorted(set(a_by) & set(b_by))
    base_dec = [figures(a_by[k]).decode_tok_s for k in reps]
    arm_dec = [figures(b_by[k]).decode_tok_s for k in reps]
    p = paired(base_dec, arm_dec, seed=seed)
    sa, sb = summarize(arm_dec), summarize(base_dec)
    identical, identity = identity_of([b_by[k] for k in reps], arm)
    return {
        "arm": arm.name, "technique": arm.label, "kind": arm.technique, "work": work, "depth": depth,
        "draft_n_max": arm.draft_n_max, "decode_tok_s": _r(sa.median), "decode_ci": _rl(sa.ci),
        "baseline_decode_tok_s": _r(sb.median), "speedup": _r(p.ratio, 4),
        "ci": [_r(p.ci[0], 4), _r(p.ci[1], 4)] if p.ci else None, "paired_verdict": p.verdict,
        "mde_pct": _r(p.mde_pct, 1), "pairs": p.n, "ci_method": p.method,
        **acceptance((b_by[k] for k in reps), speculative=arm.speculative),
        "identical": identical, "identity": identity,
        "_pairs": (base_dec, arm_dec),
    }


def _rl(v: Sequence[float] | None) -> list[float | None] | None:
    return [_r(x) for x in v] if v else None


def _pooled_json(groups: list[tuple[list[float | None], list[float | None]]], seed: int) -> dict[str, Any]:
    p = pooled(groups, seed=seed)
    return {"speedup": _r(p.ratio, 4), "ci": [_r(p.ci[0], 4), _r(p.ci[1], 4)] if p.ci else None,
            "paired_verdict": p.verdict, "pairs": p.n, "mde_pct": _r(p.mde_pct, 1), "ci_method": p.method}


def arm_figures(arm: Arm, rows: Sequence[Mapping[str, Any]], *, seed: int = 0) -> dict[str, Any]:
    """Every cell of one arm, and its speedup pooled per work and over all work."""
    groups = _group(rows)
    cells: list[dict[str, Any]] = []
    for (key, work, depth), arm_rows in sorted(groups.items(), key=lambda kv: (kv[0][1] != "grounded", kv[0][2])):
        if key != arm.name:
            continue
        cells.append(cell_figures(arm, work, depth, arm_rows, groups.get((f"baseline>{arm.name}", work, depth), []),
                                  seed=seed))
    by_work: dict[str, dict[str, Any]] = {}
    for work in dict.fromkeys(c["work"] for c in cells):
        mine = [c for c in cells if c["work"] == work]
        ok_rows = [r for (k, w, _d), rs in groups.items() if k == arm.name and w == work for r in rs
                   if r.get("status") == "ok"]
        by_work[work] = {**_pooled_json([c["_pairs"] for c in mine], seed),
                         "decode_tok_s": _r(summarize([v for c in mine for v in c["_pairs"][1]]).median),
                         **acceptance(ok_rows, speculative=arm.speculative),
                         "identity": _merge_identity([c["identity"] for c in mine]),
                         "identical": _all_true([c["identical"] for c in mine])}
    overall = {**_pooled_json([c["_pairs"] for c in cells], seed),
               "decode_tok_s": _r(summarize([v for c in cells for v in c["_pairs"][1]]).median),
               "acceptance": acceptance((r for (k, _w, _d), rs in groups.items() if k == arm.name for r in rs
                                         if r.get("status") == "ok"), speculative=arm.speculative)["acceptance"]}
    for c in cells:
        c.pop("_pairs")
    return {"arm": arm.to_json(), "cells": cells, "by_work": by_work, "overall": overall,
            "identity": _merge_identity([c["identity"] for c in cells]),
            "depths": sorted({c["depth"] for c in cells})}


def _merge_identity(states: Sequence[str]) -> str | None:
    for s in ("differs", "synthetic", "lossy", "unknown", "near-tie", "identical"):
        if s in states:
            return s
    return None


def _all_true(values: Sequence[bool | None]) -> bool | None:
    known = [v for v in values if v is not None]
    return all(known) if known else None


def baseline_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The baseline's decode over every request it answered (all arms' pairs), per work."""
    base = [r for r in rows if r.get("phase") == "lab" and r.get("role") == "baseline" and r.get("status") == "ok"
            and (r.get("extra") or {}).get("stage") in (None, "measure")]
    dec = summarize([figures(r).decode_tok_s for r in base])
    by_work: dict[str, Any] = {}
    for work in dict.fromkeys(str((r.get("extra") or {}).get("work")) for r in base):
        s = summarize([figures(r).decode_tok_s for r in base if (r.get("extra") or {}).get("work") == work])
        by_work[work] = {"decode_tok_s": _r(s.median), "decode_ci": _rl(s.ci), "requests": s.n}
    return {"decode_tok_s": _r(dec.median), "decode_ci": _rl(dec.ci), "requests": dec.n, "by_work": by_work}
