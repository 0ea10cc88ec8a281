"""Which power sources this machine has, chosen automatically.

With ``--power-cmd`` the wall meter is the only source: it covers the whole machine, and
adding a component (GPU, CPU package) would count it twice. Otherwise every component
source that can be read is used and their energies add up (GPU boards + CPU packages +
DRAM are disjoint parts of the machine; an Apple chip is one part). A source that cannot be
read (no library, no device, no permission) is named in one line in ``problems``; none at
all gives the card's "energy: no power source here (checked NVML, amdsmi, RAPL, IOReport)".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench.energy.base import PowerSource, SourceUnavailable

__all__ = ["CHECKED", "Detection", "detect_sources"]

CHECKED = ("NVML", "amdsmi", "RAPL", "IOReport")


@dataclass
class Detection:
    sources: list[PowerSource] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def statement(self) -> str:
        if self.sources:
            return "energy: " + describe(self.sources)
        return f"energy: no power source here (checked {', '.join(self.checked)})"

    def to_json(self) -> dict[str, Any]:
        return {"sources": [channel_json(s) for s in self.sources], "checked": list(self.checked),
                "problems": list(self.problems)}

    def close(self) -> None:
        for s in self.sources:
            s.close()


def channel_json(s: PowerSource) -> dict[str, Any]:
    d: dict[str, Any] = {"source": s.source, "channel": s.channel, "covers": s.covers, "kind": s.kind}
    for attr in ("name", "parts"):  # a GPU's model, the power command's program, an Apple chip's parts
        v = getattr(s, attr, None)
        if v:
            d[attr] = v
    return d


def describe(sources: Sequence[PowerSource]) -> str:
    by_source: dict[str, list[str]] = {}
    for s in sources:
        by_source.setdefault(s.source, []).append(f"{s.channel} ({s.covers.replace('_', ' ')})")
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in by_source.items())


def _probes() -> list[tuple[str, Callable[[], Sequence[PowerSource]]]]:
    from rigbench.energy.amd import amd_sources
    from rigbench.energy.apple import apple_sources
    from rigbench.energy.nvml import nvml_sources
    from rigbench.energy.rapl import rapl_sources

    return [("NVML", nvml_sources), ("amdsmi", amd_sources), ("RAPL", rapl_sources), ("IOReport", apple_sources)]


def detect_sources(power_cmd: str | None = None, *,
                   probes: list[tuple[str, Callable[[], Sequence[PowerSource]]]] | None = None) -> Detection:
    """The sources to sample. A bad ``--power-cmd`` is a UsageError in one line (the user asked
    for it: better to say so before the run than to measure without it)."""
    if power_cmd is not None:
        from rigbench.energy.command import PowerCommand, PowerCommandError
        from rigbench.errors import UsageError

        try:
            cmd = PowerCommand(power_cmd)
            cmd.read()  # proves it works now
        except PowerCommandError as exc:
            raise UsageError(f"--power-cmd: {exc.message}", exc.hint or "give a command that prints watts") from None
        return Detection([cmd], ["power-cmd"], [])
    found = Detection()
    for name, probe in probes if probes is not None else _probes():
        found.checked.append(name)
        try:
            found.sources.extend(probe())
        except SourceUnavailable as exc:
            found.problems.append(exc.one_line())
        except Exception as exc:  # a vendor library failing in its own way: never ends a run
            found.problems.append(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
    return found
