"""Which runs a view reads: label, machine, engine build and date, as one small value.

``board``, ``runs``, ``report``, ``history``, ``pull`` and ``push`` take the same options
(``--label``, ``--machine``, ``--build``, ``--since``, ``--until``); ``RunFilter`` turns them
into SQL on the runs table (the engine build, which lives in the run's server facts, is
matched on the rows read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from rigbench.errors import UsageError

__all__ = ["RunFilter", "parse_when"]

_REL = re.compile(r"^(\d+)\s*([dhw])$")


def parse_when(text: str | None, *, end: bool = False) -> str | None:
    """A date for ``--since``/``--until``: ``2026-11-30``, an ISO timestamp, or ``7d``/``12h``/``2w``
    ago. A bare date as ``--until`` includes that whole day. Returns an ISO string (UTC)."""
    if text is None or not text.strip():
        return None
    t = text.strip().lower()
    m = _REL.match(t)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {"d": timedelta(days=n), "h": timedelta(hours=n), "w": timedelta(weeks=n)}[unit]
        return (datetime.now(timezone.utc) - delta).isoformat(timespec="seconds")
    try:
        if len(t) == 10:
            d = date.fromisoformat(t)
            if end:
                d = d + timedelta(days=1)
            return datetime(d.year, d.month, d.day, tzinfo=timezone.utc).isoformat(timespec="seconds")
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"cannot read the date {text!r}",
                         "give YYYY-MM-DD, an ISO timestamp, or 7d / 12h / 2w ago") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunFilter:
    label: str | None = None  # the run's or its machine's label, exactly
    machine: str | None = None  # part of the hostname, the label, or the start of the machine id
    build: str | None = None  # part of the engine build (llama.cpp "b6500 (abc123)", a version)
    since: str | None = None  # ISO, inclusive
    until: str | None = None  # ISO, exclusive

    @classmethod
    def from_options(cls, *, label: str | None = None, machine: str | None = None, build: str | None = None,
                     since: str | None = None, until: str | None = None) -> RunFilter:
        return cls(label=label or None, machine=machine or None, build=build or None,
                   since=parse_when(since), until=parse_when(until, end=True))

    @property
    def active(self) -> bool:
        return any((self.label, self.machine, self.build, self.since, self.until))

    def apply(self, q: sa.Select[Any], runs: sa.Table, machines: sa.Table) -> sa.Select[Any]:
        """Add the SQL conditions to a select that joins runs to machines."""
        if self.label:
            q = q.where(sa.or_(runs.c.label == self.label, machines.c.label == self.label))
        if self.machine:
            like = f"%{_escape(self.machine)}%"
            q = q.where(sa.or_(machines.c.hostname.ilike(like, escape="\\"), machines.c.label.ilike(like, escape="\\"),
                               machines.c.uid.like(f"{_escape(self.machine)}%", escape="\\")))
        if self.since:
            q = q.where(runs.c.created_at >= self.since)
        if self.until:
            q = q.where(runs.c.created_at < self.until)
        return q

    def build_matches(self, server_facts: dict[str, Any] | None) -> bool:
        if not self.build:
            return True
        facts = server_facts or {}
        sw = facts.get("software") or {}
        text = f"{facts.get('build') or ''} {sw.get('name') or ''} {sw.get('version') or ''}"
        return self.build.lower() in text.lower()


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
