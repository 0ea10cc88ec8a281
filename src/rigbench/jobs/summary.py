"""A run's evidence, recomputed from the database: the ``rigbench run --json`` contract."""

from __future__ import annotations

from typing import Any

from rigbench.engines.bootlog import trained_context
from rigbench.errors import UsageError
from rigbench.measure.ceiling import annotate_points, ceiling_statement
from rigbench.measure.fill import ONE_MILLION, fill_projection, fit_fill, samples_from_points
from rigbench.measure.overrun import max_tokens_overrun
from rigbench.measure.points import depth_points, server_counters, sweep_cost, verdict
from rigbench.store import Store

__all__ = ["context_sequence", "context_statement", "context_status", "fill_figures", "run_summary",
           "software_json", "stored_run_summaries"]


def context_statement(requested: int | None, native: int | None, granted: int | None, capped: bool | None,
                      max_ctx: int | None = None) -> str:
    """The context reality check, in plain words."""
    parts = []
    if requested:
        parts.append(f"requested {requested:,}")
    if native:
        parts.append(f"trained {native:,}")
    if max_ctx and native and max_ctx > native:
        parts.append(f"up to {max_ctx:,} through the model's declared rope scaling")
    if capped and granted:
        parts.append(f"the server capped the slot at {granted:,}")
    elif granted:
        parts.append(f"the server grants {granted:,} per slot")
    text = "; ".join(parts) if parts else "context sizes unknown"
    if requested and native and requested > native and not capped and not granted:
        text += " (past the trained window)"
    if granted and native and granted > native and not capped:
        if max_ctx and granted <= max_ctx:
            text += " (beyond the trained window, through declared rope scaling)"
        else:
            text += " (running past the trained window by extrapolation)"
    return text


def context_status(n: int | None, native: int | None, max_ctx: int | None) -> str:
    """native (within the trained window) | extended (within declared rope scaling) | beyond | unknown."""
    if not n or not native:
        return "unknown"
    if n <= native:
        return "native"
    if max_ctx and n <= max_ctx:
        return "extended"
    return "beyond"


def software_json(facts: dict[str, Any]) -> dict[str, Any]:
    """``{"name", "version"}`` of the server software: what the probe recognised, else what
    launched it (rigbench launches llama.cpp only)."""
    sw = facts.get("software") or {}
    if sw.get("name"):
        return {"name": sw["name"], "version": sw.get("version")}
    if facts.get("is_llamacpp"):
        return {"name": "llama.cpp", "version": facts.get("build")}
    return {"name": None, "version": None}


def context_sequence(requested: int | None, kv: list[dict[str, Any]], granted: int | None, capped: bool | None,
                     native: int | None, max_ctx: int | None = None, n_ctx_train: int | None = None,
                     scaling: str | None = None) -> list[str]:
    """The first post's sequence, each step from the boot log or the GGUF: requested -> KV cache
    allocated -> the slot capped (or granted) -> the trained window."""
    steps = []
    if requested:
        steps.append(f"requested {requested:,}")
    if kv:
        mib = sum(float(k.get("mib") or 0) for k in kv)
        cells = max(int(k.get("cells") or 0) for k in kv)
        steps.append(f"KV cache allocated {mib:,.2f} MiB ({cells:,} cells)")
    if capped and granted:
        if native and granted == native:
            cap = " (the trained window)"
        elif n_ctx_train and granted == n_ctx_train:
            cap = " (the file's context_length, llama.cpp's n_ctx_train)"
        else:
            cap = ""
        steps.append(f"slot capped to {granted:,}{cap}")
    elif granted:
        steps.append(f"slot granted {granted:,}")
    if native:
        step = f"native {native:,}"
        if max_ctx and max_ctx > native:
            step += f" (up to {max_ctx:,} declared through {scaling or 'rope scaling'}: an extension)"
        steps.append(step)
    return steps


def fill_figures(points: list[dict[str, Any]], native: int | None, granted: int | None
                 ) -> tuple[dict[str, float | None], dict[str, Any]]:
    """``context.fill_s`` and ``context.fill``: prefill time fitted on the measured depths,
    projected to the native window, the granted one and a million tokens."""
    samples, basis, skipped = samples_from_points(points)
    return fill_projection(fit_fill(samples), {"native": native, "granted": granted, "1m": ONE_MILLION},
                           basis=basis, skipped=skipped)


def _native(model: dict[str, Any], log: dict[str, Any], n_ctx_train: int | None) -> int | None:
    """The trained window: the GGUF's word, else the boot log's (YaRN original), else n_ctx_train."""
    if model.get("native_context"):
        return int(model["native_context"])
    return trained_context(log, n_ctx_train)


def run_summary(store: Store, run_id: int) -> dict[str, Any]:
    from rigbench.jobs.agent import session_summary
    from rigbench.quality.summary import quality_summary

    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    rows = store.requests(run_id)
    facts = run.get("server_facts") or {}
    model = dict(run.get("model_facts") or {})
    spec = run.get("engine_spec") or {}
    points = depth_points(rows)
    extra = run.get("extra") or {}
    basis = extra.get("ceiling")
    # recomputed from the stored turns and answers; a 0.1.0 figure left in extra (no rows
    # to recompute it from: see store.backfill) is the fallback
    derived = {"session": session_summary(store, run_id, run=run) or extra.get("session"),
               "quality": quality_summary(store, run_id, run)}
    annotate_points(points, basis)
    log = facts.get("log_facts") or {}
    native = _native(model, log, facts.get("n_ctx_train"))
    granted = facts.get("granted_context")
    requested = facts.get("requested_context")
    overrun = max_tokens_overrun(rows)
    # the overrun first: it bears on every figure below it
    notes = ([overrun["statement"]] if overrun else []) + list(run.get("notes") or [])
    kv = [k for k in log.get("kv_cache") or [] if isinstance(k, dict)]
    fill_s, fill = fill_figures(points, native, granted)
    out: dict[str, Any] = {
        "run_id": run_id,
        "status": run["status"],
        "reason": run.get("reason"),
        "created_at": run["created_at"],
        "engine": {
            "kind": spec.get("kind") or facts.get("kind"),
            "base_url": facts.get("base_url"),
            "build": facts.get("build"),
            "backend": facts.get("backend"),
            "devices": facts.get("devices") or [],
            "flags": spec.get("flags") or {},
            "extra_args": spec.get("extra_args") or [],
            "server_bin": spec.get("server_bin"),
            "served_model": facts.get("model_id"),
            "log_path": facts.get("log_path"),
            "software": software_json(facts),
        },
        "model": {
            "name": model.get("name"),
            "quant": model.get("quant"),
            "file_bytes": model.get("file_bytes"),
            "native_context": native,
            "granted_context": granted,
            "path": model.get("path"),
            "architecture": model.get("architecture"),
            "max_context": model.get("max_context"),
            "params_total": model.get("params_total"),
            "params_active": model.get("params_active"),
            "active_bytes_per_token": model.get("active_bytes_per_token"),
        },
        "machine": run.get("machine_facts") or {},
        "context": {
            "requested": requested,
            "native": native,
            "max": model.get("max_context"),
            "granted": granted,
            "status": context_status(requested or granted, native, model.get("max_context")),
            "capped": facts.get("capped"),
            "capping_line": facts.get("capping_line"),
            "statement": context_statement(requested, native, granted, facts.get("capped"),
                                           model.get("max_context")),
            "n_ctx_train": facts.get("n_ctx_train"),
            "kv_cache_mib": log.get("kv_cache_mib"),
            "kv_cache_cells": max((int(k.get("cells") or 0) for k in kv), default=None),
            "kv_cache": kv,
            "overflow": log.get("ctx_overflow"),
            "sequence": context_sequence(requested, kv, granted, facts.get("capped"), native,
                                         model.get("max_context"), facts.get("n_ctx_train"), _scaling(model)),
            "notes": _context_notes(model, native, granted),
            "fill_s": fill_s,
            "fill": fill,
        },
        "points": points,
        "ceiling": ceiling_statement(basis, points),
        "verdict": verdict(points, native, session=derived["session"], granted_context=granted),
        "server": {"unavailable": facts.get("unavailable") or [], "endpoints": facts.get("endpoints") or {},
                   "counters": server_counters(rows), "max_tokens_ignored": overrun},
        "sweep_cost": sweep_cost(rows),
        "params": run.get("params") or {},
        "notes": notes,
        "command": run.get("command"),
        "tool_version": run.get("tool_version"),
        "requests": {"total": len(rows), "failed": sum(1 for r in rows if r["status"] != "ok")},
    }
    for key, value in derived.items():
        if value is not None:
            out[key] = value
    for key, value in extra.items():  # what other passes added
        if key not in ("ceiling", *derived):
            out.setdefault(key, value)
    return out


def _context_notes(model: dict[str, Any], native: int | None, granted: int | None) -> list[str]:
    """What llama.cpp does with a file whose context_length is past its trained window."""
    cap = model.get("context_length")
    if not cap or not native or int(cap) <= native:
        return []
    out = [f"the GGUF writes context_length {int(cap):,} but was trained on {native:,} "
           f"(declared through {_scaling(model) or 'rope scaling'}): llama.cpp takes {int(cap):,} as "
           f"n_ctx_train and does not cap a slot at {native:,}"]
    if granted and granted > native:
        out.append(f"the slot's {granted:,} tokens run {granted - native:,} past the trained window, on the "
                   "extension: the verdict counts the native window only")
    return out


def _scaling(model: dict[str, Any]) -> str | None:
    """"YaRN x4", from the GGUF's rope scaling type and factor."""
    kind = model.get("rope_scaling")
    if not kind or kind == "none":
        return None
    name = "YaRN" if kind == "yarn" else str(kind)
    factor = model.get("rope_scaling_factor")
    return f"{name} x{float(factor):g}" if factor else name


def stored_run_summaries(store: Store) -> list[dict[str, Any]]:
    """Every depth-sweep or session run that measured something (complete or incomplete),
    summarised: what the board and advise --catalog rank."""
    return [run_summary(store, int(r["id"])) for r in store.list_runs(kind="run")
            if r["status"] in ("complete", "incomplete")]
