"""Apple Silicon through IOReport's "Energy Model" group, read by ``zeus-apple-silicon``
(the Zeus project's small C++ reader with Python bindings; optional extra
``rigbench[apple]``, macOS on arm64 only).

One channel covering the chip (``soc``): the sum of the cumulative CPU, GPU, ANE and DRAM
energies the library reports (millijoules; a part the chip does not report is left out and
named in ``parts``). GPU SRAM is not added: it is inside the GPU figure.

Not verified on a Mac: the parsing is tested against recorded metric values through a stub
of the library's API (tests/test_energy_sources.py). docs/energy.md says so.
"""

from __future__ import annotations

import platform
from types import ModuleType
from typing import Any

from rigbench.energy.base import Reading, SourceUnavailable, clock_ns

__all__ = ["AppleSoc", "apple_sources", "soc_millijoules"]

# attribute names across zeus-apple-silicon releases (cpu_mj before 1.0, cpu_total_mj after)
_PARTS = (("cpu", ("cpu_total_mj", "cpu_mj")), ("gpu", ("gpu_mj",)), ("ane", ("ane_mj",)), ("dram", ("dram_mj",)))


def soc_millijoules(metrics: Any) -> tuple[float, list[str]]:
    """The chip's cumulative energy in mJ from one ``AppleEnergyMetrics``, and the parts in it."""
    total = 0.0
    parts: list[str] = []
    for part, names in _PARTS:
        for name in names:
            v = getattr(metrics, name, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                total += float(v)
                parts.append(part)
                break
    if not parts:
        raise ValueError("IOReport reported no energy channel")
    return total, parts


def _load() -> ModuleType:
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        raise SourceUnavailable("IOReport: not an Apple Silicon Mac")
    try:
        import zeus_apple_silicon
    except ImportError:
        raise SourceUnavailable("IOReport: the zeus-apple-silicon package is not installed",
                                "pip install 'rigbench[apple]'") from None
    return zeus_apple_silicon  # type: ignore[no-any-return]


class AppleSoc:
    source = "ioreport"
    channel = "soc"
    covers = "soc"
    kind = "counter"
    wrap: float | None = None
    interval_s = 0.1

    def __init__(self, monitor: Any, parts: list[str]) -> None:
        self._monitor = monitor
        self.parts = parts

    def read(self) -> Reading:
        mj, _ = soc_millijoules(self._monitor.get_cumulative_energy())
        return Reading(clock_ns(), mj / 1e3)

    def close(self) -> None:
        pass


def apple_sources(lib: ModuleType | None = None) -> list[AppleSoc]:
    lib = lib or _load()
    try:
        monitor = lib.AppleEnergyMonitor()
        _, parts = soc_millijoules(monitor.get_cumulative_energy())
    except Exception as exc:
        raise SourceUnavailable(f"IOReport: cannot read the energy model ({str(exc)[:120] or type(exc).__name__})"
                                ) from None
    return [AppleSoc(monitor, parts)]
