"""Vendor memory-bandwidth figures for chips people run local models on.

``find_chip("M3 Ultra")`` / ``find_chip("h100")`` -> ``Chip`` or None; ``suggest(text)`` lists
near names for an error message. Figures are the vendors' own peak numbers in GB/s
(10^9 bytes), not measurements: real decode reaches some fraction of them. Where a name
covers variants with different figures, the common or top variant is the entry and the
others are named in ``note`` or have their own entry (``a100 40gb``, ``h100 pcie``).
Apple M4 Ultra and M5 Ultra are absent: Apple has published no such chips' figures.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = ["CHIPS", "Chip", "find_chip", "normalize", "suggest"]

_DROP = re.compile(r"\b(apple|nvidia|geforce|rtx|amd|tesla|gpu|chip)(?![a-z])")


def normalize(text: str) -> str:
    """Lower case, vendor words dropped, only letters, digits and '+' kept: ``"RTX 4090"`` -> ``"4090"``."""
    return re.sub(r"[^a-z0-9+]", "", _DROP.sub(" ", text.lower()))


@dataclass(frozen=True)
class Chip:
    name: str
    gb_s: float
    aliases: tuple[str, ...] = ()
    note: str = ""

    def lookup_names(self) -> tuple[str, ...]:
        return (normalize(self.name), *(normalize(a) for a in self.aliases))


CHIPS: tuple[Chip, ...] = (
    # Apple silicon (unified memory)
    Chip("Apple M1", 68.25), Chip("Apple M1 Pro", 200), Chip("Apple M1 Max", 400), Chip("Apple M1 Ultra", 800),
    Chip("Apple M2", 100), Chip("Apple M2 Pro", 200), Chip("Apple M2 Max", 400), Chip("Apple M2 Ultra", 800),
    Chip("Apple M3", 100), Chip("Apple M3 Pro", 150),
    Chip("Apple M3 Max", 400, note="the 14-core-CPU M3 Max has 300 GB/s"),
    Chip("Apple M3 Ultra", 819),
    Chip("Apple M4", 120), Chip("Apple M4 Pro", 273),
    Chip("Apple M4 Max", 546, note="the 14-core-CPU M4 Max has 410 GB/s"),
    Chip("Apple M5", 153), Chip("Apple M5 Pro", 307), Chip("Apple M5 Max", 614),
    # NVIDIA GeForce RTX 30 series
    Chip("RTX 3060", 360, ("3060 12gb",), note="the 8 GB RTX 3060 has 240 GB/s"), Chip("RTX 3060 Ti", 448),
    Chip("RTX 3070", 448), Chip("RTX 3070 Ti", 608), Chip("RTX 3080", 760, ("3080 10gb",)),
    Chip("RTX 3080 12GB", 912), Chip("RTX 3080 Ti", 912), Chip("RTX 3090", 936), Chip("RTX 3090 Ti", 1008),
    # RTX 40 series
    Chip("RTX 4060", 272), Chip("RTX 4060 Ti", 288), Chip("RTX 4070", 504), Chip("RTX 4070 Super", 504),
    Chip("RTX 4070 Ti", 504), Chip("RTX 4070 Ti Super", 672), Chip("RTX 4080", 716.8),
    Chip("RTX 4080 Super", 736), Chip("RTX 4090", 1008),
    # RTX 50 series
    Chip("RTX 5060", 448), Chip("RTX 5060 Ti", 448), Chip("RTX 5070", 672), Chip("RTX 5070 Ti", 896),
    Chip("RTX 5080", 960), Chip("RTX 5090", 1792), Chip("RTX PRO 6000 Blackwell", 1792, ("pro 6000",)),
    # NVIDIA data centre
    Chip("A100 80GB SXM", 2039, ("a100", "a100 sxm", "a100 80gb")), Chip("A100 80GB PCIe", 1935, ("a100 pcie",)),
    Chip("A100 40GB", 1555, ("a100 40gb pcie", "a100 40gb sxm")),
    Chip("H100 SXM", 3350, ("h100", "h100 80gb", "h100 sxm5")), Chip("H100 PCIe", 2000), Chip("H100 NVL", 3900),
    Chip("H200", 4800, ("h200 sxm", "h200 nvl", "h200 141gb")), Chip("B200", 8000),
    Chip("DGX Spark (GB10)", 273, ("dgx spark", "spark", "gb10")),
    # AMD
    Chip("AMD Strix Halo (Ryzen AI Max+ 395)", 256,
         ("strix halo", "ryzen ai max+ 395", "ryzen ai max 395", "ai max+ 395", "ai max 395", "max+ 395")),
)

_INDEX: dict[str, Chip] = {k: c for c in CHIPS for k in c.lookup_names()}


def find_chip(text: str) -> Chip | None:
    """The chip ``text`` names (case, spaces and vendor words ignored), or None."""
    return _INDEX.get(normalize(text))


def suggest(text: str, n: int = 3) -> list[str]:
    """Names of the chips nearest to ``text``, for a "did you mean" message."""
    keys = difflib.get_close_matches(normalize(text), list(_INDEX), n=n * 2, cutoff=0.5)
    names: list[str] = []
    for k in keys:
        if _INDEX[k].name not in names:
            names.append(_INDEX[k].name)
    return names[:n]
