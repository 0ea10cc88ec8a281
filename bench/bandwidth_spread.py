"""The host bandwidth probe's run-to-run spread: how much does ``--bandwidth auto`` move?

Calls ``measure_bandwidth()`` (exactly what ``--bandwidth auto`` runs) several times and prints
each call's figure, its own best-of-N spread, how long it took, and the spread across calls.

Usage: python bench/bandwidth_spread.py [--calls N] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from rigbench.model.bandwidth import measure_bandwidth


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None, help="default: one per core")
    args = ap.parse_args()
    print(f"host: {os.cpu_count()} logical cores; probe threads: {args.threads or 'default'}")
    figures: list[float] = []
    for i in range(args.calls):
        t0 = time.perf_counter()
        bw = measure_bandwidth(threads=args.threads)
        took = time.perf_counter() - t0
        figures.append(bw.gb_s)
        runs = ", ".join(f"{r:.1f}" for r in bw.runs_gb_s)
        print(f"call {i + 1:2d}: {bw.gb_s:7.1f} GB/s  in {took:4.2f} s  (runs {runs}; "
              f"within-call spread {(bw.spread or 0) * 100:4.1f}%){'  WARNING' if bw.warning else ''}")
    lo, hi, med = min(figures), max(figures), statistics.median(figures)
    print(f"across {len(figures)} calls: min {lo:.1f}, median {med:.1f}, max {hi:.1f} GB/s; "
          f"run-to-run spread {(hi - lo) / hi * 100:.1f}% of the max, "
          f"stdev {statistics.pstdev(figures) / med * 100:.1f}% of the median")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
