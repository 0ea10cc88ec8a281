"""The one recorded-run lifecycle and the one bench: how a run ends on every path, and what
one measured request leaves in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.engines.attach import AttachEngine
from rigbench.errors import EngineError, Interrupted, RequestError, RigbenchError, StoreError
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording, recorded_run
from rigbench.jobs.session import Session
from rigbench.store import Store, open_store
from rigbench.testing.fake_server import FakeServer, Script
from rigbench.types import EngineSpec, RequestRecord


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = open_store(tmp_path / "r.db")
    yield s
    s.close()


class _Monitor:
    def __init__(self, fail_stop: bool = False) -> None:
        self.events: list[str] = []
        self.fail_stop = fail_stop

    def start(self, rec: Recording) -> None:
        self.events.append(f"start {rec.run_id}")

    def stop(self, rec: Recording) -> None:
        self.events.append("stop")
        if self.fail_stop:
            raise StoreError("the monitor could not write")


def _stored_request(rec: Recording) -> None:
    r = RequestRecord(t_sent_ns=1, status="ok")
    rec.store.add_request(rec.run_id, r, phase="speed")


def test_complete_and_monitors(store: Store) -> None:
    m = _Monitor()
    with recorded_run(store, kind="run", params={"x": 1}, monitors=[m]) as rec:
        _stored_request(rec)
    run = store.get_run(rec.run_id)
    assert run is not None and run["status"] == "complete" and run["params"] == {"x": 1}
    assert m.events == [f"start {rec.run_id}", "stop"]


def test_error_after_measuring_is_incomplete_and_says_how_to_go_on(store: Store) -> None:
    m = _Monitor()
    with pytest.raises(RequestError) as info, recorded_run(store, kind="run", monitors=[m]) as rec:
        _stored_request(rec)
        raise RequestError("the server said no", "check it")
    run = store.get_run(rec.run_id)
    assert run is not None and run["status"] == "incomplete"
    assert run["reason"] == "the server said no: check it"  # the reason is the error, not the way on
    assert info.value.kept == f"run {rec.run_id} keeps what was measured (rigbench run --resume {rec.run_id})"
    assert info.value.one_line().endswith(f"check it; run {rec.run_id} keeps what was measured "
                                          f"(rigbench run --resume {rec.run_id})")
    assert m.events[-1] == "stop"


def test_error_before_measuring_is_failed_and_keeps_nothing(store: Store) -> None:
    with pytest.raises(EngineError) as info, recorded_run(store, kind="compare") as rec:
        raise EngineError("no server")
    run = store.get_run(rec.run_id)
    assert run is not None and run["status"] == "failed" and info.value.kept is None
    assert info.value.one_line() == "no server"


def test_ctrl_c_is_a_clean_stop(store: Store) -> None:
    with pytest.raises(Interrupted) as info, recorded_run(store, kind="tune") as rec:
        _stored_request(rec)
        raise KeyboardInterrupt
    run = store.get_run(rec.run_id)
    assert run is not None and run["status"] == "incomplete" and run["reason"] == "interrupted (Ctrl-C)"
    assert info.value.message == f"interrupted; campaign {rec.run_id} keeps every trial measured so far"
    assert info.value.hint == f"continue it with rigbench tune --resume {rec.run_id}"


def test_a_store_error_never_masks_the_error_that_ended_the_run(store: Store, monkeypatch: Any) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise StoreError("database or disk is full")

    m = _Monitor(fail_stop=True)  # and a monitor that fails on the way out
    with pytest.raises(RequestError, match="the real failure"), recorded_run(store, kind="lab", monitors=[m]):
        monkeypatch.setattr(store, "finish_run", broken)
        monkeypatch.setattr(store, "requests", broken)
        raise RequestError("the real failure")


def test_resume_reopens_the_same_run(store: Store) -> None:
    with pytest.raises(RigbenchError), recorded_run(store, kind="run") as first:
        _stored_request(first)
        raise RequestError("stopped")
    with recorded_run(store, kind="run", resume=first.run_id) as again:
        assert again.run_id == first.run_id
    run = store.get_run(first.run_id)
    assert run is not None and run["status"] == "complete" and run["reason"] is None


def _bench(rec: Recording, fake: FakeServer) -> Bench:
    spec = EngineSpec(kind="url", url=fake.base_url)
    engine = AttachEngine(spec)
    facts = engine.start()
    client = ServerClient(facts)
    client.probe()
    return Bench(rec, Session(spec, engine, facts, client), name="a", timeouts=Timeouts(read_s=10.0))


def test_bench_send_stores_each_request_with_its_cache_evidence(store: Store) -> None:
    with FakeServer(Script(tokens=8, rate_tok_s=400, cached_tokens=90)) as fake, \
            recorded_run(store, kind="run") as rec:
        bench = _bench(rec, fake)
        bench.warm_up()
        sent = bench.send([{"role": "user", "content": "hi"}], phase="speed", where="depth 0", max_tokens=8,
                          seed=0, depth=100, rep=0, role="grow", expected_reuse=80, keep_text=False,
                          extra={"context_method": "tokenize"})
        bench.client.close()
    rows = store.requests(rec.run_id)
    assert [r["phase"] for r in rows] == ["warmup", "speed"]
    row = rows[1]
    assert row["id"] == sent.request_id and row["role"] == "grow" and row["depth"] == 100 and row["content"] is None
    x = row["extra"]
    assert x["expected_reuse"] == 80 and x["context_method"] == "tokenize"
    assert x["server_cache_n"] == 90 and x["cache_source"] == "response" and x["cache_verified"] is True
    assert bench.rates[1] is not None and bench.rates[1] > 0  # the decode rate, for the next deadline


def test_bench_guard_stops_after_three_failures_in_a_row_and_keeps_them(store: Store) -> None:
    with FakeServer(Script(http_status=500)) as fake, pytest.raises(RequestError) as info, \
            recorded_run(store, kind="run") as rec:
        bench = _bench(rec, fake)
        for rep in range(5):
            bench.send([{"role": "user", "content": "hi"}], phase="speed", where=f"repeat {rep + 1}", max_tokens=8,
                       seed=rep, rep=rep)
    assert "three requests failed in a row, the last at repeat 3" in info.value.message
    rows = store.requests(rec.run_id)
    assert [r["status"] for r in rows] != [] and len(rows) == 3 and all(r["status"] != "ok" for r in rows)
    run = store.get_run(rec.run_id)
    assert run is not None and run["status"] == "incomplete"
