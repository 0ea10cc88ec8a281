"""Compare's energy ratio: B's joules per token over A's, per depth and pooled, with the
paired statistics every A/B verdict uses (``measure.stats``). Pure: no I/O.

A pair is one A request and one B request at the same depth and repeat; each request's
figure is its own decode joules per generated token (``request_j_per_token``). A ratio
below 1 means B spends less energy per token. The verdict is ``verdict_of``'s, named for
energy: ``b_cheaper``, ``a_cheaper`` or ``no_difference``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.measure.energy import EnergyData, request_j_per_token
from rigbench.measure.stats import paired, pooled

__all__ = ["energy_compare"]

_NAMES = {"b_faster": "a_cheaper", "a_faster": "b_cheaper", "no_difference": "no_difference"}


def _per_rep(rows: Sequence[Mapping[str, Any]], data: EnergyData, session: bool) -> dict[int, dict[int, float | None]]:
    """depth -> rep -> J/token; a session's turns pair by turn alone (the sides' contexts differ a little)."""
    out: dict[int, dict[int, float | None]] = defaultdict(dict)
    for r in rows:
        if r.get("status") == "ok" and r.get("depth") is not None and r.get("rep") is not None:
            out[0 if session else int(r["depth"])][int(r["rep"])] = request_j_per_token(r, data)
    return out


def _statement(ratio: float | None, ci: Sequence[float] | None, verdict: str, pairs: int,
               bound: float | None) -> str:
    if ratio is None:
        return "no pair of requests has energy on both sides"
    ci_s = f" (95% CI {ci[0]:.3f}–{ci[1]:.3f})" if ci else " (no interval: too few pairs)"
    if verdict == "b_cheaper":
        return f"B spends less energy per token: {ratio:.3f}× A's J/token{ci_s}, {pairs} pairs"
    if verdict == "a_cheaper":
        return f"A spends less energy per token: B spends {ratio:.3f}× A's J/token{ci_s}, {pairs} pairs"
    if bound is not None:
        return f"no energy difference larger than {bound:.1f}% either way: B/A J/token {ratio:.3f}{ci_s}, {pairs} pairs"
    return f"no energy difference detected: B/A J/token {ratio:.3f}{ci_s}, {pairs} pairs"


def energy_compare(a_rows: Sequence[Mapping[str, Any]], a_data: EnergyData, b_rows: Sequence[Mapping[str, Any]],
                   b_data: EnergyData, *, session: bool = False, seed: int = 0) -> dict[str, Any]:
    """The ``energy`` block of a compare: per depth and pooled B/A of J/token with CIs."""
    out: dict[str, Any] = {"a_source": a_data.source, "a_covers": a_data.covers, "b_source": b_data.source,
                           "b_covers": b_data.covers, "ratio": None, "ci": None, "verdict": "no_difference",
                           "pairs": 0, "depths": []}
    if not (a_data.present and b_data.present):
        missing = [s for s, d in (("A", a_data), ("B", b_data)) if not d.present]
        out["statement"] = f"no energy ratio: no power readings for {' and '.join(missing)}"
        return out
    if (a_data.source, a_data.covers) != (b_data.source, b_data.covers):
        out["statement"] = (f"no energy ratio: A was measured by {a_data.source} ({a_data.covers}), B by "
                            f"{b_data.source} ({b_data.covers}); they do not cover the same parts")
        return out
    a_by, b_by = _per_rep(a_rows, a_data, session), _per_rep(b_rows, b_data, session)
    groups: list[tuple[list[float | None], list[float | None]]] = []
    for depth in sorted(set(a_by) & set(b_by)):
        reps = sorted(set(a_by[depth]) & set(b_by[depth]))
        a_vals, b_vals = [a_by[depth][k] for k in reps], [b_by[depth][k] for k in reps]
        p = paired(a_vals, b_vals, seed=seed)
        groups.append((a_vals, b_vals))
        j = p.to_json()
        out["depths"].append({"depth": depth, "ratio": j["ratio"], "ci": j["ci"], "n": p.n,
                              "verdict": _NAMES[p.verdict], "mde_pct": j["mde_pct"]})
    overall = pooled(groups, seed=seed)
    j = overall.to_json()
    out.update({"ratio": j["ratio"], "ci": j["ci"], "verdict": _NAMES[overall.verdict], "pairs": overall.n,
                "mde_pct": j["mde_pct"], "ci_method": overall.method})
    out["statement"] = _statement(overall.ratio, overall.ci, out["verdict"], overall.n, overall.bound_pct)
    return out
