"""How many trials does the campaign's search (optuna TPE) need to come within 5% of the
best configuration of a grid? Goal: at most a third of the grid.

The grid is measured once, every configuration on the real embedded engine with the
campaign's own measurement (``rigbench.tune.trial``); then the search is replayed against
that measured table for many seeds, with the campaign's own sampler
(``rigbench.tune.campaign.tpe_sampler``) and its rule that a configuration proposed again
is answered from what was measured, not counted as a new trial. Replaying is a fair and
cheap way to count trials: the search sees exactly the figures a campaign would have.
A seeded random order of the grid is shown beside it for reference.

    python bench/tune_search.py [--space t=1,2 ub=64,128,256,512 b=512] [--seeds 20] [--save T.json]
    python bench/tune_search.py --table T.json     # replay a table measured before
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
from pathlib import Path
from typing import Any

from rigbench.client.stream import Timeouts
from rigbench.jobs.session import open_session
from rigbench.measure.stats import summarize
from rigbench.model.machine import machine_facts
from rigbench.store import open_store
from rigbench.tune.campaign import startup_trials, tpe_sampler
from rigbench.tune.objective import parse_objective, plan_workload
from rigbench.tune.space import Config, Space, parse_space
from rigbench.tune.trial import Bench, measure_trial
from rigbench.types import EngineSpec

WITHIN = 0.05


def measure_grid(space: Space, objective: str, repeats: int) -> dict[str, dict[str, float | None]]:
    """prefill and decode medians for every configuration of the space."""
    table: dict[str, dict[str, float | None]] = {}
    obj = parse_objective(objective)
    timeouts = Timeouts(connect_s=10.0, read_s=300.0, total_s=None)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "r.db")
        run_id = store.create_run(kind="tune", spec=None, params={}, command="bench/tune_search.py",
                                  machine={}, tool_version="bench")
        workload = None
        for i, cfg in enumerate(space.configs()):
            with open_session(EngineSpec(kind="embedded", flags=cfg.flags), Path(tmp), timeouts=timeouts) as s:
                if workload is None:
                    workload = plan_workload(obj, space.max_ubatch(), s.facts.granted_context, repeats)
                    print(f"workload: {workload.prefill_tokens:,}-token prompts, decode of {workload.gen_tokens} "
                          f"tokens at {workload.decode_depth:,}, {repeats} repeats")
                bench = Bench(s, store, run_id, i + 1, workload, timeouts=timeouts)
                bench.prepare()
                figs = measure_trial(bench)
            pre, dec = summarize(figs.prefill), summarize(figs.decode)
            table[cfg.key()] = {"prefill": pre.median, "decode": dec.median}
            print(f"  {cfg.label():<24} prefill {pre.median or 0:7.1f} tok/s   decode {dec.median or 0:6.1f} tok/s")
        store.close()
    return table


def replay_tpe(space: Space, values: dict[str, float], seed: int, target: float, limit: int) -> int | None:
    """Trials (distinct configurations measured) until one is within 5% of the best."""
    import optuna
    from optuna.distributions import BaseDistribution, CategoricalDistribution

    study = optuna.create_study(direction="maximize", sampler=tpe_sampler(seed, space.searched_dims))
    dists: dict[str, BaseDistribution] = {d.name: CategoricalDistribution(list(d.values)) for d in space.dims}
    seen: set[str] = set()
    asks = 0
    while len(seen) < limit and asks < 50 * limit:
        asks += 1
        t = study.ask(dists)
        cfg = space.config({k: str(v) for k, v in t.params.items()})
        study.tell(t, values[cfg.key()])
        if cfg.key() not in seen:
            seen.add(cfg.key())
            if values[cfg.key()] >= target:
                return len(seen)
    return None


def replay_random(keys: list[str], values: dict[str, float], seed: int, target: float) -> int:
    order = list(keys)
    random.Random(seed).shuffle(order)
    return next(i + 1 for i, k in enumerate(order) if values[k] >= target)


def report(space: Space, table: dict[str, dict[str, float | None]], metric: str, seeds: int) -> None:
    values = {k: float(v[metric] or 0.0) for k, v in table.items()}
    best_key = max(values, key=lambda k: values[k])
    target = values[best_key] * (1 - WITHIN)
    good = sum(1 for v in values.values() if v >= target)
    n = len(values)
    labels = {c.key(): c.label() for c in space.configs()}
    print(f"\n{metric}: best {labels[best_key]} at {values[best_key]:.1f} tok/s; {good} of {n} configurations "
          f"are within {WITHIN:.0%} of it")
    tpe = [replay_tpe(space, values, s, target, n) for s in range(seeds)]
    rnd = [replay_random(list(values), values, s, target) for s in range(seeds)]
    found = [x for x in tpe if x is not None]
    print(f"  TPE ({startup_trials(space.searched_dims)} random start-up trials), {seeds} seeds: trials needed "
          f"median {statistics.median(found):.0f}, mean {statistics.mean(found):.2f}, max {max(found)} "
          f"(never found: {seeds - len(found)}); per seed {tpe}")
    print(f"  random order, {seeds} seeds: median {statistics.median(rnd):.0f}, mean {statistics.mean(rnd):.2f}, "
          f"max {max(rnd)}")
    third = math.ceil(n / 3)
    share = sum(1 for x in found if x <= third) / seeds
    print(f"  goal: at most a third of the grid ({third} of {n} trials): met by TPE in {share:.0%} of seeds; "
          f"mean {statistics.mean(found) / n:.0%} of the grid")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--space", nargs="+", default=["t=1,2", "ub=64,128,256,512", "b=512"])
    ap.add_argument("--objective", default="decode@512")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--save", help="write the measured table to this JSON file")
    ap.add_argument("--table", help="replay a table saved with --save instead of measuring")
    args = ap.parse_args()
    m = machine_facts()
    print(f"machine: {m['hostname']} · {m['cpu']} · {m['cores']} cores")
    space = parse_space(args.space)
    print(f"grid: {' '.join(args.space)} ({space.size} configurations), objective {args.objective}; measured "
          "once on the embedded engine, then the search replayed against the measured table")
    if args.table:
        with open(args.table, encoding="utf-8") as f:
            table: dict[str, Any] = json.load(f)
        print(f"table: {args.table} (measured earlier)")
        for cfg in space.configs():
            row = table[cfg.key()]
            print(f"  {cfg.label():<24} prefill {row['prefill'] or 0:7.1f} tok/s   "
                  f"decode {row['decode'] or 0:6.1f} tok/s")
    else:
        table = measure_grid(space, args.objective, args.repeats)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as f:
            json.dump(table, f, indent=1)
    for metric in ("decode", "prefill"):
        report(space, table, metric, args.seeds)
    print("\nnote: the replay counts distinct configurations measured; a configuration the sampler proposes "
          "again is answered from the table, as a campaign answers it from its store")
    _ = Config  # the table's keys are Config.key()


if __name__ == "__main__":
    main()
