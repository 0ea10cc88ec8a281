"""The concurrent pool: its strategies, and the async stream driver giving the same record
as the sync one for the same stream (one reader behind both)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigbench.client.stream import Timeouts, astream_request, stream_request
from rigbench.jobs.pool import ClosedLoop, Once, Poisson, Target, run_streams
from rigbench.testing.fake_server import FakeServer, Script


@given(st.integers(1, 20), st.integers(1, 10), st.floats(0.1, 1000), st.integers(0, 2**31))
def test_poisson_arrivals_are_seeded_ordered_and_counted(n: int, k: int, rate: float, seed: int) -> None:
    p = Poisson(n, k, rate, seed)
    a = p.arrivals_s()
    assert len(a) == p.planned() == n * k
    assert a[0] == 0.0 and a == sorted(a)
    assert a == Poisson(n, k, rate, seed).arrivals_s()


def test_poisson_mean_gap_is_one_over_the_rate() -> None:
    a = Poisson(10, 200, 4.0, seed=1).arrivals_s()
    gaps = [y - x for x, y in itertools.pairwise(a)]
    assert sum(gaps) / len(gaps) == pytest.approx(0.25, rel=0.1)


def _order(strategy: Any) -> list[tuple[str, int, int]]:
    events: list[tuple[str, int, int]] = []

    async def send(s: int, k: int) -> None:
        events.append(("start", s, k))
        await asyncio.sleep(0.001 * (s + 1))
        events.append(("end", s, k))

    asyncio.run(strategy.drive(send))
    return events


def test_closed_loop_sends_each_streams_next_request_after_its_last_ended() -> None:
    ev = _order(ClosedLoop(3, 4))
    assert sum(1 for e in ev if e[0] == "start") == 12
    for s in range(3):
        mine = [e for e in ev if e[1] == s]
        assert mine == [(w, s, k) for k in range(4) for w in ("start", "end")]
    # all three streams are in flight at once at the start
    assert [e[0] for e in ev[:3]] == ["start"] * 3


def test_once_starts_every_stream_together() -> None:
    ev = _order(Once(5))
    assert [e[0] for e in ev[:5]] == ["start"] * 5 and len(ev) == 10


SCRIPTS = [
    {"tokens": 12, "tokens_per_chunk": 3, "reasoning_tokens": 4, "timings": True},
    {"tokens": 12, "error_after": 2},
    {"tokens": 12, "malformed_after": 2},
    {"tokens": 12, "close_after": 2},
    {"http_status": 503},
    {"tokens": 400, "ignore_max_tokens": True},
    {"tokens": 12, "done_marker": False, "finish_reason": False},
]


@pytest.mark.parametrize("script", SCRIPTS, ids=[",".join(s) for s in SCRIPTS])
def test_async_and_sync_drivers_record_the_same_stream(script: dict[str, Any]) -> None:
    body = {"model": "fake-model", "stream": True, "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}]}
    with FakeServer(Script(**script)) as fake:
        url = fake.base_url + "/chat/completions"
        with httpx.Client() as c:
            a = stream_request(c, url, body, timeouts=Timeouts(total_s=30.0))

        async def go() -> Any:
            async with httpx.AsyncClient() as ac:
                return await astream_request(ac, url, body, timeouts=Timeouts(total_s=30.0))

        b = asyncio.run(go())
    keys = ("status", "error", "http_status", "completion_tokens", "finish_reason", "content", "reasoning", "cut",
            "n_events", "max_tokens")
    assert {k: getattr(a, k) for k in keys} == {k: getattr(b, k) for k in keys}
    assert len(a.chunks) == len(b.chunks)


def test_run_streams_spreads_streams_round_robin_and_keeps_failures() -> None:
    with FakeServer(Script(tokens=4)) as one, FakeServer(Script(tokens=4, http_status=503)) as two:
        targets = [Target(one.base_url + "/chat/completions", {}), Target(two.base_url + "/chat/completions", {})]
        seen = []
        level = run_streams(targets, ClosedLoop(4, 2),
                            lambda s, k: {"model": "fake-model", "stream": True, "max_tokens": 4,
                                          "messages": [{"role": "user", "content": f"{s}/{k}"}]},
                            seen.append, timeouts_for=lambda _i, _b: Timeouts(total_s=30.0), sample_gauges=False)
    assert len(level.shots) == len(seen) == 8
    assert {(sh.stream % 2, sh.server) for sh in level.shots} == {(0, 0), (1, 1)}
    assert all(sh.record.ok for sh in level.shots if sh.server == 0)
    assert all(sh.record.status == "error" and "HTTP 503" in (sh.record.error or "")
               for sh in level.shots if sh.server == 1)
    assert level.t_end_ns > level.t_start_ns
