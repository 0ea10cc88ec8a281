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

from rigbench.jobs.bench import PROBE_TOKENS, Bench
from rigbench.jobs.progress import Progress
from rigbench.measure.plan import estimate_step
from rigbench.workload.text import probe_text

__all__ = ["PROBE_TOKENS", "SweepPlan", "run_sweep"]


@dataclass
class SweepPlan:
    depths: list[int]
    repeats: int
    gen_tokens: int
    budget_s: float | None
    done: set[tuple[int, int]] = field(default_factory=set)  # (depth, rep) already measured ok


def run_sweep(bench: Bench, plan: SweepPlan, progress: Progress) -> list[str]:
    """Measure the plan's missing points on ``bench``. Returns the errors of the points that
    failed (and were not measured); an empty list means every planned point is in the store."""
    note = bench.rec.note
    text = bench.context_text()
    todo = [(d, r) for d in plan.depths for r in range(plan.repeats) if (d, r) not in plan.done]
    progress.begin(len(todo), "depth sweep")
    t_start = time.monotonic()
    cached_depth: int | None = None  # the context depth the server's cache holds, as far as we know
    errors: list[str] = []
    measured = bool(plan.done)
    for i, depth in enumerate(plan.depths):
        reps = [r for r in range(plan.repeats) if (depth, r) not in plan.done]
        if not reps:
            cached_depth = None
            continue
        if plan.budget_s is not None and i > 0 and cached_depth is not None:
            est = estimate_step(depth - cached_depth, len(reps), plan.gen_tokens, *bench.rates,
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
            expected = cached_depth if (rep == reps[0]) else depth
            role = "grow" if rep == 0 else "probe"
            progress.advance(f"depth {depth:,} · {'grow' if role == 'grow' else 'repeat'} {rep + 1}/{plan.repeats}")
            sent = bench.send([{"role": "user", "content": context + probe_text(rep)}], phase="speed",
                              where=f"depth {depth:,}", max_tokens=plan.gen_tokens, seed=rep, depth=depth, rep=rep,
                              role=role, expected_reuse=expected, grow=rep == reps[0], keep_text=False,
                              new_tokens=depth - (expected or 0) + PROBE_TOKENS,
                              extra={"context_method": text.method})
            bench.cache_notes(sent, depth, first=not measured)
            measured = measured or sent.ok
            if not sent.ok:
                errors.append(f"depth {depth:,} repeat {rep + 1}: {sent.record.error}")
                cached_depth = None
                continue
            cached_depth = depth
    progress.end()
    return errors
