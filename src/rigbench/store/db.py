"""The results database: the only module that writes SQL.

SQLite by default (a real file, WAL, one short transaction per write, so a run killed
halfway keeps every request already measured); any SQLAlchemy URL (``postgresql://...``)
works the same way for a fleet of machines. Raw rows only: ``requests`` (every request as
it ended), ``answers`` (every graded answer, ``store.answers``) and ``tune_trials``
(``store.trials``); every figure is derived from them on read. ``runs.extra`` keeps a
run's inputs (plans, options, facts learned), never a figure.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from rigbench.errors import StoreError
from rigbench.store.filters import RunFilter
from rigbench.store.migrations import migrate
from rigbench.types import EngineSpec, RequestRecord

__all__ = ["Store", "now_iso", "open_store"]

RUN_STATUSES = ("running", "complete", "incomplete", "failed")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _friendly(exc: BaseException, where: str, password: str | None = None) -> StoreError:
    from rigbench.store.urls import scrub

    msg = scrub(str(getattr(exc, "orig", exc) or exc), password)
    low = msg.lower()
    if "password authentication failed" in low or "no password supplied" in low:
        return StoreError(f"the database at {where} refused the login",
                          "give the password in PGPASSWORD, ~/.pgpass or the URL (it is never stored)")
    if "does not exist" in low and "database" in low:
        return StoreError(f"the database at {where} does not exist", "create it first (createdb NAME)")
    if _unreachable(exc, low):
        first = " ".join(msg.split())[:160]
        return StoreError(f"cannot reach the database at {where} ({first})",
                          "check that the PostgreSQL server is up and the URL is right; "
                          "nothing was written anywhere else")
    if "full" in low or getattr(exc, "errno", None) == errno.ENOSPC:
        return StoreError(f"the disk holding {where} is full", "free some space; measurements so far are kept")
    if "locked" in low or "busy" in low:
        return StoreError(f"{where} stayed locked by another writer",
                          "wait for the other rigbench to finish, then retry")
    if "readonly" in low or "read-only" in low or "permission" in low:
        return StoreError(f"cannot write the results database at {where}", "choose a writable file with --db PATH")
    if "unable to open" in low or "no such file" in low:
        return StoreError(f"cannot open the results database at {where}", "choose a writable file with --db PATH")
    if "not a database" in low or "malformed" in low:
        return StoreError(f"{where} is not a rigbench database", "choose another file with --db PATH")
    return StoreError(f"database error on {where}: {msg[:200]}", "check the --db path and free disk space")


_UNREACHABLE = ("connection refused", "could not connect", "connection failed", "server closed the connection",
                "terminating connection", "could not translate host name", "timeout expired",
                "the database system is", "consuming input failed", "connection is closed", "connection is lost",
                "ssl connection has been closed")


def _unreachable(exc: BaseException, low: str) -> bool:
    """The server cannot be reached (down, restarting, refused, dropped the connection): not
    a fault of the request, and worth waiting for where a retry is safe."""
    if any(k in low for k in _UNREACHABLE):
        return True
    if getattr(exc, "connection_invalidated", False):
        return True
    orig = getattr(exc, "orig", None)
    return type(orig).__module__.startswith("psycopg") and type(orig).__name__ in ("OperationalError",
                                                                                   "AdminShutdown",
                                                                                   "CannotConnectNow")


def _pk(res: sa.CursorResult[Any]) -> int:
    key = res.inserted_primary_key
    assert key is not None
    return int(key[0])


class Store:
    def __init__(self, engine: sa.Engine, where: str, path: Path | None, password: str | None = None) -> None:
        self.engine = engine
        self.where = where  # a file path, or a URL without its password
        self.path = path
        self._password = password
        md = sa.MetaData()
        with self._guard():
            md.reflect(bind=engine)
        self.t = md.tables

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise _friendly(exc, self.where, self._password) from None

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self._guard(), self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()

    # -- identities ----------------------------------------------------------------
    def _upsert_by_key(self, conn: sa.Connection, table: str, keycol: str, key: str, values: dict[str, Any]) -> int:
        t = self.t[table]
        row = conn.execute(sa.select(t.c.id).where(t.c[keycol] == key)).first()
        if row:
            conn.execute(t.update().where(t.c.id == row[0]).values(**values))
            return int(row[0])
        try:
            with conn.begin_nested():
                res = conn.execute(t.insert().values(**{keycol: key, "created_at": now_iso(), **values}))
            return _pk(res)
        except sa.exc.IntegrityError:  # another process inserted it just now
            row = conn.execute(sa.select(t.c.id).where(t.c[keycol] == key)).first()
            assert row is not None
            return int(row[0])

    def machine_id(self, conn: sa.Connection, facts: dict[str, Any], label: str | None = None) -> int:
        """The machine's row: by its stable id where the facts carry one (``machine_id``), else
        by a fingerprint of its facts (rows written before machine ids existed). A label given
        now is kept on the machine; no label leaves the one it has."""
        uid = facts.get("machine_id")
        if uid:
            fp = hashlib.sha256(f"uid:{uid}".encode()).hexdigest()[:32]
        else:
            fp_src = json.dumps({k: facts.get(k) for k in ("hostname", "cpu", "cores", "ram_bytes", "gpus", "os")},
                                sort_keys=True)
            fp = hashlib.sha256(fp_src.encode()).hexdigest()[:32]
        values: dict[str, Any] = {"hostname": facts.get("hostname"), "facts": facts}
        if "uid" in self.t["machines"].c:
            values["uid"] = uid
            if label:
                values["label"] = label
        return self._upsert_by_key(conn, "machines", "fingerprint", fp, values)

    def model_id(self, conn: sa.Connection, info: dict[str, Any]) -> int:
        key_src = json.dumps({k: info.get(k) for k in ("name", "file_bytes", "sha256", "path", "served_id")},
                             sort_keys=True)
        key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
        return self._upsert_by_key(conn, "models", "key", key, {
            "name": info.get("name"), "path": info.get("path"), "quant": info.get("quant"),
            "file_bytes": info.get("file_bytes"), "native_context": info.get("native_context"), "facts": info,
        })

    def spec_id(self, conn: sa.Connection, spec: EngineSpec) -> int:
        return self._upsert_by_key(conn, "engine_specs", "spec_hash", spec.spec_hash(),
                                   {"kind": spec.kind, "spec": spec.to_json()})

    # -- runs ----------------------------------------------------------------------
    def create_run(self, *, kind: str, spec: EngineSpec | None, params: dict[str, Any], command: str,
                   machine: dict[str, Any], tool_version: str) -> int:
        """A new run: its global id (UUID) is assigned here; ``params["label"]`` (``--label``),
        else ``$RIGBENCH_LABEL`` (so compare, tune and lab runs carry the rig's label too), is
        stored on the run and on its machine."""
        import uuid

        label = (params or {}).get("label") or os.environ.get("RIGBENCH_LABEL", "").strip() or None
        if label is not None:
            from rigbench.model.machine import check_label

            label = check_label(str(label))
        with self.tx() as conn:
            values: dict[str, Any] = {
                "kind": kind, "status": "running", "created_at": now_iso(), "updated_at": now_iso(),
                "tool_version": tool_version, "command": command, "params": params,
                "machine_id": self.machine_id(conn, machine, label), "notes": [],
                "uuid": str(uuid.uuid4()), "label": label,
            }
            if spec is not None:
                values["engine_spec_id"] = self.spec_id(conn, spec)
            res = conn.execute(self.t["runs"].insert().values(**values))
            return _pk(res)

    def update_run(self, run_id: int, **values: Any) -> None:
        values["updated_at"] = now_iso()
        with self.tx() as conn:
            conn.execute(self.t["runs"].update().where(self.t["runs"].c.id == run_id).values(**values))

    def set_model(self, run_id: int, info: dict[str, Any]) -> None:
        with self.tx() as conn:
            mid = self.model_id(conn, info)
            conn.execute(self.t["runs"].update().where(self.t["runs"].c.id == run_id).values(model_id=mid))

    def finish_run(self, run_id: int, status: str, reason: str | None = None, *, wait_s: float = 30.0) -> None:
        """Record how a run ended. When the database server cannot be reached (a PostgreSQL
        restart), wait for it up to ``wait_s``: the update is idempotent, so retrying is safe,
        and the run is left ``incomplete`` rather than ``running``."""
        import time

        assert status in RUN_STATUSES
        deadline = time.monotonic() + (wait_s if self.path is None else 0.0)
        while True:
            try:
                self.update_run(run_id, status=status, reason=reason,
                                finished_at=now_iso() if status != "running" else None)
                return
            except StoreError as exc:
                if not exc.message.startswith("cannot reach") or time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def add_note(self, run_id: int, note: str) -> None:
        with self.tx() as conn:
            runs = self.t["runs"]
            row = conn.execute(sa.select(runs.c.notes).where(runs.c.id == run_id)).first()
            notes = list(row[0] or []) if row else []
            if note not in notes:
                notes.append(note)
                conn.execute(runs.update().where(runs.c.id == run_id).values(notes=notes, updated_at=now_iso()))

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        runs, models, machines, specs = (self.t[n] for n in ("runs", "models", "machines", "engine_specs"))
        q = (
            sa.select(runs, models.c.facts.label("model_facts"), machines.c.facts.label("machine_facts"),
                      specs.c.spec.label("engine_spec"), machines.c.label.label("machine_label"))
            .select_from(runs.outerjoin(models, runs.c.model_id == models.c.id)
                         .outerjoin(machines, runs.c.machine_id == machines.c.id)
                         .outerjoin(specs, runs.c.engine_spec_id == specs.c.id))
            .where(runs.c.id == run_id)
        )
        with self.tx() as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def list_runs(self, *, limit: int | None = None, kind: str | None = None,
                  where: RunFilter | None = None) -> list[dict[str, Any]]:
        runs, models, machines, specs = (self.t[n] for n in ("runs", "models", "machines", "engine_specs"))
        q = (
            sa.select(runs.c.id, runs.c.kind, runs.c.status, runs.c.reason, runs.c.created_at,
                      runs.c.finished_at, runs.c.params, models.c.name.label("model"),
                      models.c.quant, machines.c.hostname, specs.c.kind.label("engine"),
                      runs.c.uuid, runs.c.label, machines.c.uid.label("machine_uid"),
                      machines.c.label.label("machine_label"), runs.c.server_facts)
            .select_from(runs.outerjoin(models, runs.c.model_id == models.c.id)
                         .outerjoin(machines, runs.c.machine_id == machines.c.id)
                         .outerjoin(specs, runs.c.engine_spec_id == specs.c.id))
            .order_by(runs.c.id.desc())
        )
        if kind:
            q = q.where(runs.c.kind == kind)
        if where is not None:
            q = where.apply(q, runs, machines)
        if limit and (where is None or not where.build):
            q = q.limit(limit)
        with self.tx() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        if where is not None and where.build:
            rows = [r for r in rows if where.build_matches(r.get("server_facts"))][:limit or None]
        return rows

    # -- requests ----------------------------------------------------------------------
    def add_request(self, run_id: int, rec: RequestRecord, *, phase: str, depth: int | None = None,
                    rep: int | None = None, role: str | None = None, extra: dict[str, Any] | None = None,
                    keep_text: bool = True) -> int:
        t = self.t["requests"]
        base = rec.t_sent_ns
        with self.tx() as conn:
            seq = conn.execute(sa.select(sa.func.count()).select_from(t).where(t.c.run_id == run_id)).scalar_one()
            res = conn.execute(t.insert().values(
                run_id=run_id, seq=int(seq), phase=phase, depth=depth, rep=rep, role=role,
                status=rec.status, error=rec.error, http_status=rec.http_status,
                t_sent_ns=rec.t_sent_ns, t_headers_ns=rec.t_headers_ns, t_first_token_ns=rec.t_first_token_ns,
                t_first_content_ns=rec.t_first_content_ns, t_last_token_ns=rec.t_last_token_ns,
                t_end_ns=rec.t_end_ns, prompt_tokens=rec.prompt_tokens, completion_tokens=rec.completion_tokens,
                cached_tokens=rec.cached_tokens, reasoning_tokens=rec.reasoning_tokens,
                finish_reason=rec.finish_reason, usage=rec.usage, timings=rec.timings,
                chunk_ns=[[c.t_ns - base, c.kind[0], len(c.text)] for c in rec.chunks],
                n_events=rec.n_events,
                content=rec.content if keep_text else None,
                reasoning=rec.reasoning if keep_text else None,
                extra={**(extra or {}), "think_unclosed": rec.think_unclosed, "model": rec.model,
                       "tool_calls": rec.tool_calls or None, "max_tokens": rec.max_tokens,
                       **({"cut_at_chunks": rec.cut} if rec.cut is not None else {})},
                created_at=now_iso(),
            ))
            return _pk(res)

    def requests(self, run_id: int, *, phase: str | None = None) -> list[dict[str, Any]]:
        t = self.t["requests"]
        q = sa.select(t).where(t.c.run_id == run_id).order_by(t.c.seq)
        if phase:
            q = q.where(t.c.phase == phase)
        with self.tx() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]


def open_store(db: str | os.PathLike[str] | None = None) -> Store:
    """Open (and migrate) the results database: ``db``, else ``$RIGBENCH_DB``, else the file in
    the user data directory. A PostgreSQL server that cannot be reached is one line, and
    nothing is written anywhere else instead."""
    from rigbench.store.urls import check_driver, resolve

    target = resolve(db)
    url, path, where = target.url, target.path, target.shown
    check_driver(target)
    if path is not None:
        if path.exists() and path.is_dir():
            raise StoreError(f"{path} is a folder", "give --db a file path, e.g. --db results.db")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _friendly(exc, str(path)) from None
        if path.exists() and not os.access(path, os.W_OK):
            raise StoreError(f"cannot write the results database at {path}", "choose a writable file with --db PATH")
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"cannot create the results database in {path.parent}",
                             "choose a writable place with --db PATH")
    try:
        if path is not None:
            engine = sa.create_engine(url, connect_args={"timeout": 30})

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                # SQLAlchemy's recipe for pysqlite: rigbench begins its own transactions
                # (below), so the driver must not begin them lazily itself
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()

            @sa.event.listens_for(engine, "begin")
            def _begin_immediate(conn: sa.Connection) -> None:
                # A deferred transaction that reads and then writes cannot wait for another
                # process's write to end (SQLite answers "database is locked" at once, busy
                # timeout or not); taking the write lock at BEGIN makes it wait its turn.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif target.is_postgres:
            # pre-ping: a connection the server dropped (a restart) is replaced, not used
            engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True,
                                      connect_args={"connect_timeout": 10, "application_name": "rigbench"})
        else:
            engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
        migrate(engine)
    except StoreError:
        raise
    except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError, ModuleNotFoundError) as exc:
        if isinstance(exc, ModuleNotFoundError):
            raise StoreError(f"no database driver for {where}", f"pip install the driver ({exc.name})") from None
        raise _friendly(exc, where, target.password) from None
    return Store(engine, where, path, target.password)
