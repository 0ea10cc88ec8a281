"""The ceiling's basis for a run: GGUF header facts and the bandwidth to divide by.

The bandwidth is, in this order: what ``--bandwidth`` says (a number, a chip name, or
``auto`` to measure); the vendor figure of the GPU the server's boot log names (or the
Apple chip it runs on); otherwise this host's memory, measured (a few seconds). A model
the boot log shows on several devices gets ``basis["split"]`` (measure.ceiling.split_basis:
layer split keeps one device's bandwidth, row split counts N of them).
"""

from __future__ import annotations

import os
from typing import Any

from rigbench.errors import RigbenchError
from rigbench.measure.ceiling import split_basis
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["ceiling_basis", "chip_for_device", "split_mode"]


def chip_for_device(name: str) -> Any:
    """The chip-table entry for a device name such as 'NVIDIA H100 80GB HBM3' (longest
    matching run of its leading words), or None."""
    from rigbench.model.chips import find_chip

    words = name.replace(",", " ").split()
    for n in range(len(words), 0, -1):
        for start in range(0, len(words) - n + 1):
            chip = find_chip(" ".join(words[start : start + n]))
            if chip is not None:
                return chip
    return None


def spec_gpu(machine: dict[str, Any]) -> bool:
    return bool(machine.get("gpus"))


def _bandwidth(text: str | None, facts: ServerFacts, machine: dict[str, Any]) -> Any:
    from rigbench.model.bandwidth import Bandwidth, resolve_bandwidth

    if text:
        return resolve_bandwidth(text)
    backend = (facts.backend or "").upper()
    if not backend and spec_gpu(machine):
        backend = "CUDA"  # a quiet log on a machine with an NVIDIA GPU: assume the model is there
    if backend not in ("", "CPU"):
        names = list(facts.devices or []) + [g.get("name", "") for g in machine.get("gpus") or []]
        if backend == "METAL":
            names.append(str(machine.get("cpu") or ""))
        for name in names:
            chip = chip_for_device(name) if name else None
            if chip is not None:
                return Bandwidth(float(chip.gb_s), f"vendor figure for {chip.name}, the server's device", "vendor",
                                 note=chip.note or None)
    return resolve_bandwidth("auto")


def ceiling_basis(facts: ServerFacts, spec: EngineSpec, machine: dict[str, Any],
                  bandwidth: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None, list[str]]:
    """(basis to store with the run, GGUF facts for the model row, notes)."""
    from rigbench.model.facts import model_facts

    notes: list[str] = []
    path = facts.model_path
    if not path or not os.path.exists(path):
        notes.append("no ceiling: the model file is not on this machine (pass the GGUF to rigbench inspect)")
        return None, None, notes
    cache_type = spec.flag("ctk") or "f16"
    try:
        mf = model_facts(path, cache_type=cache_type)
    except RigbenchError as exc:
        notes.append(f"no ceiling: {exc.one_line()}")
        return None, None, notes
    if spec.flag("ctv") and spec.flag("ctv") != cache_type:
        notes.append(f"the ceiling assumes a {cache_type} KV cache for K and V (V is {spec.flag('ctv')})")
    try:
        bw = _bandwidth(bandwidth, facts, machine)
    except RigbenchError:
        raise
    terms: dict[int | None, int] = {}
    for kind_window, per_token in _kv_terms(mf).items():
        terms[kind_window] = per_token
    basis: dict[str, Any] = {
        "bandwidth": bw.to_json(),
        "active_bytes_per_token": mf.active_bytes_per_token,
        "state_bytes": mf.state_bytes,
        "kv_terms": [[v, k] for k, v in terms.items()],
        "cache_type": cache_type,
    }
    split = split_basis((facts.log_facts or {}).get("model_devices") or [], split_mode(spec))
    if split:
        basis["split"] = split
    offloaded = (facts.log_facts or {}).get("offloaded")
    if offloaded and "/" in str(offloaded):
        done, total = str(offloaded).split("/", 1)
        if done != total:
            basis["note"] = (f"only {offloaded} layers are on the GPU: the rest are read from host memory, "
                             "so the GPU's figure overstates the ceiling")
    gguf = mf.to_json()
    return basis, gguf, notes


def split_mode(spec: EngineSpec) -> str | None:
    """llama.cpp's ``-sm``/``--split-mode`` as given after ``--`` (None: its default, layer)."""
    args = spec.extra_args
    for i, a in enumerate(args):
        if a in ("-sm", "--split-mode") and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--split-mode="):
            return a.split("=", 1)[1]
    return None


def _kv_terms(mf: Any) -> dict[int | None, int]:
    """KV bytes one context token adds, grouped by sliding window (None: global layers)."""
    from rigbench.model.facts import row_bytes

    out: dict[int | None, int] = {}
    for la in mf.kv_layers:
        b = row_bytes(mf.cache_type, la.k_elems) + row_bytes(mf.cache_type, la.v_elems)
        out[la.window] = out.get(la.window, 0) + b
    return out
