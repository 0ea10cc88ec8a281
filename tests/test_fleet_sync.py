"""push / pull between a local SQLite file and a real PostgreSQL (tests/pgserver.py):
idempotent by the run's UUID, raw requests included, an interrupted push resumes, a run that
exists with different content is refused, and a pulled run renders the same figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pgserver import PASSWORD

from rigbench.store import open_store
from rigbench.store.sync import copy_run
from rigbench.testing.fake_server import FakeServer, Script


def _counts(url: str) -> dict[str, int]:
    store = open_store(url)
    try:
        with store.tx() as conn:
            return {n: int(conn.execute(sa.select(sa.func.count()).select_from(store.t[n])).scalar_one())
                    for n in ("runs", "requests", "machines", "models", "engine_specs")}
    finally:
        store.close()


@pytest.fixture
def local_runs(cli: Any, tmp_path: Path) -> Path:
    db = tmp_path / "local.db"
    with FakeServer(Script(tokens=8, rate_tok_s=3000)) as fake:
        for label in ("rig-a", "rig-a"):
            r = cli("run", "--url", fake.base_url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "8",
                    "--no-quality", "--json", "--db", str(db), "--label", label)
            assert r.code == 0, r.err
    return db


def test_push_twice_adds_nothing_and_pull_renders_the_same(cli: Any, local_runs: Path, pg_url: str,
                                                           tmp_path: Path) -> None:
    r1 = cli("push", "--db", str(local_runs), "--to", pg_url, "--json")
    assert r1.code == 0, r1.err
    assert [x["outcome"] for x in r1.json()["runs"]] == ["copied", "copied"]
    after_first = _counts(pg_url)
    assert after_first["runs"] == 2 and after_first["requests"] == _counts(str(local_runs))["requests"]
    r2 = cli("push", "--db", str(local_runs), "--to", pg_url, "--json")
    assert r2.code == 0, r2.err
    assert [x["outcome"] for x in r2.json()["runs"]] == ["already there", "already there"]
    assert _counts(pg_url) == after_first
    assert after_first["machines"] == 1  # one machine, by its stable id
    for res in (r1, r2):
        assert PASSWORD not in res.out + res.err
        assert "postgresql://postgres@/" in res.json()["to"]

    # pull into another file: the same figures, recomputed from the copied raw rows
    other = tmp_path / "other.db"
    p = cli("pull", "--from", pg_url, "--db", str(other), "--label", "rig-a", "--json")
    assert p.code == 0, p.err
    assert [x["outcome"] for x in p.json()["runs"]] == ["copied", "copied"]
    for src_id in (1, 2):
        a = cli("show", str(src_id), "--json", "--db", str(local_runs)).json()
        b = cli("show", str(src_id), "--json", "--db", str(other)).json()
        assert a["points"] == b["points"] and a["verdict"] == b["verdict"] and a["created_at"] == b["created_at"]
    store = open_store(str(other))
    assert {r["label"] for r in store.list_runs()} == {"rig-a"}
    store.close()


def test_interrupted_push_resumes_and_a_different_run_is_refused(cli: Any, local_runs: Path, pg_url: str) -> None:
    src, dst = open_store(str(local_runs)), open_store(pg_url)
    try:
        def boom(done: int) -> None:
            if done >= 2:
                raise KeyboardInterrupt  # as if Ctrl-C came after the second batch

        with pytest.raises(KeyboardInterrupt):
            copy_run(src, 1, dst, batch=1, on_batch=boom)
        part = dst.list_runs()
        assert [r["status"] for r in part] == ["pushing"]  # no view counts it
        assert len(dst.requests(part[0]["id"])) == 2
    finally:
        src.close()
        dst.close()
    r = cli("push", "1", "--db", str(local_runs), "--to", pg_url, "--json")
    assert r.code == 0, r.err
    res = r.json()["runs"][0]
    n = len(open_store(str(local_runs)).requests(1))
    assert res["outcome"] == "resumed" and res["requests_added"] == n - 2
    assert _counts(pg_url)["requests"] == n
    dst = open_store(pg_url)
    assert dst.list_runs()[0]["status"] == "complete"
    # the shared copy is edited: the same UUID with another command is refused, nothing overwritten
    with dst.tx() as conn:
        conn.execute(dst.t["runs"].update().values(command="rigbench run --something-else"))
    dst.close()
    bad = cli("push", "1", "--db", str(local_runs), "--to", pg_url)
    assert bad.code == 5 and "refused" in bad.err and "its command differs" in bad.err
    assert len(bad.err.strip().splitlines()) == 1
    assert _counts(pg_url)["requests"] == n
