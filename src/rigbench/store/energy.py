"""Raw power-source readings (table ``energy_samples``, migration 0030): written in batches
by the energy sampler while a run measures, read back whole for the derivation
(``measure/energy.py``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rigbench.store.db import Store

__all__ = ["FIELDS", "add_energy_samples", "energy_samples", "next_energy_session"]

_TABLE = "energy_samples"
FIELDS = ("session", "source", "channel", "covers", "kind", "phase", "t_ns", "value", "wrap")


def add_energy_samples(store: Store, run_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """One transaction for a batch of readings (each a mapping of ``FIELDS``)."""
    if not rows:
        return
    t = store.t[_TABLE]
    with store.tx() as conn:
        conn.execute(t.insert(), [{"run_id": run_id, **{k: r.get(k) for k in FIELDS}} for r in rows])


def energy_samples(store: Store, run_id: int) -> list[dict[str, Any]]:
    """Every reading of a run, in the order taken (by session, then time)."""
    t = store.t.get(_TABLE)
    if t is None:
        return []
    with store.tx() as conn:
        q = sa.select(*(t.c[k] for k in FIELDS)).where(t.c.run_id == run_id).order_by(t.c.session, t.c.t_ns, t.c.id)
        return [dict(r) for r in conn.execute(q).mappings()]


def next_energy_session(store: Store, run_id: int) -> int:
    t = store.t[_TABLE]
    with store.tx() as conn:
        top = conn.execute(sa.select(sa.func.max(t.c.session)).where(t.c.run_id == run_id)).scalar()
    return int(top or 0) + 1
