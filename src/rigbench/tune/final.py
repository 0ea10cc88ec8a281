"""Before a winner is declared: the top few and the defaults, re-measured side by side.

The search's trials ran one after the other, so slow drift on a shared machine weighs on
them unevenly. The finalists (the best trials, and trial 0: the defaults) are measured
again in rounds, one request of each per round, the order rotating every round, so a pair
(finalist, defaults) of one round was measured back to back. When they fit in memory
together the servers run at the same time and nothing restarts; otherwise each round
starts each server in turn. The winner is the finalist with the best objective score
(a configuration within noise of the defaults wins over them: its flags pin what was
measured); its improvement over the defaults is a paired ratio with its interval
(``measure.stats.paired``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, RequestError
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording
from rigbench.jobs.session import open_session
from rigbench.measure.stats import paired, summarize
from rigbench.tune.journal import figure_summary
from rigbench.tune.objective import Workload, rep_scores, trial_score
from rigbench.tune.trial import TrialFigures, TrialSchedule
from rigbench.types import EngineSpec

__all__ = ["Entrant", "order_for_round", "pick_winner", "remeasure"]


@dataclass(frozen=True)
class Entrant:
    n: int  # the trial number
    label: str
    spec: EngineSpec


def order_for_round(items: Sequence[int], r: int) -> list[int]:
    """Rotate by the round and reverse every other round: each finalist goes first in turn."""
    if not items:
        return []
    k = r % len(items)
    rotated = list(items[k:]) + list(items[:k])
    return rotated[::-1] if r % 2 else rotated


def remeasure(entrants: Sequence[Entrant], *, rec: Recording, workload: Workload, log_dir: Path,
              timeouts: Timeouts, start_timeout_s: float | None, explicit_timeout: bool, together: bool,
              advance: Callable[[str], None]) -> dict[int, TrialFigures]:
    """Figures per finalist, one value per round (None where a request failed). A finalist
    that cannot start or dies is left out, with a note."""
    rounds = workload.repeats
    figs = {e.n: TrialFigures() for e in entrants}
    by_n = {e.n: e for e in entrants}

    note = rec.note

    def bench(session: Any, e: Entrant) -> TrialSchedule:
        b = TrialSchedule(Bench(rec, session, timeouts=timeouts, explicit_timeout=explicit_timeout), e.n, workload,
                          stage="final")
        b.prepare()
        return b

    if together:
        with contextlib.ExitStack() as stack:
            benches: dict[int, TrialSchedule] = {}
            for e in entrants:
                advance(f"final: starting trial {e.n} ({e.label})")
                try:
                    session = stack.enter_context(open_session(e.spec, log_dir, timeouts=timeouts,
                                                               start_timeout_s=start_timeout_s))
                    benches[e.n] = bench(session, e)
                except (EngineError, RequestError) as exc:
                    note(f"final: trial {e.n} ({e.label}) left out: {exc.one_line()}")
            alive = [e.n for e in entrants if e.n in benches]
            for kind in ("prefill", "decode"):
                for r in range(rounds):
                    for n in order_for_round(alive, r):
                        advance(f"final: {kind} round {r + 1}/{rounds} · trial {n}")
                        try:
                            value = getattr(benches[n], kind)(r, round_=r)
                        except (EngineError, RequestError) as exc:
                            note(f"final: trial {n} failed in round {r + 1}: {exc.one_line()}")
                            value = None
                        getattr(figs[n], kind).append(value)
    else:
        for r in range(rounds):
            for n in order_for_round([e.n for e in entrants], r):
                e = by_n[n]
                advance(f"final: round {r + 1}/{rounds} · trial {n} ({e.label})")
                try:
                    with open_session(e.spec, log_dir, timeouts=timeouts, start_timeout_s=start_timeout_s) as s:
                        b = bench(s, e)
                        figs[n].prefill.append(b.prefill(r, round_=r))
                        figs[n].decode.append(b.decode(r, round_=r))
                except (EngineError, RequestError) as exc:
                    note(f"final: trial {n} failed in round {r + 1}: {exc.one_line()}")
                    figs[n].prefill.append(None)
                    figs[n].decode.append(None)
    return {n: f for n, f in figs.items() if any(v is not None for v in f.prefill + f.decode)}


_TIE = 0.98  # within 2% of the defaults' score, and not clearly slower: practically equal


def _med(values: Sequence[float | None]) -> float | None:
    return summarize(values).median


def pick_winner(kind: str, figs: Mapping[int, TrialFigures], labels: Mapping[int, str],
                baseline: int = 0, lossy: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Rank the finalists by the objective against the defaults measured beside them. Pure."""
    base = figs.get(baseline)
    if base is None:
        return {"winner": None, "participants": [], "statement": "the defaults could not be re-measured: "
                "the search's figures stand"}
    bp, bd = _med(base.prefill), _med(base.objective_decode(kind))
    base_scores = rep_scores(kind, base.prefill, base.objective_decode(kind), bp, bd)
    rows: list[dict[str, Any]] = []
    for n, f in figs.items():
        s = trial_score(kind, f.prefill, f.objective_decode(kind), bp, bd)
        rows.append({
            "n": n, "label": labels.get(n, str(n)), "score": round(s, 4) if s is not None else None,
            "prefill": figure_summary(f.prefill), "decode": figure_summary(f.decode),
            "prefill_vs_default": paired(base.prefill, f.prefill).to_json(),
            "decode_vs_default": paired(base.decode, f.decode).to_json(),
            "objective_vs_default": paired(base_scores, rep_scores(kind, f.prefill, f.objective_decode(kind), bp,
                                                                   bd)).to_json(),
            "rounds": {"prefill": f.prefill, "decode": f.decode, **({"tokens_per_joule": f.energy} if kind == "energy"
                                                                     else {})},
        })
    rows.sort(key=lambda r: -(r["score"] if r["score"] is not None else -1.0))
    pinned = ""
    if (rows[0]["n"] == baseline and len(rows) > 1 and rows[1]["n"] not in lossy
            and rows[1]["objective_vs_default"].get("verdict") != "a_faster"
            and (rows[1]["score"] or 0.0) >= _TIE * (rows[0]["score"] or 0.0)):
        # the defaults and the best configuration are practically equal: hand back the
        # configuration, whose flags pin what was measured (defaults move between builds and
        # machines); never a lossy one, which must earn its place with speed
        rows.insert(0, rows.pop(1))
        pinned = (f"trial {rows[0]['n']} and the defaults are within noise of each other: trial {rows[0]['n']} "
                  "wins because its flags pin what was measured (the defaults move between builds and machines)")
    win = rows[0]
    statement = pinned or _statement(win, rows, kind, figs, bp, bd, baseline)
    return {"winner": win["n"], "participants": rows, "statement": statement}


def _statement(win: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], kind: str,
               figs: Mapping[int, TrialFigures], bp: float | None, bd: float | None, baseline: int) -> str:
    obj = win["objective_vs_default"]
    if win["n"] == baseline:
        text = "the defaults scored best side by side: no configuration of the space beat them"
    elif obj.get("verdict") == "b_faster":
        text = (f"trial {win['n']} beats the defaults side by side: {obj['ratio']:.2f}x on the objective "
                f"[{obj['ci'][0]:.2f}, {obj['ci'][1]:.2f}]")
    else:
        ci = obj.get("ci")
        shown = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
        text = (f"trial {win['n']} scored best, but its lead over the defaults is within noise "
                f"({obj.get('ratio') or 0:.2f}x{shown})")
    if len(rows) > 1:
        second = rows[1]
        w, s = figs[win["n"]], figs[second["n"]]
        vs = paired(rep_scores(kind, s.prefill, s.objective_decode(kind), bp, bd),
                    rep_scores(kind, w.prefill, w.objective_decode(kind), bp, bd))
        if vs.ratio is not None:
            close = "clearly ahead" if vs.verdict == "b_faster" else "within noise of each other"
            text += (f"; against the runner-up (trial {second['n']}): {vs.ratio:.2f}x, {close}")
    return text
