"""The fleet's views, read from the store: runs summarised with their machine and label,
``board --by machine`` (one model and quant across machines) and ``history`` (one model on one
machine across engine builds and dates). Figures come from the stored raw rows through the
same summaries as every card; this module only groups them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from rigbench.jobs.summary import run_summary
from rigbench.measure.history import build_change, machine_rows
from rigbench.measure.speed import figures
from rigbench.store import Store
from rigbench.store.filters import RunFilter

__all__ = ["by_machine", "fleet_summaries", "history", "machine_name"]


def fleet_summaries(store: Store, where: RunFilter | None = None) -> list[dict[str, Any]]:
    """Every depth-sweep or session run that measured something, summarised, with
    ``fleet`` = its UUID, label, machine id and machine label."""
    out = []
    for r in store.list_runs(kind="run", where=where):
        if r["status"] not in ("complete", "incomplete"):
            continue
        s = run_summary(store, int(r["id"]))
        s["fleet"] = {"uuid": r.get("uuid"), "label": r.get("label"), "machine_uid": r.get("machine_uid"),
                      "machine_label": r.get("machine_label")}
        out.append(s)
    return out


def machine_name(s: Mapping[str, Any]) -> str:
    f = s.get("fleet") or {}
    m = s.get("machine") or {}
    return str(f.get("machine_label") or f.get("label") or m.get("hostname") or "?")


def _machine_key(s: Mapping[str, Any]) -> str:
    f = s.get("fleet") or {}
    m = s.get("machine") or {}
    return str(f.get("machine_uid") or m.get("machine_id") or m.get("hostname") or "?")


def _chip(m: Mapping[str, Any]) -> str:
    gpus = [g for g in m.get("gpus") or [] if isinstance(g, Mapping)]
    if gpus:
        names = sorted({str(g.get("name")) for g in gpus})
        mem = sum(int(g.get("memory_bytes") or 0) for g in gpus)
        return f"{len(gpus)}x {' + '.join(names)}" + (f" ({mem / 2**30:.0f} GiB)" if mem else "")
    return str(m.get("cpu") or "?")


def _at_verdict(s: Mapping[str, Any]) -> dict[str, Any]:
    v = s.get("verdict") or {}
    depth = v.get("at_depth")
    point: Mapping[str, Any] = next((p for p in s.get("points") or [] if p.get("depth") == depth), {}) \
        if depth is not None else {}
    return {"depth": depth, "decode_tok_s": v.get("decode_tok_s"), "ceiling_tok_s": point.get("ceiling_tok_s"),
            "pct_of_ceiling": point.get("pct_of_ceiling")}


def _bandwidth(s: Mapping[str, Any]) -> dict[str, Any] | None:
    c = s.get("ceiling")
    if not isinstance(c, Mapping) or not c.get("bandwidth_gb_s"):
        return None
    return {"gb_s": c.get("bandwidth_gb_s"), "source": c.get("bandwidth_source")}


def by_machine(summaries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Groups of one model+quant, each with one row per machine (its newest run): decode at the
    verdict's depth, the ceiling there, % of it, the chip, the bandwidth and its source."""
    newest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for s in summaries:
        model = s.get("model") or {}
        key = (str(model.get("name") or (s.get("engine") or {}).get("served_model") or "?"),
               str(model.get("quant") or "—"), _machine_key(s))
        if key not in newest or str(s.get("created_at")) > str(newest[key].get("created_at")):
            newest[key] = s
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (name, quant, _), s in newest.items():
        m = s.get("machine") or {}
        bw = _bandwidth(s)
        groups[(name, quant)].append({
            "machine": machine_name(s), "machine_id": _machine_key(s), "hostname": m.get("hostname"),
            "chip": _chip(m), "cores": m.get("cores"), "ram_bytes": m.get("ram_bytes"), "os": m.get("os"),
            "bandwidth_gb_s": bw.get("gb_s") if bw else None, "bandwidth_source": bw.get("source") if bw else None,
            "engine_build": engine_build(s), "run_id": s.get("run_id"),
            "created_at": s.get("created_at"), **_at_verdict(s),
        })
    return [{"model": name, "quant": quant, "machines": machine_rows(rows)}
            for (name, quant), rows in sorted(groups.items())]


def _decode_by_depth(store: Store, run_id: int) -> dict[int, list[float | None]]:
    out: dict[int, list[float | None]] = defaultdict(list)
    for r in store.requests(run_id, phase="speed"):
        if r.get("status") == "ok" and r.get("depth") is not None:
            out[int(r["depth"])].append(figures(r).decode_tok_s)
    return dict(out)


def engine_build(s: Mapping[str, Any]) -> str:
    e = s.get("engine") or {}
    sw = e.get("software") or {}
    build = e.get("build") or (f"{sw.get('name')} {sw.get('version')}" if sw.get("version") else None)
    return str(build or f"{e.get('kind') or '?'} (build unknown)")


def history(store: Store, model: str | None = None, where: RunFilter | None = None) -> list[dict[str, Any]]:
    """One entry per (machine, model+quant): its runs oldest first, each with the engine build,
    decode at the verdict's depth and per depth, and the change from the run before (ratio,
    95% CI where both sides have repeats, verdict)."""
    summaries = [s for s in fleet_summaries(store, where)
                 if not model or model.lower() in str((s.get("model") or {}).get("name") or
                                                      (s.get("engine") or {}).get("served_model") or "").lower()]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in summaries:
        m = s.get("model") or {}
        groups[(_machine_key(s), str(m.get("name") or (s.get("engine") or {}).get("served_model") or "?"),
                str(m.get("quant") or "—"))].append(s)
    out = []
    for (mkey, name, quant), runs in sorted(groups.items()):
        runs.sort(key=lambda s: (str(s.get("created_at")), int(s["run_id"])))
        entries: list[dict[str, Any]] = []
        prev_vals: dict[int, list[float | None]] | None = None
        for s in runs:
            vals = _decode_by_depth(store, int(s["run_id"]))
            entry = {"run_id": s["run_id"], "uuid": (s.get("fleet") or {}).get("uuid"),
                     "created_at": s.get("created_at"), "build": engine_build(s), "status": s.get("status"),
                     "points": [{"depth": p.get("depth"), "decode_tok_s": p.get("decode_tok_s"), "n": p.get("n")}
                                for p in s.get("points") or []],
                     **_at_verdict(s),
                     "change": build_change(prev_vals, vals) if prev_vals is not None else None}
            entries.append(entry)
            prev_vals = vals
        out.append({"machine": machine_name(runs[-1]), "machine_id": mkey, "model": name, "quant": quant,
                    "runs": entries})
    return out
