"""A tuning campaign's trials and decisions (table ``tune_trials``, migration 0002).

One row per trial of a run of kind "tune": its configuration, status (``running``,
``measured``, ``rejected``, ``failed``), hypothesis, decision (``keep`` / ``discard``),
reason and the evidence the decision was taken on: the campaign's record. The requests
behind the figures are in ``requests`` (phase "tune", ``extra.trial`` = the trial's
number); ``tune.result`` recomputes every figure shown from them. ``figures`` is the
campaign's own copy, read back when it resumes, and what a trial with no stored request
shows (the fallback).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rigbench.store.db import Store, now_iso

__all__ = ["add_trial", "get_trial", "list_trials", "update_trial"]

_TABLE = "tune_trials"
_FIELDS = ("config", "config_key", "status", "hypothesis", "decision", "reason", "figures", "evidence",
           "log_tail", "extra")


def add_trial(store: Store, run_id: int, n: int, *, config: dict[str, str], config_key: str, status: str,
              **values: Any) -> int:
    """Insert trial ``n`` of a campaign; an existing row of that number is replaced (a resumed
    campaign re-measures a trial that was cut off)."""
    t = store.t[_TABLE]
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown trial fields: {', '.join(sorted(unknown))}")
    row = {"config": config, "config_key": config_key, "status": status, **values, "updated_at": now_iso()}
    with store.tx() as conn:
        conn.execute(t.delete().where(t.c.run_id == run_id, t.c.n == n))
        res = conn.execute(t.insert().values(run_id=run_id, n=n, created_at=now_iso(), **row))
        key = res.inserted_primary_key
        assert key is not None
        return int(key[0])


def update_trial(store: Store, run_id: int, n: int, **values: Any) -> None:
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ValueError(f"unknown trial fields: {', '.join(sorted(unknown))}")
    t = store.t[_TABLE]
    with store.tx() as conn:
        conn.execute(t.update().where(t.c.run_id == run_id, t.c.n == n).values(**values, updated_at=now_iso()))


def list_trials(store: Store, run_id: int) -> list[dict[str, Any]]:
    t = store.t[_TABLE]
    with store.tx() as conn:
        rows = conn.execute(sa.select(t).where(t.c.run_id == run_id).order_by(t.c.n)).mappings()
        return [dict(r) for r in rows]


def get_trial(store: Store, run_id: int, n: int) -> dict[str, Any] | None:
    t = store.t[_TABLE]
    with store.tx() as conn:
        row = conn.execute(sa.select(t).where(t.c.run_id == run_id, t.c.n == n)).mappings().first()
    return dict(row) if row else None
