"""The energy sampler: threads beside the bench that read every power source and store the
raw readings (table ``energy_samples``) while a run measures.

It is one of the measuring core's monitors (``jobs.lifecycle``: ``start(rec)`` once the run
row exists, ``server_started(rec, session)`` for each server a bench measures, ``stop(rec)``
on every way out), so every command that records a run samples energy the same way.
Readings start at ``start`` (phase "setup": a server loading its model is not idle); the
first ``server_started`` measures the idle baseline (``idle_s`` seconds, the server up and
asked nothing: phase "idle"), and from then on the phase is "run". Readings are written in
batches every ``flush_s`` seconds, so a run killed
halfway keeps what was sampled up to its last batch. A channel that fails five reads in a
row stops, and the run's notes say why in one line; the run goes on. With no source at all
nothing is sampled and the run's ``extra.energy`` keeps what was checked and why each failed
(the card's one Energy line).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

from rigbench.energy.base import PowerSource, SourceUnavailable
from rigbench.energy.detect import Detection
from rigbench.errors import StoreError

__all__ = ["DEFAULT_IDLE_S", "EnergySampler", "Recorded", "sync"]

DEFAULT_IDLE_S = 3.0
_MAX_FAILS = 5
_ACTIVE: dict[int, EnergySampler] = {}  # run id -> its running sampler


def sync(run_id: int) -> None:
    """A fresh reading of every channel of the run's sampler, and everything buffered stored
    now: a figure derived right after a request (tune's energy objective) then has the
    readings that close the request's window. Nothing when no sampler runs for the run."""
    sampler = _ACTIVE.get(run_id)
    if sampler is not None:
        sampler.sync_now()


class Recorded(Protocol):
    """What the sampler needs of a recorded run (jobs.lifecycle.Recording has it)."""

    run_id: int
    store: Any

    def note(self, text: str) -> None: ...

    def merge_extra(self, **values: Any) -> None: ...


def _channels(info: dict[str, Any]) -> list[str]:
    return sorted(f"{c.get('source')} {c.get('channel')}" for c in info.get("sources") or [] if isinstance(c, dict))


def energy_monitors(power_cmd: str | None = None, *, idle_s: float | None = None) -> list[EnergySampler]:
    """The energy monitor for a recorded run, its sources detected now (before the run row:
    a bad ``--power-cmd`` is a usage error that records nothing). Always one monitor: with no
    source it only writes why into the run."""
    from rigbench.energy.detect import detect_sources

    return [EnergySampler(detect_sources(power_cmd), idle_s=DEFAULT_IDLE_S if idle_s is None else idle_s)]


class EnergySampler:
    def __init__(self, detection: Detection, *, idle_s: float = DEFAULT_IDLE_S, flush_s: float = 2.0) -> None:
        self.detection = detection
        self.idle_s = idle_s
        self.flush_s = flush_s
        self.phase = "setup"
        self._idle_done = False
        self._buf: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._problems: list[str] = []
        self._rec: Recorded | None = None
        self._session = 0
        self.samples_written = 0

    # -- the monitor interface -------------------------------------------------------------
    def start(self, rec: Recorded) -> None:
        from rigbench.store.energy import next_energy_session

        self._rec = rec
        _ACTIVE[rec.run_id] = self
        before = ((rec.store.get_run(rec.run_id) or {}).get("extra") or {}).get("energy") if rec.store else None
        now = self.detection.to_json()
        if isinstance(before, dict) and _channels(before) != _channels(now) and _channels(before):
            rec.note(f"energy: this resumed run is read by {', '.join(_channels(now)) or 'nothing'}, its earlier "
                     f"requests by {', '.join(_channels(before))}: a depth measured partly by each mixes them")
        rec.merge_extra(energy={**now, "idle_s": self.idle_s})
        if not self.detection.sources:
            return  # the card's Energy line says why, from what merge_extra stored
        self._session = next_energy_session(rec.store, rec.run_id)
        groups: dict[str, list[PowerSource]] = {}
        for s in self.detection.sources:
            groups.setdefault(s.source, []).append(s)
        for name, chans in groups.items():
            th = threading.Thread(target=self._read_loop, args=(chans,), name=f"rigbench-energy-{name}",
                                  daemon=True)
            self._threads.append(th)
        writer = threading.Thread(target=self._write_loop, name="rigbench-energy-writer", daemon=True)
        for th in [*self._threads, writer]:
            th.start()
        self._threads.append(writer)

    def server_started(self, rec: Recorded, session: Any = None) -> None:
        """The first server is up and asked nothing yet: the idle baseline, once."""
        if self._idle_done or not self._threads:
            return
        self._idle_done = True
        if self.idle_s > 0:
            self.phase = "idle"
            time.sleep(self.idle_s)
        self.phase = "run"

    def sync_now(self) -> None:
        if self._rec is None:
            return
        for ch in self.detection.sources:
            try:
                r = ch.read()
            except Exception:
                continue  # the reader thread counts failures; a missed beat here costs nothing
            with self._lock:
                self._buf.append(self._row(ch, r.t_ns, r.value))
        try:
            self._flush(self._rec)
        except StoreError:
            pass

    def _row(self, ch: PowerSource, t_ns: int, value: float) -> dict[str, Any]:
        return {"session": self._session, "source": ch.source, "channel": ch.channel, "covers": ch.covers,
                "kind": ch.kind, "phase": self.phase, "t_ns": t_ns, "value": value, "wrap": ch.wrap}

    def stop(self, rec: Recorded) -> None:
        _ACTIVE.pop(rec.run_id, None)
        self._stop.set()
        for th in self._threads:
            th.join(timeout=10.0)
        self._threads.clear()
        try:
            self._flush(rec)
        except StoreError as exc:
            self._problems.append(f"energy: the last {len(self._buf)} readings were not stored ({exc.message})")
        for p in self._problems:
            try:
                rec.note(p)
            except StoreError:
                pass
        self.detection.close()

    # -- threads ---------------------------------------------------------------------------
    def _read_loop(self, chans: Sequence[PowerSource]) -> None:
        interval = max(c.interval_s for c in chans)
        fails = dict.fromkeys(range(len(chans)), 0)
        live = list(range(len(chans)))
        next_t = time.monotonic()
        while live:
            last = self._stop.is_set()  # once stopped, one more reading closes every window
            for i in list(live):
                ch = chans[i]
                try:
                    r = ch.read()
                except Exception as exc:
                    fails[i] += 1
                    if fails[i] >= _MAX_FAILS:
                        live.remove(i)
                        why = exc.one_line() if isinstance(exc, SourceUnavailable) else f"{type(exc).__name__}: " \
                            f"{str(exc)[:120]}"
                        self._problems.append(f"energy: {ch.source} {ch.channel} stopped after {_MAX_FAILS} "
                                              f"failed reads in a row ({why})")
                    continue
                fails[i] = 0
                with self._lock:
                    self._buf.append(self._row(ch, r.t_ns, r.value))
            if last:
                return
            next_t += interval
            delay = next_t - time.monotonic()
            if delay < 0:  # a slow read (a power command): keep the pace from now on
                next_t = time.monotonic()
                delay = 0.0
            self._stop.wait(delay)

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_s):
            if self._rec is None:
                continue
            try:
                self._flush(self._rec)
            except StoreError:
                pass  # kept in the buffer: the next flush, or stop(), tries again

    def _flush(self, rec: Recorded) -> None:
        from rigbench.store.energy import add_energy_samples

        with self._lock:
            batch, self._buf = self._buf, []
        try:
            add_energy_samples(rec.store, rec.run_id, batch)
        except StoreError:
            with self._lock:
                self._buf = batch + self._buf
            raise
        self.samples_written += len(batch)
