from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest
import sqlalchemy as sa

from rigbench.errors import StoreError
from rigbench.store import open_store
from rigbench.store.migrations import MIGRATIONS, applied_migrations
from rigbench.types import EngineSpec, RequestRecord, TokenChunk

SPEC = EngineSpec(kind="embedded")
MACHINE = {"hostname": "test", "cpu": "x", "cores": 2}


def rec(i: int) -> RequestRecord:
    r = RequestRecord(status="ok", t_sent_ns=1000, t_first_token_ns=2000 + i, t_last_token_ns=9000, t_end_ns=9500,
                      completion_tokens=8, prompt_tokens=10, cached_tokens=0,
                      chunks=[TokenChunk(2000, "content", "hi")], content="hi")
    return r


def test_migrations_are_named_and_idempotent(tmp_path: Path) -> None:
    s = open_store(tmp_path / "r.db")
    s.close()
    s = open_store(tmp_path / "r.db")
    with s.engine.connect() as conn:
        assert applied_migrations(conn) == [name for name, _ in MIGRATIONS]
    assert {"runs", "requests", "answers", "models", "machines", "engine_specs", "tune_trials"} <= set(s.t)
    assert "measurements" not in s.t  # never written: dropped by 0011_drop_measurements
    s.close()


def test_run_lifecycle_and_raw_rows(tmp_path: Path) -> None:
    s = open_store(tmp_path / "r.db")
    rid = s.create_run(kind="run", spec=SPEC, params={"repeats": 3}, command="rigbench run", machine=MACHINE,
                       tool_version="t")
    s.set_model(rid, {"name": "m", "file_bytes": 10, "native_context": 4096})
    s.add_request(rid, rec(1), phase="speed", depth=0, rep=0, role="grow")
    s.add_note(rid, "a note")
    s.add_note(rid, "a note")
    s.finish_run(rid, "incomplete", "interrupted")
    run = s.get_run(rid)
    assert run["status"] == "incomplete" and run["reason"] == "interrupted" and run["notes"] == ["a note"]
    assert run["model_facts"]["name"] == "m" and run["engine_spec"]["kind"] == "embedded"
    rows = s.requests(rid)
    assert rows[0]["chunk_ns"] == [[1000, "c", 2]] and rows[0]["content"] == "hi"
    assert s.list_runs()[0]["id"] == rid
    s.close()


def _writer(path: str, n: int) -> None:
    s = open_store(path)
    rid = s.create_run(kind="run", spec=SPEC, params={}, command="x", machine=MACHINE, tool_version="t")
    for i in range(n):
        s.add_request(rid, rec(i), phase="speed", depth=0, rep=i)
    s.finish_run(rid, "complete")
    s.close()


def test_two_processes_write_one_database(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, 40)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    s = open_store(path)
    runs = s.list_runs()
    assert len(runs) == 2 and all(r["status"] == "complete" for r in runs)
    assert sum(len(s.requests(r["id"])) for r in runs) == 80
    s.close()


def test_unwritable_places_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        open_store(tmp_path)  # a folder
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os

        if os.geteuid() != 0:  # root can write anywhere
            with pytest.raises(StoreError):
                open_store(ro / "x.db")
    finally:
        ro.chmod(0o700)
    bad = tmp_path / "notdb.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        open_store(bad)


def test_disk_full_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = open_store(tmp_path / "r.db")
    rid = s.create_run(kind="run", spec=SPEC, params={}, command="x", machine=MACHINE, tool_version="t")
    s.add_request(rid, rec(0), phase="speed", depth=0, rep=0)

    def full(*a: object, **k: object) -> None:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(s.engine, "begin", full)
    with pytest.raises(StoreError, match="full"):
        s.add_request(rid, rec(1), phase="speed", depth=0, rep=1)
    monkeypatch.undo()
    assert len(s.requests(rid)) == 1  # what was stored before stays
    s.close()
