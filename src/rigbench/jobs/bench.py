"""The one conversation bench: every measured request of every command goes through here.

A ``Bench`` is one server (a ``Session``) inside one recorded run (``jobs.lifecycle``). It
owns what every schedule needs and what used to be copied into each of them:

- the warm-up request (``warm_up``), stored, one error type when it fails;
- the context text cut to exact token counts, calibrated once from ``usage.prompt_tokens``
  when the server has no ``/tokenize`` (``context_text``), with the note that says so;
- ``send``: one measured request between two scrapes of the server's counters (where it
  has them), its cache reuse checked against what the schedule expected (the response's
  ``timings.cache_n`` / ``usage.cached_tokens``, else ``/metrics`` prefix-cache hits),
  its deadline scaled to the work it asks for at the rates this bench measured so far,
  stored as it ends, then fed to the one failure guard (the server died, or three
  requests failed in a row: stop with an error that says so);
- the rates measured so far, for the next deadline.

Many requests at once (``send_concurrent``, for ``rigbench load``): N streams over one or
several benches on one event loop (``jobs.pool``), each read by the same stream reader as
``send`` (``client.stream.StreamReader``), each with a deadline from this bench's rates
shared N ways, stored together when the level ends (a write in the loop would hold every
other stream's clock), then checked by the guard (a dead server stops the run; a refused
request, such as a 503 from a server out of slots, is data).

The depth sweep (``jobs.sweep``), the agent session (``jobs.agent``), the interleaved
compare (``jobs.compare``), the tuning trial (``tune.trial``), the lab pairs (``lab.job``),
the load levels (``jobs.load``), the quality pass (``quality.runner``) with its judge (a
bench of its own on the judge's URL, ``quality.judge``) and the quality gates of tune and
lab (``tune.gate``) are schedules over it: they decide which requests, in which order, on
which bench. Figures are never computed here for a card: they are derived from the stored rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rigbench.client.limits import DEFAULT_PREFILL_TOK_S, deadline
from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, RequestError
from rigbench.jobs.lifecycle import Recording
from rigbench.jobs.pool import LevelRun, Shot, Strategy, Target, run_streams
from rigbench.jobs.session import Session
from rigbench.measure.speed import RequestFigures, figures, row_from_record
from rigbench.types import RequestRecord
from rigbench.workload.text import ContextText

__all__ = ["PROBE_TOKENS", "Bench", "FailureGuard", "Sent", "cache_check", "request_timeouts", "send_concurrent",
           "warm_note"]

_CACHE_SLACK = 16  # tokens a server may legitimately re-evaluate at the boundary
PROBE_TOKENS = 48  # the note after the context and the chat template around it
_GROW_TOKENS = 256  # a request that prefilled at least this many new tokens sets the prefill rate


def request_timeouts(base: Timeouts, new_tokens: int, gen_tokens: int, prefill_tok_s: float | None,
                     decode_tok_s: float | None, *, explicit: bool) -> Timeouts:
    """A server sends nothing while it prefills, so the silence allowed before the first
    token grows with the prompt: three times the expected prefill (at the last measured
    rate, or a pessimistic 20 tok/s before any is known) plus a minute; an explicit
    ``--timeout`` is taken as given. The total deadline (``client.limits.deadline``) is
    always set, and ``--timeout`` raises it."""
    prefill_s = new_tokens / (prefill_tok_s or DEFAULT_PREFILL_TOK_S)
    read = base.read_s if explicit else max(base.read_s, 3 * prefill_s + 60.0)
    d = deadline(new_tokens, gen_tokens, prefill_tok_s, decode_tok_s, read)
    return Timeouts(connect_s=base.connect_s, read_s=read, total_s=d.total_s, total_basis=d.basis)


def cache_check(cache_n: int | None, expected_reuse: int, slack: int = _CACHE_SLACK) -> bool | None:
    """True when the server reused the context we expected it to; None when it cannot tell."""
    if expected_reuse <= 0 or cache_n is None:
        return None
    return cache_n >= expected_reuse - slack


def reuse_extra(rec: RequestRecord, delta: Mapping[str, int] | None, expected: int | None, slack: int,
                *, grow: bool) -> dict[str, Any]:
    """What a request's stored ``extra`` says about the cache: the reuse expected, the reuse
    the server reported (its response's cache counts, else its /metrics prefix-cache hits),
    whether that verifies the reuse, and, on a request that extends the context, tokens
    found cached beyond what this run put there (a warm cache from an earlier run)."""
    cache_n = rec.server_cache_n()
    source = "response" if cache_n is not None else None
    if cache_n is None and delta and "prefix_cache_hits" in delta:
        cache_n, source = delta["prefix_cache_hits"], "metrics"
    verified = cache_check(cache_n, expected or 0, slack) if rec.ok else None
    warm = None
    if grow and rec.ok and cache_n is not None and cache_n > (expected or 0) + 2 * slack:
        warm = cache_n - (expected or 0)
    return {"expected_reuse": expected, "cache_verified": verified, "server_cache_n": cache_n,
            "cache_source": source, "server_metrics": dict(delta) if delta else None, "warm_cache_tokens": warm}


def warm_note(where: str, depth: int, warm: int, rec: RequestRecord, *, first: bool) -> str:
    """The warning for a request that found more of its prompt cached than this run put there."""
    what = "the first request of this run" if first else f"the request that grew the context to {depth:,}"
    of = f" of its {rec.prompt_tokens:,} prompt tokens" if rec.prompt_tokens else ""
    return (f"{where}{what} found {warm:,}{of} in the server's prefix cache beyond what this run had put there "
            f"(an earlier run left them): TTFT and prefill at depth {depth:,} are warm-cache figures "
            "(restart the server for cold ones)")


class FailureGuard:
    """Stops a schedule whose server died, or whose requests keep failing, with an error that
    says so: the one guard of every schedule."""

    def __init__(self, session: Session, what: str = "", limit: int = 3) -> None:
        self.session, self.what, self.limit, self.failures = session, what, limit, 0

    def check(self, rec: RequestRecord, where: str) -> None:
        if rec.ok:
            self.failures = 0
            return
        self.failures += 1
        if not self.session.server_alive():
            raise EngineError(f"the {self.what}server died at {where}: {rec.error}",
                              f"read its log ({self.session.facts.log_path})")
        if self.failures >= self.limit:
            raise RequestError(f"three requests failed in a row, the last at {where}: {rec.error}",
                               "check that the server is healthy")


@dataclass(frozen=True)
class Sent:
    """One request as sent and stored: the record, what was stored beside it, its row id."""

    record: RequestRecord
    extra: dict[str, Any]
    request_id: int

    @property
    def ok(self) -> bool:
        return self.record.ok

    def figures(self) -> RequestFigures:
        return figures(row_from_record(self.record))


class Bench:
    """One server inside one recorded run."""

    def __init__(self, rec: Recording, session: Session, *, name: str | None = None, timeouts: Timeouts,
                 explicit_timeout: bool = False, label: str | None = None) -> None:
        self.rec, self.session, self.name = rec, session, name
        self.timeouts, self.explicit = timeouts, explicit_timeout
        self.label = label if label is not None else (f"{name.upper()} " if name else "")  # "A ", "baseline "
        self.guard = FailureGuard(session, self.label)
        self.rates: tuple[float | None, float | None] = (None, None)  # prefill, decode measured by this bench
        self._text: ContextText | None = None
        rec.server_started(session)

    @property
    def client(self) -> ServerClient:
        return self.session.client

    # -- set-up -----------------------------------------------------------------------------
    def warm_up(self, *, phase: str = "warmup", role: str | None = None,
                extra: Mapping[str, Any] | None = None) -> RequestRecord:
        """One short request, stored, before anything is measured; the server must answer it."""
        warm = self.client.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, timeouts=self.timeouts)
        self.rec.store.add_request(self.rec.run_id, warm, phase=phase, role=role if role is not None else self.name,
                                   keep_text=phase == "warmup", extra=dict(extra) if extra else None)
        if not warm.ok:
            to = f" to {self.label.strip()}" if self.label.strip() else ""
            raise RequestError(f"the warm-up request{to} failed: {warm.error}",
                               f"check that the server can answer a chat completion (its log: "
                               f"{self.session.facts.log_path or 'none'})")
        return warm

    def context_text(self, note: Callable[[str], None] | None = None) -> ContextText:
        """The bundled text, cut to exact token counts by the server's tokenizer, or calibrated
        once from ``usage.prompt_tokens`` where the server has no /tokenize (noted)."""
        if self._text is None:
            client = self.client
            text = ContextText(client)
            if text.method == "calibrated":
                cpt = text.calibrate(lambda s: client.chat([{"role": "user", "content": s}],
                                                           max_tokens=1).prompt_tokens)
                how = (f"calibrated from usage.prompt_tokens ({cpt:.2f} characters per token)" if text.calibrated
                       else f"cut at an assumed {cpt:.2f} characters per token (the calibration requests gave no "
                            "usable usage.prompt_tokens)")
                (note or self.rec.note)(f"{self.label}the server has no /tokenize: context lengths {how}; real "
                                        "prompt lengths are recorded per request")
            self._text = text
        return self._text

    def limits(self, new_tokens: int | None, gen_tokens: int) -> Timeouts:
        """The timeouts of a request that prefills ``new_tokens`` and generates ``gen_tokens``:
        scaled to the work at this bench's rates (before it has any, the slowest the client saw)."""
        if new_tokens is None:
            return self.timeouts
        seen = self.client.rates
        return request_timeouts(self.timeouts, new_tokens, gen_tokens, self.rates[0] or seen.prefill_tok_s,
                                self.rates[1] or seen.decode_tok_s, explicit=self.explicit)

    # -- one measured request ----------------------------------------------------------------
    def send(self, messages: Sequence[Mapping[str, Any]] | None = None, *, prompt: str | None = None,
             phase: str, where: str, max_tokens: int, seed: int, depth: int | None = None, rep: int | None = None,
             role: str | None = None, expected_reuse: int | None = None, grow: bool = False,
             new_tokens: int | None = None, scrape: bool = True, keep_text: bool = True,
             extra: Mapping[str, Any] | None = None, params: Mapping[str, Any] | None = None,
             annotate: Callable[[RequestRecord], Mapping[str, Any]] | None = None, guard: bool = True,
             exact: bool = True) -> Sent:
        """Send one request (chat ``messages`` or a raw completion ``prompt``), store it with
        its cache evidence, ``extra`` and what ``annotate`` says of the answer (it sees the
        record before it is stored, and may complete it), update the rates, then apply the
        failure guard (after storing: a failed request is kept as evidence). A chat request
        asks for exactly ``max_tokens`` where the server can (speed); ``exact=False`` lets the
        model end its answer (quality)."""
        client = self.client
        before = client.counters() if scrape else None
        timeouts = self.limits(new_tokens, max_tokens)
        kw: dict[str, Any] = {"temperature": 0.0, "seed": seed, **(params or {})}
        if prompt is not None:
            rec = client.complete(prompt, max_tokens=max_tokens, timeouts=timeouts, **kw)
        else:
            rec = client.chat([dict(m) for m in messages or ()], max_tokens=max_tokens, exact=exact,
                              timeouts=timeouts, **kw)
        after = client.counters() if before is not None else None
        delta = after.delta(before) if after is not None and before is not None else None
        slack = max(_CACHE_SLACK, (after.block_size if after is not None else None) or 0)
        stored: dict[str, Any] = {}
        if scrape or expected_reuse is not None:
            stored = reuse_extra(rec, delta or None, expected_reuse, slack, grow=grow)
        stored.update(extra or {})
        if annotate is not None:
            stored.update(annotate(rec))
        rid = self.rec.store.add_request(self.rec.run_id, rec, phase=phase, depth=depth, rep=rep, role=role,
                                         keep_text=keep_text, extra=stored)
        if rec.ok:
            f = figures(row_from_record(rec))
            prefilled = f.processed_tokens or 0
            prefill = f.prefill_tok_s if (prefilled >= _GROW_TOKENS or self.rates[0] is None) else None
            self.rates = (prefill or self.rates[0], f.decode_tok_s or self.rates[1])
        if guard:
            self.guard.check(rec, where)
        return Sent(rec, stored, rid)

    # -- many requests at once (rigbench load) -------------------------------------------------
    def target(self) -> Target:
        """This server as the pool reaches it (the chat URL, the headers, /metrics for the gauges)."""
        client = self.client
        metrics = client.root + "/metrics" if client.metrics_dialect is not None else None
        return Target(client.chat_url, client.headers, metrics, client.metrics_dialect)

    def chat_body(self, messages: Sequence[Mapping[str, Any]], *, max_tokens: int, seed: int) -> dict[str, Any]:
        """A measured chat request's body, as ``send`` makes it (exact length, greedy, seeded)."""
        return self.client.chat_body([dict(m) for m in messages], max_tokens=max_tokens, exact=True,
                                     temperature=0.0, seed=seed)

    def shared_limits(self, streams: int) -> Callable[[dict[str, Any]], Timeouts]:
        """Timeouts of a request sent with ``streams`` others at once: the work it asks for at
        this bench's rates divided among the streams (past the server's slots they queue,
        and a stream then waits for the others: the same factor covers it)."""
        from rigbench.client.limits import asked_tokens, prompt_tokens_upper

        seen = self.client.rates
        pre, dec = self.rates[0] or seen.prefill_tok_s, self.rates[1] or seen.decode_tok_s
        pre = pre / streams if pre else None
        dec = dec / streams if dec else None

        def make(body: dict[str, Any]) -> Timeouts:  # every prompt token counted as new: generous
            return request_timeouts(self.timeouts, prompt_tokens_upper(body), asked_tokens(body) or 0, pre, dec,
                                    explicit=self.explicit)

        return make

    def store_shot(self, shot: Shot, *, phase: str, depth: int | None, role: str,
                   extra: Mapping[str, Any] | None = None) -> int:
        return self.rec.store.add_request(self.rec.run_id, shot.record, phase=phase, depth=depth, rep=shot.index,
                                          role=role, keep_text=False, extra=dict(extra or {}))

    def check_alive(self, records: Sequence[RequestRecord], where: str) -> None:
        """The guard after requests sent at once: when any failed, a server that died (its
        process, or it no longer answers its model list) stops the run with an error."""
        failed = [r for r in records if not r.ok]
        if not failed:
            return
        if not self.session.server_alive() or not self.client.reachable():
            raise EngineError(f"the {self.label}server died at {where}: {failed[0].error}",
                              f"read its log ({self.session.facts.log_path})" if self.session.facts.log_path
                              else "check the server")

    def cache_notes(self, sent: Sent, depth: int, *, first: bool) -> None:
        """The notes a grow/probe request earns: the server re-prefilled what it should have
        reused, or found more cached than this run put there."""
        x = sent.extra
        if x.get("cache_verified") is False:
            self.rec.note(f"{self.label}{'at ' if self.label else ''}depth {depth:,}: the server re-prefilled the "
                          f"context (cache_n {x.get('server_cache_n')} where about {x.get('expected_reuse') or 0:,} "
                          "tokens were expected to be reused)")
        if x.get("warm_cache_tokens"):
            self.rec.note(warm_note(f"{self.label.strip()}: " if self.label else "", depth,
                                    int(x["warm_cache_tokens"]), sent.record, first=first))


def send_concurrent(benches: Sequence[Bench], strategy: Strategy,
                    body_for: Callable[[Bench, int, int], dict[str, Any]], on_done: Callable[[Shot], None], *,
                    sample_gauges: bool = True) -> LevelRun:
    """Run ``strategy`` over the benches at once (stream s on bench s mod len(benches)):
    ``body_for(bench, stream, index)`` builds each request when it is sent; ``on_done`` hears
    each as it ends (in the loop: quick, no I/O). Nothing is stored here: the caller stores
    the level's shots with ``Bench.store_shot`` once it has ended, then ``check_alive``."""
    limits = [b.shared_limits(strategy.concurrency) for b in benches]

    def timeouts_for(server: int, body: dict[str, Any]) -> Timeouts:
        return limits[server](body)

    return run_streams([b.target() for b in benches], strategy,
                       lambda s, k: body_for(benches[s % len(benches)], s, k), on_done,
                       timeouts_for=timeouts_for, sample_gauges=sample_gauges)
