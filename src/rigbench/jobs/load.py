"""The load schedule: concurrency levels, each N streams at once over the servers of a run.

Per level: each stream gets its own conversation (a distinct first line, then the bundled
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.limits import deadline
from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, RequestError, UsageError
from rigbench.jobs.pool import ClosedLoop, LevelRun, Once, Poisson, Shot, Strategy, Target, run_streams
from rigbench.jobs.progress import Progress
from rigbench.store import Store
from rigbench.workload.text import ContextText

__all__ = ["LoadPlan", "LoadServer", "measure_levels", "parse_concurrency", "target_of"]

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


class LoadServer:
    """One server of a load run, as the schedule needs it."""

    def __init__(self, client: ServerClient, alive: Callable[[], bool], name: str) -> None:
        self.client = client
        self.alive = alive
        self.name = name


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


def target_of(client: ServerClient) -> Target:
    metrics = client.root + "/metrics" if client.metrics_dialect is not None else None
    return Target(client.chat_url, client.headers, metrics, client.metrics_dialect)


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


def _timeouts_for(client: ServerClient, base: Timeouts, n: int, explicit: bool) -> Callable[[dict[str, Any]], Timeouts]:
    """A request's deadline at level N: the slowest single-stream rates measured on this
    server divided by N (N streams share it; past its slots they queue), margin and floor as
    every request (``client.limits.deadline``); the stall limit grows with the prefill."""
    pre = client.rates.prefill_tok_s / n if client.rates.prefill_tok_s else None
    dec = client.rates.decode_tok_s / n if client.rates.decode_tok_s else None

    def make(body: dict[str, Any]) -> Timeouts:
        from rigbench.client.limits import asked_tokens, prompt_tokens_upper

        new = prompt_tokens_upper(body)  # generous: most of it is cached
        gen = asked_tokens(body) or 0
        read = base.read_s if explicit else max(base.read_s, 3 * new / (pre or 20.0) + 60.0)
        d = deadline(new, gen, pre, dec, read)
        return Timeouts(base.connect_s, read, d.total_s, d.basis)

    return make


def measure_levels(servers: Sequence[LoadServer], store: Store, run_id: int, plan: LoadPlan, progress: Progress,
                   *, timeouts: Timeouts, note: Callable[[str], None],
                   merge_level: Callable[[int, dict[str, Any]], None], seed: int = 0) -> None:
    """Measure every level of the plan not yet done; raise when a server dies or a whole
    level fails (finished levels stay stored and marked)."""
    first = servers[0].client
    text = ContextText(first)
    if text.method == "calibrated":
        cpt = text.calibrate(lambda s: first.chat([{"role": "user", "content": s}], max_tokens=1).prompt_tokens)
        note(f"the server has no /tokenize: contexts cut at {cpt:.2f} characters per token (calibrated); "
             "real prompt lengths are recorded per request")
    context = text.text(plan.depth)
    targets = [target_of(s.client) for s in servers]
    todo = [n for n in plan.concurrency if n not in plan.done]
    progress.begin(sum(plan.requests * n for n in todo), "load levels")
    for n in todo:
        if not _one_level(servers, targets, store, run_id, plan, n, context, progress, timeouts, merge_level, note,
                          seed):
            break


def _one_level(servers: Sequence[LoadServer], targets: Sequence[Target], store: Store, run_id: int,
               plan: LoadPlan, n: int, context: str, progress: Progress, timeouts: Timeouts,
               merge_level: Callable[[int, dict[str, Any]], None], note: Callable[[str], None], seed: int) -> bool:
    conv = _Conversations(n, context)
    explicit = plan.timeout_s is not None
    deadlines = [_timeouts_for(s.client, timeouts, n, explicit) for s in servers]
    base_extra = {"level": n, "strategy": plan.strategy(n).name, "rate": plan.rate, "attempt": plan.attempt}

    def body(s: int, k: int | None) -> dict[str, Any]:
        client = servers[s % len(servers)].client
        msgs = conv.history[s] if k is None else conv.messages(s, k)
        return client.chat_body(msgs, max_tokens=PRIME_TOKENS if k is None else plan.gen_tokens, exact=True,
                                temperature=0.0, seed=seed + s)

    def timeouts_for(b: dict[str, Any]) -> Timeouts:
        return deadlines[0](b)

    # 1. prime every stream's context (unmeasured, stored)
    progress.advance(f"{n} stream{'s' if n > 1 else ''}: priming each context ({plan.depth:,} tokens)")

    def primed(shot: Shot) -> None:
        if shot.record.ok:
            conv.answered(shot.stream, None, shot.record.content)

    prime = run_streams(targets, Once(n), lambda s, _k: body(s, None), primed, timeouts_for=timeouts_for,
                        sample_gauges=False)
    for shot in prime.shots:
        store.add_request(run_id, shot.record, phase="load_prime", depth=plan.depth, rep=None,
                          role=f"c{n}:s{shot.stream}", keep_text=False,
                          extra={**base_extra, "stream": shot.stream, "server": shot.server})
    _check_alive(servers, n, run_id, [s.record for s in prime.shots])
    if not any(s.record.ok for s in prime.shots):
        err = next((s.record.error for s in prime.shots if s.record.error), "no answer")
        raise RequestError(f"no stream of level {n} could prime its context: {err}",
                           f"check the server, then rigbench load --resume {run_id}")
    # 2. the level, between two scrapes of every server's counters
    before = [s.client.counters() for s in servers]
    strategy = plan.strategy(n)

    def answered(shot: Shot) -> None:
        if shot.record.ok:
            conv.answered(shot.stream, shot.index, shot.record.content)
        progress.advance(f"{n} stream{'s' if n > 1 else ''}: {strategy.name} loop")

    t_wall = time.time()
    level: LevelRun = run_streams(targets, strategy, lambda s, k: body(s, k), answered, timeouts_for=timeouts_for)
    after = [s.client.counters() for s in servers]
    for shot in sorted(level.shots, key=lambda sh: sh.record.t_sent_ns):
        store.add_request(run_id, shot.record, phase="load", depth=plan.depth, rep=shot.index,
                          role=f"c{n}:s{shot.stream}", keep_text=False,
                          extra={**base_extra, "stream": shot.stream, "server": shot.server})
    _check_alive(servers, n, run_id, [s.record for s in level.shots])
    scrapes = [{"server": i, "before": b.to_json() if b else None, "after": a.to_json() if a else None,
                "peak": level.peaks[i] or None} for i, (b, a) in enumerate(zip(before, after, strict=True))]
    merge_level(n, {"concurrency": n, "planned": strategy.planned(), "attempt": plan.attempt, "done": True,
                    "strategy": strategy.name, "rate": plan.rate, "scrapes": scrapes, "started_at": t_wall})
    if level.shots and not any(s.record.ok for s in level.shots):
        err = next((s.record.error for s in level.shots if s.record.error), "no answer")
        note(f"every request at {n} streams failed ({err}): higher levels were not tried")
        return False
    return True


def _check_alive(servers: Sequence[LoadServer], n: int, run_id: int, records: Sequence[Any]) -> None:
    """After a level with failures: a server that died (its process, or no longer answering)
    ends the run; the level is then not marked done (its rows are kept, not used)."""
    if all(r.ok for r in records):
        return
    for s in servers:
        if not s.alive() or not s.client.reachable():
            err = next((r.error for r in records if r.error), "no answer")
            raise EngineError(f"the server {s.name} died at {n} streams: {err}",
                              f"finished levels are kept; rigbench load --resume {run_id} measures the rest")
