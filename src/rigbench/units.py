"""Counts, sizes and rates: read from what people type, written for people. One place, one rule each
(docs/architecture.md, "Units"):

- **Token counts** (``--depths``, ``--ctx``): ``k`` = 1,024 and ``M`` = 1,048,576, as llama.cpp users write
  context sizes (32K = 32,768). A count must come out whole: ``1.5k`` is 1,536, while ``0.3k`` (307.2) is
  refused with a hint rather than rounded, since a silently rounded depth is not the depth that was asked for.
  Written back as ``32K``, ``198K``, ``1M`` (``fmt_tokens``) or in full with thousands separators.
- **Memory** (RAM, VRAM, the KV cache, weights read per token): binary units, written GiB / MiB / KiB
  (2**30 ...), as llama.cpp logs them and as memory is sold; ``--ram 512GB`` reads as 512 GiB.
- **Files on disk** (a GGUF's size, the board's Disk column): decimal GB / MB (10**9 ...), as disks and
  downloads count them; ``fmt_file`` gives both.
- **Rates**: bandwidth in decimal GB/s (10**9 bytes/s, as vendors quote it); speeds in tok/s.
- **Energy**: joules per token; electricity priced per kWh (3.6 MJ), a cost per 1M generated tokens.

Pure functions; errors are ``UsageError`` with a hint.
"""

from __future__ import annotations

import math
import re

from rigbench.errors import UsageError

__all__ = ["GIB", "J_PER_KWH", "K", "M", "electricity_per_mtok", "fmt_bytes", "fmt_count", "fmt_disk", "fmt_file",
           "fmt_num", "fmt_rate", "fmt_speedup", "fmt_tokens", "parse_bandwidth_gb_s", "parse_count", "parse_memory"]

K = 1024
M = 1024 * 1024
GIB = 2**30
J_PER_KWH = 3.6e6


def electricity_per_mtok(j_per_token: float, price_per_kwh: float) -> float:
    """The electricity for 1M generated tokens: J/token x 1e6 / 3.6e6 J/kWh x price per kWh."""
    return j_per_token * 1e6 / J_PER_KWH * price_per_kwh

_COUNT = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmM]?)\s*$")
_MEMORY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(?:i?b)?\s*(?:/\s*s|ps)?\s*$", re.IGNORECASE)


# -- reading ---------------------------------------------------------------------------------
def parse_count(text: str, what: str = "--ctx", *, minimum: int = 0) -> int:
    """``"32k"`` -> 32768, ``"1M"`` -> 1048576, ``"1.5k"`` -> 1536, ``"4096"`` -> 4096; a count that
    does not come out whole (``"0.3k"``) or is below ``minimum`` is refused."""
    m = _COUNT.match(text or "")
    if not m:
        raise UsageError(f"{what} {text!r} is not a token count", f"e.g. {what} 32768, {what} 32k or {what} 1M "
                                                                   "(k = 1024)")
    number, suffix = m.group(1), m.group(2).lower()
    mult = {"": 1, "k": K, "m": M}[suffix]
    whole, _, frac = number.partition(".")
    # exact: digits over a power of ten, so "1.5k" is 1536 with no float rounding on the way
    numerator = int((whole or "0") + frac) * mult
    denominator = 10 ** len(frac)
    if numerator % denominator:
        exact = numerator / denominator
        raise UsageError(f"{what} {text!r} is {exact:,.1f} tokens, not a whole number (k = 1024)",
                         f"write {what} {round(exact)} or a multiple of 1/1024 of a k, e.g. 0.5k")
    value = int(numerator // denominator)
    if value < minimum:
        raise UsageError(f"{what} must be at least {minimum}, not {text!r}")
    return value


def parse_memory(text: str, what: str = "--ram") -> int:
    """Bytes from ``"512GB"``, ``"24 GiB"``, ``"64"`` (GiB), ``"512M"``: memory is binary whatever the
    spelling (GB = GiB here, as memory is sold)."""
    m = _MEMORY.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{what} {text!r} is not a memory size", f"e.g. {what} 512GB or {what} 24GB")
    scale = {"": GIB, "k": 2**10, "m": 2**20, "g": GIB, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def parse_bandwidth_gb_s(text: str) -> float | None:
    """GB/s (decimal) from ``"800"``, ``"800GB/s"``, ``"3.35 TB/s"``; None when ``text`` is not a
    number. "b" is read as bytes whatever its case: memory bandwidth is not quoted in bits."""
    m = _RATE.match(text or "")
    if not m:
        return None
    return float(m.group(1)) * {"": 1.0, "k": 1e-6, "m": 1e-3, "g": 1.0, "t": 1e3}[m.group(2).lower()]


# -- writing ---------------------------------------------------------------------------------
def fmt_num(v: float | int | None, nd: int = 1, *, dash: str = "—") -> str:
    """``1234.5`` -> ``"1,234.5"``; an int (or a whole float with ``nd=0``) without decimals."""
    if v is None:
        return dash
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and nd == 0):
        return f"{int(v):,}"
    return f"{v:,.{nd}f}"


def fmt_tokens(n: int | None) -> str:
    """Context sizes the way llama.cpp users say them: 32K, 198K, 1M (binary k and M)."""
    if not n:
        return "—"
    if n >= M:
        v = n / M
        return f"{v:.0f}M" if v.is_integer() or v >= 10 else f"{v:.1f}M"
    if n >= K:
        return f"{round(n / K):.0f}K"
    return str(n)


def fmt_bytes(n: float | None, nd: int = 2) -> str:
    """Memory, binary: ``"1.50 GiB"``, ``"512.00 MiB"``, ``"0 B"``; None -> ``"—"``."""
    if n is None:
        return "—"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:,.{nd}f} {unit}"
    return f"{n:,.0f} B"


def fmt_disk(n: float | None, nd: int = 1) -> str:
    """A file's size on disk, decimal: ``"253.1 MB"``, ``"4.9 GB"``; None or 0 -> ``"—"``."""
    if not n:
        return "—"
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:,.{nd}f} {unit}"
    return f"{int(n)} B"


def fmt_file(n: int) -> str:
    """A file size as disks and downloads count it (decimal), and as llama.cpp logs it (binary)."""
    if n >= 1e6:
        return f"{fmt_disk(n, 2)} ({fmt_bytes(n)})"
    return fmt_bytes(n)


def fmt_count(n: float | None) -> str:
    """A parameter count, decimal: ``"1.23 B"``, ``"270.00 M"``."""
    if n is None:
        return "—"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{n:,.0f}"


def fmt_rate(x: float | None) -> str:
    return "—" if x is None else f"{x:,.1f} tok/s"


def fmt_speedup(speedup: float | None) -> str:
    """A ratio against a baseline: 1.52 -> "1.52x"; 0.88 -> "12% slower"."""
    if speedup is None or not math.isfinite(speedup):
        return "—"
    if speedup < 1.0:
        return f"{(1 - speedup) * 100:.0f}% slower"
    return f"{speedup:.2f}x"
