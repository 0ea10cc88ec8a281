"""Test doubles for power sources: a powercap tree written at a known wattage, stubs of the
pynvml / amdsmi / zeus_apple_silicon APIs, and a source whose counter is an exact function
of the clock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from rigbench.energy.base import Reading, clock_ns


def powercap_tree(root: Path, *, packages: int = 1, dram: bool = True, start_uj: int = 0,
                  max_uj: int = 262143328850) -> dict[str, Path]:
    """A fake /sys/class/powercap: package zones (with core and dram subzones) and a psys zone."""
    files: dict[str, Path] = {}
    for p in range(packages):
        zone = root / f"intel-rapl:{p}"
        zone.mkdir(parents=True)
        (zone / "name").write_text(f"package-{p}\n")
        (zone / "energy_uj").write_text(f"{start_uj}\n")
        (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
        files[f"package-{p}"] = zone / "energy_uj"
        core = root / f"intel-rapl:{p}:0"
        core.mkdir()
        (core / "name").write_text("core\n")
        (core / "energy_uj").write_text("5\n")
        (core / "max_energy_range_uj").write_text(f"{max_uj}\n")
        if dram:
            d = root / f"intel-rapl:{p}:1"
            d.mkdir()
            (d / "name").write_text("dram\n")
            (d / "energy_uj").write_text(f"{start_uj}\n")
            (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
            files[f"dram-{p}"] = d / "energy_uj"
    psys = root / "intel-rapl:9"
    psys.mkdir()
    (psys / "name").write_text("psys\n")
    (psys / "energy_uj").write_text("7\n")
    (psys / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return files


_WRITER = """
import os, sys, time
path, watts, step = sys.argv[1], float(sys.argv[2]), float(sys.argv[5])
max_uj, start_uj = int(sys.argv[3]), int(sys.argv[4])
tmp = path + ".tmp"
t0 = time.perf_counter_ns()
while True:
    uj = start_uj + int(watts * (time.perf_counter_ns() - t0) / 1e3)
    with open(tmp, "w") as f:
        f.write(f"{uj % max_uj}\\n")
    os.replace(tmp, path)  # whole lines only, as the kernel's file gives
    time.sleep(step)
"""


class RaplWriter:
    """Advances a fake zone's energy_uj at ``watts`` (wrapping at ``max_uj``) every ``step_s``,
    from a process of its own (a thread would wait on the test's GIL and fall behind)."""

    def __init__(self, path: Path, watts: float, *, max_uj: int = 262143328850, start_uj: int = 0,
                 step_s: float = 0.002) -> None:
        self.path, self.watts, self.max_uj, self.start_uj, self.step_s = path, watts, max_uj, start_uj, step_s
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RaplWriter:
        before = self.path.read_text()
        self._proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(self.path), str(self.watts),
                                       str(self.max_uj), str(self.start_uj), str(self.step_s)])
        deadline = time.monotonic() + 10
        while self.path.read_text() == before and time.monotonic() < deadline:
            time.sleep(0.005)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        self._proc.wait()


class ClockSource:
    """A counter that is exactly ``watts`` x the clock: any window's energy is known exactly."""

    source = "fake"
    channel = "exact"
    covers = "system"
    kind = "counter"
    wrap: float | None = None
    interval_s = 0.02

    def __init__(self, watts: float) -> None:
        self.watts = watts

    def read(self) -> Reading:
        t = clock_ns()
        return Reading(t, self.watts * t / 1e9)

    def close(self) -> None:
        pass


class NVMLError(Exception):
    def __init__(self, value: int) -> None:
        super().__init__(f"NVML error {value}")
        self.value = value


def fake_pynvml(gpus: list[dict[str, Any]], *, init_error: int | None = None) -> ModuleType:
    """A stub of pynvml's API. Each GPU: {"name", "energy_mj": callable | None (no counter),
    "power_mw": callable | None, "energy_error": int, "power_error": int}."""
    m = ModuleType("pynvml")
    state = {"inits": 0}

    def init() -> None:
        if init_error is not None:
            raise NVMLError(init_error)
        state["inits"] += 1

    def shutdown() -> None:
        state["inits"] -= 1

    def energy(h: dict[str, Any]) -> int:
        if h.get("energy_mj") is None:
            raise NVMLError(h.get("energy_error", 3))
        return int(h["energy_mj"]())

    def power(h: dict[str, Any]) -> int:
        if h.get("power_mw") is None:
            raise NVMLError(h.get("power_error", 3))
        return int(h["power_mw"]())

    m.nvmlInit = init  # type: ignore[attr-defined]
    m.nvmlShutdown = shutdown  # type: ignore[attr-defined]
    m.nvmlDeviceGetCount = lambda: len(gpus)  # type: ignore[attr-defined]
    m.nvmlDeviceGetHandleByIndex = lambda i: gpus[i]  # type: ignore[attr-defined]
    m.nvmlDeviceGetName = lambda h: h["name"].encode()  # type: ignore[attr-defined]  # old releases: bytes
    m.nvmlDeviceGetTotalEnergyConsumption = energy  # type: ignore[attr-defined]
    m.nvmlDeviceGetPowerUsage = power  # type: ignore[attr-defined]
    m.state = state  # type: ignore[attr-defined]
    return m


def fake_amdsmi(gpus: list[dict[str, Any]]) -> ModuleType:
    m = ModuleType("amdsmi")
    state = {"shutdowns": 0}
    m.amdsmi_init = lambda: None  # type: ignore[attr-defined]

    def shut() -> None:
        state["shutdowns"] += 1

    def energy(h: dict[str, Any]) -> dict[str, Any]:
        if h.get("energy") is None:
            raise RuntimeError("not supported")
        return dict(h["energy"]())

    def power(h: dict[str, Any]) -> dict[str, Any]:
        return dict(h["power"]())

    m.amdsmi_shut_down = shut  # type: ignore[attr-defined]
    m.amdsmi_get_processor_handles = lambda: gpus  # type: ignore[attr-defined]
    m.amdsmi_get_energy_count = energy  # type: ignore[attr-defined]
    m.amdsmi_get_power_info = power  # type: ignore[attr-defined]
    m.state = state  # type: ignore[attr-defined]
    return m


def fake_zeus_apple(series: list[dict[str, Any]]) -> ModuleType:
    """A stub of zeus_apple_silicon replaying recorded cumulative metrics, one per call."""
    m = ModuleType("zeus_apple_silicon")
    it = iter(series)

    class AppleEnergyMonitor:
        def get_cumulative_energy(self) -> Any:
            return SimpleNamespace(**next(it))

    m.AppleEnergyMonitor = AppleEnergyMonitor  # type: ignore[attr-defined]
    return m
