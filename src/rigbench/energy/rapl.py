"""Linux RAPL through the powercap sysfs tree: package and DRAM energy counters.

Layout (the kernel's ``intel_rapl`` driver; AMD Zen CPUs appear under the same names)::

    /sys/class/powercap/intel-rapl:0/name                 "package-0"
    /sys/class/powercap/intel-rapl:0/energy_uj            microjoules, wraps at ...
    /sys/class/powercap/intel-rapl:0/max_energy_range_uj  ... this value
    /sys/class/powercap/intel-rapl:0:2/name               "dram"  (a subzone of package 0)

Only package-N and dram zones are read: core and uncore are inside the package, and psys
overlaps it. The root is ``$RIGBENCH_POWERCAP_ROOT`` when set (tests, unusual layouts),
else ``/sys/class/powercap``. Since Linux 5.10 ``energy_uj`` is readable by root only; a
source that cannot read it says so in one line and the run goes on without it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rigbench.energy.base import Reading, SourceUnavailable, clock_ns

__all__ = ["RaplZone", "powercap_root", "rapl_sources"]

DEFAULT_ROOT = "/sys/class/powercap"
_ZONE = re.compile(r"^intel-rapl:(\d+)(?::(\d+))?$")
_MAX_TEXT = 64  # bytes: a counter file holds one integer


def powercap_root() -> Path:
    return Path(os.environ.get("RIGBENCH_POWERCAP_ROOT") or DEFAULT_ROOT)


def _read_int(path: Path) -> int:
    with path.open("rb") as f:
        raw = f.read(_MAX_TEXT)
    text = raw.decode("ascii", "replace").strip()
    if not text.isdigit():
        raise ValueError(f"{path} holds {text[:20]!r}, not a counter")
    return int(text)


class RaplZone:
    """One powercap zone's counter, in joules; ``wrap`` from max_energy_range_uj."""

    source = "rapl"
    kind = "counter"
    interval_s = 0.1

    def __init__(self, path: Path, channel: str, covers: str, wrap_uj: int) -> None:
        self.path = path
        self.channel = channel
        self.covers = covers
        self.wrap: float | None = wrap_uj / 1e6 if wrap_uj > 0 else None  # as the kernel, zeus and likwid do
        self._energy = path / "energy_uj"

    def read(self) -> Reading:
        v = _read_int(self._energy)
        return Reading(clock_ns(), v / 1e6)

    def close(self) -> None:
        pass


def rapl_sources(root: Path | None = None) -> list[RaplZone]:
    """The package and DRAM zones under the powercap root, each read once to prove it can be.
    Raises SourceUnavailable (one line) when there are none or they cannot be read."""
    root = root or powercap_root()
    if not root.is_dir():
        raise SourceUnavailable(f"RAPL: no powercap tree at {root}")
    zones: list[RaplZone] = []
    denied: list[str] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        m = _ZONE.match(entry.name)
        if not m:
            continue
        try:
            name = (entry / "name").read_text(encoding="ascii", errors="replace")[:64].strip()
        except OSError:
            continue
        pkg = int(m.group(1))
        if m.group(2) is None and name.startswith("package"):
            channel, covers = f"package-{pkg}", "cpu_package"
        elif m.group(2) is not None and name == "dram":
            channel, covers = f"dram-{pkg}", "dram"
        else:
            continue
        try:
            wrap = _read_int(entry / "max_energy_range_uj")
            zone = RaplZone(entry, channel, covers, wrap)
            zone.read()
        except PermissionError:
            denied.append(str(entry / "energy_uj"))
            continue
        except (OSError, ValueError):
            continue
        zones.append(zone)
    if not zones:
        if denied:
            raise SourceUnavailable(f"RAPL: {denied[0]} is readable by root only",
                                    "run as root, or grant read access (sudo chmod a+r on the energy_uj files)")
        raise SourceUnavailable(f"RAPL: no package or dram zone under {root}")
    return zones
