"""Depth cost: prompt tokens the server actually processed during a sweep to depth D,
divided by D (from llama.cpp's own ``timings.prompt_n``), on the real embedded engine.
Goal: <= 1.1 (the growing conversation reuses the prefix cache).

    python bench/depth_cost.py [--depths 0,1024,4096,8192] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rigbench.jobs.run import RunOptions, run_job
from rigbench.measure.plan import parse_depths
from rigbench.measure.points import sweep_cost
from rigbench.model.machine import machine_facts
from rigbench.store import open_store
from rigbench.types import EngineSpec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depths", default="0,1024,4096,8192")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gen-tokens", type=int, default=32)
    args = ap.parse_args()
    m = machine_facts()
    print(f"machine: {m['hostname']} · {m['cpu']} · {m['cores']} cores")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "r.db")
        out = run_job(RunOptions(spec=EngineSpec(kind="embedded"), depths=parse_depths(args.depths),
                                 repeats=args.repeats, gen_tokens=args.gen_tokens, quality=False, db=db))
        store = open_store(db)
        rows = store.requests(out["run_id"])
        store.close()
    print(f"{'depth':>7} {'role':>6} {'prompt':>7} {'cached':>7} {'processed':>9}")
    for r in rows:
        if r["phase"] == "speed":
            t = r["timings"] or {}
            print(f"{r['depth']:>7,} {r['role']:>6} {r['prompt_tokens']:>7,} {t.get('cache_n', 0):>7,} "
                  f"{t.get('prompt_n', 0):>9,}")
    c = sweep_cost(rows)
    print(f"processed {c['processed_tokens']:,} prompt tokens for a sweep to depth {c['deepest']:,} "
          f"({args.repeats} requests per depth): ratio {c['ratio']:.3f} (goal <= 1.1)")


if __name__ == "__main__":
    main()
