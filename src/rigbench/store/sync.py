"""Copy runs between results databases by their global id (UUID): push, pull, import.

A run travels whole: its row, its machine, model and engine spec (matched in the other
database by their own keys: fingerprint, key, spec hash), its raw requests, and the rows of
every other table that hangs off the run (``run_id``: tune trials, answers, ...), foreign keys
to ``runs`` and ``requests`` rewritten to the other database's ids.

Idempotent: a run whose UUID the destination already holds with the same content is left
alone ("already there"). Resumable: the requests go in batches, each its own transaction,
and the run row is written first with the status ``pushing`` (which no view counts), so an
interrupted copy leaves a prefix that the next one continues ("resumed"); the run takes its
real status in the last transaction. A run that exists with different content (another
command, another machine, requests that are not a prefix of these) is refused, naming what
differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rigbench.store.db import Store

__all__ = ["IDENTITY_FIELDS", "CopyResult", "RunData", "copy_run", "read_run", "row_digest", "write_run"]

PUSHING = "pushing"
# what makes a run the same run: these must match in both databases
IDENTITY_FIELDS = ("kind", "created_at", "command", "tool_version")
_PARENTS = {"machines": "fingerprint", "models": "key", "engine_specs": "spec_hash"}
_RUN_FK = {"machines": "machine_id", "models": "model_id", "engine_specs": "engine_spec_id"}
_BATCH = 500


def _canon(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    return v


def row_digest(row: dict[str, Any], skip: Iterable[str] = ()) -> str:
    """sha256 of a row's content in a canonical form (keys sorted, ids left out)."""
    drop = {"id", "run_id", *skip}
    clean = {k: _canon(v) for k, v in sorted(row.items()) if k not in drop}
    return hashlib.sha256(json.dumps(clean, sort_keys=True, default=str, separators=(",", ":")).encode()).hexdigest()


def _same(a: dict[str, Any], b: dict[str, Any], skip: Iterable[str] = ()) -> bool:
    """Same content over the columns both rows have (two databases may differ by a migration)."""
    common = set(a) & set(b)
    return row_digest({k: a[k] for k in common}, skip) == row_digest({k: b[k] for k in common}, skip)


@dataclass
class RunData:
    """One run and everything that hangs off it, with ids of the database it came from."""

    run: dict[str, Any]
    parents: dict[str, dict[str, Any] | None]  # machines/models/engine_specs row (or None)
    requests: list[dict[str, Any]]
    children: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # other tables with run_id


@dataclass
class CopyResult:
    uuid: str
    src_id: int
    dst_id: int | None
    outcome: str  # copied | resumed | updated | already there | refused
    requests_added: int = 0
    why: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"uuid": self.uuid, "source_run_id": self.src_id, "destination_run_id": self.dst_id,
                "outcome": self.outcome, "requests_added": self.requests_added, "why": self.why}


def _child_tables(store: Store) -> list[str]:
    return sorted(n for n, t in store.t.items() if "run_id" in t.c and n not in ("requests", "runs"))


def _refs(table: sa.Table) -> dict[str, str]:
    """column -> referenced table, for foreign keys to runs and requests."""
    out: dict[str, str] = {}
    for col in table.c:
        for fk in col.foreign_keys:
            if fk.column.table.name in ("runs", "requests"):
                out[col.name] = fk.column.table.name
    return out


def read_run(store: Store, run_id: int) -> RunData:
    runs = store.t["runs"]
    with store.tx() as conn:
        run = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
        if run is None:
            raise KeyError(run_id)
        parents: dict[str, dict[str, Any] | None] = {}
        for name, fk in _RUN_FK.items():
            t = store.t[name]
            row = conn.execute(sa.select(t).where(t.c.id == run[fk])).mappings().first() if run[fk] else None
            parents[name] = dict(row) if row else None
        req = store.t["requests"]
        requests = [dict(r) for r in conn.execute(sa.select(req).where(req.c.run_id == run_id)
                                                  .order_by(req.c.seq, req.c.id)).mappings()]
        children = {}
        for name in _child_tables(store):
            t = store.t[name]
            children[name] = [dict(r) for r in conn.execute(sa.select(t).where(t.c.run_id == run_id)
                                                            .order_by(t.c.id)).mappings()]
    return RunData(dict(run), parents, requests, children)


def _parent_id(store: Store, conn: sa.Connection, name: str, row: dict[str, Any] | None) -> int | None:
    if row is None:
        return None
    t = store.t[name]
    key = _PARENTS[name]
    found = conn.execute(sa.select(t.c.id).where(t.c[key] == row[key])).first()
    if found:
        if name == "machines" and row.get("label") and "label" in t.c:
            conn.execute(t.update().where(t.c.id == found[0]).values(label=row["label"]))
        return int(found[0])
    values = {k: v for k, v in row.items() if k != "id" and k in t.c}
    try:
        with conn.begin_nested():
            res = conn.execute(t.insert().values(**values))
        key_ = res.inserted_primary_key
        assert key_ is not None
        return int(key_[0])
    except sa.exc.IntegrityError:  # another process inserted it just now
        again = conn.execute(sa.select(t.c.id).where(t.c[key] == row[key])).first()
        assert again is not None
        return int(again[0])


def _mismatch(data: RunData, dst: Store, conn: sa.Connection, have: dict[str, Any]) -> str | None:
    for f in IDENTITY_FIELDS:
        if str(have.get(f)) != str(data.run.get(f)):
            return f"its {f} differs"
    for name, fk in _RUN_FK.items():
        mine = data.parents.get(name)
        t = dst.t[name]
        row = conn.execute(sa.select(t).where(t.c.id == have[fk])).mappings().first() if have[fk] else None
        theirs: dict[str, Any] = dict(row) if row else {}
        key = _PARENTS[name]
        if (mine or {}).get(key) != theirs.get(key):
            if name == "models" and not theirs and have.get("status") == PUSHING:
                continue  # written before the model was known: taken from the source below
            return f"its {name[:-1].replace('_', ' ')} differs"
    return None


def write_run(dst: Store, data: RunData, *, batch: int = _BATCH,
              on_batch: Callable[[int], None] | None = None) -> CopyResult:
    """Store ``data`` in ``dst``, idempotently by its UUID (see the module's docstring)."""
    runs, req = dst.t["runs"], dst.t["requests"]
    uuid = str(data.run["uuid"])
    src_id = int(data.run["id"])
    with dst.tx() as conn:
        have = conn.execute(sa.select(runs).where(runs.c.uuid == uuid)).mappings().first()
        if have is None:
            values = {k: v for k, v in data.run.items() if k not in ("id", *_RUN_FK.values()) and k in runs.c}
            for name, fk in _RUN_FK.items():
                values[fk] = _parent_id(dst, conn, name, data.parents.get(name))
            values["status"] = PUSHING
            res = conn.execute(runs.insert().values(**values))
            key = res.inserted_primary_key
            assert key is not None
            dst_id = int(key[0])
            fresh = True
            existing: list[dict[str, Any]] = []
        else:
            why = _mismatch(data, dst, conn, dict(have))
            if why:
                return CopyResult(uuid, src_id, int(have["id"]), "refused", why=why)
            dst_id = int(have["id"])
            fresh = False
            existing = [dict(r) for r in conn.execute(sa.select(req).where(req.c.run_id == dst_id)
                                                      .order_by(req.c.seq, req.c.id)).mappings()]
    if len(existing) > len(data.requests):
        return CopyResult(uuid, src_id, dst_id, "refused",
                          why=f"the destination holds {len(existing)} requests, this copy {len(data.requests)}")
    for i, (a, b) in enumerate(zip(existing, data.requests, strict=False)):
        if not _same(a, b):
            return CopyResult(uuid, src_id, dst_id, "refused", why=f"its request {i} differs")
    rest = data.requests[len(existing):]
    if not fresh and not rest and _same(dict(have or {}), data.run, _RUN_FK.values()) \
            and _children_same(dst, dst_id, data):
        return CopyResult(uuid, src_id, dst_id, "already there")
    req_ids: dict[int, int] = {}
    for a, b in zip(existing, data.requests, strict=False):
        req_ids[int(b["id"])] = int(a["id"])
    for start in range(0, len(rest), batch):
        chunk = rest[start:start + batch]
        with dst.tx() as conn:
            for r in chunk:
                values = {k: v for k, v in r.items() if k != "id" and k in req.c}
                values["run_id"] = dst_id
                res = conn.execute(req.insert().values(**values))
                key = res.inserted_primary_key
                assert key is not None
                req_ids[int(r["id"])] = int(key[0])
        if on_batch is not None:
            on_batch(start + len(chunk))
    with dst.tx() as conn:
        allowed = set(_child_tables(dst))
        for name, rows in data.children.items():
            if name not in allowed:  # a table this database does not have (or one that is not a run's)
                continue
            t = dst.t[name]
            refs = _refs(t)
            conn.execute(t.delete().where(t.c.run_id == dst_id))
            for r in rows:
                values = {k: v for k, v in r.items() if k != "id" and k in t.c}
                for col, target in refs.items():
                    if values.get(col) is not None:
                        values[col] = dst_id if target == "runs" else req_ids.get(_as_int(values[col]))
                conn.execute(t.insert().values(**values))
        final = {k: v for k, v in data.run.items() if k not in ("id", *_RUN_FK.values()) and k in runs.c}
        final["model_id"] = _parent_id(dst, conn, "models", data.parents.get("models"))
        conn.execute(runs.update().where(runs.c.id == dst_id).values(**final))
    outcome = "copied" if fresh else ("resumed" if rest else "updated")
    return CopyResult(uuid, src_id, dst_id, outcome, requests_added=len(rest))


def _as_int(v: Any) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return -1


def _children_same(dst: Store, dst_id: int, data: RunData) -> bool:
    allowed = set(_child_tables(dst))
    with dst.tx() as conn:
        for name, rows in data.children.items():
            if name not in allowed:
                continue
            t = dst.t[name]
            refs = set(_refs(t))
            theirs = [dict(r) for r in conn.execute(sa.select(t).where(t.c.run_id == dst_id)
                                                    .order_by(t.c.id)).mappings()]
            if len(theirs) != len(rows):
                return False
            cols = set(t.c.keys()) - refs
            if sorted(row_digest({k: r.get(k) for k in cols}) for r in theirs) != \
                    sorted(row_digest({k: r.get(k) for k in cols}) for r in rows):
                return False
    return True


def copy_run(src: Store, run_id: int, dst: Store, *, batch: int = _BATCH,
             on_batch: Callable[[int], None] | None = None) -> CopyResult:
    return write_run(dst, read_run(src, run_id), batch=batch, on_batch=on_batch)


def select_runs(store: Store, refs: list[str], where: Any = None) -> list[int]:
    """Run ids for ``RUN...`` (local ids or UUIDs, a UUID prefix of 8+ characters too); none
    given: every run that is not still running (``running``/``pushing``), filtered by ``where``."""
    from rigbench.errors import UsageError

    runs = store.t["runs"]
    if not refs:
        rows = store.list_runs(where=where)
        return sorted(int(r["id"]) for r in rows if r["status"] not in ("running", PUSHING))
    out: list[int] = []
    with store.tx() as conn:
        for ref in refs:
            text = ref.strip().lower()
            if text.isdigit():
                row = conn.execute(sa.select(runs.c.id).where(runs.c.id == int(text))).first()
                found = [row] if row else []
            elif len(text) >= 8 and all(c in "0123456789abcdef-" for c in text):
                found = list(conn.execute(sa.select(runs.c.id).where(runs.c.uuid.like(f"{text}%"))))
            else:
                found = []
            if len(found) != 1:
                raise UsageError(f"{'no' if not found else 'more than one'} run {ref!r} in {store.where}",
                                 "give a run id or a UUID (rigbench runs --json shows both)")
            out.append(int(found[0][0]))
    return out
