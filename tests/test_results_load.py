"""Typed results of a load run and of ``rigbench runs``: the JSON reads back key for key and in
order, the renderers take the typed result, and what they show is what they showed before.

tests/golden/load/show_N.json and show_N.txt are ``rigbench show N --json`` and ``show N`` (120
columns, no colour) of two load runs against the fake server, captured with the code from before
these results were typed (the JSON's machine facts trimmed to a few): run 2 with energy per level
(``--power-cmd``), run 4 with a 503-answering server (failed requests, their reason, a knee below
the top level)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

import pytest

from rigbench.results import (
    EnergyFigures,
    LoadBest,
    LoadKnee,
    LoadLevel,
    LoadResult,
    LoadServer,
    Result,
    RunRow,
)
from rigbench.testing.fake_server import FakeServer, Script

GOLDEN = Path(__file__).parent / "golden" / "load"
CONTRACT_LEVEL = ["concurrency", "requests_ok", "requests_failed", "aggregate_tok_s", "per_stream_decode_tok_s",
                  "per_stream_decode_p10_tok_s", "ttft_ms_p50", "ttft_ms_p95", "goodput_rps", "slo_share"]
RUNS_KEYS = ["run_id", "kind", "status", "reason", "created_at", "model", "quant", "engine", "machine", "uuid",
             "label"]


def _main(*args: str) -> str:
    from rigbench.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(list(args)) == 0
    return buf.getvalue()


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A load run against the fake server (energy from a power command, /metrics, slots), as
    ``load --json`` wrote it, and a depth sweep beside it for ``runs``."""
    db = str(tmp_path_factory.mktemp("load") / "r.db")
    script = Script(tokens=16, rate_tok_s=400.0, shared_tok_s=600.0, metrics=True, props=True, tokenize=True,
                    slots=4, timings=True)
    with FakeServer(script) as fake:
        text = _main("load", "--url", fake.base_url, "--concurrency", "1,2", "--gen-tokens", "16", "--depth", "64",
                     "--requests", "2", "--power-cmd", "echo 42.5", "--json", "--db", db)
        _main("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--gen-tokens", "8", "--no-quality",
              "--json", "--db", db)
    return {"db": db, "load": text}


def _golden(n: int) -> tuple[str, dict[str, Any]]:
    text = (GOLDEN / f"show_{n}.json").read_text()
    return text, json.loads(text)


def _unordered(r: Any) -> Any:
    """``r`` as if built field by field (no key order read from JSON): its JSON's keys then come
    in the order the types declare them."""
    if isinstance(r, list):
        return [_unordered(x) for x in r]
    if not isinstance(r, Result):
        return r
    changes = {f.name: _unordered(getattr(r, f.name)) for f in dataclasses.fields(r)  # type: ignore[arg-type]
               if f.name not in ("key_order", "more")}
    return dataclasses.replace(r, **changes, **({"key_order": ()} if hasattr(r, "key_order") else {}))  # type: ignore[type-var]


@pytest.mark.parametrize("n", [2, 4])
def test_the_json_from_before_reads_back_byte_for_byte_in_the_declared_order(n: int) -> None:
    text, data = _golden(n)
    back = LoadResult.from_json(data)
    assert json.dumps(back.to_json(), indent=2, default=str) + "\n" == text
    # the declared fields are in today's order, at every level of nesting, and nothing is left over
    unordered = _unordered(back).to_json()
    assert json.dumps(unordered, indent=2) + "\n" == text
    assert back.more == {} and all(lv.more == {} for lv in back.levels)
    assert back.energy.more == {} and all(sv.more == {} for sv in back.servers)


def test_the_typed_parts() -> None:
    back = LoadResult.from_json(_golden(2)[1])
    assert back.kind == "load" and back.status == "complete"
    assert [lv.concurrency for lv in back.levels] == [1, 2, 4] and all(isinstance(lv, LoadLevel) for lv in back.levels)
    assert all(isinstance(lv.energy, EnergyFigures) and lv.energy.j_per_token for lv in back.levels)
    assert isinstance(back.best, LoadBest) and back.best.concurrency == 4 and isinstance(back.knee, LoadKnee)
    assert back.level(4) is back.levels[2] and back.level(3) is None and back.level(None) is None
    assert isinstance(back.servers[0], LoadServer) and back.servers[0].total_slots == 4
    failed = LoadResult.from_json(_golden(4)[1])
    assert failed.knee.concurrency == 1 and failed.level(2) is not None
    assert failed.level(2).requests_failed == 2 and "HTTP 503" in failed.level(2).errors[0]  # type: ignore[union-attr]


@pytest.mark.parametrize("n", [2, 4])
def test_the_card_of_the_typed_result_is_the_card_from_before(n: int) -> None:
    from rigbench.report.load import load_card
    from rigbench.report.safe import safe_console

    buf = io.StringIO()
    console = safe_console(file=buf, width=120, soft_wrap=False, color_system=None, force_terminal=False)
    console.print(load_card(LoadResult.from_json(_golden(n)[1])))
    assert buf.getvalue() == (GOLDEN / f"show_{n}.txt").read_text()


def test_the_board_row_of_a_load_run_is_at_its_knee() -> None:
    from rigbench.report.board import board_json, build_board

    res = LoadResult.from_json(_golden(4)[1])
    (row,) = build_board([res])
    assert row.load and row.knee == 1 and row.best_concurrency == 2
    assert row.best_aggregate_tok_s == res.levels[1].aggregate_tok_s == 470.32
    assert row.decode_tok_s == res.levels[0].per_stream_decode_tok_s and row.ttft_ms == res.levels[0].ttft_ms_p50
    assert board_json([row])[0]["engine"] == "http://127.0.0.1:18715/v1"  # an attached server: its URL
    assert build_board([dataclasses.replace(res, status="failed")]) == []


def test_load_json_is_the_typed_result_and_show_prints_the_same_bytes(measured: dict[str, Any]) -> None:
    from rigbench.jobs.load_summary import load_summary
    from rigbench.store import open_store

    text = measured["load"]
    data = json.loads(text)
    assert json.dumps(LoadResult.from_json(data).to_json(), indent=2, default=str) + "\n" == text
    assert _main("show", str(data["run_id"]), "--json", "--db", measured["db"]) == text
    assert [list(lv)[:10] for lv in data["levels"]] == [CONTRACT_LEVEL, CONTRACT_LEVEL]
    assert set(data) >= {"run_id", "kind", "status", "levels", "best", "knee"}
    store = open_store(measured["db"])
    try:
        res = load_summary(store, data["run_id"])
    finally:
        store.close()
    assert isinstance(res, LoadResult) and res.to_json() == data
    assert res.level(2) is not None and res.level(2).requests_ok == 4  # type: ignore[union-attr]
    assert all(lv.energy is not None and lv.energy.j_per_token is not None for lv in res.levels)
    assert res.energy.source == "power-cmd" and res.best is not None


def test_runs_json_rows_are_typed_and_keep_their_keys(measured: dict[str, Any]) -> None:
    from rigbench.kinds import run_rows
    from rigbench.store import open_store

    data = json.loads(_main("runs", "--json", "--db", measured["db"]))
    assert [r["kind"] for r in data] == ["run", "load"] and all(list(r) == RUNS_KEYS for r in data)
    store = open_store(measured["db"])
    try:
        rows = run_rows(store)
        stored = {int(r["id"]): r for r in store.list_runs()}
        loads = run_rows(store, "load", limit=5)
    finally:
        store.close()
    assert all(isinstance(r, RunRow) for r in rows) and [r.to_json() for r in rows] == data
    assert [RunRow.from_json(r).to_json() for r in data] == data
    for r in rows:
        s = stored[r.run_id]
        assert (r.status, r.engine, r.machine, r.uuid, r.created_at) == (
            s["status"], s["engine"], s["hostname"], s["uuid"], s["created_at"])
    assert [r.run_id for r in loads] == [data[1]["run_id"]]
    assert _main("runs", "--json", "--kind", "load", "--db", measured["db"]) == json.dumps([data[1]], indent=2) + "\n"
