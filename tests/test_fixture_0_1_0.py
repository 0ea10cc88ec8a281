"""A database written by release 0.1.0 opens with today's code, migrates, and shows the same
figures under the same JSON keys for every kind of run (issue 13: "changes no figure and no
JSON contract").

The fixture (tests/data/rigbench-0.1.0.sqlite) was written by 0.1.0 itself
(tests/data/make_fixture_0_1_0.sh). The goldens under tests/golden/v0_1_0/ were captured from
it with the code of main at 97a1d94, before the one-measuring-core refactor; the files under
release_0_1_0/ are what 0.1.0 printed, and README.md there names every difference between the
two. ``RIGBENCH_UPDATE_GOLDEN=1`` does NOT rewrite the JSON goldens: they are the contract.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from golden_util import (
    CARDS,
    FIXTURE,
    GOLDEN_JSON,
    RELEASE_0_1_0_MIGRATIONS,
    WIDTH,
    copy_fixture,
    fixture_runs,
    mismatches,
    normalise,
)

RUNS = fixture_runs()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_fixture(tmp_path_factory.mktemp("fixture-0.1.0"))


@pytest.fixture
def text_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.setenv("NO_COLOR", "1")


def _golden(name: str) -> Any:
    return json.loads((GOLDEN_JSON / name).read_text())


def test_the_fixture_is_small_and_holds_every_kind_of_run() -> None:
    assert FIXTURE.stat().st_size < 1_500_000
    con = sqlite3.connect(f"file:{FIXTURE}?mode=ro&immutable=1", uri=True)
    try:
        runs = {int(i): (k, s, json.loads(p or "{}").get("session") == "agent")
                for i, k, s, p in con.execute("SELECT id, kind, status, params FROM runs")}
        versions = {v for (v,) in con.execute("SELECT DISTINCT tool_version FROM runs")}
        applied = [n for (n,) in con.execute("SELECT name FROM schema_migrations ORDER BY name")]
        speed_text = con.execute(
            "SELECT count(*) FROM requests WHERE phase = 'speed' AND content IS NOT NULL").fetchone()
        per_run = dict(con.execute("SELECT run_id, count(*) FROM requests GROUP BY run_id").fetchall())
    finally:
        con.close()
    assert runs == {i: (k, s, sess) for i, k, s, sess in CARDS.values()}
    assert versions == {"0.1.0"}, "the fixture must be written by release 0.1.0 only"
    assert applied == RELEASE_0_1_0_MIGRATIONS
    assert speed_text == (0,), "0.1.0 stored speed requests without their text"
    failed = [i for i, (_, s, _) in runs.items() if s == "failed"]
    assert all(per_run.get(i, 0) > 0 for i in runs if i not in failed), "every measured run holds its requests"


def test_opening_it_applies_every_migration(tmp_path: Path) -> None:
    from rigbench.store import open_store
    from rigbench.store.migrations import MIGRATIONS, applied_migrations

    db = copy_fixture(tmp_path)
    store = open_store(str(db))
    try:
        with store.engine.connect() as conn:
            applied = applied_migrations(conn)
        assert applied == sorted(name for name, _ in MIGRATIONS), "the schema is not at the latest migration"
        assert applied[: len(RELEASE_0_1_0_MIGRATIONS)] == RELEASE_0_1_0_MIGRATIONS
        assert [int(r["id"]) for r in store.list_runs(limit=100)] == sorted((i for i, _, _ in RUNS), reverse=True)
    finally:
        store.close()
    store = open_store(str(db))  # a second open applies nothing more and still reads every run
    store.close()


@pytest.mark.parametrize("run_id", [i for i, _, _ in RUNS])
def test_show_json_keeps_every_golden_key_and_value(db: Path, cli, run_id: int) -> None:
    r = cli("show", str(run_id), "--json", "--db", str(db))
    assert r.code == 0, r.err
    now = json.loads(normalise(r.out, db))
    diff = mismatches(_golden(f"show_{run_id}.json"), now)
    assert not diff, f"show {run_id} --json changed:\n" + "\n".join(diff[:40])


@pytest.mark.parametrize("what", ["runs", "board"])
def test_runs_and_board_json_keep_the_golden(db: Path, cli, what: str) -> None:
    r = cli(what, "--json", "--db", str(db))
    assert r.code == 0, r.err
    diff = mismatches(_golden(f"{what}.json"), json.loads(normalise(r.out, db)))
    assert not diff, f"{what} --json changed:\n" + "\n".join(diff[:40])


def test_the_golden_holds_figures_of_every_kind() -> None:
    """The goldens exercise what they should: a summary of each kind, with figures in it."""
    shown = {name: _golden(f"show_{i}.json") for name, (i, _, _, _) in CARDS.items()}
    run, session = shown["run_card"], shown["session_card"]
    assert [p["depth"] for p in run["points"]] == [0, 256] and all(p["decode_tok_s"] > 0 for p in run["points"])
    assert run["quality"]["score"] is not None and not run.get("session")
    assert session["session"]["turns"] > 0
    assert [d["depth"] for d in shown["compare_card"]["depths"]] == [0, 256]
    assert len(shown["tune_journal"]["trials"]) >= 2
    assert shown["lab_card"]["rows"]
    assert shown["interrupted_run_card"]["status"] == "incomplete"
    assert shown["interrupted_after_warmup_card"]["status"] == "incomplete"
    assert shown["failed_run_card"]["status"] == "failed"


_FIGURE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _figures(text: str) -> Counter[str]:
    return Counter(_FIGURE.findall(text))


# figures 0.1.0's cards print that today's do not, each with the reason (README.md there)
_RAM_IN_GIB = {"25.3"}  # the machine's RAM: 25.3 GB (10^9 bytes) then, 23.5 GiB now (units.py: memory is binary)
_OLD_ONLY: dict[int, set[str]] = {1: _RAM_IN_GIB, 2: _RAM_IN_GIB, 6: _RAM_IN_GIB, 7: _RAM_IN_GIB, 8: _RAM_IN_GIB}


@pytest.mark.parametrize("run_id", [i for i, _, _ in RUNS])
def test_show_prints_the_figures_release_0_1_0_printed(db: Path, cli, text_env: None, run_id: int) -> None:
    """Every figure on 0.1.0's card for this run is on today's card (layout may change)."""
    old = (GOLDEN_JSON / "release_0_1_0" / f"show_{run_id}.txt").read_text()
    r = cli("show", str(run_id), "--db", str(db))
    assert r.code == 0, r.err
    missing = _figures(old) - _figures(normalise(r.out, db))
    for figure in _OLD_ONLY.get(run_id, set()):
        missing.pop(figure, None)
    assert not missing, f"show {run_id} no longer prints {sorted(missing)}"
