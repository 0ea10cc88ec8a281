"""Facts from llama.cpp's boot log (llama-server's, or the embedded engine's).

Pure: text in, a dict out. Lines look like (timestamps and levels vary by version)::

    print_info: n_ctx_train = 202752
    llama_context: n_ctx_seq (1000192) > n_ctx_train (202752) -- possible training context overflow
    llama_kv_cache: size = 85709.81 MiB (1000192 cells, 78 layers, 1/1 seqs), K (f16): ...
    srv load_model: the slot context (1000192) exceeds the training context of the model (202752) - capping
    slot load_model: id 0 | task -1 | new slot, n_ctx = 202752
    ggml_cuda_init: found 1 CUDA devices:  /  Device 0: NVIDIA H100 80GB HBM3, compute capability 9.0
    llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H200) (0000:19:00.0) - 142905 MiB free
    llama_model_load_from_file_impl: using device RPC0 (127.0.0.1:50052) (unknown id) - 142905 MiB free

``devices`` names each distinct device once (the engine line); ``model_devices`` lists every
device the model is loaded on, one entry per ``using device`` line (llama.cpp's
``llama_prepare_model_devices``), duplicates kept: two H200s are two entries. Under tensor
parallelism (``-sm tensor``) the model is loaded on one ``Meta()`` device made of the GPUs
listed under "creating a Meta device": those members are the model's devices. An RPC
device's description is its endpoint (ggml-rpc names it ``RPC<n>``); the GPU behind it is
in the rpc-server's own log, not in this one.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["parse_boot_log", "tail", "trained_context"]

_INT = r"(-?\d+)"
_NUM = r"([0-9.]+)"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("n_ctx_train", re.compile(r"print_info: n_ctx_train\s*=\s*" + _INT)),
    ("n_layer", re.compile(r"print_info: n_layer\s*=\s*" + _INT)),
    ("n_swa", re.compile(r"print_info: n_swa\s*=\s*" + _INT)),
    ("n_ctx_orig_yarn", re.compile(r"print_info: n_ctx_orig_yarn\s*=\s*" + _INT)),
    ("rope_scaling", re.compile(r"print_info: rope scaling\s*=\s*(\S+)")),
    ("arch", re.compile(r"print_info: arch\s*=\s*(\S+)")),
    ("file_type", re.compile(r"print_info: file type\s*=\s*(.+?)\s*$")),
    ("file_size_mib", re.compile(r"print_info: file size\s*=\s*" + _NUM + r" MiB")),
    ("model_params_m", re.compile(r"print_info: model params\s*=\s*" + _NUM + r" M")),
    ("model_params_b", re.compile(r"print_info: model params\s*=\s*" + _NUM + r" B")),
    ("general_name", re.compile(r"print_info: general\.name\s*=\s*(.+?)\s*$")),
    ("n_ctx", re.compile(r"llama_context: n_ctx\s*=\s*" + _INT)),
    ("n_ctx_seq", re.compile(r"llama_context: n_ctx_seq\s*=\s*" + _INT)),
    ("n_batch", re.compile(r"llama_context: n_batch\s*=\s*" + _INT)),
    ("n_ubatch", re.compile(r"llama_context: n_ubatch\s*=\s*" + _INT)),
    ("flash_attn", re.compile(r"llama_context: flash_attn\s*=\s*(\S+)")),
    ("n_slots", re.compile(r"n_slots\s*=\s*" + _INT)),
    ("n_ctx_slot", re.compile(r"n_ctx_slot\s*=\s*" + _INT)),
    ("slot_n_ctx", re.compile(r"new slot,?\s+n_ctx(?:_slot)?\s*=\s*" + _INT)),
    ("n_threads", re.compile(r"system_info: n_threads\s*=\s*" + _INT)),
    ("load_mode", re.compile(r"load_mode\s*=\s*(\w+)")),
    ("listening", re.compile(r"listening on (http://\S+)")),
    ("build", re.compile(r"build_info:\s*(\S+)")),
    ("build_number", re.compile(r"\bbuild:?\s+(\d+)\s+\(([0-9a-f]+|unknown)\)")),
    ("system_info", re.compile(r"system_info:.*?\|\s*(.+?)\s*$")),
    ("offloaded", re.compile(r"offloaded (\d+/\d+) layers to GPU")),
]

_CAPPING = re.compile(
    r"slot context \((\d+)\) exceeds the training context of the model \((\d+)\)\s*-\s*capping"
)
_OVERFLOW = re.compile(r"n_ctx_seq \((\d+)\) > n_ctx_train \((\d+)\)")
_KV = re.compile(
    r"llama_kv_cache: size\s*=\s*([0-9.]+) MiB \(\s*(\d+) cells,\s*(\d+) layers,.*?K \((\w+)\):\s*([0-9.]+) MiB,"
    r"\s*V \((\w+)\):\s*([0-9.]+) MiB"
)
_BUF = re.compile(r"load_tensors:\s+(\S+) model buffer size\s*=\s*([0-9.]+) MiB")
_CUDA_DEV = re.compile(r"Device \d+: (.+?), compute capability ([0-9.]+)")
_DEVICE_USE = re.compile(r"using device (\S+) \((.+?)\)")
# tensor parallelism (-sm tensor): llama.cpp wraps the GPUs in one "Meta()" device and lists its members
_META_MEMBER = re.compile(r"llama_prepare_model_devices:\s+- device \d+: (\S+) \((.+?)\)")
_CUDA_COUNT = re.compile(r"ggml_cuda_init: found (\d+) \S+ devices")
_METAL = re.compile(r"ggml_metal_device_init: GPU name:\s*(.+?)\s*$")
_HAS_TENSOR = re.compile(r"has tensor\s*=\s*(true|false)")
_ERRORS = (
    ("port", re.compile(r"couldn't bind HTTP server socket|address already in use|bind.*failed", re.I)),
    ("model", re.compile(r"failed to load model|error loading model|unable to load model", re.I)),
    ("memory", re.compile(r"failed to allocate|out of memory|cudaMalloc failed", re.I)),
)


def parse_boot_log(text: str) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    kv: list[dict[str, Any]] = []
    buffers: dict[str, float] = {}
    devices: list[str] = []
    model_devices: list[dict[str, str]] = []
    for line in text.splitlines():
        for key, pat in _PATTERNS:
            m = pat.search(line)
            if m and key not in facts:
                if key == "build_number":
                    facts["build"] = facts.get("build") or f"b{m.group(1)}-{m.group(2)}"
                    continue
                value: Any = m.group(1)
                if value.lstrip("-").isdigit():
                    value = int(value)
                elif key.endswith(("_mib", "_m", "_b")):
                    value = float(value)
                facts[key] = value
        m = _CAPPING.search(line)
        if m:
            facts["capped"] = True
            facts["capping_line"] = line.split(": ", 1)[-1].strip() if ": " in line else line.strip()
            facts["requested_ctx"] = int(m.group(1))
            facts["capped_to"] = int(m.group(2))
        m = _OVERFLOW.search(line)
        if m:
            facts["ctx_overflow"] = {"n_ctx_seq": int(m.group(1)), "n_ctx_train": int(m.group(2))}
        m = _KV.search(line)
        if m:
            kv.append(
                {
                    "mib": float(m.group(1)),
                    "cells": int(m.group(2)),
                    "layers": int(m.group(3)),
                    "type_k": m.group(4),
                    "k_mib": float(m.group(5)),
                    "type_v": m.group(6),
                    "v_mib": float(m.group(7)),
                }
            )
        m = _BUF.search(line)
        if m:
            buffers[m.group(1)] = buffers.get(m.group(1), 0.0) + float(m.group(2))
        for pat in (_CUDA_DEV, _METAL):
            m = pat.search(line)
            if m and m.group(1) not in devices:
                devices.append(m.group(1))
        m = _DEVICE_USE.search(line) or _META_MEMBER.search(line)
        if m and not m.group(1).startswith("Meta("):
            name, desc = m.group(1), m.group(2)
            model_devices.append({"name": name, "description": desc})
            shown = f"{name} ({desc})" if name.startswith("RPC") else desc
            if shown not in devices:
                devices.append(shown)
        m = _CUDA_COUNT.search(line)
        if m and "cuda_device_count" not in facts:
            facts["cuda_device_count"] = int(m.group(1))
        m = _HAS_TENSOR.search(line)
        if m:
            facts["metal_has_tensor"] = m.group(1) == "true"
        for kind, pat in _ERRORS:
            if pat.search(line) and f"error_{kind}" not in facts:
                facts[f"error_{kind}"] = line.strip()[-300:]
    if kv:
        facts["kv_cache"] = kv
        facts["kv_cache_mib"] = round(sum(k["mib"] for k in kv), 2)
    if buffers:
        facts["model_buffers_mib"] = buffers
    if devices:
        facts["devices"] = devices
    if model_devices:
        facts["model_devices"] = model_devices
    facts["backend"] = _backend(text, facts)
    return facts


def _backend(text: str, facts: dict[str, Any]) -> str | None:
    """The compute backend the log shows; None when a quiet log does not say."""
    if "ggml_cuda_init" in text or "CUDA0" in text:
        return "CUDA"
    if "ggml_metal" in text:
        return "Metal"
    if "ggml_vulkan" in text:
        return "Vulkan"
    if "ROCm" in text or "ggml_hip" in text:
        return "ROCm"
    if "load_tensors:" in text or "CPU_Mapped" in text or "system_info:" in text:
        return "CPU"
    return None


def tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def trained_context(log: dict[str, Any], n_ctx_train: int | None = None) -> int | None:
    """The trained window as the boot log tells it: ``n_ctx_orig_yarn`` where the file declares
    YaRN with an original window below ``n_ctx_train`` (a GGUF whose context_length is the
    extended window), else ``n_ctx_train``."""
    train = n_ctx_train if n_ctx_train is not None else log.get("n_ctx_train")
    orig = log.get("n_ctx_orig_yarn")
    if log.get("rope_scaling") == "yarn" and isinstance(orig, int) and isinstance(train, int) and 0 < orig < train:
        return orig
    return train if isinstance(train, int) else None
