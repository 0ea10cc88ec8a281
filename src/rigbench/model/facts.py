"""What a GGUF model costs: parameters, bytes read per token, KV cache, context windows.

Public:

- ``model_facts(path, *, ctx=None, cache_type="f16") -> ModelFacts`` reads the header
  (``rigbench.model.gguf``) and does the arithmetic; ``facts_from_gguf`` is the same on an
  already-read ``GGUFFile`` (pure, no I/O).
- ``ModelFacts`` (frozen): ``.active_bytes_per_token`` (weights read to decode one token),
  ``.kv_bytes_per_token`` (KV bytes one token adds, all attention layers, in ``cache_type``),
  ``.kv_bytes_at(depth)`` (KV bytes a decode step reads at that depth: sliding-window layers
  read at most their window, recurrent state is constant), ``.kv_cache_parts(ctx)`` /
  ``.kv_cache_bytes(ctx)`` (the caches llama.cpp allocates for one slot), ``.context_check(n)``
  and ``.to_json(bandwidth)`` (the ``rigbench inspect --json`` keys).

The rules, and where they come from (llama.cpp ``src/llama-kv-cache*.cpp``,
``llama-model.cpp``, ``llama-hparams.cpp``, ``models/*.cpp``; see docs/facts.md):

- Parameters: every tensor's elements (llama.cpp's "model params"). Active per token: expert
  tensors (``ffn_*_exps``) scaled by expert_used_count / expert_count; shared experts and dense
  blocks in full; ``token_embd`` is a row lookup (one row), unless there is no ``output.weight``:
  then the tied embedding is read whole as the output projection. MTP/NextN layers
  (``{arch}.nextn_predict_layers``) are not used by plain decoding.
- KV per layer per token: GQA ``(n_kv_heads * key_length + n_kv_heads * value_length)`` elements;
  MLA (``{arch}.attention.kv_lora_rank``): one latent of kv_lora_rank + rope dims, no V;
  sliding-window layers keep at most their window (llama.cpp sizes that cache as
  ``pad256(min(n_ctx, n_swa * n_seq + n_ubatch))`` cells); recurrent layers keep a constant
  f32 state. Bytes per element from ``GGML_QUANT_SIZES`` (q8_0: 34 per 32, q4_0: 18 per 32).
- Context: native = the trained window: ``rope.scaling.original_context_length`` where the file
  declares a rope scaling (YaRN or another) with it, else ``{arch}.context_length``; max = the
  larger of ``context_length`` and ``original x factor`` (the window declared through scaling, an
  extension, never native). llama.cpp takes ``context_length`` as ``n_ctx_train`` and caps a
  slot there, not at the trained window.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rigbench.errors import UsageError
from rigbench.model.gguf import GGUFFile, file_type_label, read_gguf

if TYPE_CHECKING:
    from rigbench.model.bandwidth import Bandwidth

__all__ = ["KVCachePart", "KVLayer", "ModelFacts", "cache_type_bytes", "facts_from_gguf", "model_facts", "pad_to",
           "row_bytes"]

_LAYER = re.compile(r"^blk\.(\d+)\.")
_EXPERT = re.compile(r"_exps\.")
_ROW_LOOKUPS = ("token_embd.weight", "per_layer_token_embd.weight", "position_embd.weight", "token_types.weight")
_RECURRENT_ARCHS = {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"}
_HYBRID_INTERVAL_ARCHS = {"qwen3next", "qwen35", "qwen35moe", "minimax-01"}  # recurrent but every Nth (default 4)
_PARALLEL_HYBRID_ARCHS = {"falcon-h1"}  # attention and a recurrent state in every layer
_DSA_ARCHS = {"deepseek32", "glm-dsa", "glm_dsa", "deepseek4", "minimax-m3", "hy-v4", "dots3note"}
# arch -> (pattern, dense_first, window when the GGUF has no sliding_window key), from llama.cpp's
# models/*.cpp load_swa_pattern calls. A pattern of n: n-1 sliding layers then 1 global
# (dense_first: the global one first). A sliding_window_pattern key in the file overrides it.
_SWA_ARCHS: dict[str, tuple[int, bool, int | None]] = {
    "gemma2": (2, False, 4096), "gemma3": (6, False, None), "gemma3n": (5, False, None),
    "gemma4": (6, False, None), "cohere2": (4, False, None), "cohere2moe": (4, True, None),
    "olmo2": (4, False, None), "exaone4": (4, False, None), "exaone-moe": (4, False, 128),
    "gpt-oss": (2, False, None), "llama4": (4, False, 8192), "smallthinker": (4, True, None),
    "plamo3": (8, False, None), "afmoe": (4, False, None), "mellum": (4, False, None),
    "laguna": (4, True, None),
}
DEFAULT_UBATCH = 512


def pad_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def cache_type_bytes(cache_type: str) -> tuple[int, int]:
    """(block size, bytes per block) of a KV cache type: f16 -> (1, 2), q8_0 -> (32, 34)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        return GGML_QUANT_SIZES[GGMLQuantizationType[cache_type.upper()]]
    except KeyError:
        raise UsageError(f"unknown cache type {cache_type!r}", "use f16, q8_0 or q4_0") from None


def row_bytes(cache_type: str, n: int) -> int:
    """Bytes of ``n`` elements of ``cache_type`` (ggml_row_size)."""
    block, size = cache_type_bytes(cache_type)
    return -(-n // block) * size


@dataclass(frozen=True)
class KVLayer:
    index: int
    k_elems: int  # per token
    v_elems: int  # per token (0 for MLA: V is a view of the latent)
    window: int | None = None  # sliding window in tokens; None: global


@dataclass(frozen=True)
class KVCachePart:
    """One cache as llama.cpp allocates it (its load log prints one line per part)."""

    kind: str  # "global" | "swa" | "recurrent"
    cells: int
    layers: int
    k_bytes: int
    v_bytes: int

    @property
    def bytes(self) -> int:
        return self.k_bytes + self.v_bytes

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "cells": self.cells, "layers": self.layers, "k_bytes": self.k_bytes,
                "v_bytes": self.v_bytes, "bytes": self.bytes, "mib": round(self.bytes / 2**20, 2)}


@dataclass(frozen=True)
class ModelFacts:
    path: str
    architecture: str
    name: str | None
    quant: str | None
    file_bytes: int
    weights_bytes: int
    params_total: int
    params_active: int
    active_bytes_per_token: int
    layers: int
    heads: int | list[int] | None
    kv_heads: int | list[int] | None
    head_dim_k: int | None
    head_dim_v: int | None
    attention: str  # "gqa" | "mla" | "recurrent" | "hybrid" | "none"
    kv_layers: tuple[KVLayer, ...]
    state_bytes: int  # recurrent state per sequence (f32), constant in depth
    sliding_window: int | None
    native_context: int | None
    max_context: int | None
    rope_scaling: str | None
    rope_scaling_factor: float | None
    rope_original_context: int | None
    experts: int | None = None
    experts_used: int | None = None
    cache_type: str = "f16"
    ctx: int | None = None
    shards: tuple[str, ...] = ()
    unknown_keys: tuple[str, ...] = ()
    unknown_tensor_types: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    context_length: int | None = None  # {arch}.context_length as written: llama.cpp's n_ctx_train

    @property
    def bits_per_weight(self) -> float:
        return self.weights_bytes * 8 / self.params_total if self.params_total else 0.0

    def with_cache_type(self, cache_type: str) -> ModelFacts:
        cache_type_bytes(cache_type)  # validates
        return dataclasses.replace(self, cache_type=cache_type)

    def _layer_bytes(self, layer: KVLayer) -> tuple[int, int]:
        return row_bytes(self.cache_type, layer.k_elems), row_bytes(self.cache_type, layer.v_elems)

    @property
    def kv_bytes_per_token(self) -> int:
        """KV bytes one token adds across all attention layers (sliding ones too, below their window)."""
        return sum(sum(self._layer_bytes(la)) for la in self.kv_layers)

    def kv_bytes_per_token_by_kind(self) -> dict[str, int]:
        out = {"global": 0, "swa": 0}
        for la in self.kv_layers:
            out["swa" if la.window else "global"] += sum(self._layer_bytes(la))
        return out

    def kv_bytes_at(self, depth: int) -> int:
        """KV bytes a decode step reads with ``depth`` tokens already in the context."""
        d = max(0, int(depth))
        total = self.state_bytes
        for la in self.kv_layers:
            total += sum(self._layer_bytes(la)) * (min(d, la.window) if la.window else d)
        return total

    def bytes_per_token_at(self, depth: int) -> int:
        return self.active_bytes_per_token + self.kv_bytes_at(depth)

    def kv_cache_parts(self, ctx: int | None = None, *, n_seq: int = 1, n_ubatch: int = DEFAULT_UBATCH,
                       unified: bool = False, swa_full: bool = False) -> list[KVCachePart]:
        """The caches llama.cpp allocates for ``ctx`` (llama_context, llama_kv_cache_iswa).

        ``n_seq`` is llama-server's ``-np``, ``n_ubatch`` its ``-ub``, ``unified`` ``--kv-unified``
        and ``swa_full`` ``--swa-full``; the defaults are one slot, as the embedded engine runs.
        """
        n_ctx = pad_to(max(1, int(ctx if ctx is not None else (self.ctx or self.native_context or 4096))), 256)
        n_seq = max(1, n_seq)
        cells = n_ctx if unified else pad_to(n_ctx // n_seq, 256)
        streams = 1 if unified else n_seq
        parts: list[KVCachePart] = []
        for kind in ("global", "swa"):
            layers = [la for la in self.kv_layers if bool(la.window) == (kind == "swa")]
            if not layers:
                continue
            n = cells
            if kind == "swa" and not swa_full:
                window = max(la.window or 0 for la in layers)
                n = pad_to(min(cells, window * (n_seq if unified else 1) + n_ubatch), 256)
            kb = sum(self._layer_bytes(la)[0] for la in layers) * n * streams
            vb = sum(self._layer_bytes(la)[1] for la in layers) * n * streams
            parts.append(KVCachePart(kind, n, len(layers), kb, vb))
        if self.state_bytes:
            parts.append(KVCachePart("recurrent", n_seq, 0, self.state_bytes * n_seq, 0))
        return parts

    def kv_cache_bytes(self, ctx: int | None = None, **kw: Any) -> int:
        return sum(p.bytes for p in self.kv_cache_parts(ctx, **kw))

    def context_check(self, requested: int | None = None) -> dict[str, Any]:
        req = int(requested if requested is not None else (self.ctx or self.native_context or 0))
        native, top = self.native_context, self.max_context or self.native_context
        if native is None:
            status = "unknown"
        elif req <= native:
            status = "native"
        elif top is not None and req <= top:
            status = "extended"
        else:
            status = "beyond"
        return {"requested": req, "native": native, "max": top, "status": status}

    @property
    def llama_cpp_cap(self) -> int | None:
        """Where llama.cpp's server caps a slot: ``context_length`` (its ``n_ctx_train``)."""
        return self.context_length or self.native_context

    def granted_at(self, ctx: int, *, n_seq: int = 1) -> int:
        """The window llama-server gives one slot for ``-c ctx``: padded to 256 cells, split over
        ``n_seq`` slots, capped at ``n_ctx_train`` (``server-context.cpp``)."""
        per_slot = pad_to(max(1, int(ctx)), 256) // max(1, n_seq)
        cap = self.llama_cpp_cap
        return min(per_slot, cap) if cap else per_slot

    def sticker_note(self) -> str | None:
        """What llama.cpp does with a file whose context_length is past its trained window."""
        cap, native = self.context_length, self.native_context
        if not cap or not native or cap <= native:
            return None
        how = f"{self.rope_scaling or 'rope'} x{self.rope_scaling_factor:g}" if self.rope_scaling_factor else \
            (self.rope_scaling or "rope scaling")
        return (f"the GGUF writes context_length {cap:,} but was trained on {native:,} "
                f"(rope.scaling.original_context_length, declared through {how}): llama.cpp takes {cap:,} as "
                f"n_ctx_train, applies the file's scaling and does not cap a slot at {native:,}; past {native:,} "
                "tokens the model runs on the extension, not on its training")

    def context_notes(self, requested: int | None = None) -> list[str]:
        chk = self.context_check(requested)
        req, native, top = chk["requested"], chk["native"], chk["max"]
        sticker = self.sticker_note()
        if sticker and chk["status"] in ("extended", "beyond"):
            note = [sticker]
            if chk["status"] == "beyond":
                note.append(f"{req:,} tokens is beyond the declared window too: llama.cpp's server caps a slot at "
                            f"{self.llama_cpp_cap:,}")
            return note
        if chk["status"] == "extended":
            orig = self.rope_original_context or native
            factor = self.rope_scaling_factor or (top / orig if orig else 0)
            return [(f"{req:,} tokens is past the trained window ({native:,}) but within the declared "
                     f"{self.rope_scaling or 'rope'} scaling (max {top:,}): llama.cpp's server caps a slot at "
                     f"the training context unless rope scaling is configured at launch "
                     f"(--rope-scaling yarn --rope-scale {factor:g} --yarn-orig-ctx {orig})")]
        if chk["status"] == "beyond":
            return [(f"{req:,} tokens is beyond anything the model declares (native {native:,}, max {top:,}): "
                     f"llama.cpp's server caps a slot at the training context ({native:,}) unless rope "
                     "scaling is configured, and quality past the trained window is not established")]
        if chk["status"] == "unknown":
            return ["the GGUF declares no context_length: the context check cannot be made"]
        return []

    def to_json(self, bandwidth: Bandwidth | None = None, *, ctx: int | None = None) -> dict[str, Any]:
        from rigbench.model.roofline import bytes_ceiling_tok_s

        ctx_used = int(ctx if ctx is not None else (self.ctx or self.native_context or 4096))
        parts = self.kv_cache_parts(ctx_used)
        def ceiling(depth: int) -> float | None:
            need = self.bytes_per_token_at(depth)
            if bandwidth is None or need <= 0:
                return None
            return round(bytes_ceiling_tok_s(bandwidth.bytes_per_s, need), 2)

        ceiling0, ceiling_ctx = ceiling(0), ceiling(ctx_used)
        return {
            "path": self.path, "architecture": self.architecture, "name": self.name, "quant": self.quant,
            "bits_per_weight": round(self.bits_per_weight, 3), "file_bytes": self.file_bytes,
            "weights_bytes": self.weights_bytes, "params_total": self.params_total,
            "params_active": self.params_active, "active_bytes_per_token": self.active_bytes_per_token,
            "layers": self.layers, "heads": self.heads, "kv_heads": self.kv_heads, "head_dim": self.head_dim_k,
            "head_dim_v": self.head_dim_v, "attention": self.attention, "sliding_window": self.sliding_window,
            "experts": self.experts, "experts_used": self.experts_used, "cache_type": self.cache_type,
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_bytes_per_token_by_kind": self.kv_bytes_per_token_by_kind(),
            "recurrent_state_bytes": self.state_bytes, "native_context": self.native_context,
            "max_context": self.max_context, "rope_scaling": self.rope_scaling,
            "rope_scaling_factor": self.rope_scaling_factor, "rope_original_context": self.rope_original_context,
            "context_length": self.context_length, "granted_context": self.granted_at(ctx_used),
            "ctx": ctx_used, "kv_cache_bytes": sum(p.bytes for p in parts),
            "kv_cache": [p.to_json() for p in parts],
            "bandwidth": bandwidth.to_json() if bandwidth is not None else None,
            "decode_ceiling_tok_s": ceiling0, "decode_ceiling_at_ctx_tok_s": ceiling_ctx,
            "context_check": self.context_check(ctx_used),
            "shards": list(self.shards), "unknown_keys": list(self.unknown_keys),
            "unknown_tensor_types": list(self.unknown_tensor_types),
            "notes": list(self.notes) + self.context_notes(ctx_used),
        }


def model_facts(path: str | Path, *, ctx: int | None = None, cache_type: str = "f16") -> ModelFacts:
    """Facts of the GGUF at ``path`` (header only). Raises GGUFError / InputError / UsageError."""
    return facts_from_gguf(read_gguf(path), ctx=ctx, cache_type=cache_type)


def _per_layer(value: Any, n: int, default: int = 0) -> list[int]:
    if isinstance(value, list):
        vals = [int(v) for v in value[:n]]
        return vals + [vals[-1] if vals else default] * (n - len(vals))
    return [int(value) if value is not None else default] * n


def _uniform(vals: list[int]) -> int | list[int] | None:
    if not vals:
        return None
    return vals[0] if len(set(vals)) == 1 else vals


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _swa_layers(g: GGUFFile, n_layer: int, notes: list[str]) -> tuple[int | None, list[bool]]:
    arch = g.architecture
    key = g.arch_key("attention.sliding_window")
    rule = _SWA_ARCHS.get(arch)
    pattern = g.arch_key("attention.sliding_window_pattern")
    window = _int(key) if _int(key) is not None else (rule[2] if rule else None)
    if rule is None and not isinstance(pattern, list):
        if window:
            notes.append(f"the GGUF declares a sliding window of {window}, but llama.cpp does not use "
                         f"sliding-window attention for {arch}: all layers are counted as global")
        return None, [False] * n_layer
    if not window or (arch == "exaone4" and n_layer != 64):  # llama.cpp: only EXAONE 4 32B slides
        return None, [False] * n_layer
    if isinstance(pattern, list):
        flags = [bool(x) for x in pattern[:n_layer]]
        return window, flags + [False] * (n_layer - len(flags))
    if isinstance(pattern, int):
        n_pat, dense_first = int(pattern), False
    else:
        n_pat, dense_first = (rule[0], rule[1]) if rule else (0, False)
    if n_pat == 0:
        return window, [True] * n_layer
    if dense_first:
        return window, [il % n_pat != 0 for il in range(n_layer)]
    return window, [il % n_pat < n_pat - 1 for il in range(n_layer)]


def _recurrent_layers(g: GGUFFile, n_layer: int, kv_heads: list[int]) -> list[bool]:
    arch = g.architecture
    if arch in _RECURRENT_ARCHS:
        return [True] * n_layer
    declared = g.arch_key("attention.recurrent_layers")
    if isinstance(declared, list):
        flags = [bool(x) for x in declared[:n_layer]]
        return flags + [False] * (n_layer - len(flags))
    if arch in _HYBRID_INTERVAL_ARCHS or g.arch_key("full_attention_interval") is not None:
        every = _int(g.arch_key("full_attention_interval")) or 4
        return [(il + 1) % every != 0 for il in range(n_layer)]
    if arch in _PARALLEL_HYBRID_ARCHS:
        return [True] * n_layer  # every layer has both a recurrent state and attention
    has_state = any(g.arch_key(k) is not None for k in ("ssm.inner_size", "shortconv.l_cache", "wkv.head_size",
                                                         "kda.head_dim"))
    if has_state and isinstance(g.arch_key("attention.head_count_kv"), list):
        if arch.startswith("nemotron_h"):  # MLP-only layers have no KV heads either
            n_ff = _per_layer(g.arch_key("feed_forward_length"), n_layer)
            return [h == 0 and f == 0 for h, f in zip(kv_heads, n_ff, strict=True)]
        return [h == 0 for h in kv_heads]
    return [False] * n_layer


def _state_elems(g: GGUFFile, n_embd: int) -> int:
    """Recurrent state elements per layer (llama_hparams::n_embd_r + n_embd_s), f32."""
    head = _int(g.arch_key("wkv.head_size"))
    if head:
        return (_int(g.arch_key("token_shift_count")) or 2) * n_embd + n_embd * head
    l_cache = _int(g.arch_key("shortconv.l_cache"))
    if l_cache:
        return n_embd * (l_cache - 1)
    d_conv = _int(g.arch_key("ssm.conv_kernel")) or 0
    d_inner = _int(g.arch_key("ssm.inner_size")) or 0
    d_state = _int(g.arch_key("ssm.state_size")) or 0
    n_group = _int(g.arch_key("ssm.group_count")) or 0
    return max(0, d_conv - 1) * (d_inner + 2 * n_group * d_state) + d_state * d_inner


def _rope(g: GGUFFile, ctx_len: int | None, notes: list[str]
          ) -> tuple[str | None, float | None, int | None, int | None, int | None]:
    """(scaling type, factor, original context, native = trained window, max = declared window)."""
    kind = g.arch_key("rope.scaling.type")
    factor = g.arch_key("rope.scaling.factor", g.arch_key("rope.scale_linear"))
    factor = float(factor) if isinstance(factor, (int, float)) and factor else None
    orig = _int(g.arch_key("rope.scaling.original_context_length"))
    scaled = (kind is not None and str(kind) != "none") or (factor is not None and factor > 1)
    native = ctx_len
    if scaled and orig and ctx_len and orig < ctx_len:
        native = orig  # the trained window; context_length holds the extended one (a "YaRN sticker")
    elif scaled and orig and not ctx_len:
        native = orig
    top = max(ctx_len or 0, native or 0) or None
    if kind == "yarn" and factor and factor > 1:
        base = orig or native
        if base:
            top = max(top or 0, int(base * factor))
    elif kind and kind not in ("none", "linear", "yarn"):
        notes.append(f"rope scaling {kind!r}: the maximum context is taken as the declared context_length")
    return (str(kind) if kind else None), factor, orig, native, top


def facts_from_gguf(g: GGUFFile, *, ctx: int | None = None, cache_type: str = "f16") -> ModelFacts:
    """The arithmetic on a read header. Pure."""
    cache_type_bytes(cache_type)
    arch = g.architecture
    notes: list[str] = list(g.warnings)
    n_layer_all = _int(g.arch_key("block_count")) or 0
    nextn = _int(g.arch_key("nextn_predict_layers")) or 0
    n_layer = max(0, n_layer_all - nextn)
    if nextn:
        notes.append(f"{nextn} MTP/NextN layer(s) are in the file but not read by plain decoding")
    n_embd = _int(g.arch_key("embedding_length")) or 0
    heads = _per_layer(g.arch_key("attention.head_count"), n_layer)
    kv_heads = _per_layer(g.arch_key("attention.head_count_kv", g.arch_key("attention.head_count")), n_layer)
    h0 = next((h for h in heads if h), 0)
    hk = _int(g.arch_key("attention.key_length")) or (n_embd // h0 if h0 else 0)
    hv = _int(g.arch_key("attention.value_length")) or hk
    hk_swa = _int(g.arch_key("attention.key_length_swa")) or hk
    hv_swa = _int(g.arch_key("attention.value_length_swa")) or hv

    window, is_swa = _swa_layers(g, n_layer, notes)
    recurrent = _recurrent_layers(g, n_layer, kv_heads)
    shared = _int(g.arch_key("attention.shared_kv_layers")) or 0
    kv_from_start = 20 if arch == "gemma3n" else (n_layer_all - shared if shared else n_layer)

    names = {t.name for t in g.tensors}
    lora_rank = _int(g.arch_key("attention.kv_lora_rank")) or 0
    mla = lora_rank > 0 and (g.arch_key("attention.key_length_mla") is not None
                             or any(n.endswith("attn_k_b.weight") for n in names))
    if lora_rank > 0 and not mla:
        notes.append("a legacy MLA GGUF (attn_kv_b, no attn_k_b): llama.cpp caches full per-head K and V; "
                     "a re-converted GGUF caches one compact latent instead")
    rope_dims = _int(g.arch_key("rope.dimension_count"))
    if rope_dims is None:
        rope_dims = max(0, hk - lora_rank) if mla and hk > lora_rank else 0

    kv_layers: list[KVLayer] = []
    for il in range(n_layer):
        if (recurrent[il] and arch not in _PARALLEL_HYBRID_ARCHS) or kv_heads[il] == 0 or il >= kv_from_start:
            continue
        if mla:
            kv_layers.append(KVLayer(il, lora_rank + rope_dims, 0, None))
        elif is_swa[il]:
            kv_layers.append(KVLayer(il, kv_heads[il] * hk_swa, kv_heads[il] * hv_swa, window))
        else:
            kv_layers.append(KVLayer(il, kv_heads[il] * hk, kv_heads[il] * hv, None))
    n_rec = sum(recurrent)
    state_bytes = n_rec * _state_elems(g, n_embd) * 4
    attention = ("recurrent" if n_rec == n_layer and n_layer and not kv_layers else "hybrid" if n_rec else
                 "mla" if mla else "gqa" if kv_layers else "none")
    if arch in _DSA_ARCHS:
        notes.append(f"llama.cpp keeps an extra indexer/compressed cache for {arch}: not counted here")

    experts = _int(g.arch_key("expert_count"))
    used = _int(g.arch_key("expert_used_count"))
    tied = "output.weight" not in names
    params_total = params_active = active_bytes = 0
    for t in g.tensors:
        params_total += t.n_elements
        m = _LAYER.match(t.name)
        if m and int(m.group(1)) >= n_layer:
            continue  # MTP/NextN layers
        if t.name in _ROW_LOOKUPS and not (tied and t.name == "token_embd.weight"):
            rows = t.n_elements // t.shape[0] if t.shape and t.shape[0] else 1
            params_active += t.n_elements // max(1, rows)
            active_bytes += t.n_bytes // max(1, rows)
        elif _EXPERT.search(t.name) and experts and used:
            params_active += t.n_elements * used // experts
            active_bytes += t.n_bytes * used // experts
        else:
            params_active += t.n_elements
            active_bytes += t.n_bytes
    if tied and "token_embd.weight" in names:
        notes.append("no output.weight: the tied token embedding is read whole as the output projection")
    if any(_EXPERT.search(n) for n in names) and not (experts and used):
        notes.append("expert tensors without expert_count/expert_used_count: counted in full")

    ctx_len = _int(g.arch_key("context_length"))
    kind, factor, orig, native, top = _rope(g, ctx_len, notes)
    if g.unknown_tensor_types:
        notes.append(f"unknown tensor types {', '.join(g.unknown_tensor_types)}: sizes taken from the offsets")
    ftype = _int(g.metadata.get("general.file_type"))
    name = g.metadata.get("general.name")
    return ModelFacts(
        path=str(g.path), architecture=arch, name=str(name) if name is not None else None,
        quant=file_type_label(ftype), file_bytes=g.file_bytes, weights_bytes=g.weights_bytes,
        params_total=params_total, params_active=params_active, active_bytes_per_token=active_bytes,
        layers=n_layer, heads=_uniform(heads), kv_heads=_uniform(kv_heads),
        head_dim_k=(lora_rank + rope_dims) if mla else hk or None, head_dim_v=None if mla else hv or None,
        attention=attention, kv_layers=tuple(kv_layers), state_bytes=state_bytes,
        sliding_window=window if any(is_swa) else None, native_context=native, max_context=top,
        rope_scaling=kind, rope_scaling_factor=factor, rope_original_context=orig,
        experts=experts, experts_used=used, cache_type=cache_type, ctx=ctx,
        shards=tuple(str(s) for s in g.shards) if len(g.shards) > 1 else (),
        unknown_keys=g.unknown_keys, unknown_tensor_types=g.unknown_tensor_types, notes=tuple(notes),
        context_length=ctx_len,
    )
