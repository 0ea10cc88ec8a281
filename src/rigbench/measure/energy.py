"""Energy figures from stored raw readings and stored requests. Pure: no I/O.

A channel's readings become a cumulative energy curve E(t): a counter's readings unwrapped
(a drop by less than its range is a wrap-around and adds the range; a drop on a counter
without a known range starts a new segment, and no window spans it), power samples
integrated by the trapezoid rule. E is linear between readings, so the energy over any
window [a, b] inside a segment is E(b) - E(a); a window outside the readings, or across a
gap, has no energy (None, never 0).

Each request's energy is split at its own timestamps: prefill = sent -> first token, decode
= first -> last token. Channels of one sampler session add up (GPU boards + CPU packages +
DRAM); a window is measured only where every channel of a session covers it.

Per depth point (``point_energy``), the issue's ``energy`` object:

    watts                mean power during decode, gross: sum of decode joules / decode seconds
    idle_watts           the baseline measured before the run (server up, idle), beside, never inside
    j_per_token          decode joules per generated token, gross: decode J / (generated - 1)
                         (the tokens the decode window holds, as decode tok/s counts them)
    j_per_token_net      the same with the idle power subtracted over the decode time
    prefill_j_per_token  the grow request's prefill joules / prompt tokens it processed
    tokens_per_joule     1 / j_per_token

A load level (``level_energy``) overlaps requests, so it takes the energy over the level's
whole span (first sent -> last ended) per generated token instead.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench.measure.speed import figures

__all__ = [
    "ENERGY_KEYS",
    "Curve",
    "EnergyData",
    "RequestEnergy",
    "curves",
    "empty_energy",
    "energy_data",
    "level_energy",
    "point_energy",
    "request_energy",
    "request_j_per_token",
    "sig",
]

ENERGY_KEYS = ("source", "covers", "watts", "idle_watts", "j_per_token", "j_per_token_net",
               "prefill_j_per_token", "tokens_per_joule")


@dataclass
class Curve:
    """One channel of one sampler session: cumulative joules at each reading's time."""

    session: int
    source: str
    channel: str
    covers: str
    kind: str
    t: list[int] = field(default_factory=list)
    e: list[float] = field(default_factory=list)
    seg: list[int] = field(default_factory=list)

    def at(self, t_ns: int) -> tuple[float, int] | None:
        """E(t) by linear interpolation, and its segment; None outside the readings."""
        if not self.t or t_ns < self.t[0] or t_ns > self.t[-1]:
            return None
        i = bisect_right(self.t, t_ns) - 1
        if i >= len(self.t) - 1 or self.t[i] == t_ns:
            return self.e[i], self.seg[i]
        if self.seg[i] != self.seg[i + 1]:
            return None
        t0, t1 = self.t[i], self.t[i + 1]
        frac = (t_ns - t0) / (t1 - t0)
        return self.e[i] + frac * (self.e[i + 1] - self.e[i]), self.seg[i]

    def between(self, a_ns: int, b_ns: int) -> float | None:
        lo, hi = self.at(a_ns), self.at(b_ns)
        if lo is None or hi is None or lo[1] != hi[1]:
            return None
        return hi[0] - lo[0]


def _add(c: Curve, t: int, e: float, seg: int) -> None:
    if c.t and t == c.t[-1]:  # two readings stamped alike: keep the later value
        c.e[-1], c.seg[-1] = e, seg
        return
    c.t.append(t)
    c.e.append(e)
    c.seg.append(seg)


def curves(samples: Iterable[Mapping[str, Any]], *, phase: str | None = None) -> list[Curve]:
    """The cumulative curves of stored readings (optionally of one phase), one per
    (session, source, channel)."""
    raw: dict[tuple[int, str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for s in samples:
        if phase is not None and s.get("phase") != phase:
            continue
        raw[(int(s["session"]), str(s["source"]), str(s["channel"]))].append(s)
    out = []
    for (session, source, channel), rows in sorted(raw.items()):
        rows = sorted(rows, key=lambda r: int(r["t_ns"]))
        c = Curve(session, source, channel, str(rows[0]["covers"]), str(rows[0]["kind"]))
        seg, total = 0, 0.0
        prev: Mapping[str, Any] | None = None
        for r in rows:
            t, v = int(r["t_ns"]), float(r["value"])
            if prev is not None:
                pv, pt = float(prev["value"]), int(prev["t_ns"])
                if c.kind == "counter":
                    d = v - pv
                    wrap = r.get("wrap")
                    if d < 0:
                        if wrap and -d < float(wrap):
                            d += float(wrap)
                        else:  # a reset without a known range: a new segment
                            seg += 1
                            d = 0.0
                    total += d
                else:
                    total += (v + pv) / 2 * (t - pt) / 1e9
            _add(c, t, total, seg)
            prev = r
        out.append(c)
    return out


@dataclass
class EnergyData:
    """A run's readings, ready for windows: the run-phase curves and the idle baseline."""

    run: list[Curve]
    idle_watts: float | None
    source: str | None  # "rapl", "nvml + rapl", ...
    covers: str | None  # "cpu_package + dram", ...

    @property
    def present(self) -> bool:
        return bool(self.run)

    def window(self, a_ns: int | None, b_ns: int | None) -> float | None:
        """Joules over [a, b] from the one session whose every channel covers it."""
        if a_ns is None or b_ns is None or b_ns < a_ns:
            return None
        by_session: dict[int, list[Curve]] = defaultdict(list)
        for c in self.run:
            by_session[c.session].append(c)
        for chans in by_session.values():
            parts = [c.between(a_ns, b_ns) for c in chans]
            if all(p is not None for p in parts):
                return sum(p for p in parts if p is not None)
        return None


def _idle_watts(samples: Sequence[Mapping[str, Any]]) -> float | None:
    """Mean idle power: per session, the channels' idle energies over the common idle span, summed;
    sessions weighted by their span."""
    joules = seconds = 0.0
    by_session: dict[int, list[Curve]] = defaultdict(list)
    for c in curves(samples, phase="idle"):
        by_session[c.session].append(c)
    for chans in by_session.values():
        lo = max(c.t[0] for c in chans)
        hi = min(c.t[-1] for c in chans)
        if hi <= lo:
            continue
        parts = [c.between(lo, hi) for c in chans]
        if any(p is None for p in parts):
            continue
        joules += sum(p for p in parts if p is not None)
        seconds += (hi - lo) / 1e9
    return joules / seconds if seconds > 0 else None


def _join(values: Iterable[str]) -> str | None:
    seen = list(dict.fromkeys(values))
    return " + ".join(seen) if seen else None


def energy_data(samples: Sequence[Mapping[str, Any]]) -> EnergyData:
    """Everything the figures need from a run's stored readings (both phases: a window in
    the run may start while the idle baseline's readings were still the latest)."""
    run = curves(samples)
    return EnergyData(run, _idle_watts(samples), _join(c.source for c in run), _join(c.covers for c in run))


@dataclass(frozen=True)
class RequestEnergy:
    prefill_j: float | None
    decode_j: float | None
    prefill_s: float | None
    decode_s: float | None
    prefill_tokens: int | None  # prompt tokens the server processed (cached ones excluded)
    decode_tokens: int | None  # generated - 1: the tokens inside the decode window


def request_energy(row: Mapping[str, Any], data: EnergyData) -> RequestEnergy:
    f = figures(row)
    sent, first, last = row.get("t_sent_ns"), row.get("t_first_token_ns"), row.get("t_last_token_ns")
    pre = data.window(sent, first)
    dec = data.window(first, last) if last is not None and first is not None and last > first else None
    gen = f.generated_tokens
    return RequestEnergy(
        prefill_j=pre, decode_j=dec,
        prefill_s=(first - sent) / 1e9 if sent is not None and first is not None else None,
        decode_s=(last - first) / 1e9 if first is not None and last is not None else None,
        prefill_tokens=f.processed_tokens,
        decode_tokens=gen - 1 if gen is not None and gen >= 2 else None,
    )


def request_j_per_token(row: Mapping[str, Any], data: EnergyData) -> float | None:
    """One request's decode joules per generated token (what a paired comparison pairs)."""
    e = request_energy(row, data)
    if e.decode_j is None or not e.decode_tokens:
        return None
    return e.decode_j / e.decode_tokens


def sig(v: float | None, digits: int = 6) -> float | None:
    """Six significant digits: J/token spans orders of magnitude (a GPU's 0.002 to a CPU's 3)."""
    if v is None or v == 0 or not math.isfinite(v):
        return v
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))


def empty_energy() -> dict[str, Any]:
    """The ``energy`` object where nothing could be read: every field null, never 0."""
    return dict.fromkeys(ENERGY_KEYS)


def point_energy(rows: Sequence[Mapping[str, Any]], data: EnergyData) -> dict[str, Any]:
    """The ``energy`` object of one depth point from its ok requests."""
    out = empty_energy()
    if not data.present:
        return out
    out["source"], out["covers"] = data.source, data.covers
    out["idle_watts"] = sig(data.idle_watts)
    dec_j = dec_s = 0.0
    dec_n = 0
    for r in rows:
        if r.get("status") != "ok":
            continue
        e = request_energy(r, data)
        if e.decode_j is None or not e.decode_tokens or not e.decode_s:
            continue
        dec_j += e.decode_j
        dec_s += e.decode_s
        dec_n += e.decode_tokens
    if dec_n and dec_s > 0:
        jpt = dec_j / dec_n
        out["watts"] = sig(dec_j / dec_s)
        out["j_per_token"] = sig(jpt)
        out["tokens_per_joule"] = sig(1 / jpt) if jpt > 0 else None
        if data.idle_watts is not None:
            out["j_per_token_net"] = sig((dec_j - data.idle_watts * dec_s) / dec_n)
    ok = [r for r in rows if r.get("status") == "ok"]
    grow = next((r for r in ok if r.get("role") == "grow"), ok[0] if ok else None)
    if grow is not None:
        e = request_energy(grow, data)
        if e.prefill_j is not None and e.prefill_tokens:
            out["prefill_j_per_token"] = sig(e.prefill_j / e.prefill_tokens)
    return out


def level_energy(rows: Sequence[Mapping[str, Any]], data: EnergyData) -> dict[str, Any]:
    """The ``energy`` object of one load level: its requests overlap, so the energy over the
    level's span (first sent -> last ended) per token generated in it. ``prefill_j_per_token``
    is null: prefill and decode of concurrent streams share the same joules."""
    out = empty_energy()
    if not data.present:
        return out
    out["source"], out["covers"] = data.source, data.covers
    out["idle_watts"] = sig(data.idle_watts)
    ok = [r for r in rows if r.get("status") == "ok"]
    starts = [int(r["t_sent_ns"]) for r in ok if r.get("t_sent_ns") is not None]
    ends = [int(r["t_end_ns"]) for r in ok if r.get("t_end_ns") is not None]
    tokens = sum(figures(r).generated_tokens or 0 for r in ok)
    if not starts or not ends or not tokens:
        return out
    a, b = min(starts), max(ends)
    joules = data.window(a, b)
    if joules is None or b <= a:
        return out
    secs = (b - a) / 1e9
    jpt = joules / tokens
    out["watts"] = sig(joules / secs)
    out["j_per_token"] = sig(jpt)
    out["tokens_per_joule"] = sig(1 / jpt) if jpt > 0 else None
    if data.idle_watts is not None:
        out["j_per_token_net"] = sig((joules - data.idle_watts * secs) / tokens)
    return out
