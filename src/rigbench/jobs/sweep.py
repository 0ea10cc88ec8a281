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
from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, RequestError
from rigbench.jobs.progress import Progress
from rigbench.jobs.session import Session
from rigbench.measure.plan import estimate_step
from rigbench.measure.speed import figures, row_from_record
from rigbench.store import Store
from rigbench.workload.text import ContextText, probe_text

__all__ = ["SweepPlan", "cache_check", "run_sweep"]

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


def cache_check(cache_n: int | None, expected_reuse: int) -> bool | None:
    """True when the server reused the context we expected it to; None when it cannot tell."""
    if expected_reuse <= 0 or cache_n is None:
        return None
    return cache_n >= expected_reuse - _CACHE_SLACK


def run_sweep(session: Session, store: Store, run_id: int, plan: SweepPlan, progress: Progress,
              *, timeouts: Timeouts, note: Any, explicit_timeout: bool = False) -> list[str]:
    """Measure the plan's missing points. Returns the errors of the points that failed
    (and were not measured); an empty list means every planned point is in the store."""
    client = session.client
    text = ContextText(client)
    if text.method == "calibrated":
        cpt = text.calibrate(lambda s: client.chat([{"role": "user", "content": s}], max_tokens=1).prompt_tokens)
        note(f"the server has no /tokenize: context lengths calibrated from usage.prompt_tokens "
             f"({cpt:.2f} characters per token); real prompt lengths are recorded per request")
    todo = [(d, r) for d in plan.depths for r in range(plan.repeats) if (d, r) not in plan.done]
    progress.begin(len(todo), "depth sweep")
    t_start = time.monotonic()
    cached_depth: int | None = None  # the context depth the server's cache holds, as far as we know
    last_rates: tuple[float | None, float | None] = (None, None)
    failures = 0
    errors: list[str] = []
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
            rec = client.chat(messages, max_tokens=plan.gen_tokens, exact=True, temperature=0.0, seed=rep,
                              timeouts=limits)
            verified = cache_check(rec.server_cache_n(), expected or 0) if rec.ok else None
            store.add_request(run_id, rec, phase="speed", depth=depth, rep=rep, role=role, keep_text=False,
                              extra={"expected_reuse": expected, "cache_verified": verified,
                                     "context_method": text.method})
            if verified is False:
                note(f"depth {depth:,}: the server re-prefilled the context (cache_n {rec.server_cache_n()} "
                     f"where about {expected:,} tokens were expected to be reused)")
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
