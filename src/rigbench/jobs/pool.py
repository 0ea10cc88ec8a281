"""N streams at once from one client process: one asyncio event loop, one ``httpx.AsyncClient``
per server, every stream read by the same ``client.stream.StreamReader`` as a single request
(the same SSE parser, deadline, overrun bound and record building; only the byte moving is
async). Why an event loop and not a thread pool: one loop drives hundreds of streams on two
cores, and a timestamp is taken when the loop gets the read, not after a GIL hand-off
between hundreds of threads (whose 5 ms switch interval would be on every token's clock).

What to send and when is a *strategy* (guidellm's pattern): a small object that calls
``send(stream, index)`` at the right moments.

- ``ClosedLoop(concurrency, requests)``: each of N streams sends its next request as soon as
  its last ended, ``requests`` times (an agent loop).
- ``Poisson(concurrency, requests, rate, seed)``: N x ``requests`` arrivals at exponential
  intervals of mean 1/rate (open loop, queue-like background work); arrival i goes to
  stream i mod N and is sent at its time even while that stream's last request is running.
- ``Once(concurrency)``: one request per stream, all at once (the priming of each stream's
  context).

Nothing here writes to the store: a level's records come back together and the caller
stores them (a write in the loop would hold every other stream's timestamps).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from rigbench.client import dialects
from rigbench.client.stream import Timeouts, astream_request
from rigbench.types import RequestRecord

__all__ = ["ClosedLoop", "LevelRun", "Once", "Poisson", "Shot", "Strategy", "Target", "run_streams"]

_METRICS_MAX_BYTES = 2_000_000
_METRICS_EVERY_S = 0.5

Send = Callable[[int, int], Awaitable[None]]


class Strategy(Protocol):
    @property
    def concurrency(self) -> int: ...

    @property
    def name(self) -> str: ...

    def planned(self) -> int: ...

    async def drive(self, send: Send) -> None: ...


@dataclass(frozen=True)
class ClosedLoop:
    concurrency: int
    requests: int

    @property
    def name(self) -> str:
        return "closed"

    def planned(self) -> int:
        return self.concurrency * self.requests

    async def drive(self, send: Send) -> None:
        async def stream(s: int) -> None:
            for k in range(self.requests):
                await send(s, k)

        await asyncio.gather(*(stream(s) for s in range(self.concurrency)))


@dataclass(frozen=True)
class Once:
    concurrency: int

    @property
    def name(self) -> str:
        return "once"

    def planned(self) -> int:
        return self.concurrency

    async def drive(self, send: Send) -> None:
        await asyncio.gather(*(send(s, 0) for s in range(self.concurrency)))


@dataclass(frozen=True)
class Poisson:
    concurrency: int
    requests: int
    rate: float  # arrivals per second
    seed: int = 0

    @property
    def name(self) -> str:
        return "poisson"

    def planned(self) -> int:
        return self.concurrency * self.requests

    def arrivals_s(self) -> list[float]:
        """Arrival offsets in seconds from the level's start (seeded: a level is repeatable)."""
        rng = random.Random(self.seed)
        t = 0.0
        out = []
        for _ in range(self.planned()):
            out.append(t)
            t += rng.expovariate(self.rate)
        return out

    async def drive(self, send: Send) -> None:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        tasks = []
        for i, at in enumerate(self.arrivals_s()):
            wait = t0 + at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.ensure_future(send(i % self.concurrency, i // self.concurrency)))
        await asyncio.gather(*tasks)


@dataclass(frozen=True)
class Target:
    """One server the streams go to (``--url`` repeated: streams spread round-robin)."""

    chat_url: str
    headers: dict[str, str]
    metrics_url: str | None = None
    metrics_dialect: dialects.Dialect | None = None


@dataclass
class Shot:
    """One request the pool sent: which stream, which of its requests, which server."""

    stream: int
    index: int
    server: int
    record: RequestRecord


@dataclass
class LevelRun:
    shots: list[Shot]
    peaks: list[dict[str, float]]  # per server: the highest gauges scraped during the level
    t_start_ns: int
    t_end_ns: int
    extra: dict[str, Any] = field(default_factory=dict)


def run_streams(targets: Sequence[Target], strategy: Strategy,
                body_for: Callable[[int, int], dict[str, Any]],
                on_done: Callable[[Shot], None], *, timeouts_for: Callable[[int, dict[str, Any]], Timeouts],
                sample_gauges: bool = True) -> LevelRun:
    """Run one strategy to its end on a fresh event loop. ``body_for(stream, index)`` builds
    each request's body when it is sent and ``timeouts_for(server, body)`` its deadline (a
    stream's conversation grows as its answers come back through ``on_done``, called in the
    loop: it must be quick and do no I/O)."""
    return asyncio.run(_run(targets, strategy, body_for, on_done, timeouts_for, sample_gauges))


async def _run(targets: Sequence[Target], strategy: Strategy, body_for: Callable[[int, int], dict[str, Any]],
               on_done: Callable[[Shot], None], timeouts_for: Callable[[int, dict[str, Any]], Timeouts],
               sample_gauges: bool) -> LevelRun:
    per_server = -(-strategy.concurrency // max(len(targets), 1))
    limits = httpx.Limits(max_connections=per_server + 4, max_keepalive_connections=per_server + 4)
    clients = [httpx.AsyncClient(limits=limits, trust_env=False, timeout=httpx.Timeout(30.0)) for _ in targets]
    shots: list[Shot] = []
    peaks: list[dict[str, float]] = [{} for _ in targets]
    stop = asyncio.Event()

    async def send(s: int, k: int) -> None:
        server = s % len(targets)
        body = body_for(s, k)
        rec = await astream_request(clients[server], targets[server].chat_url, body,
                                    headers=targets[server].headers, timeouts=timeouts_for(server, body))
        shot = Shot(s, k, server, rec)
        shots.append(shot)
        on_done(shot)

    samplers = []
    if sample_gauges:
        for i, tg in enumerate(targets):
            if tg.metrics_url and tg.metrics_dialect is not None:
                samplers.append(asyncio.ensure_future(_sample(clients[i], tg, peaks[i], stop)))
    t0 = time.perf_counter_ns()
    try:
        await strategy.drive(send)
    finally:
        t1 = time.perf_counter_ns()
        stop.set()
        for task in samplers:
            task.cancel()
        await asyncio.gather(*samplers, return_exceptions=True)
        for c in clients:
            await c.aclose()
    return LevelRun(shots, peaks, t0, t1)


async def _sample(client: httpx.AsyncClient, target: Target, peak: dict[str, float], stop: asyncio.Event) -> None:
    """The server's gauges (requests running / waiting, KV-cache usage) every half second,
    their highest values kept; a scrape is bounded in bytes and time, a failed one skipped."""
    assert target.metrics_url is not None and target.metrics_dialect is not None
    async def scrape() -> bytes:
        buf = bytearray()
        async with client.stream("GET", target.metrics_url or "", headers=target.headers) as r:
            if r.status_code == 200:
                async for part in r.aiter_bytes():
                    buf += part
                    if len(buf) > _METRICS_MAX_BYTES:
                        break
        return bytes(buf[:_METRICS_MAX_BYTES])

    while not stop.is_set():
        try:
            raw = await asyncio.wait_for(scrape(), 5.0)
            c = dialects.counters_from(target.metrics_dialect, raw.decode("utf-8", "replace"))
            if c is not None:
                for key in ("requests_running", "requests_waiting", "kv_usage"):
                    v = getattr(c, key)
                    if v is not None:
                        peak[key] = max(peak.get(key, v), v)
        except (httpx.HTTPError, asyncio.TimeoutError):
            pass
        try:
            await asyncio.wait_for(stop.wait(), _METRICS_EVERY_S)
        except asyncio.TimeoutError:
            pass
