"""One stored run as ``rigbench runs`` lists it: ``runs --json`` is a list of these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, more_field, order_field

__all__ = ["RunRow"]


@dataclass(frozen=True, kw_only=True)
class RunRow(Result):
    """A run's identity and state, no figures: its kind as stored (a session is a ``run``), its
    status and why, when it started, the model and engine it measured, the machine's hostname,
    its UUID (the same on every database it is copied to) and its label."""

    run_id: int
    kind: str
    status: str
    reason: str | None = None
    created_at: str | None = None
    model: str | None = None
    quant: str | None = None
    engine: str | None = None  # the engine kind: embedded, server, url
    machine: str | None = None  # the hostname
    uuid: str | None = None
    label: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    @classmethod
    def of_stored(cls, r: Mapping[str, Any]) -> RunRow:
        """From a row of ``Store.list_runs`` (pure: the row is already read)."""
        return cls(run_id=r["id"], kind=r["kind"], status=r["status"], reason=r["reason"],
                   created_at=r["created_at"], model=r["model"], quant=r["quant"], engine=r["engine"],
                   machine=r["hostname"], uuid=r.get("uuid"), label=r.get("label"))
