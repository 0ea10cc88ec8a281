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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "MARGIN_BYTES",
    "MARGIN_FRACTION",
    "Fit",
    "bytes_ceiling_tok_s",
    "ceiling_tok_s",
    "fit",
    "model_ceiling_tok_s",
    "percent_of_ceiling",
]

MARGIN_FRACTION = 0.10  # compute buffers, graph, fragmentation: a share of what the model needs
MARGIN_BYTES = 1 << 30  # plus a fixed amount for the runtime itself


class _FactsLike(Protocol):
    def bytes_per_token_at(self, depth: int) -> int: ...


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
