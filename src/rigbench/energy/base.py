"""What every power source is: a channel that reads either an energy counter (joules) or a
power sample (watts), stamped with the clock the client stamps requests with.

A request's ``t_sent_ns``, ``t_first_token_ns`` and ``t_last_token_ns`` are
``time.perf_counter_ns()`` values; every reading here is stamped with the same clock (taken
right after the reading returns), so an energy window lines up with a request's own
timestamps without any conversion.

``covers`` says, in the user's words, what part of the machine a channel measures:

    gpu_board     a GPU's whole board (NVML, amdsmi)
    cpu_package   a CPU socket's package (RAPL package-N; cores, uncore, iGPU on it)
    dram          the DRAM attached to a package (RAPL dram)
    soc           an Apple Silicon chip: CPU + GPU + ANE + DRAM (IOReport "Energy Model")
    system        the whole machine at the wall (a smart plug through --power-cmd)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rigbench.errors import RigbenchError

__all__ = ["COVERS", "KINDS", "PowerSource", "Reading", "SourceUnavailable", "clock_ns"]

COVERS = ("gpu_board", "cpu_package", "dram", "soc", "system")
KINDS = ("counter", "power")  # counter: cumulative joules; power: instantaneous watts


def clock_ns() -> int:
    """The one clock: the client's request timestamps use it too."""
    return time.perf_counter_ns()


@dataclass(frozen=True)
class Reading:
    t_ns: int  # clock_ns() right after the value was read
    value: float  # joules since some origin (counter) or watts (power)


class SourceUnavailable(RigbenchError):
    """A power source that cannot be read here: missing library, no device, no permission.
    Never ends a run: the run goes on without energy and the card says why in one line."""


@runtime_checkable
class PowerSource(Protocol):
    """One channel of one source. ``wrap`` is the counter's range in joules where it wraps
    (RAPL's max_energy_range_uj), else None; ``interval_s`` how often it is worth reading."""

    source: str  # nvml | amdsmi | rapl | ioreport | power-cmd
    channel: str  # a stable name within the source: "gpu0", "package-0", "dram-0", "soc", "wall"
    covers: str  # one of COVERS
    kind: str  # one of KINDS
    wrap: float | None
    interval_s: float

    def read(self) -> Reading: ...

    def close(self) -> None: ...
