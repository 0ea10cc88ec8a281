"""A load run's result, recomputed from the database: the ``rigbench load --json`` contract.

    {"run_id", "kind": "load", "status",
     "levels": [{"concurrency", "requests_ok", "requests_failed", "aggregate_tok_s",
                 "per_stream_decode_tok_s", "per_stream_decode_p10_tok_s", "ttft_ms_p50",
                 "ttft_ms_p95", "goodput_rps", "slo_share", ...}],
     "best": {"concurrency", "aggregate_tok_s", "tokens_per_hour"} | null,
     "knee": {"concurrency", "statement"}}

null where unknown, never 0. Keys beyond the contract (each level's wall time, token totals,
server deltas and gap; the SLOs, servers, notes) are added, never renamed.
"""

from __future__ import annotations

from typing import Any

from rigbench.errors import UsageError
from rigbench.measure.load import DEFAULT_SLO_DECODE_TOK_S, LoadFigures, load_figures
from rigbench.store import Store

__all__ = ["figures_of_run", "load_summary", "stored_load_summaries"]


def _levels_info(run: dict[str, Any]) -> dict[str, Any]:
    load = (run.get("extra") or {}).get("load") or {}
    levels = load.get("levels") or {}
    return levels if isinstance(levels, dict) else {}


def figures_of_run(store: Store, run: dict[str, Any]) -> LoadFigures:
    """The figures of a stored load run: only each level's finished attempt counts."""
    params = run.get("params") or {}
    info = {k: v for k, v in _levels_info(run).items() if isinstance(v, dict) and v.get("done")}
    rows = []
    for row in store.requests(int(run["id"]), phase="load"):
        extra = row.get("extra") or {}
        lv = info.get(str(extra.get("level")))
        if lv is not None and extra.get("attempt", 0) == lv.get("attempt", 0):
            rows.append(row)
    slo_d = params.get("slo_decode_tok_s")
    slo_t = params.get("slo_ttft_ms")
    return load_figures(rows, info,
                        slo_decode_tok_s=float(slo_d) if isinstance(slo_d, (int, float)) else DEFAULT_SLO_DECODE_TOK_S,
                        slo_ttft_ms=float(slo_t) if isinstance(slo_t, (int, float)) else None)


def load_summary(store: Store, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != "load":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not a load run", f"see it with rigbench show {run_id}")
    figs = figures_of_run(store, run)
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
        "levels": [lv.to_json() for lv in figs.levels],
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


def stored_load_summaries(store: Store) -> list[dict[str, Any]]:
    """Every load run that measured something, summarised: the board's load rows."""
    return [load_summary(store, int(r["id"])) for r in store.list_runs(kind="load")
            if r["status"] in ("complete", "incomplete")]
