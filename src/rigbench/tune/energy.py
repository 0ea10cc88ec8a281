"""The energy objective's figures: each decode repeat's tokens per joule, from the stored
requests and the energy sampler's stored readings (``rigbench tune --objective energy``).

A repeat's figure is its decode window's generated tokens (minus the first, as decode tok/s
counts them) over the joules the power source measured in that window: gross, the idle
draw included, since that is what the electricity bill sees.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rigbench.jobs.energy import load_energy
from rigbench.measure.energy import EnergyData, request_j_per_token
from rigbench.store import Store
from rigbench.tune.trial import TrialFigures

__all__ = ["fill_energy", "tokens_per_joule"]


def tokens_per_joule(row: Mapping[str, Any], data: EnergyData) -> float | None:
    """A decode request's generated tokens (minus the first) per joule of its decode window."""
    if row.get("status") != "ok":
        return None
    jpt = request_j_per_token(row, data)
    return 1.0 / jpt if jpt else None


def fill_energy(store: Store, run_id: int, figs: Mapping[int, TrialFigures], *, stage: str) -> bool:
    """Sets each trial's ``energy`` (aligned with its ``decode`` list by repeat) from what is
    stored now; True when some repeat has a figure. The running sampler is asked for a fresh
    reading first, so the last request's window is closed."""
    from rigbench.energy.sampler import sync

    sync(run_id)
    data = load_energy(store, run_id)
    rows = store.requests(run_id, phase="tune")
    found = False
    for n, f in figs.items():
        by_rep: dict[int, float | None] = {}
        for r in rows:
            extra = r.get("extra") or {}
            if r.get("role") != f"trial{n}:decode" or extra.get("stage") != stage or r.get("rep") is None:
                continue
            by_rep[int(r["rep"])] = tokens_per_joule(r, data)
        f.energy = [by_rep.get(i) for i in range(len(f.decode))]
        found = found or any(v is not None for v in f.energy)
    return found
