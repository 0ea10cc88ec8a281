"""The ceiling arithmetic: memory decides what loads; bandwidth decides how fast.

Pure functions, no I/O.

- ``ceiling_tok_s(bandwidth_bytes_per_s, active_bytes_per_token, kv_bytes_per_token, depth)``:
  the decode upper bound when every token reads the active weights once plus the KV cache of
  ``depth`` tokens: ``bandwidth / (active + kv_per_token * depth)``. 16 GB a token at 800 GB/s
  is 50 tok/s.
- ``bytes_ceiling_tok_s(bandwidth_bytes_per_s, bytes_per_token)``: the same for a byte count
  already summed (``ModelFacts.bytes_per_token_at(depth)`` knows sliding windows and
  recurrent state, which a single per-token figure cannot express).
- ``model_ceiling_tok_s(facts, bandwidth_bytes_per_s, depth)``: the two above joined.
- ``percent_of_ceiling(decode_tok_s, ceiling)``: a measured figure against its bound.
- ``fit(weights_bytes, kv_bytes, ram_bytes)``: does a model load, with a stated runtime margin
  (10% of what it needs plus 1 GiB by default), and with how much headroom.
- ``advise(facts, ram_bytes=..., bandwidth_bytes_per_s=..., ctx=...)``: for each KV cache type,
  the fit, the decode ceilings at depth 0 and at ``ctx``, the longest context that loads, and
  a one-line verdict (what ``rigbench advise`` prints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CACHE_TYPES",
    "MARGIN_BYTES",
    "MARGIN_FRACTION",
    "Fit",
    "Option",
    "advise",
    "bytes_ceiling_tok_s",
    "ceiling_tok_s",
    "fit",
    "model_ceiling_tok_s",
    "percent_of_ceiling",
    "verdict",
]

MARGIN_FRACTION = 0.10  # compute buffers, graph, fragmentation: a share of what the model needs
MARGIN_BYTES = 1 << 30  # plus a fixed amount for the runtime itself
CACHE_TYPES = ("f16", "q8_0", "q4_0")
_CTX_SEARCH_MAX = 1 << 24


class _FactsLike(Protocol):
    def bytes_per_token_at(self, depth: int) -> int: ...


class _AdviseFacts(_FactsLike, Protocol):
    @property
    def weights_bytes(self) -> int: ...

    def kv_cache_bytes(self, ctx: int | None = None) -> int: ...

    def with_cache_type(self, cache_type: str) -> _AdviseFacts: ...


def bytes_ceiling_tok_s(bandwidth_bytes_per_s: float, bytes_per_token: float) -> float:
    """Tokens per second if each token must read ``bytes_per_token`` at ``bandwidth_bytes_per_s``."""
    if bandwidth_bytes_per_s <= 0:
        raise ValueError("bandwidth must be positive")
    if bytes_per_token <= 0:
        raise ValueError("bytes per token must be positive")
    return float(bandwidth_bytes_per_s) / float(bytes_per_token)


def ceiling_tok_s(bandwidth_bytes_per_s: float, active_bytes_per_token: float, kv_bytes_per_token: float,
                  depth: int) -> float:
    """Decode ceiling at ``depth``: bandwidth / (active bytes + KV bytes per token x depth)."""
    if depth < 0:
        raise ValueError("depth must be >= 0")
    return bytes_ceiling_tok_s(bandwidth_bytes_per_s, active_bytes_per_token + kv_bytes_per_token * depth)


def model_ceiling_tok_s(facts: _FactsLike, bandwidth_bytes_per_s: float, depth: int) -> float:
    """Decode ceiling of a model (``ModelFacts``) at ``depth``, sliding windows and state included."""
    return bytes_ceiling_tok_s(bandwidth_bytes_per_s, facts.bytes_per_token_at(depth))


def percent_of_ceiling(decode_tok_s: float | None, ceiling: float | None) -> float | None:
    """A measured decode rate as a percentage of its ceiling; None when either is missing."""
    if decode_tok_s is None or ceiling is None or ceiling <= 0:
        return None
    return 100.0 * decode_tok_s / ceiling


@dataclass(frozen=True)
class Fit:
    weights_bytes: int
    kv_bytes: int
    margin_bytes: int
    ram_bytes: int

    @property
    def needed_bytes(self) -> int:
        return self.weights_bytes + self.kv_bytes + self.margin_bytes

    @property
    def headroom_bytes(self) -> int:
        """RAM left over; negative when it does not fit."""
        return self.ram_bytes - self.needed_bytes

    @property
    def fits(self) -> bool:
        return self.headroom_bytes >= 0

    def to_json(self) -> dict[str, Any]:
        return {"fits": self.fits, "weights_bytes": self.weights_bytes, "kv_bytes": self.kv_bytes,
                "margin_bytes": self.margin_bytes, "needed_bytes": self.needed_bytes,
                "ram_bytes": self.ram_bytes, "headroom_bytes": self.headroom_bytes}


def fit(weights_bytes: int, kv_bytes: int, ram_bytes: int, *, margin_fraction: float = MARGIN_FRACTION,
        margin_bytes: int = MARGIN_BYTES) -> Fit:
    """Weights + KV + a runtime margin (``margin_fraction`` of both, plus ``margin_bytes``) against RAM."""
    margin = int((weights_bytes + kv_bytes) * margin_fraction) + margin_bytes
    return Fit(int(weights_bytes), int(kv_bytes), margin, int(ram_bytes))


@dataclass(frozen=True)
class Option:
    """One KV cache type for one model: does it load at ``ctx``, and how fast can it decode."""

    cache_type: str
    ctx: int
    kv_cache_bytes: int
    fit: Fit
    decode_ceiling_tok_s: float | None  # depth 0
    decode_ceiling_at_ctx_tok_s: float | None
    max_ctx_that_fits: int  # 0: not even a short context loads

    def to_json(self) -> dict[str, Any]:
        return {"cache_type": self.cache_type, "ctx": self.ctx, "kv_cache_bytes": self.kv_cache_bytes,
                "fit": self.fit.to_json(), "decode_ceiling_tok_s": _round(self.decode_ceiling_tok_s),
                "decode_ceiling_at_ctx_tok_s": _round(self.decode_ceiling_at_ctx_tok_s),
                "max_ctx_that_fits": self.max_ctx_that_fits}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def _max_ctx(facts: _AdviseFacts, ram_bytes: int, margin_fraction: float, margin_bytes: int, cap: int) -> int:
    """The longest context up to ``cap`` whose weights + KV + margin fit in ``ram_bytes`` (256-token steps)."""
    def ok(c: int) -> bool:
        return fit(facts.weights_bytes, facts.kv_cache_bytes(c), ram_bytes, margin_fraction=margin_fraction,
                   margin_bytes=margin_bytes).fits

    if not ok(256):
        return 0
    if ok(cap):
        return cap
    lo, hi = 1, max(1, cap // 256)  # in units of 256 tokens; ok(lo * 256) holds, ok(cap) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid * 256) else (lo, mid)
    return lo * 256


def advise(facts: _AdviseFacts, *, ram_bytes: int, bandwidth_bytes_per_s: float | None, ctx: int,
           cache_types: tuple[str, ...] = CACHE_TYPES, margin_fraction: float = MARGIN_FRACTION,
           margin_bytes: int = MARGIN_BYTES, ctx_cap: int | None = None) -> tuple[list[Option], str]:
    """Each cache type's fit and ceilings at ``ctx``, and a verdict line.

    ``max_ctx_that_fits`` is searched up to ``ctx_cap`` (default: ``ctx``, or the model's
    declared maximum where that is larger): memory beyond what the model can use is no answer.
    """
    cap = min(_CTX_SEARCH_MAX, max(ctx, ctx_cap or 0))
    options: list[Option] = []
    for ct in cache_types:
        f = facts.with_cache_type(ct)
        kv = f.kv_cache_bytes(ctx)
        c0 = cc = None
        if bandwidth_bytes_per_s and f.bytes_per_token_at(0) > 0:
            c0 = model_ceiling_tok_s(f, bandwidth_bytes_per_s, 0)
            cc = model_ceiling_tok_s(f, bandwidth_bytes_per_s, ctx)
        options.append(Option(ct, ctx, kv, fit(f.weights_bytes, kv, ram_bytes, margin_fraction=margin_fraction,
                                                  margin_bytes=margin_bytes),
                              c0, cc, _max_ctx(f, ram_bytes, margin_fraction, margin_bytes, cap)))
    return options, verdict(options, ram_bytes, margin_fraction=margin_fraction, margin_bytes=margin_bytes)


def _gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB" if abs(n) >= 2**30 else f"{n / 2**20:,.0f} MiB"


def verdict(options: list[Option], ram_bytes: int, *, margin_fraction: float = MARGIN_FRACTION,
            margin_bytes: int = MARGIN_BYTES) -> str:
    """Memory decides what loads; bandwidth decides how fast: the two in one line."""
    if not options:
        return "nothing to judge"
    ctx = options[0].ctx
    loads = next((o for o in options if o.fit.fits), None)
    if loads is None:
        best = max(options, key=lambda o: o.max_ctx_that_fits)
        last = options[-1]
        if best.max_ctx_that_fits == 0:
            alone = fit(last.fit.weights_bytes, 0, ram_bytes, margin_fraction=margin_fraction,
                        margin_bytes=margin_bytes).needed_bytes
            return (f"does not load: the weights alone need {_gib(alone)} with the margin, "
                    f"and there is {_gib(ram_bytes)}")
        return (f"does not load at {ctx:,} tokens even with {last.cache_type} KV (needs "
                f"{_gib(last.fit.needed_bytes)}, have {_gib(ram_bytes)}); the longest context that loads is "
                f"{best.max_ctx_that_fits:,} tokens with {best.cache_type} KV")
    how = "loads" if loads is options[0] else f"loads only with {loads.cache_type} KV"
    text = f"{how} at {ctx:,} tokens with {_gib(loads.fit.headroom_bytes)} to spare"
    if loads.decode_ceiling_tok_s is not None and loads.decode_ceiling_at_ctx_tok_s is not None:
        text += (f"; decode can be at most {loads.decode_ceiling_tok_s:,.0f} tok/s at depth 0 and "
                 f"{loads.decode_ceiling_at_ctx_tok_s:,.0f} tok/s at {ctx:,}")
    return text
