"""NVML's energy counter and power readings of every GPU, side by side, for the
counter-against-integrated-power check of docs/benchmarks/h200-load.md.

    python bench/nvml_trace.py --out trace.jsonl [--interval 0.1] [--max-s 3600]

rigbench's own NVML source (rigbench.energy.nvml) stores one quantity per GPU: the total
energy counter where the GPU has one, else sampled power. This script reads both, on the
same clock as rigbench's requests (time.perf_counter_ns: CLOCK_MONOTONIC on Linux, shared by
every process of the machine), so bench/gpu_summary.py can integrate the sampled power over
any window and set it against the counter's difference. Power is read twice where NVML
offers it: nvmlDeviceGetPowerUsage (on recent drivers a one-second average on Hopper) and
the field NVML_FI_DEV_POWER_INSTANT.

One JSON object a line: first {"devices": [...], "driver": ...}, then per reading
{"t_ns", "gpu", "energy_j", "power_w", "power_instant_w"} (null where NVML does not say).
It stops after --max-s seconds or on SIGTERM, and flushes every second, so a killed trace
keeps what it read.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from typing import Any


def _instant_field(nv: Any) -> int | None:
    return getattr(nv, "NVML_FI_DEV_POWER_INSTANT", None)


def read_instant_w(nv: Any, handle: Any, field: int | None) -> float | None:
    if field is None:
        return None
    try:
        (v,) = nv.nvmlDeviceGetFieldValues(handle, [field])
    except Exception:
        return None
    if getattr(v, "nvmlReturn", 1) != 0:
        return None
    return float(v.value.uiVal) / 1e3


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--max-s", type=float, default=3600.0)
    args = ap.parse_args(argv)
    try:
        import pynvml as nv
    except ImportError:
        print("nvml_trace: the nvidia-ml-py package is not installed", file=sys.stderr)
        return 1
    try:
        nv.nvmlInit()
    except Exception as exc:
        print(f"nvml_trace: cannot initialise NVML ({exc})", file=sys.stderr)
        return 1
    stop = False

    def _stop(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(int(nv.nvmlDeviceGetCount()))]
    names = []
    for h in handles:
        n = nv.nvmlDeviceGetName(h)
        names.append(n.decode() if isinstance(n, bytes) else str(n))
    field = _instant_field(nv)
    try:
        driver = nv.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else str(driver)
    except Exception:
        driver = None
    end = time.monotonic() + args.max_s
    last_flush = time.monotonic()
    with open(args.out, "a", encoding="utf-8") as f:
        f.write(json.dumps({"devices": names, "driver": driver, "interval_s": args.interval}) + "\n")
        while not stop and time.monotonic() < end:
            t0 = time.monotonic()
            for i, h in enumerate(handles):
                row: dict[str, Any] = {"t_ns": time.perf_counter_ns(), "gpu": i}
                try:
                    row["energy_j"] = nv.nvmlDeviceGetTotalEnergyConsumption(h) / 1e3
                except Exception:
                    row["energy_j"] = None
                try:
                    row["power_w"] = nv.nvmlDeviceGetPowerUsage(h) / 1e3
                except Exception:
                    row["power_w"] = None
                row["power_instant_w"] = read_instant_w(nv, h, field)
                f.write(json.dumps(row) + "\n")
            if time.monotonic() - last_flush >= 1.0:
                f.flush()
                last_flush = time.monotonic()
            time.sleep(max(0.0, args.interval - (time.monotonic() - t0)))
    nv.nvmlShutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
