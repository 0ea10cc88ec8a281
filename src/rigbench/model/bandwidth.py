"""Memory bandwidth: measured on this host, a vendor figure by chip name, or a number as given.

``resolve_bandwidth(text: str | None) -> Bandwidth``:

- ``None`` or ``"auto"``: measure this host's sustained read bandwidth (``measure_bandwidth``);
- a number: ``"800"`` (GB/s), ``"800GB/s"``, ``"3.35TB/s"``, ``"900 MB/s"``: used as given;
- a chip name: ``"M3 Ultra"``, ``"h100"``, ``"RTX 4090"``, ``"strix halo"``: the vendor figure
  from ``rigbench.model.chips``.

``Bandwidth`` says where its figure came from (``source``): "measured on this host (best of N,
spread x%)", "vendor figure for <chip>" or "given". GB here is 10^9 bytes.

The probe streams reads over an int64 numpy buffer far larger than the caches (512 MiB, or 8x the
last-level cache where that is larger), split across one thread per core (numpy releases the GIL in the
reduction), and keeps the best of several runs; runs that disagree by more than 10% carry a
warning (another process was probably using the memory bus). It takes about two seconds.
"""

from __future__ import annotations

import glob
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from rigbench.errors import UsageError

__all__ = ["SPREAD_WARN", "Bandwidth", "measure_bandwidth", "parse_bandwidth", "resolve_bandwidth", "summarize_runs"]

SPREAD_WARN = 0.10


@dataclass(frozen=True)
class Bandwidth:
    gb_s: float
    source: str
    kind: str = "given"  # "measured" | "vendor" | "given"
    runs_gb_s: tuple[float, ...] = ()
    spread: float | None = None  # (best - worst) / best over the runs
    warning: str | None = None
    note: str | None = None

    @property
    def bytes_per_s(self) -> float:
        return self.gb_s * 1e9

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"gb_s": round(self.gb_s, 2), "source": self.source, "kind": self.kind}
        if self.runs_gb_s:
            out["runs_gb_s"] = [round(r, 2) for r in self.runs_gb_s]
            out["spread"] = round(self.spread or 0.0, 4)
        if self.warning:
            out["warning"] = self.warning
        if self.note:
            out["note"] = self.note
        return out


def parse_bandwidth(text: str) -> float | None:
    """GB/s from ``"800"``, ``"800GB/s"``, ``"3.35 TB/s"``; None if ``text`` is not a number."""
    from rigbench.units import parse_bandwidth_gb_s

    return parse_bandwidth_gb_s(text)


def resolve_bandwidth(text: str | None) -> Bandwidth:
    """The bandwidth a ceiling uses, from what the user wrote (None/"auto" measures)."""
    from rigbench.model.chips import find_chip, suggest

    if text is None or text.strip().lower() in ("", "auto"):
        return measure_bandwidth()
    value = parse_bandwidth(text)
    if value is not None:
        if value <= 0:
            raise UsageError(f"bandwidth must be positive, not {text!r}", "e.g. --bandwidth 800GB/s")
        return Bandwidth(value, "given", "given")
    chip = find_chip(text)
    if chip is not None:
        return Bandwidth(float(chip.gb_s), f"vendor figure for {chip.name}", "vendor", note=chip.note or None)
    near = suggest(text)
    hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
    raise UsageError(f"unknown bandwidth or chip {text!r}",
                     f"{hint}give a number (800, 800GB/s, 3.35TB/s), a chip name (\"M3 Ultra\", h100) or auto")


def _l3_bytes() -> int:
    """Total last-level cache on Linux (sysfs), 0 where unknown."""
    seen: dict[str, int] = {}
    for idx in glob.glob("/sys/devices/system/cpu/cpu*/cache/index*"):
        try:
            with open(f"{idx}/level") as f:
                if f.read().strip() != "3":
                    continue
            with open(f"{idx}/shared_cpu_list") as f:
                shared = f.read().strip()
            with open(f"{idx}/size") as f:
                text = f.read().strip().upper()
        except OSError:
            continue
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            seen[shared] = int(digits) * mult
    return sum(seen.values())


def _buffer_bytes() -> int:
    """512 MiB, or 8x the last-level cache where that is larger; at most 2 GiB and 1/8 of free RAM."""
    try:
        import psutil

        avail = int(psutil.virtual_memory().available)
    except (ImportError, OSError, RuntimeError):  # psutil missing or unsupported platform: be modest
        avail = 2 << 30
    want = max(512 << 20, 8 * _l3_bytes())
    return int(max(64 << 20, min(want, 2 << 30, avail // 8)))


def measure_bandwidth(*, runs: int = 5, threads: int | None = None, buffer_bytes: int | None = None,
                      target_s: float = 0.3) -> Bandwidth:
    """Best-of-``runs`` streaming read bandwidth of this host's memory, in GB/s."""
    import numpy as np

    n_threads = max(1, threads or min(os.cpu_count() or 1, 64))
    size = int(buffer_bytes or _buffer_bytes())
    words = max(n_threads * 4096, size // 8)
    buf = np.ones(words, dtype=np.int64)  # touches every page: no first-touch faults in the timings
    chunks = np.array_split(buf, n_threads)
    reduce = np.bitwise_or.reduce

    def read(chunk: Any, passes: int) -> None:
        for _ in range(passes):
            reduce(chunk)

    with ThreadPoolExecutor(max_workers=n_threads) as pool:

        def one(passes: int) -> float:
            t0 = time.perf_counter()
            for f in [pool.submit(read, c, passes) for c in chunks]:
                f.result()
            return time.perf_counter() - t0

        first = one(1)  # also warms the threads
        passes = max(1, min(64, int(target_s / max(first, 1e-6))))
        results = [buf.nbytes * passes / one(passes) / 1e9 for _ in range(max(1, runs))]
    return summarize_runs(results)


def summarize_runs(runs_gb_s: list[float] | tuple[float, ...]) -> Bandwidth:
    """The best run, the spread (best - worst) / best, and a warning past ``SPREAD_WARN``."""
    if not runs_gb_s:
        raise ValueError("no runs to summarize")
    best, worst = max(runs_gb_s), min(runs_gb_s)
    spread = (best - worst) / best if best > 0 else 0.0
    warning = None
    if spread > SPREAD_WARN:
        warning = (f"the runs disagreed by {spread:.0%} (another process using memory?); "
                   "the best run is used")
    return Bandwidth(
        best, f"measured on this host (best of {len(runs_gb_s)}, spread {spread * 100:.1f}%)", "measured",
        tuple(runs_gb_s), spread, warning,
        note="host RAM: a model on a discrete GPU reads its VRAM; pass --bandwidth with the GPU's name",
    )
