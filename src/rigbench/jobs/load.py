"""The load schedule: concurrency levels, each N streams at once over the servers of a run.

A schedule over the one bench (``jobs.bench``, its concurrent send): per level, each stream
gets its own conversation (a distinct first line, then the bundled
text to ``depth`` tokens), primed by one unmeasured request (stored, ``phase="load_prime"``)
so its prefix is in the server's cache as an agent's is; the server's ``/metrics`` is
scraped; the strategy runs (closed loop, or Poisson arrivals with ``--rate``), each stream
growing its conversation with every answer; ``/metrics`` is scraped again. The level's
requests are then stored together (``phase="load"``; ``depth`` = D, ``rep`` = the request's
index in its stream, ``role`` = ``"c{N}:s{stream}"``, ``extra`` = level, stream, server,
strategy, attempt), and the level is marked done in the run's ``extra["load"]["levels"]``
with its scrapes. A level is the unit of resume: a run that dies inside one keeps every
finished level, and ``--resume`` measures the rest (a half-measured level again, whole: its
figures need all its streams at once; rows of an unfinished attempt are kept but not used).

Every figure comes later, on read, from those rows (``measure/load.py``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench.errors import RequestError, UsageError
from rigbench.jobs.bench import Bench, send_concurrent
from rigbench.jobs.lifecycle import Recording
from rigbench.jobs.pool import ClosedLoop, LevelRun, Once, Poisson, Shot, Strategy
from rigbench.jobs.progress import Progress

__all__ = ["LoadPlan", "measure_levels", "parse_concurrency"]

NOTE_TOKENS = 32  # a user turn's note and the chat template around it
PRIME_TOKENS = 8  # what the priming request generates


@dataclass
class LoadPlan:
    concurrency: list[int]
    depth: int
    gen_tokens: int
    requests: int
    rate: float | None = None
    seed: int = 0
    timeout_s: float | None = None
    done: set[int] = field(default_factory=set)  # levels already measured
    attempt: int = 0

    def strategy(self, n: int) -> Strategy:
        if self.rate:
            return Poisson(n, self.requests, self.rate, seed=self.seed + n)
        return ClosedLoop(n, self.requests)

    def context_needed(self) -> int:
        """Tokens one stream's conversation reaches: its context, the priming turn, and every request."""
        return self.depth + PRIME_TOKENS + NOTE_TOKENS + self.requests * (self.gen_tokens + NOTE_TOKENS)


def parse_concurrency(text: str) -> list[int]:
    """``"1,2,4,8"`` -> [1, 2, 4, 8] (sorted, each once); anything else: one clear error."""
    out: set[int] = set()
    for part in text.split(","):
        p = part.strip()
        if not p:
            continue
        if not p.isdigit() or int(p) < 1:
            raise UsageError(f"--concurrency takes positive whole numbers, not {p!r}", "e.g. --concurrency 1,2,4,8")
        if int(p) > 4096:
            raise UsageError(f"--concurrency {p} is more streams than one client process drives", "use at most 4096")
        out.add(int(p))
    if not out:
        raise UsageError("--concurrency is empty", "e.g. --concurrency 1,2,4,8")
    return sorted(out)


def _opening(n: int, s: int) -> str:
    return f"[Agent {s + 1} of {n}] You are one of several agents sharing this machine. Read the text below.\n\n"


def _note(k: int) -> str:
    return f"[Step {k + 1}] Continue the story from where it stops."


class _Conversations:
    """Each stream's growing conversation (history grows only with answers that came back ok)."""

    def __init__(self, n: int, context: str) -> None:
        self.history: list[list[dict[str, Any]]] = [
            [{"role": "user", "content": _opening(n, s) + context + "\n\n" + _note(0)}] for s in range(n)]
        self.primed = [False] * n

    def messages(self, s: int, k: int) -> list[dict[str, Any]]:
        return [*self.history[s], {"role": "user", "content": _note(k + 1)}]

    def answered(self, s: int, k: int | None, content: str) -> None:
        if k is None:  # the priming answer
            self.history[s].append({"role": "assistant", "content": content})
            self.primed[s] = True
        else:
            self.history[s] += [{"role": "user", "content": _note(k + 1)}, {"role": "assistant", "content": content}]


def measure_levels(benches: Sequence[Bench], plan: LoadPlan, progress: Progress) -> None:
    """Measure every level of the plan not yet done, over the benches (one per server); a
    dead server stops the run with an error (finished levels stay stored and marked)."""
    context = benches[0].context_text().text(plan.depth)
    todo = [n for n in plan.concurrency if n not in plan.done]
    progress.begin(sum(plan.requests * n for n in todo), "load levels")
    for n in todo:
        if not _one_level(benches, plan, n, context, progress):
            break


def _one_level(benches: Sequence[Bench], plan: LoadPlan, n: int, context: str, progress: Progress) -> bool:
    """One level: prime every stream, then the strategy between two scrapes; False when every
    request failed (higher levels are then not tried)."""
    rec = benches[0].rec
    conv = _Conversations(n, context)
    strategy = plan.strategy(n)
    base = {"level": n, "strategy": strategy.name, "rate": plan.rate, "attempt": plan.attempt}
    streams = f"{n} stream{'s' if n > 1 else ''}"

    def body(bench: Bench, s: int, k: int | None) -> dict[str, Any]:
        msgs = conv.history[s] if k is None else conv.messages(s, k)
        return bench.chat_body(msgs, max_tokens=PRIME_TOKENS if k is None else plan.gen_tokens,
                               seed=plan.seed + s)

    def store(shots: Sequence[Shot], phase: str) -> None:
        for shot in sorted(shots, key=lambda sh: sh.record.t_sent_ns):
            benches[shot.server].store_shot(shot, phase=phase, depth=plan.depth, role=f"c{n}:s{shot.stream}",
                                            extra={**base, "stream": shot.stream, "server": shot.server})

    def check(shots: Sequence[Shot]) -> None:
        for i, b in enumerate(benches):
            b.check_alive([sh.record for sh in shots if sh.server == i], f"{streams}")

    # 1. prime every stream's context (unmeasured, stored)
    progress.advance(f"{streams}: priming each context ({plan.depth:,} tokens)")

    def primed(shot: Shot) -> None:
        if shot.record.ok:
            conv.answered(shot.stream, None, shot.record.content)

    prime = send_concurrent(benches, Once(n), lambda b, s, _k: body(b, s, None), primed, sample_gauges=False)
    store(prime.shots, "load_prime")
    check(prime.shots)
    if not any(sh.record.ok for sh in prime.shots):
        err = next((sh.record.error for sh in prime.shots if sh.record.error), "no answer")
        raise RequestError(f"no stream of level {n} could prime its context: {err}", "check the server")
    # 2. the level, between two scrapes of every server's counters
    before = [b.client.counters() for b in benches]

    def answered(shot: Shot) -> None:
        if shot.record.ok:
            conv.answered(shot.stream, shot.index, shot.record.content)
        progress.advance(f"{streams}: {strategy.name} loop")

    t_wall = time.time()
    level: LevelRun = send_concurrent(benches, strategy, body, answered)
    after = [b.client.counters() for b in benches]
    store(level.shots, "load")
    check(level.shots)  # a level whose server died is not marked done: --resume measures it again
    scrapes = [{"server": i, "before": b.to_json() if b else None, "after": a.to_json() if a else None,
                "peak": level.peaks[i] or None} for i, (b, a) in enumerate(zip(before, after, strict=True))]
    _mark_level(rec, n, {"concurrency": n, "planned": strategy.planned(), "attempt": plan.attempt, "done": True,
                         "strategy": strategy.name, "rate": plan.rate, "scrapes": scrapes, "started_at": t_wall})
    if level.shots and not any(sh.record.ok for sh in level.shots):
        err = next((sh.record.error for sh in level.shots if sh.record.error), "no answer")
        rec.note(f"every request at {streams} failed ({err}): higher levels were not tried")
        return False
    return True


def _mark_level(rec: Recording, n: int, info: dict[str, Any]) -> None:
    load = dict(rec.run().get("extra", {}).get("load") or {})
    load["levels"] = {**(load.get("levels") or {}), str(n): info}
    rec.merge_extra(load=load)
