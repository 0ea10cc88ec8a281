"""A load run's result, recomputed from the database: a ``results.LoadResult``, whose
``to_json()`` is the ``rigbench load --json`` contract (its docstring draws it).

null where unknown, never 0. Keys beyond the contract (each level's wall time, token totals,
server deltas, gap and energy; the SLOs, servers, notes) are added, never renamed.
"""

from __future__ import annotations

from typing import Any

from rigbench.errors import UsageError
from rigbench.measure.load import DEFAULT_SLO_DECODE_TOK_S, LoadFigures, load_figures
from rigbench.results import LoadResult
from rigbench.store import Store

__all__ = ["figures_of_run", "load_summary", "stored_load_summaries"]


def _levels_info(run: dict[str, Any]) -> dict[str, Any]:
    load = (run.get("extra") or {}).get("load") or {}
    levels = load.get("levels") or {}
    return levels if isinstance(levels, dict) else {}


def _counted_rows(store: Store, run: dict[str, Any], info: dict[str, Any]) -> list[dict[str, Any]]:
    """The requests of each level's finished attempt."""
    rows = []
    for row in store.requests(int(run["id"]), phase="load"):
        extra = row.get("extra") or {}
        lv = info.get(str(extra.get("level")))
        if lv is not None and extra.get("attempt", 0) == lv.get("attempt", 0):
            rows.append(row)
    return rows


def _done_levels(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in _levels_info(run).items() if isinstance(v, dict) and v.get("done")}


def figures_of_run(store: Store, run: dict[str, Any]) -> LoadFigures:
    """The figures of a stored load run: only each level's finished attempt counts."""
    params = run.get("params") or {}
    info = _done_levels(run)
    rows = _counted_rows(store, run, info)
    slo_d = params.get("slo_decode_tok_s")
    slo_t = params.get("slo_ttft_ms")
    return load_figures(rows, info,
                        slo_decode_tok_s=float(slo_d) if isinstance(slo_d, (int, float)) else DEFAULT_SLO_DECODE_TOK_S,
                        slo_ttft_ms=float(slo_t) if isinstance(slo_t, (int, float)) else None)


def load_summary(store: Store, run_id: int) -> LoadResult:
    """A stored load run's typed result, every figure recomputed from its stored requests."""
    return LoadResult.from_json(_load_json(store, run_id))


def _load_json(store: Store, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != "load":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not a load run", f"see it with rigbench show {run_id}")
    figs = figures_of_run(store, run)
    levels, energy = _energy(store, run, [lv.to_json() for lv in figs.levels])
    params = run.get("params") or {}
    load = (run.get("extra") or {}).get("load") or {}
    planned = params.get("concurrency") or []
    done = {lv.concurrency for lv in figs.levels}
    facts = run.get("server_facts") or {}
    model = run.get("model_facts") or {}
    spec = run.get("engine_spec") or {}
    return {
        "run_id": run_id,
        "kind": "load",
        "status": run["status"],
        "reason": run.get("reason"),
        "levels": levels,
        "energy": energy,
        "best": None if figs.best is None else {"concurrency": figs.best.concurrency,
                                                 "aggregate_tok_s": figs.best.aggregate_tok_s,
                                                 "tokens_per_hour": figs.best.tokens_per_hour},
        "knee": {"concurrency": figs.knee.concurrency, "statement": figs.knee.statement},
        "slo": {"decode_tok_s": figs.slo_decode_tok_s, "ttft_ms": figs.slo_ttft_ms},
        "levels_missing": [c for c in planned if c not in done],
        "workload": {k: params.get(k) for k in ("depth", "gen_tokens", "requests", "rate", "concurrency")},
        "servers": load.get("servers") or [],
        "model": {"name": model.get("name"), "quant": model.get("quant"), "file_bytes": model.get("file_bytes"),
                  "native_context": model.get("native_context"), "path": model.get("path")},
        "server": {"kind": facts.get("kind"), "total_slots": facts.get("total_slots"),
                   "devices": facts.get("devices") or []},
        "engine": {"kind": spec.get("kind") or facts.get("kind"), "base_url": facts.get("base_url"),
                   "build": facts.get("build"), "flags": spec.get("flags") or {},
                   "served_model": facts.get("model_id")},
        "machine": run.get("machine_facts") or {},
        "tool_version": run.get("tool_version"),
        "notes": list(run.get("notes") or []),
        "command": run.get("command"),
        "created_at": run.get("created_at"),
    }


def _energy(store: Store, run: dict[str, Any],
            levels: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each level's ``energy`` (its span's joules per generated token: the streams overlap) and
    the run's energy block, from the stored readings."""
    from collections import defaultdict

    from rigbench.jobs.energy import energy_block, load_energy
    from rigbench.measure.energy import level_energy

    data = load_energy(store, int(run["id"]))
    by_level: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _counted_rows(store, run, _done_levels(run)):
        by_level[str((row.get("extra") or {}).get("level"))].append(row)
    for lv in levels:
        lv["energy"] = level_energy(by_level.get(str(lv.get("concurrency")), []), data)
    info = (run.get("extra") or {}).get("energy")
    return levels, energy_block(info if isinstance(info, dict) else None, data)


def stored_load_summaries(store: Store) -> list[LoadResult]:
    """Every load run that measured something, summarised: the board's load rows."""
    return [load_summary(store, int(r["id"])) for r in store.list_runs(kind="load")
            if r["status"] in ("complete", "incomplete")]
