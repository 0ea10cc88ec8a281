"""The depth sweep: one conversation grows, depth by depth, each request stored as it ends.

At each depth the first request ("grow") extends the shared context from the previous
depth, so the server's prefix cache prefills only the new part; the other repeats
("probe") send the same context with a different short note, so they measure decode at
that depth while prefilling only a few tokens. The cache reuse is verified from the
server's own counters (``timings.cache_n`` or ``usage.cached_tokens``), never assumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.limits import DEFAULT_PREFILL_TOK_S, deadline
from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, RequestError
from rigbench.jobs.progress import Progress
from rigbench.jobs.session import Session
from rigbench.measure.plan import estimate_step
from rigbench.measure.speed import figures, row_from_record
from rigbench.store import Store
from rigbench.types import RequestRecord
from rigbench.workload.text import ContextText, probe_text

__all__ = ["SweepPlan", "cache_check", "observed_chat", "reuse_extra", "run_sweep", "warm_note"]

_CACHE_SLACK = 16  # tokens a server may legitimately re-evaluate at the boundary
PROBE_TOKENS = 48  # the note after the context and the chat template around it


@dataclass
class SweepPlan:
    depths: list[int]
    repeats: int
    gen_tokens: int
    budget_s: float | None
    done: set[tuple[int, int]] = field(default_factory=set)  # (depth, rep) already measured ok


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


def observed_chat(client: ServerClient, messages: list[dict[str, Any]], *, max_tokens: int, seed: int,
                  timeouts: Timeouts) -> tuple[RequestRecord, dict[str, int] | None, int]:
    """One measured request, with the server's counters scraped before and after it where
    it has them (vLLM's prefix-cache hits, every server's token totals): the request, the
    counter increases, and the cache-reuse slack (the server's cache block, at least 16)."""
    before = client.counters()
    rec = client.chat(messages, max_tokens=max_tokens, exact=True, temperature=0.0, seed=seed, timeouts=timeouts)
    after = client.counters() if before is not None else None
    delta = after.delta(before) if after is not None and before is not None else None
    block = (after.block_size if after is not None else None) or 0
    return rec, delta or None, max(_CACHE_SLACK, block)


def reuse_extra(rec: RequestRecord, delta: dict[str, int] | None, expected: int | None, slack: int,
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
            "cache_source": source, "server_metrics": delta, "warm_cache_tokens": warm}


def warm_note(where: str, depth: int, warm: int, rec: RequestRecord, *, first: bool) -> str:
    """The warning for a request that found more of its prompt cached than this run put there."""
    what = "the first request of this run" if first else f"the request that grew the context to {depth:,}"
    of = f" of its {rec.prompt_tokens:,} prompt tokens" if rec.prompt_tokens else ""
    return (f"{where}{what} found {warm:,}{of} in the server's prefix cache beyond what this run had put there "
            f"(an earlier run left them): TTFT and prefill at depth {depth:,} are warm-cache figures "
            "(restart the server for cold ones)")


def run_sweep(session: Session, store: Store, run_id: int, plan: SweepPlan, progress: Progress,
              *, timeouts: Timeouts, note: Any, explicit_timeout: bool = False) -> list[str]:
    """Measure the plan's missing points. Returns the errors of the points that failed
    (and were not measured); an empty list means every planned point is in the store."""
    client = session.client
    text = ContextText(client)
    if text.method == "calibrated":
        cpt = text.calibrate(lambda s: client.chat([{"role": "user", "content": s}], max_tokens=1).prompt_tokens)
        how = (f"calibrated from usage.prompt_tokens ({cpt:.2f} characters per token)" if text.calibrated else
               f"cut at an assumed {cpt:.2f} characters per token (the calibration requests gave no usable "
               "usage.prompt_tokens)")
        note(f"the server has no /tokenize: context lengths {how}; real prompt lengths are recorded per request")
    todo = [(d, r) for d in plan.depths for r in range(plan.repeats) if (d, r) not in plan.done]
    progress.begin(len(todo), "depth sweep")
    t_start = time.monotonic()
    cached_depth: int | None = None  # the context depth the server's cache holds, as far as we know
    last_rates: tuple[float | None, float | None] = (None, None)
    failures = 0
    errors: list[str] = []
    measured = bool(plan.done)
    for i, depth in enumerate(plan.depths):
        reps = [r for r in range(plan.repeats) if (depth, r) not in plan.done]
        if not reps:
            cached_depth = None
            continue
        if plan.budget_s is not None and i > 0 and cached_depth is not None:
            est = estimate_step(depth - cached_depth, len(reps), plan.gen_tokens, *last_rates,
                                depth_from=cached_depth, depth_to=depth)
            left = plan.budget_s - (time.monotonic() - t_start)
            if est is not None and est.seconds > left:
                for d in plan.depths[i:]:
                    note(f"depth {d:,} skipped: the time budget has {max(left, 0):.0f} s left and depth {depth:,} "
                         f"alone needs about {est.seconds:.0f} s (raise it with --budget)")
                progress.end()
                return errors
        context = text.text(depth)
        for rep in reps:
            messages = [{"role": "user", "content": context + probe_text(rep)}]
            expected = cached_depth if (rep == reps[0]) else depth
            role = "grow" if rep == 0 else "probe"
            progress.advance(f"depth {depth:,} · {'grow' if role == 'grow' else 'repeat'} {rep + 1}/{plan.repeats}")
            new_tokens = depth - (expected or 0) + PROBE_TOKENS
            # before the sweep has measured a rate, the slowest the client saw (the warm-up's decode)
            limits = request_timeouts(timeouts, new_tokens, plan.gen_tokens,
                                      last_rates[0] or client.rates.prefill_tok_s,
                                      last_rates[1] or client.rates.decode_tok_s, explicit=explicit_timeout)
            rec, delta, slack = observed_chat(client, messages, max_tokens=plan.gen_tokens, seed=rep,
                                              timeouts=limits)
            extra = reuse_extra(rec, delta, expected, slack, grow=rep == reps[0])
            store.add_request(run_id, rec, phase="speed", depth=depth, rep=rep, role=role, keep_text=False,
                              extra={**extra, "context_method": text.method})
            if extra["cache_verified"] is False:
                note(f"depth {depth:,}: the server re-prefilled the context (cache_n {extra['server_cache_n']} "
                     f"where about {expected:,} tokens were expected to be reused)")
            if extra["warm_cache_tokens"]:
                note(warm_note("", depth, extra["warm_cache_tokens"], rec, first=not measured))
            measured = measured or rec.ok
            if not rec.ok:
                failures += 1
                errors.append(f"depth {depth:,} repeat {rep + 1}: {rec.error}")
                if not session.server_alive():
                    raise EngineError(f"the server died at depth {depth:,}: {rec.error}",
                                      f"read its log ({session.facts.log_path}); resume with --resume {run_id}")
                if failures >= 3:
                    raise RequestError(f"three requests failed, the last at depth {depth:,}: {rec.error}",
                                       f"resume with --resume {run_id} once the server is healthy")
                cached_depth = None
                continue
            failures = 0
            cached_depth = depth
            f = figures(row_from_record(rec))
            if role == "grow" or last_rates[0] is None:
                last_rates = (f.prefill_tok_s or last_rates[0], f.decode_tok_s or last_rates[1])
            else:
                last_rates = (last_rates[0], f.decode_tok_s or last_rates[1])
    progress.end()
    return errors
