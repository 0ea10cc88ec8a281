"""AMD GPUs through AMD SMI (the ``amdsmi`` Python package that ships with ROCm; optional
extra ``rigbench[amd]``, which also needs ROCm's libamd_smi on the machine).

Each GPU is one channel covering its board: ``amdsmi_get_energy_count`` (an accumulator
times ``counter_resolution`` microjoules; older releases name the accumulator ``power``)
where it answers, else ``amdsmi_get_power_info`` sampled (socket power in watts).

Not verified on AMD hardware: written against AMD SMI's documented Python API and tested
with a stub of it.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from types import ModuleType
from typing import Any

from rigbench.energy.base import Reading, SourceUnavailable, clock_ns

__all__ = ["AmdGpu", "amd_sources"]

_POWER_KEYS = ("socket_power", "current_socket_power", "average_socket_power")


def _load() -> ModuleType:
    if sys.platform.startswith("linux") and not os.path.exists("/dev/kfd"):
        raise SourceUnavailable("amdsmi: no AMD GPU here (no /dev/kfd)")
    sink = io.StringIO()
    try:
        # without ROCm's libamd_smi the package prints a complaint on stdout (it would break --json)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            import amdsmi
    except ModuleNotFoundError:
        raise SourceUnavailable("amdsmi: not installed (AMD GPUs are read through ROCm's amdsmi package)",
                                "pip install 'rigbench[amd]' on a machine with ROCm") from None
    except Exception as exc:  # the package present without ROCm's library
        raise SourceUnavailable(f"amdsmi: installed, but ROCm's libamd_smi cannot be loaded ({type(exc).__name__})",
                                "install ROCm's amd-smi-lib") from None
    return amdsmi  # type: ignore[no-any-return]


def _energy_j(info: Any) -> float:
    ticks = info.get("energy_accumulator", info.get("power"))
    res = info.get("counter_resolution")
    if not isinstance(ticks, (int, float)) or not isinstance(res, (int, float)) or res <= 0:
        raise ValueError("no energy accumulator")
    return float(ticks) * float(res) / 1e6


def _power_w(info: Any) -> float:
    for key in _POWER_KEYS:
        v = info.get(key)
        if isinstance(v, (int, float)) and v >= 0:
            return float(v)
    raise ValueError("no socket power")


class AmdGpu:
    source = "amdsmi"
    covers = "gpu_board"
    wrap: float | None = None
    interval_s = 0.1

    def __init__(self, amd: ModuleType, index: int, handle: Any, counter: bool) -> None:
        self._amd = amd
        self._handle = handle
        self.channel = f"gpu{index}"
        self.kind = "counter" if counter else "power"

    def read(self) -> Reading:
        if self.kind == "counter":
            return Reading(clock_ns(), _energy_j(self._amd.amdsmi_get_energy_count(self._handle)))
        return Reading(clock_ns(), _power_w(self._amd.amdsmi_get_power_info(self._handle)))

    def close(self) -> None:
        pass


class _Library:
    """Shuts AMD SMI down once, when the last channel closes."""

    def __init__(self, amd: ModuleType, n: int) -> None:
        self.amd, self.left = amd, n

    def release(self) -> None:
        self.left -= 1
        if self.left == 0:
            try:
                self.amd.amdsmi_shut_down()
            except Exception:
                pass


def amd_sources(amd: ModuleType | None = None) -> list[AmdGpu]:
    amd = amd or _load()
    try:
        amd.amdsmi_init()
        handles = list(amd.amdsmi_get_processor_handles())
    except Exception as exc:
        raise SourceUnavailable(f"amdsmi: cannot initialise ({str(exc)[:120] or type(exc).__name__})") from None
    out: list[AmdGpu] = []
    for i, h in enumerate(handles):
        try:
            _energy_j(amd.amdsmi_get_energy_count(h))
            out.append(AmdGpu(amd, i, h, True))
            continue
        except Exception:
            pass
        try:
            _power_w(amd.amdsmi_get_power_info(h))
            out.append(AmdGpu(amd, i, h, False))
        except Exception:
            continue
    if not out:
        try:
            amd.amdsmi_shut_down()
        except Exception:
            pass
        raise SourceUnavailable("amdsmi: no AMD GPU reports energy or power")
    lib = _Library(amd, len(out))
    for gpu in out:
        gpu.close = lib.release  # type: ignore[method-assign]
    return out
