"""How long filling a context window takes: prefill time fitted against depth, projected (pure).

Prefilling ``d`` tokens from an empty context costs a per-token term (the weights every token
passes through) and an attention term that grows with the tokens already there::

    time(d) = a*d + b*d**2            (a, b >= 0, seconds)

A measured prefill of the tokens from position ``s`` to ``e`` (the new part of a grow
request: the server's cache held the first ``s``) took ``time(e) - time(s)``; each depth
the run measured is one such equation. ``a`` and ``b`` come from a least-squares fit on
relative error (every depth counts the same), kept non-negative; the range is the spread
of the projections when each measured depth in turn is left out (three depths or more).
Chunks under ``MIN_NEW_TOKENS`` new tokens are left out: their time is mostly the request's
fixed cost, not prefill. The server's own prefill timing is used where every point has it.

Public: ``FillSample``, ``FillFit``, ``fit_fill(samples)``, ``samples_from_points(points)``,
``samples_from_rates(text)`` (``--prefill-tok-s`` of ``inspect`` and ``advise``),
``fill_projection(fit, targets)`` (the ``fill_s`` JSON and its details), ``fmt_duration(s)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rigbench.errors import UsageError

__all__ = ["MIN_NEW_TOKENS", "ONE_MILLION", "FillFit", "FillSample", "fill_projection", "fit_fill", "fmt_duration",
           "samples_from_points", "samples_from_rates"]

MIN_NEW_TOKENS = 256
ONE_MILLION = 1_000_000
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:@\s*([0-9]*\.?[0-9]+)\s*([kKmM]?))?\s*$")


@dataclass(frozen=True)
class FillSample:
    """Prefill of the tokens from position ``start`` to ``end`` took ``seconds``."""

    start: int
    end: int
    seconds: float

    @property
    def tokens(self) -> int:
        return self.end - self.start


def _cost(a: float, b: float, start: int, end: int) -> float:
    return a * (end - start) + b * (end * end - start * start)


@dataclass(frozen=True)
class FillFit:
    a_s: float  # seconds per token: the weights
    b_s: float  # seconds per token^2: attention over the tokens already in the context
    samples: tuple[FillSample, ...]
    loo: tuple[tuple[float, float], ...] = ()  # (a, b) with each sample left out in turn

    def seconds(self, tokens: int) -> float:
        return _cost(self.a_s, self.b_s, 0, tokens)

    def range_s(self, tokens: int) -> tuple[float, float] | None:
        if not self.loo:
            return None
        values = [_cost(a, b, 0, tokens) for a, b in self.loo] + [self.seconds(tokens)]
        return min(values), max(values)

    @property
    def deepest(self) -> int:
        return max(s.end for s in self.samples)

    def rate_at(self, depth: int) -> float | None:
        """Prefill tok/s of the next token at ``depth`` (the marginal rate)."""
        per_token = self.a_s + 2 * self.b_s * depth
        return 1.0 / per_token if per_token > 0 else None


def _solve(samples: Sequence[FillSample]) -> tuple[float, float] | None:
    """Non-negative least squares on relative error, for two unknowns: the unconstrained
    solution when both are >= 0, else the better of the one-term fits."""
    if not samples:
        return None
    x = np.array([[s.tokens / s.seconds, (s.end**2 - s.start**2) / s.seconds] for s in samples], dtype=float)
    y = np.ones(len(samples))
    candidates: list[tuple[float, float]] = []
    if len(samples) >= 2:
        sol, *_ = np.linalg.lstsq(x, y, rcond=None)
        if sol[0] >= 0 and sol[1] >= 0:
            candidates.append((float(sol[0]), float(sol[1])))
    if not candidates:
        for col in (0, 1):
            v = x[:, col]
            if float(v @ v) > 0:
                coef = float(v @ y / (v @ v))
                candidates.append((coef, 0.0) if col == 0 else (0.0, coef))
    if not candidates:
        return None

    def err(ab: tuple[float, float]) -> float:
        r = x @ np.array(ab) - y
        return float(r @ r)

    return min(candidates, key=err)


def fit_fill(samples: Sequence[FillSample], *, min_samples: int = 2) -> FillFit | None:
    """The fit, or None with fewer than ``min_samples`` usable samples (two depths, by default)."""
    good = [s for s in samples if s.tokens > 0 and s.seconds > 0 and s.start >= 0 and math.isfinite(s.seconds)]
    if len(good) < max(1, min_samples):
        return None
    ab = _solve(good)
    if ab is None:
        return None
    loo: list[tuple[float, float]] = []
    if len(good) >= 3:
        for i in range(len(good)):
            sub = _solve(good[:i] + good[i + 1:])
            if sub is not None:
                loo.append(sub)
    return FillFit(ab[0], ab[1], tuple(good), tuple(loo))


def samples_from_points(points: Sequence[Mapping[str, Any]]) -> tuple[list[FillSample], str, list[int]]:
    """(samples, basis "server" | "client", depths left out) from a run's depth points: each
    point's grow request prefilled ``prefill_new_tokens`` ending at ``prompt_tokens``."""
    usable = [p for p in points if p.get("prompt_tokens") and p.get("prefill_new_tokens")
              and p.get("prefill_tok_s")]
    skipped = [int(p["depth"]) for p in points if p not in usable or int(p["prefill_new_tokens"]) < MIN_NEW_TOKENS]
    usable = [p for p in usable if int(p["prefill_new_tokens"]) >= MIN_NEW_TOKENS]
    basis = "server" if all(p.get("prefill_tok_s_server") for p in usable) else "client"
    out = []
    for p in usable:
        new, end = int(p["prefill_new_tokens"]), int(p["prompt_tokens"])
        rate = float(p["prefill_tok_s_server"] if basis == "server" else p["prefill_tok_s"])
        out.append(FillSample(max(0, end - new), end, new / rate))
    return out, basis, skipped


def samples_from_rates(text: str) -> list[FillSample]:
    """``--prefill-tok-s``: ``RATE`` or ``RATE@TOKENS`` pairs, comma-separated: a prompt of
    TOKENS (k = 1024) prefilled from an empty context at RATE tok/s on average. A bare rate
    is taken at 4,096 tokens."""
    out: list[FillSample] = []
    for part in [p for p in text.split(",") if p.strip()] or [text]:
        m = _RATE.match(part)
        if not m or float(m.group(1)) <= 0:
            raise UsageError(f"--prefill-tok-s {part.strip()!r} is not a prefill rate",
                             "give tok/s, optionally at a prompt length: --prefill-tok-s 185 or "
                             "--prefill-tok-s 185@2k,86@5460")
        rate = float(m.group(1))
        tokens = 4096
        if m.group(2) is not None:
            tokens = round(float(m.group(2)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(3).lower()])
            if tokens < 1:
                raise UsageError(f"--prefill-tok-s {part.strip()!r}: the prompt length must be at least 1 token")
        out.append(FillSample(0, tokens, tokens / rate))
    return out


def fmt_duration(seconds: float | None) -> str:
    """Hours and minutes: 229h 18m, 3h 05m; under an hour 12m 40s, 38s, 0.4s."""
    if seconds is None:
        return "—"
    s = float(seconds)
    if s < 10:
        return f"{s:.1f}s"
    total = round(s)
    if total < 3600:
        m, sec = divmod(total, 60)
        return f"{m}m {sec:02d}s" if m else f"{sec}s"
    h, m = divmod(round(s / 60), 60)
    return f"{h:,}h {m:02d}m"


def fill_projection(fit: FillFit | None, targets: Mapping[str, int | None], *, basis: str | None = None,
                    skipped: Sequence[int] = ()) -> tuple[dict[str, float | None], dict[str, Any]]:
    """(``fill_s``: seconds per target, null without a fit or a target; the details: the fit,
    the range per target, and a statement)."""
    fill_s: dict[str, float | None] = {}
    ranges: dict[str, list[float] | None] = {}
    for key, n in targets.items():
        if fit is None or not n:
            fill_s[key], ranges[key] = None, None
            continue
        fill_s[key] = round(fit.seconds(int(n)), 1)
        r = fit.range_s(int(n))
        ranges[key] = [round(r[0], 1), round(r[1], 1)] if r else None
    detail: dict[str, Any] = {
        "targets": dict(targets),
        "range_s": ranges,
        "a_s_per_token": fit.a_s if fit else None,
        "b_s_per_token2": fit.b_s if fit else None,
        "samples": [{"start": s.start, "end": s.end, "seconds": round(s.seconds, 3)} for s in fit.samples]
        if fit else [],
        "deepest": fit.deepest if fit else None,
        "basis": basis if fit else None,
        "skipped_depths": list(skipped),
    }
    detail["statement"] = _statement(fit, targets, fill_s, ranges, basis)
    return fill_s, detail


_NAMES = {"native": "native", "granted": "granted"}


def _statement(fit: FillFit | None, targets: Mapping[str, int | None], fill_s: Mapping[str, float | None],
               ranges: Mapping[str, list[float] | None], basis: str | None) -> str:
    if fit is None:
        return (f"fewer than two depths with {MIN_NEW_TOKENS}+ new prompt tokens were measured: "
                "no fill-time projection")
    groups: dict[int, list[str]] = {}
    for key, n in targets.items():
        if n and fill_s.get(key) is not None:
            groups.setdefault(int(n), []).append(key)
    bits = []
    for n, keys in groups.items():
        names = [_NAMES[k] for k in keys if k in _NAMES]
        label = f"the {' and '.join(names)} window ({n:,})" if names else f"{n:,} tokens"
        text = f"{label} {fmt_duration(fill_s[keys[0]])}"
        r = ranges.get(keys[0])
        if r and fmt_duration(r[0]) != fmt_duration(r[1]):
            text += f" ({fmt_duration(r[0])}–{fmt_duration(r[1])})"
        bits.append(text)
    n = len(fit.samples)
    if basis == "given":
        how = f"fitted to {n} given prefill rate{'s' if n != 1 else ''} up to {fit.deepest:,} tokens"
    else:
        how = f"fitted to {n} measured prefill{'s' if n != 1 else ''} up to {fit.deepest:,} tokens"
        if basis:
            how += f" ({basis} timings)"
    if n < 3:
        how += "; no range: that takes three depths or more"
    if fit.b_s == 0:
        how += "; no attention term could be fitted, so these are floors: prefill slows as the context fills"
    return "time to first token to fill " + "; ".join(bits) + f" — {how}"
