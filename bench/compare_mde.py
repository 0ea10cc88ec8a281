"""The smallest difference ``rigbench compare`` can detect on this machine, with the
embedded engine and the bundled model.

Two comparisons, each interleaved A B A B with the same prompts:
  1. a configuration against itself (``embedded:t=1`` vs ``embedded:t=1``): must come
     out ``no_difference``; its CI half-width is the minimum detectable effect (MDE);
  2. one thread against two (``embedded:t=1`` vs ``embedded:t=2``): must come out
     ``b_faster`` on a machine with two free cores.

    python bench/compare_mde.py [--depths 0,1024] [--repeats 8] [--gen-tokens 64]

Two threads only beat one when both cores are free: a llama.cpp thread pool whose
threads are preempted waits at every barrier. So the script also measures what the
*other* processes on the machine used while each comparison ran (CPU-seconds, sampled
every second) and prints it beside the verdict.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from rigbench.jobs.compare import CompareOptions, compare_job, parse_side
from rigbench.measure.plan import parse_depths
from rigbench.model.machine import machine_facts


def _compare(a: str, b: str, depths: list[int], repeats: int, gen: int, db: str) -> dict[str, Any]:
    t0 = time.monotonic()
    out = compare_job(CompareOptions(a=parse_side(a, "a"), b=parse_side(b, "b"), depths=depths, repeats=repeats,
                                     gen_tokens=gen, db=db, command=f"bench/compare_mde.py {a} {b}"))
    out["wall_s"] = time.monotonic() - t0
    out["other_cores"] = (out.get("other_load") or {}).get("cores_busy", 0.0)
    return out


def _show(title: str, out: dict[str, Any], goal: str) -> bool:
    print(f"\n{title}  ({out['wall_s']:.0f} s, {out['pairs']} pairs; other processes kept "
          f"{out['other_cores']:.2f} of {psutil.cpu_count()} cores busy meanwhile)")
    print(f"{'depth':>7} {'A dec':>7} {'B dec':>7} {'B/A':>7} {'95% CI':>15} {'MDE':>7}  verdict")
    for p in out["depths"]:
        ci = p["ci"]
        ci_s = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "—"
        mde = f"±{p['mde_pct']:.1f}%" if p["mde_pct"] is not None else "—"
        print(f"{p['depth']:>7,} {p['a_decode_tok_s'] or 0:>7.1f} {p['b_decode_tok_s'] or 0:>7.1f} "
              f"{p['ratio'] or 0:>7.3f} {ci_s:>15} {mde:>7}  {p['verdict']}")
    ci = out["ci"]
    ci_s = f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "—"
    mde = f"±{out['mde_pct']:.1f}%" if out["mde_pct"] is not None else "—"
    ok = bool(out["verdict"] == goal)
    print(f"{'pooled':>7} {'':>7} {'':>7} {out['ratio'] or 0:>7.3f} {ci_s:>15} {mde:>7}  {out['verdict']} "
          f"(goal {goal}: {'ok' if ok else 'MISSED'})")
    return ok


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--depths", default="0,1024")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--gen-tokens", type=int, default=64)
    args = ap.parse_args()
    depths = parse_depths(args.depths)
    m = machine_facts()
    print(f"machine: {m['hostname']} · {m['cpu']} · {m['cores']} cores")
    print(f"depths {args.depths}, {args.repeats} pairs per depth, {args.gen_tokens} tokens per request")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "r.db")
        two = _compare("embedded:t=1", "embedded:t=2", depths, args.repeats, args.gen_tokens, db)
        same = _compare("embedded:t=1", "embedded:t=1", depths, args.repeats, args.gen_tokens, db)
    ok_same = _show("embedded:t=1 vs embedded:t=1 (itself)", same, "no_difference")
    ok_two = _show("embedded:t=1 vs embedded:t=2", two, "b_faster")
    if same["mde_pct"] is not None:
        print(f"\nsmallest detectable difference (MDE) on this machine: ±{same['mde_pct']:.1f}% pooled over "
              f"{len(same['depths'])} depths × {args.repeats} pairs; per depth: "
              + ", ".join(f"{p['depth']:,}: ±{p['mde_pct']:.1f}%" for p in same["depths"] if p["mde_pct"]))
    print("result: " + ("both verdicts as expected" if ok_same and ok_two else "a verdict missed its goal"))


if __name__ == "__main__":
    main()
