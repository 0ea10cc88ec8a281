"""A campaign's result, rebuilt from the store: trials, the winner, its command, the journal.

This is the ``--json`` contract of ``rigbench tune``: ``campaign_id``, ``trials`` (each with
``config``, ``status``, ``decode_tok_s``, ``prefill_tok_s``, ``decision``, ``reason``),
``winner`` (``config``, ``command``) and ``improvement`` (``decode``, ``prefill``: the
winner over the defaults, measured side by side), plus the hypotheses, evidence, CIs,
objective, notes and the journal's text.

Every trial's figures (per-repeat prefill and decode tok/s, their medians and intervals,
its score against the defaults) are recomputed from its stored requests (phase "tune",
``extra.trial`` = n, ``extra.stage`` "search"). What stays as recorded: the trial row's
config, status, hypothesis, decision, reason and the evidence the decision was taken on
(``tune_trials``), and in ``runs.extra["tune"]`` the defaults, the search's description
and the final's inputs (its entrants and labels, how it ran, who was left out, the
search's best). The final's participants, statement and winner are recomputed from its
requests (stage "final", ``extra.round``) through ``tune.final.pick_winner``.

Fallbacks, where the rows cannot give a figure: a trial with no stored request keeps its
row's figures; a final stored whole (a campaign whose final was never converted to
inputs, see migration 0012) is shown as stored.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rigbench.measure.speed import figures
from rigbench.measure.stats import paired, summarize
from rigbench.store import Store
from rigbench.store.trials import list_trials
from rigbench.tune.export import server_argv
from rigbench.tune.journal import figure_summary, render_journal
from rigbench.tune.objective import Objective, trial_score
from rigbench.tune.space import EMBEDDED, SERVER, Config, Space

__all__ = ["dimension_effects", "server_labels", "trial_figures", "tune_summary"]


def server_labels(servers: Sequence[str]) -> dict[str, str]:
    """Short names for server binaries: the fewest trailing path parts that tell them apart."""
    out: dict[str, str] = {}
    paths = [s for s in servers if s != EMBEDDED]
    for s in servers:
        if s == EMBEDDED:
            out[s] = EMBEDDED
            continue
        parts = Path(s).parts
        for k in range(1, len(parts) + 1):
            tail = "/".join(parts[-k:])
            if sum(1 for p in paths if "/".join(Path(p).parts[-k:]) == tail) == 1:
                out[s] = tail
                break
        else:
            out[s] = s
    return out


def dimension_effects(trials: Sequence[Mapping[str, Any]], space: Space, cores: int | None,
                      defaults: Mapping[str, str] | None = None) -> list[str]:
    """Per dimension of the space: the best score each value reached. Why the winner won."""
    out: list[str] = []
    labels = server_labels(space.servers)
    for d in space.dims:
        if len(d.values) < 2:
            continue
        best: dict[str, float] = {}
        for t in trials:
            if t.get("status") != "measured" or t.get("score") is None or not t.get("n"):
                continue
            value = t["config"].get(d.name, "off" if d.name in ("mlock", "no-mmap") else None)
            if value is None:
                continue
            best[value] = max(best.get(value, 0.0), float(t["score"]))
        if len(best) < 2:
            continue
        ranked = sorted(best.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{d.name}={labels.get(v, v) if d.name == SERVER else v} {s:.2f}x" for v, s in ranked)
        line = f"{d.name}: best score per value {shown}"
        if defaults and defaults.get(d.name):
            line += f" (the defaults, {d.name}={defaults[d.name]}, = 1.00x)"
        if d.name in ("t", "tb") and cores:
            line += f"; this machine has {cores} physical cores"
        out.append(line)
    return out


def trial_figures(rows: Sequence[Mapping[str, Any]], n: int, stage: str = "search") -> dict[str, Any] | None:
    """Trial ``n``'s per-repeat figures from its stored requests (``TrialFigures`` JSON less
    the notes), or None when none is stored. A trial measured again after a cut-off
    counts its last request of each repeat."""
    last: dict[tuple[str, int], Mapping[str, Any]] = {}
    for r in rows:
        x = r.get("extra") or {}
        if r.get("phase") != "tune" or x.get("trial") != n or x.get("stage") != stage or r.get("rep") is None:
            continue
        kind = str(r.get("role") or "").rpartition(":")[2]
        if kind in ("prefill", "decode"):
            last[(kind, int(r["rep"]))] = r
    if not last:
        return None
    out: dict[str, Any] = {"prefill": [], "decode": [], "prefill_server": [], "decode_server": [],
                           "grow_prefill": None, "errors": []}
    for kind in ("prefill", "decode"):
        for rep in sorted(k for w, k in last if w == kind):
            r = last[(kind, rep)]
            f = figures(r)
            if r.get("status") != "ok":
                out[kind].append(None)
                out["errors"].append(f"{kind} repeat {rep + 1}: {r.get('error')}")
                continue
            out[kind].append(f.prefill_tok_s if kind == "prefill" else f.decode_tok_s)
            out[f"{kind}_server"].append(f.prefill_tok_s_server if kind == "prefill" else f.decode_tok_s_server)
            if kind == "decode" and (r.get("extra") or {}).get("grow") and f.prefill_tok_s is not None:
                out["grow_prefill"] = f.prefill_tok_s
    return out


def _derived(rows: Mapping[int, Mapping[str, Any]], requests: Sequence[Mapping[str, Any]],
             kind: str) -> dict[int, dict[str, Any]]:
    """Per measured trial: its figures and score, recomputed from the requests."""
    figs: dict[int, dict[str, Any]] = {}
    for n, row in rows.items():
        f = trial_figures(requests, n) if row.get("status") == "measured" else None
        figs[n] = f if f is not None else dict(row.get("figures") or {})  # the fallback: as recorded
    base = figs.get(0) or {}
    bp, bd = summarize(base.get("prefill") or []).median, summarize(base.get("decode") or []).median
    for n, f in figs.items():
        recorded = (rows[n].get("extra") or {}).get("score")
        if n == 0 or rows[n].get("status") != "measured" or not f.get("decode"):
            f["score"] = recorded  # the defaults score 1 by definition; an unmeasured trial has none
        else:
            f["score"] = trial_score(kind, f.get("prefill") or [], f.get("decode") or [], bp, bd)
    return figs


def final_figures(rows: Sequence[Mapping[str, Any]], entrants: Sequence[int], rounds: int) -> dict[int, Any]:
    """The final's figures per entrant (``TrialFigures``, one value per round, None where the
    request failed or was never sent), from its stored requests; an entrant with no value
    at all is left out, as the final left it out."""
    from rigbench.tune.trial import TrialFigures

    last: dict[tuple[int, str, int], Mapping[str, Any]] = {}
    for r in rows:
        x = r.get("extra") or {}
        if r.get("phase") != "tune" or x.get("stage") != "final" or not isinstance(x.get("round"), int):
            continue
        kind = str(r.get("role") or "").rpartition(":")[2]
        if kind in ("prefill", "decode") and isinstance(x.get("trial"), int):
            last[(int(x["trial"]), kind, int(x["round"]))] = r
    out: dict[int, Any] = {}
    for n in entrants:
        f = TrialFigures()
        for kind in ("prefill", "decode"):
            for rnd in range(rounds):
                got = last.get((n, kind, rnd))
                v = None
                if got is not None and got.get("status") == "ok":
                    rf = figures(got)
                    v = rf.prefill_tok_s if kind == "prefill" else rf.decode_tok_s
                getattr(f, kind).append(v)
        if any(v is not None for v in f.prefill + f.decode):
            out[n] = f
    return out


def _final(tune: Mapping[str, Any], trial_rows: Mapping[int, Mapping[str, Any]],
           requests: Sequence[Mapping[str, Any]], kind: str, rounds: int) -> tuple[Any, Any]:
    """(the final as the JSON shows it, the winning trial), recomputed from the final's
    requests where its inputs are stored; else as stored (the fallback)."""
    from rigbench.tune.final import pick_winner

    final = tune.get("final")
    if not isinstance(final, dict) or "entrants" not in final:
        return final, tune.get("winner_trial")
    labels = {int(n): str(label) for n, label in final["entrants"]}
    lossy = frozenset(n for n in labels if n in trial_rows and Config.from_json(trial_rows[n]["config"]).lossy)
    result = pick_winner(kind, final_figures(requests, list(labels), rounds), labels, lossy=lossy)
    result["how"] = final.get("how")
    result["excluded"] = list(final.get("excluded") or [])
    winner = result.get("winner")
    return result, winner if winner is not None else final.get("search_best")


def _trial_json(row: Mapping[str, Any], figs: Mapping[str, Any]) -> dict[str, Any]:
    extra = row.get("extra") or {}
    ev = row.get("evidence") or {}
    if figs.get("prefill") or figs.get("decode"):
        pre, dec = figure_summary(figs.get("prefill") or []), figure_summary(figs.get("decode") or [])
    else:
        pre, dec = ev.get("prefill") or {}, ev.get("decode") or {}
    return {
        "n": row["n"], "config": row["config"], "label": extra.get("label"), "status": row["status"],
        "prefill_tok_s": pre.get("median"), "prefill_ci": pre.get("ci"),
        "decode_tok_s": dec.get("median"), "decode_ci": dec.get("ci"),
        "score": figs.get("score"), "decision": row.get("decision"), "reason": row.get("reason"),
        "hypothesis": row.get("hypothesis"), "evidence": ev, "restart": extra.get("restart"),
        "quality_gate": ev.get("quality_gate"), "log_tail": row.get("log_tail") or None,
        "notes": extra.get("notes") or [], "load": extra.get("load"),
    }


def _winner(params: Mapping[str, Any], tune: Mapping[str, Any], figs: Mapping[int, Mapping[str, Any]],
            rows: Mapping[int, Mapping[str, Any]], model: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    n = tune.get("winner_trial")
    if n is None or n not in rows:
        return {}, {}
    cfg = Config.from_json(rows[n]["config"])
    server = cfg.server if cfg.server is not None else params.get("server")
    binary = "llama-server" if server in (None, EMBEDDED) else str(server)
    argv = server_argv(binary, model or "MODEL.gguf", cfg.flags_dict())
    label = "defaults" if n == 0 else cfg.label(server_labels([s for s in [cfg.server] if s]))
    winner = {"trial": n, "config": cfg.to_json(), "label": label, "command": shlex.join(argv), "argv": argv,
              "engine": "embedded (the equivalent llama-server command)" if server in (None, EMBEDDED)
              else "llama-server"}
    improvement: dict[str, Any] = {"decode": 1.0, "prefill": 1.0, "decode_ci": None, "prefill_ci": None,
                                   "basis": "the winner is the defaults"}
    final = tune.get("final") or {}
    row = next((p for p in final.get("participants") or [] if p["n"] == n), None)
    if row is not None and n != 0:
        pre, dec = row["prefill_vs_default"], row["decode_vs_default"]
        improvement = {"prefill": pre.get("ratio"), "prefill_ci": pre.get("ci"), "decode": dec.get("ratio"),
                       "decode_ci": dec.get("ci"), "objective": row["objective_vs_default"],
                       "basis": f"side by side with the defaults, {final.get('how')}"}
    elif n != 0:
        base, win = figs.get(0) or {}, figs.get(n) or {}
        pre = paired(base.get("prefill") or [], win.get("prefill") or []).to_json()
        dec = paired(base.get("decode") or [], win.get("decode") or []).to_json()
        improvement = {"prefill": pre["ratio"], "prefill_ci": pre["ci"], "decode": dec["ratio"],
                       "decode_ci": dec["ci"], "basis": "the search's trials, one after the other (no final)"}
    return winner, improvement


def tune_summary(store: Store, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        from rigbench.errors import UsageError

        raise UsageError(f"there is no campaign {run_id} in {store.where}", "list them with rigbench runs")
    params = dict(run.get("params") or {})
    tune = dict((run.get("extra") or {}).get("tune") or {})
    rows = {int(r["n"]): r for r in list_trials(store, run_id)}
    obj = params.get("objective") or {}
    objective = Objective(str(obj.get("kind", "balanced")), int(obj.get("depth", 4096)))
    requests = store.requests(run_id, phase="tune")
    figs = _derived(rows, requests, objective.kind)
    rounds = int((params.get("workload") or {}).get("repeats") or 0)
    tune["final"], tune["winner_trial"] = _final(tune, rows, requests, objective.kind, rounds)
    trials = [_trial_json(r, figs[n]) for n, r in sorted(rows.items())]
    space = Space.from_json(params.get("space") or [])
    cores = (run.get("machine_facts") or {}).get("cores")
    model = tune.get("model_path") or params.get("model")
    winner, improvement = _winner(params, tune, figs, rows, model)
    if winner and tune.get("defaults"):
        same = {k: v for k, v in winner["config"].items() if tune["defaults"].get(k) == v}
        if same and len(same) == len(winner["config"]):
            winner["note"] = ("these flags are what the defaults resolve to on this machine: pinning them changes "
                              "nothing here and keeps them if a build or machine resolves the defaults differently")
    if winner:
        final_rows = [{"n": p["n"], "status": "measured", "score": p.get("score"), "config": rows[p["n"]]["config"]}
                      for p in (tune.get("final") or {}).get("participants") or [] if p["n"] in rows]
        side = dimension_effects(final_rows, space, cores, tune.get("defaults"))
        seen = {e.split(":", 1)[0] for e in side}
        search = [e for e in dimension_effects(trials, space, cores, tune.get("defaults"))
                  if e.split(":", 1)[0] not in seen]
        parts = [str((tune.get("final") or {}).get("statement") or "")]
        if side:
            parts.append("Side by side: " + "; ".join(side))
        if search:
            parts.append("In the search (one trial after another): " + "; ".join(search))
        winner["why"] = ". ".join(p for p in parts if p) or None
    summary: dict[str, Any] = {
        "campaign_id": run_id, "status": run["status"], "reason": run.get("reason"),
        "objective": {**objective.to_json(), "description": objective.describe()},
        "space": params.get("space"), "search": tune.get("search"), "workload": params.get("workload"),
        "defaults": tune.get("defaults"), "model": model, "machine": {"cores": cores},
        "trials": trials, "final": tune.get("final"), "winner": winner or None, "improvement": improvement or None,
        "notes": list(run.get("notes") or []), "command": run.get("command"),
    }
    summary["journal"] = render_journal(summary)
    return summary
