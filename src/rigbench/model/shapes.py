"""A catalog entry and a quant -> the GGUF header that file would have -> ``ModelFacts``.

``catalog_tensors(entry)`` lists the weights llama.cpp's converter writes for the entry's
architecture (names and shapes from llama.cpp's ``gguf-py`` tensor map and ``models/*.cpp``:
``token_embd``, ``blk.N.attn_q`` ..., experts as one 3D tensor per projection, MLA as
``attn_q_a/q_b/kv_a_mqa/k_b/v_b``, MTP/NextN blocks after the last layer).
``virtual_gguf(entry, quant)`` types each one with ``rigbench.model.quants`` and builds the
``GGUFFile`` a reader would return; ``catalog_facts(entry, quant)`` hands it to
``facts_from_gguf``, so parameters, active bytes per token, KV bytes and context come from the
same arithmetic as for a file on disk. ``weights_bytes`` is the tensor data; a real file adds
its header (mostly the tokenizer: 6.5 MB of Gemma 3 270M's 253.1 MB).

Not modelled: vision towers (a separate mmproj file), GLM-5's DSA indexer weights (about
0.1% of the model) and its indexer cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rigbench.errors import UsageError
from rigbench.model.catalog import CatalogEntry
from rigbench.model.facts import ModelFacts, facts_from_gguf
from rigbench.model.gguf import GGUFFile, TensorInfo
from rigbench.model.quants import ModelHints, Tensor, file_type_id, tensor_bytes, tensor_type

__all__ = ["catalog_facts", "catalog_metadata", "catalog_tensors", "typed_tensors", "virtual_gguf"]

_QK_NORM = ("qwen3", "qwen3moe", "qwen35moe", "gemma3")
_POST_ATTN_NORM = ("gpt-oss", "qwen35moe")  # their FFN norm is named post_attention_norm


def _linear_attention(e: CatalogEntry, p: str, il: int) -> list[Tensor]:
    """A Gated DeltaNet layer as llama.cpp's qwen35moe loads it (``models/qwen35moe.cpp``)."""
    la = e.linear_attention
    assert la is not None
    h = e.hidden
    key_dim, value_dim = la.key_head_dim * la.key_heads, la.value_head_dim * la.value_heads
    conv_dim = 2 * key_dim + value_dim
    return [
        Tensor(p + "attn_norm.weight", (h,), il),
        Tensor(p + "attn_qkv.weight", (h, conv_dim), il),
        Tensor(p + "attn_gate.weight", (h, value_dim), il),
        Tensor(p + "ssm_conv1d.weight", (la.conv_kernel, conv_dim), il),
        Tensor(p + "ssm_dt.bias", (la.value_heads,), il),
        Tensor(p + "ssm_a", (la.value_heads,), il),
        Tensor(p + "ssm_beta.weight", (h, la.value_heads), il),
        Tensor(p + "ssm_alpha.weight", (h, la.value_heads), il),
        Tensor(p + "ssm_norm.weight", (la.value_head_dim,), il),
        Tensor(p + "ssm_out.weight", (value_dim, h), il),
    ]


def _is_linear(e: CatalogEntry, il: int) -> bool:
    la = e.linear_attention
    return la is not None and il < e.layers and (il + 1) % la.interval != 0


def _attention(e: CatalogEntry, p: str, il: int) -> list[Tensor]:
    h = e.hidden
    out = [Tensor(p + "attn_norm.weight", (h,), il)]
    if e.mla is not None:
        m = e.mla
        out += [
            Tensor(p + "attn_q_a.weight", (h, m.q_lora_rank), il),
            Tensor(p + "attn_q_a_norm.weight", (m.q_lora_rank,), il),
            Tensor(p + "attn_q_b.weight", (m.q_lora_rank, e.heads * (m.qk_nope_head_dim + m.qk_rope_head_dim)), il),
            Tensor(p + "attn_kv_a_mqa.weight", (h, m.kv_lora_rank + m.qk_rope_head_dim), il),
            Tensor(p + "attn_kv_a_norm.weight", (m.kv_lora_rank,), il),
            Tensor(p + "attn_k_b.weight", (m.qk_nope_head_dim, m.kv_lora_rank, e.heads), il),
            Tensor(p + "attn_v_b.weight", (m.kv_lora_rank, m.v_head_dim, e.heads), il),
            Tensor(p + "attn_output.weight", (e.heads * m.v_head_dim, h), il),
        ]
        return out
    hd = e.head_dim or 0
    q, kv = e.heads * hd, e.kv_heads * hd
    q_out = 2 * q if e.attn_output_gate else q  # the gate rides in attn_q (llama.cpp's qwen35moe)
    out += [Tensor(p + "attn_q.weight", (h, q_out), il), Tensor(p + "attn_k.weight", (h, kv), il),
            Tensor(p + "attn_v.weight", (h, kv), il), Tensor(p + "attn_output.weight", (q, h), il)]
    if e.attention_bias:
        out += [Tensor(p + "attn_q.bias", (q,), il), Tensor(p + "attn_k.bias", (kv,), il),
                Tensor(p + "attn_v.bias", (kv,), il), Tensor(p + "attn_output.bias", (h,), il)]
    if e.arch in _QK_NORM:
        out += [Tensor(p + "attn_q_norm.weight", (hd,), il), Tensor(p + "attn_k_norm.weight", (hd,), il)]
    if e.arch == "gemma3":
        out += [Tensor(p + "post_attention_norm.weight", (h,), il), Tensor(p + "post_ffw_norm.weight", (h,), il)]
    if e.arch == "gpt-oss":
        out.append(Tensor(p + "attn_sinks.weight", (e.heads,), il))
    return out


def _ffn(e: CatalogEntry, p: str, il: int) -> list[Tensor]:
    h = e.hidden
    norm = "post_attention_norm" if e.arch in _POST_ATTN_NORM else "ffn_norm"
    out = [Tensor(p + f"{norm}.weight", (h,), il)]
    x = e.experts
    if x is None or il < x.dense_layers:
        f = e.ffn or 0
        return [*out, Tensor(p + "ffn_gate.weight", (h, f), il), Tensor(p + "ffn_up.weight", (h, f), il),
                Tensor(p + "ffn_down.weight", (f, h), il)]
    out += [Tensor(p + "ffn_gate_inp.weight", (h, x.count), il),
            Tensor(p + "ffn_gate_exps.weight", (h, x.ffn, x.count), il),
            Tensor(p + "ffn_up_exps.weight", (h, x.ffn, x.count), il),
            Tensor(p + "ffn_down_exps.weight", (x.ffn, h, x.count), il)]
    if e.arch == "gpt-oss":
        out += [Tensor(p + "ffn_gate_inp.bias", (x.count,), il),
                Tensor(p + "ffn_gate_exps.bias", (x.ffn, x.count), il),
                Tensor(p + "ffn_up_exps.bias", (x.ffn, x.count), il),
                Tensor(p + "ffn_down_exps.bias", (h, x.count), il)]
    if e.arch in ("deepseek2", "glm-dsa"):
        out.append(Tensor(p + "exp_probs_b.bias", (x.count,), il))
    if e.arch == "qwen35moe" and x.shared:
        out.append(Tensor(p + "ffn_gate_inp_shexp.weight", (h,), il))
    if x.shared:
        s = x.shared_ffn or x.ffn * x.shared
        out += [Tensor(p + "ffn_gate_shexp.weight", (h, s), il), Tensor(p + "ffn_up_shexp.weight", (h, s), il),
                Tensor(p + "ffn_down_shexp.weight", (s, h), il)]
    return out


def catalog_tensors(e: CatalogEntry) -> list[Tensor]:
    """Every weight of the GGUF llama.cpp's converter would write for ``e`` (untyped)."""
    h = e.hidden
    out = [Tensor("token_embd.weight", (h, e.vocab)), Tensor("output_norm.weight", (h,))]
    if not e.tied_embeddings:
        out.append(Tensor("output.weight", (h, e.vocab)))
    if e.rope_scaling is not None and e.rope_scaling.type == "llama3":
        out.append(Tensor("rope_freqs.weight", ((e.head_dim or 0) // 2,)))
    for il in range(e.layers + e.nextn_layers):
        p = f"blk.{il}."
        out += (_linear_attention(e, p, il) if _is_linear(e, il) else _attention(e, p, il)) + _ffn(e, p, il)
        if il >= e.layers:
            out += [Tensor(p + "nextn.eh_proj.weight", (2 * h, h), il), Tensor(p + "nextn.enorm.weight", (h,), il),
                    Tensor(p + "nextn.hnorm.weight", (h,), il), Tensor(p + "nextn.shared_head_norm.weight", (h,), il)]
    return out


def _counts_as_attn_v(name: str) -> bool:
    """llama-quant.cpp's category_is_attn_v: attn_v, attn_qkv and attn_kv_b share one counter."""
    return any(k in name for k in ("attn_v.weight", "attn_qkv.weight", "attn_kv_b.weight"))


def _hints(e: CatalogEntry, tensors: list[Tensor]) -> ModelHints:
    return ModelHints(
        n_layer_all=e.layers + e.nextn_layers, n_expert=e.experts.count if e.experts else 0,
        n_gqa=max(1, e.heads // e.kv_heads), llama_70b=e.arch == "llama" and e.layers == 80 and e.heads != e.kv_heads,
        tied=e.tied_embeddings, n_attn_v=sum(1 for t in tensors if _counts_as_attn_v(t.name)),
    )


def typed_tensors(e: CatalogEntry, quant: str) -> list[tuple[Tensor, str, int]]:
    """(tensor, type, bytes) for every weight of ``e`` in ``quant``."""
    if quant not in e.offered_quants():
        raise UsageError(f"{e.id} is not offered in {quant}", f"choose one of {', '.join(e.offered_quants())}")
    tensors = catalog_tensors(e)
    hints = _hints(e, tensors)
    out: list[tuple[Tensor, str, int]] = []
    n_v = 0
    for t in tensors:
        kind = tensor_type(quant, t, hints, n_v)
        if _counts_as_attn_v(t.name):
            n_v += 1
        out.append((t, kind, tensor_bytes(kind, t)))
    return out


def catalog_metadata(e: CatalogEntry, quant: str) -> dict[str, Any]:
    """The header keys llama.cpp's converter writes that ``facts_from_gguf`` reads."""
    a = e.arch
    md: dict[str, Any] = {
        "general.architecture": a, "general.name": e.name,
        f"{a}.block_count": e.layers + e.nextn_layers, f"{a}.context_length": e.context,
        f"{a}.embedding_length": e.hidden, f"{a}.feed_forward_length": e.ffn or 0,
        f"{a}.attention.head_count": e.heads, f"{a}.attention.head_count_kv": e.kv_heads,
    }
    if e.head_dim is not None:
        md[f"{a}.attention.key_length"] = md[f"{a}.attention.value_length"] = e.head_dim
    ft = file_type_id(quant)
    if ft is not None:
        md["general.file_type"] = ft
    if e.nextn_layers:
        md[f"{a}.nextn_predict_layers"] = e.nextn_layers
    if e.experts is not None:
        md[f"{a}.expert_count"] = e.experts.count
        md[f"{a}.expert_used_count"] = e.experts.used
    if e.mla is not None:
        m = e.mla
        md.update({f"{a}.attention.kv_lora_rank": m.kv_lora_rank, f"{a}.attention.q_lora_rank": m.q_lora_rank,
                   f"{a}.rope.dimension_count": m.qk_rope_head_dim,
                   f"{a}.attention.key_length": m.kv_lora_rank + m.qk_rope_head_dim,
                   f"{a}.attention.value_length": m.kv_lora_rank,
                   f"{a}.attention.key_length_mla": m.qk_nope_head_dim + m.qk_rope_head_dim,
                   f"{a}.attention.value_length_mla": m.v_head_dim})
    la = e.linear_attention
    if la is not None:
        md.update({f"{a}.full_attention_interval": la.interval, f"{a}.ssm.conv_kernel": la.conv_kernel,
                   f"{a}.ssm.state_size": la.key_head_dim, f"{a}.ssm.group_count": la.key_heads,
                   f"{a}.ssm.time_step_rank": la.value_heads,
                   f"{a}.ssm.inner_size": la.value_head_dim * la.value_heads})
    if e.sliding_window is not None:
        md[f"{a}.attention.sliding_window"] = e.sliding_window.window
        md[f"{a}.attention.sliding_window_pattern"] = e.sliding_window.pattern
    r = e.rope_scaling
    if r is not None and r.type in ("yarn", "linear"):
        md[f"{a}.rope.scaling.type"] = r.type
        md[f"{a}.rope.scaling.factor"] = r.factor
        if r.original_context:
            md[f"{a}.rope.scaling.original_context_length"] = r.original_context
    return md


def virtual_gguf(e: CatalogEntry, quant: str) -> GGUFFile:
    """The ``GGUFFile`` a reader would return for ``e`` in ``quant`` (header only, no file)."""
    from gguf import GGMLQuantizationType

    infos: list[TensorInfo] = []
    for t, kind, nbytes in typed_tensors(e, quant):
        type_id = int(GGMLQuantizationType[kind]) if kind in GGMLQuantizationType.__members__ else -1
        infos.append(TensorInfo(t.name, t.shape, type_id, kind, t.n_elements, nbytes, 0, 0))
    path = Path(f"catalog:{e.id}:{quant}")
    return GGUFFile(path=path, shards=(path,), version=3, metadata=catalog_metadata(e, quant),
                    tensors=tuple(infos), file_bytes=sum(i.n_bytes for i in infos))


def catalog_facts(e: CatalogEntry, quant: str, *, ctx: int | None = None, cache_type: str = "f16") -> ModelFacts:
    """``ModelFacts`` of ``e`` quantized as ``quant``: the same object a GGUF header gives."""
    return facts_from_gguf(virtual_gguf(e, quant), ctx=ctx, cache_type=cache_type)
