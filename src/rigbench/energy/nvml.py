"""NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, module ``pynvml``; optional extra
``rigbench[nvidia]``).

Each GPU is one channel covering its board. Where the GPU has NVML's total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver loaded; Volta and
later) the channel reads the counter; elsewhere it samples ``nvmlDeviceGetPowerUsage``
(milliwatts) and the derivation integrates the samples over time. Every GPU NVML sees is
read: a machine running other GPU work at the same time measures that too, and the card
names the GPUs.

Verified here only against a stub of the pynvml API (tests/test_energy_sources.py): this
machine has no GPU. Real-GPU verification (counter against integrated power) is issue 18's.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from rigbench.energy.base import Reading, SourceUnavailable, clock_ns

__all__ = ["NvmlGpu", "nvml_sources"]

_NOT_SUPPORTED = 3  # NVML_ERROR_NOT_SUPPORTED
_NO_PERMISSION = 4  # NVML_ERROR_NO_PERMISSION


def _load() -> ModuleType:
    try:
        import pynvml
    except ImportError:
        raise SourceUnavailable("NVML: the nvidia-ml-py package is not installed",
                                "pip install 'rigbench[nvidia]'") from None
    return pynvml  # type: ignore[no-any-return]


def _code(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _name(nv: ModuleType, handle: Any) -> str:
    try:
        name = nv.nvmlDeviceGetName(handle)
    except Exception:
        return "GPU"
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return str(name)[:80]


class NvmlGpu:
    source = "nvml"
    covers = "gpu_board"
    wrap: float | None = None
    interval_s = 0.1

    def __init__(self, nv: ModuleType, index: int, handle: Any, counter: bool, name: str) -> None:
        self._nv = nv
        self._handle = handle
        self.index = index
        self.channel = f"gpu{index}"
        self.name = name
        self.kind = "counter" if counter else "power"
        nv.nvmlInit()  # NVML counts its inits; close() gives this one back

    def read(self) -> Reading:
        if self.kind == "counter":
            mj = self._nv.nvmlDeviceGetTotalEnergyConsumption(self._handle)
            return Reading(clock_ns(), float(mj) / 1e3)
        mw = self._nv.nvmlDeviceGetPowerUsage(self._handle)
        return Reading(clock_ns(), float(mw) / 1e3)

    def close(self) -> None:
        try:
            self._nv.nvmlShutdown()
        except Exception:
            pass


def nvml_sources(nv: ModuleType | None = None) -> list[NvmlGpu]:
    """One channel per GPU NVML sees; SourceUnavailable (one line) where none can be read."""
    nv = nv or _load()
    try:
        nv.nvmlInit()
    except Exception as exc:
        raise SourceUnavailable(f"NVML: cannot initialise ({str(exc)[:120] or type(exc).__name__}); "
                                "no NVIDIA driver here") from None
    try:
        count = int(nv.nvmlDeviceGetCount())
        if count <= 0:
            raise SourceUnavailable("NVML: no NVIDIA GPU found")
        out: list[NvmlGpu] = []
        denied = False
        for i in range(count):
            handle = nv.nvmlDeviceGetHandleByIndex(i)
            counter = True
            try:
                nv.nvmlDeviceGetTotalEnergyConsumption(handle)
            except Exception as exc:
                if _code(exc) == _NO_PERMISSION:
                    denied = True
                counter = False
            if not counter:
                try:
                    nv.nvmlDeviceGetPowerUsage(handle)
                except Exception as exc:
                    denied = denied or _code(exc) == _NO_PERMISSION
                    continue
            out.append(NvmlGpu(nv, i, handle, counter, _name(nv, handle)))
        if not out:
            if denied:
                raise SourceUnavailable("NVML: reading GPU power needs a permission this user lacks",
                                        "run as a user in the video group, or as root")
            raise SourceUnavailable(f"NVML: none of the {count} GPUs reports energy or power")
        return out
    finally:
        try:
            nv.nvmlShutdown()
        except Exception:
            pass
