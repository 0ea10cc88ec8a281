"""A campaign's result, rebuilt from the store: trials, the winner, its command, the journal.

This is the ``--json`` contract of ``rigbench tune``: ``campaign_id``, ``trials`` (each with
``config``, ``status``, ``decode_tok_s``, ``prefill_tok_s``, ``decision``, ``reason``),
``winner`` (``config``, ``command``) and ``improvement`` (``decode``, ``prefill``: the
winner over the defaults, measured side by side), plus the hypotheses, evidence, CIs,
objective, notes and the journal's text.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rigbench.measure.stats import paired
from rigbench.results import TuneResult
from rigbench.store import Store
from rigbench.store.trials import list_trials
from rigbench.tune.export import server_argv
from rigbench.tune.journal import render_journal
from rigbench.tune.objective import Objective
from rigbench.tune.space import EMBEDDED, SERVER, Config, Space

__all__ = ["dimension_effects", "server_labels", "tune_summary"]


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


def _trial_json(row: Mapping[str, Any]) -> dict[str, Any]:
    extra = row.get("extra") or {}
    ev = row.get("evidence") or {}
    pre, dec = ev.get("prefill") or {}, ev.get("decode") or {}
    return {
        "n": row["n"], "config": row["config"], "label": extra.get("label"), "status": row["status"],
        "prefill_tok_s": pre.get("median"), "prefill_ci": pre.get("ci"),
        "decode_tok_s": dec.get("median"), "decode_ci": dec.get("ci"),
        "score": extra.get("score"), "decision": row.get("decision"), "reason": row.get("reason"),
        "hypothesis": row.get("hypothesis"), "evidence": ev, "restart": extra.get("restart"),
        "quality_gate": ev.get("quality_gate"), "log_tail": row.get("log_tail") or None,
        "notes": extra.get("notes") or [], "load": extra.get("load"),
    }


def _winner(params: Mapping[str, Any], tune: Mapping[str, Any], trials: list[dict[str, Any]],
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
        base, win = rows[0].get("figures") or {}, rows[n].get("figures") or {}
        pre = paired(base.get("prefill") or [], win.get("prefill") or []).to_json()
        dec = paired(base.get("decode") or [], win.get("decode") or []).to_json()
        improvement = {"prefill": pre["ratio"], "prefill_ci": pre["ci"], "decode": dec["ratio"],
                       "decode_ci": dec["ci"], "basis": "the search's trials, one after the other (no final)"}
    return winner, improvement


def tune_summary(store: Store, run_id: int) -> TuneResult:
    """A campaign's trials, winner and journal (``to_json()``: the ``--json`` contract)."""
    return TuneResult.from_json(_tune_json(store, run_id))


def _tune_json(store: Store, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        from rigbench.errors import UsageError

        raise UsageError(f"there is no campaign {run_id} in {store.where}", "list them with rigbench runs")
    params = dict(run.get("params") or {})
    tune = dict((run.get("extra") or {}).get("tune") or {})
    rows = {int(r["n"]): r for r in list_trials(store, run_id)}
    trials = [_trial_json(r) for _n, r in sorted(rows.items())]
    obj = params.get("objective") or {}
    objective = Objective(str(obj.get("kind", "balanced")), int(obj.get("depth", 4096)))
    space = Space.from_json(params.get("space") or [])
    cores = (run.get("machine_facts") or {}).get("cores")
    model = tune.get("model_path") or params.get("model")
    winner, improvement = _winner(params, tune, trials, rows, model)
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
