"""The run-summary cache (jobs.summary_cache) is a cache, never a source: the board, board
--by machine and history are the same with it, without it and after it is deleted; a run whose
raw rows change, or a newer derivation, is recomputed; push/pull never copy it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rigbench.jobs import summary_cache
from rigbench.jobs.summary import run_summary
from rigbench.results import RunResult
from rigbench.store import open_store
from rigbench.store.sync import copy_run
from rigbench.testing.fake_server import FakeServer, Script


def _cached(db: Path, table: str = "run_summaries") -> dict[int, int]:
    store = open_store(str(db))
    try:
        t = store.t[table]
        with store.tx() as conn:
            return {int(r[0]): int(r[1]) for r in conn.execute(sa.select(t.c.run_id, t.c.derivation_version))}
    finally:
        store.close()


def _views(cli: Any, db: Path) -> list[Any]:
    out = []
    for args in (("board",), ("board", "--by", "machine"), ("history", "gemma")):
        r = cli(*args, "--db", str(db), "--json")
        assert r.code == 0, r.err
        out.append(r.json())
    return out


@pytest.fixture
def db(cli: Any, tmp_path: Path) -> Path:
    path = tmp_path / "runs.db"
    for rate in (150, 300):
        with FakeServer(Script(tokens=16, rate_tok_s=rate, models=["gemma"])) as fake:
            r = cli("run", "--url", fake.base_url, "--depths", "0,128", "--repeats", "3", "--gen-tokens", "16",
                    "--no-quality", "--json", "--db", str(path))
            assert r.code == 0, r.err
    return path


def test_cached_and_recomputed_views_are_equal(cli: Any, db: Path) -> None:
    store = open_store(str(db))
    try:
        summary_cache.clear(store)
        ids = [int(r["id"]) for r in store.list_runs(kind="run")]
        direct = {i: run_summary(store, i).to_json() for i in ids}  # no cache involved at all
    finally:
        store.close()
    cold = _views(cli, db)  # recomputed, and the cache filled
    assert sorted(_cached(db)) == sorted(ids)
    assert list(_cached(db, "run_changes")) == [max(ids)]  # history's change from the run before
    warm = _views(cli, db)  # read from the cache
    assert warm == cold
    assert len(cold[0]) == 2 and cold[2][0]["runs"][1]["change"]["ci"] is not None
    store = open_store(str(db))
    try:
        got = summary_cache.entries(store, ids)
        assert [RunResult.from_json(got[i].summary).to_json() for i in ids] == [direct[i] for i in ids]
        summary_cache.clear(store)
    finally:
        store.close()
    assert _cached(db) == {} and _cached(db, "run_changes") == {}
    assert _views(cli, db) == cold  # deleted: every figure comes back identical


def test_stale_entries_are_recomputed(cli: Any, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = _views(cli, db)[0]
    ids = [int(r["run_id"]) for r in board]
    store = open_store(str(db))
    try:
        rid = ids[0]
        (before, _), = summary_cache.entries(store, [rid]).values()
        req = store.t["requests"]
        with store.tx() as conn:  # one more raw request at depth 0, written behind the store's back
            row = dict(conn.execute(sa.select(req).where(req.c.run_id == rid, req.c.depth == 0,
                                                         req.c.status == "ok")).mappings().first() or {})
            row.pop("id")
            row["seq"] = 999
            conn.execute(req.insert().values(**row))
        (after, stamp), = summary_cache.entries(store, [rid]).values()
        dec = summary_cache.decodes(store, [summary_cache.Entry(after, stamp)])[rid]
        assert RunResult.from_json(after).to_json() == run_summary(store, rid).to_json()
        assert after["requests"]["total"] == before["requests"]["total"] + 1
        assert after["points"][0]["n"] == before["points"][0]["n"] + 1 == len(dec[0])
    finally:
        store.close()
    monkeypatch.setattr(summary_cache, "DERIVATION_VERSION", summary_cache.DERIVATION_VERSION + 1)
    store = open_store(str(db))
    try:
        summary_cache.entries(store, ids)
    finally:
        store.close()
    assert set(_cached(db).values()) == {summary_cache.DERIVATION_VERSION}


def test_push_does_not_copy_the_cache(cli: Any, db: Path, tmp_path: Path) -> None:
    _views(cli, db)
    assert _cached(db)
    other = tmp_path / "other.db"
    src, dst = open_store(str(db)), open_store(str(other))
    try:
        for r in src.list_runs(kind="run"):
            assert copy_run(src, int(r["id"]), dst).outcome == "copied"
    finally:
        src.close()
        dst.close()
    assert _cached(other) == {} and _cached(other, "run_changes") == {}
    def figures(rows: list[dict[str, Any]]) -> list[Any]:
        return sorted(json.dumps({k: v for k, v in r.items() if k != "run_id"}, sort_keys=True) for r in rows)

    assert figures(_views(cli, other)[0]) == figures(_views(cli, db)[0])
