"""Will a configuration fit in memory? Checked before a server is launched.

Weights (from the GGUF header) plus the KV cache llama.cpp would allocate for the
configuration's context, slots, micro-batch and cache types (``ModelFacts.kv_cache_parts``),
against the memory the OS says is available now. A GPU offload (``ngl``) moves memory the
check cannot see, so it is skipped there, and said so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.errors import RigbenchError

__all__ = ["MemoryCheck", "concurrent_fit"]

_GIB = 2**30


class MemoryCheck:
    """Reads the model's header once; ``problem(flags)`` says why a configuration cannot fit."""

    def __init__(self, model_path: str | None) -> None:
        self.facts: Any = None
        self.unavailable: str | None = None
        if not model_path:
            self.unavailable = "no model file to read"
            return
        try:
            from rigbench.model.facts import model_facts

            self.facts = model_facts(model_path)
        except RigbenchError as exc:
            self.unavailable = f"the model's header could not be read ({exc.one_line()})"

    def need_bytes(self, flags: Mapping[str, str], *, weights: bool = True) -> int | None:
        f = self.facts
        if f is None:
            return None
        c = flags.get("c")
        ctx = int(c) if c and c.isdigit() and int(c) > 0 else (f.native_context or 4096)
        np_ = int(flags["np"]) if flags.get("np", "").isdigit() else 1
        ub = int(flags["ub"]) if flags.get("ub", "").isdigit() else 512
        kw = {"n_seq": np_, "n_ubatch": ub, "unified": "np" not in flags}
        k_parts = f.with_cache_type(flags.get("ctk", "f16")).kv_cache_parts(ctx, **kw)
        v_parts = f.with_cache_type(flags.get("ctv", "f16")).kv_cache_parts(ctx, **kw)
        kv = sum(p.k_bytes for p in k_parts) + sum(p.v_bytes for p in v_parts)
        return int(kv + (f.weights_bytes if weights else 0))

    def problem(self, flags: Mapping[str, str], available: int | None = None) -> str | None:
        if self.facts is None or flags.get("ngl") not in (None, "0"):
            return None
        need = self.need_bytes(flags)
        if need is None:
            return None
        avail = available if available is not None else _available()
        if need > avail:
            kv = need - int(self.facts.weights_bytes)
            return (f"needs about {need / _GIB:.1f} GiB (weights {self.facts.weights_bytes / _GIB:.1f} GiB + KV cache "
                    f"{kv / _GIB:.1f} GiB) and {avail / _GIB:.1f} GiB is available")
        return None


def _available() -> int:
    import psutil

    return int(psutil.virtual_memory().available)


def concurrent_fit(check: MemoryCheck, configs: Sequence[Mapping[str, str]]) -> tuple[bool, str]:
    """Can these configurations run side by side? Memory-mapped weights are shared between
    servers of the same file; ``--no-mmap`` copies and GPU offload are not."""
    if check.facts is None:
        return False, f"servers run one at a time: {check.unavailable}"
    if any(c.get("ngl") not in (None, "0") for c in configs):
        return False, "servers run one at a time: GPU offload (ngl) would need the GPU memory several times over"
    kv = sum(check.need_bytes(c, weights=False) or 0 for c in configs)
    copies = sum(1 for c in configs if c.get("no-mmap") == "on") + (0 if all(c.get("no-mmap") == "on"
                                                                           for c in configs) else 1)
    need = kv + copies * int(check.facts.weights_bytes)
    avail = _available()
    if need > avail * 0.8:
        return False, (f"servers run one at a time: side by side they would need about {need / _GIB:.1f} GiB "
                       f"of the {avail / _GIB:.1f} GiB available")
    return True, "servers running together, requests interleaved round by round (no restarts)"
