"""What the energy sampler costs the machine it measures, and how far a RAPL tree's known
wattage comes back through it: a fake powercap tree advanced by a writer process at a known
wattage, sampled for a few seconds into a scratch database; prints the readings stored, the
CPU time the sampler's threads used (goal: under 2% of one core at 10 readings a second per
channel), and the watts recovered from the stored readings (goal: within 5% of the tree's).

    python bench/energy_sampler.py [--watts 65] [--seconds 5] [--channels 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rigbench.energy.detect import detect_sources
from rigbench.energy.rapl import rapl_sources
from rigbench.energy.sampler import EnergySampler
from rigbench.jobs.energy import load_energy
from rigbench.store import open_store
from rigbench.store.energy import energy_samples

WRITER = """
import os, sys, time
paths, watts = sys.argv[2:], float(sys.argv[1])
t0 = time.perf_counter_ns()
while True:
    uj = int(watts * (time.perf_counter_ns() - t0) / 1e3)
    for p in paths:
        with open(p + ".tmp", "w") as f:
            f.write(f"{uj % 262143328850}\\n")
        os.replace(p + ".tmp", p)
    time.sleep(0.002)
"""


class _Rec:
    def __init__(self, store: object, run_id: int) -> None:
        self.store, self.run_id = store, run_id

    def note(self, text: str) -> None:
        print("note:", text)

    def merge_extra(self, **values: object) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--watts", type=float, default=65.0)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--channels", type=int, default=2, help="packages in the fake tree")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "powercap"
        files = []
        for p in range(args.channels):
            z = root / f"intel-rapl:{p}"
            z.mkdir(parents=True)
            (z / "name").write_text(f"package-{p}\n")
            (z / "energy_uj").write_text("0\n")
            (z / "max_energy_range_uj").write_text("262143328850\n")
            files.append(str(z / "energy_uj"))
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(args.watts), *files])
        try:
            time.sleep(0.3)
            store = open_store(str(Path(tmp) / "e.db"))
            run_id = store.create_run(kind="run", spec=None, params={}, command="bench", machine={},
                                      tool_version="bench")
            det = detect_sources(probes=[("RAPL", lambda: rapl_sources(root))])
            sampler = EnergySampler(det, idle_s=0.0)
            rec = _Rec(store, run_id)
            cpu0 = time.thread_time_ns()
            proc0 = time.process_time_ns()
            t0 = time.perf_counter()
            sampler.start(rec)  # type: ignore[arg-type]
            sampler.server_started(rec)  # type: ignore[arg-type]
            time.sleep(args.seconds)
            sampler.stop(rec)  # type: ignore[arg-type]
            wall = time.perf_counter() - t0
            # the main thread slept: the process's CPU time beyond its own is the sampler's threads'
            sampler_cpu = (time.process_time_ns() - proc0 - (time.thread_time_ns() - cpu0)) / 1e9
            rows = energy_samples(store, run_id)
            data = load_energy(store, run_id)
            span = [int(r["t_ns"]) for r in rows]
            lo, hi = min(span), max(span)
            watts = (data.window(lo + int(0.2e9), hi - int(0.2e9)) or 0.0) / ((hi - lo - int(0.4e9)) / 1e9)
            store.close()
        finally:
            writer.terminate()
            writer.wait()
    expected = args.watts * args.channels
    print(f"machine: {os.cpu_count()} cores · load average {os.getloadavg()[0]:.1f}")
    print(f"sampled {args.channels} RAPL channel(s) for {wall:.1f} s: {len(rows)} readings stored "
          f"({len(rows) / wall / args.channels:.1f} per second per channel)")
    print(f"sampler CPU: {sampler_cpu * 1e3:.1f} ms = {sampler_cpu / wall * 100:.2f}% of one core (goal < 2%)")
    print(f"watts recovered: {watts:.2f} W against {expected:.2f} W written "
          f"({(watts / expected - 1) * 100:+.2f}%, goal within ±5%)")


if __name__ == "__main__":
    main()
