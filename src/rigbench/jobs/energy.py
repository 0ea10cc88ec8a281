"""A run's energy, recomputed from its stored readings: each depth point's ``energy``
object, the run's ``energy`` block (what was read, the idle baseline, the statement) and
the ``cost`` statement from the prices stored with the run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.energy.detect import CHECKED
from rigbench.measure.cost import cost_figures
from rigbench.measure.energy import EnergyData, energy_data, level_energy, point_energy
from rigbench.store import Store

__all__ = ["arms_energy", "covers_words", "energy_block", "levels_energy", "load_energy", "run_energy", "sources_words"]

_FIXABLE = ("readable by root only", "needs a permission", "cannot be loaded")  # present but unreadable
_COVERS = {"gpu_board": "GPU board", "cpu_package": "CPU package", "dram": "DRAM",
           "soc": "the whole chip (CPU, GPU, ANE, DRAM)", "system": "the whole machine at the wall"}


def covers_words(covers: str | None) -> str:
    """``cpu_package + dram`` -> "CPU package + DRAM"."""
    return " + ".join(_COVERS.get(c, c) for c in (covers or "").split(" + ") if c) or "unknown"


def sources_words(sources: list[dict[str, Any]]) -> str:
    """The channels read, as people name them: "RAPL package-0, dram-0", "--power-cmd plug.sh"."""
    out: list[str] = []
    for s in sources:
        src = s.get("source")
        if src == "power-cmd":
            out.append(f"--power-cmd {s.get('name') or ''}".strip())
            continue
        label = {"rapl": "RAPL", "nvml": "NVML", "amdsmi": "amdsmi", "ioreport": "IOReport"}.get(str(src), str(src))
        label += f" {s.get('channel')}"
        if s.get("name"):
            label += f" {s['name']}"
        out.append(label)
    return ", ".join(out) or "no channel named"


def load_energy(store: Store, run_id: int) -> EnergyData:
    from rigbench.store.energy import energy_samples

    return energy_data(energy_samples(store, run_id))


def energy_block(info: Mapping[str, Any] | None, data: EnergyData) -> dict[str, Any]:
    """The run's ``energy``: the sources read (or why none), the idle baseline, one statement."""
    info = info or {}
    checked = list(info.get("checked") or CHECKED)
    problems = list(info.get("problems") or [])
    out: dict[str, Any] = {"source": data.source, "covers": data.covers, "idle_watts":
                           None if data.idle_watts is None else round(data.idle_watts, 2),
                           "idle_s": info.get("idle_s"), "sources": list(info.get("sources") or []),
                           "checked": checked, "problems": problems}
    if data.present:
        idle = f"; idle {data.idle_watts:.1f} W, shown beside the figures, not subtracted from them" \
            if data.idle_watts is not None else "; no idle baseline"
        out["statement"] = f"measured: {covers_words(data.covers)} ({sources_words(out['sources'])})" + idle
    elif info:
        out["statement"] = f"no power source here (checked {', '.join(checked)})"
        fixable = [p for p in problems if any(w in p for w in _FIXABLE)]
        if fixable:  # a source that is there but cannot be read: say what would make it readable
            out["statement"] += f"; {fixable[0]}"
    else:
        out["statement"] = "not sampled for this run"
    return out


def run_energy(store: Store, run_id: int, run: Mapping[str, Any], rows: Sequence[Mapping[str, Any]],
               points: list[dict[str, Any]], *, depth: int | None = None,
               phase: str = "speed") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Sets each point's ``energy``; returns the run's ``energy`` block and its ``cost`` (or None)."""
    data = load_energy(store, run_id)
    by_depth: dict[int, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("phase") == phase and r.get("depth") is not None:
            by_depth[int(r["depth"])].append(r)
    for p in points:
        p["energy"] = point_energy(by_depth.get(int(p["depth"]), []), data)
    info = (run.get("extra") or {}).get("energy")
    block = energy_block(info if isinstance(info, Mapping) else None, data)
    prices = (run.get("params") or {}).get("prices") or {}
    return block, cost_figures(points, prices, depth=depth)


def levels_energy(store: Store, run_id: int, levels: Mapping[Any, Sequence[Mapping[str, Any]]]) -> dict[Any, Any]:
    """Each load level's ``energy`` object (``rigbench load``, issue 15): ``levels`` maps a
    level (its concurrency) to its requests' rows."""
    data = load_energy(store, run_id)
    return {k: level_energy(rows, data) for k, rows in levels.items()}


def arms_energy(store: Store, run_id: int, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Each lab arm's ``energy`` object over its requests (grouped by role: "baseline" or the
    arm's name): the arms' requests alternate, so each request's own windows keep them apart.
    ``prefill_j_per_token`` is null: a lab's prompts are not one growing context."""
    data = load_energy(store, run_id)
    by_arm: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("role"):
            by_arm[str(r["role"])].append(r)
    out = {}
    for arm, arm_rows in by_arm.items():
        e = point_energy([{**r, "role": None} for r in arm_rows if r.get("status") == "ok"], data)
        e["prefill_j_per_token"] = None
        out[arm] = e
    return out
