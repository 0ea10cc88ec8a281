"""Synthetic GGUF files for tests and benches, written with gguf's own GGUFWriter.

Only the header and tensor table are written; the data section is made with ``truncate``
(sparse zeros), so a file that declares 400 GB of tensors costs a few kilobytes of disk.
Shapes are given in GGUF order (``(ne0, ne1)``: row length first), as llama.cpp prints them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, GGUFWriter

Q = GGMLQuantizationType
Tensor = tuple[str, Sequence[int], GGMLQuantizationType]


def tensor_bytes(shape: Sequence[int], qtype: GGMLQuantizationType) -> int:
    block, size = GGML_QUANT_SIZES[qtype]
    n = 1
    for d in shape:
        n *= d
    return n // block * size


def _add(w: GGUFWriter, key: str, val: Any) -> None:
    if isinstance(val, tuple) and len(val) == 2 and isinstance(val[1], GGUFValueType):
        w.add_key_value(key, val[0], val[1])
    elif isinstance(val, bool):
        w.add_bool(key, val)
    elif isinstance(val, int):
        w.add_uint32(key, val) if 0 <= val < 2**32 else w.add_uint64(key, val)
    elif isinstance(val, float):
        w.add_float32(key, val)
    elif isinstance(val, str):
        w.add_string(key, val)
    elif isinstance(val, (list, np.ndarray)):
        w.add_array(key, list(val))
    else:
        raise TypeError(f"{key}: {type(val)}")


def write_gguf(path: Path, arch: str, kv: Mapping[str, Any], tensors: Iterable[Tensor], *,
               split_max_tensors: int = 0, fill: bool = True) -> list[Path]:
    """Write a header-only GGUF (or shards); ``{arch}`` in keys is replaced. Returns the files."""
    w = GGUFWriter(path, arch, split_max_tensors=split_max_tensors)
    for key, val in kv.items():
        _add(w, key.replace("{arch}", arch), val)
    for name, shape, qtype in tensors:
        nbytes = tensor_bytes(shape, qtype)
        w.add_tensor_info(name, tuple(reversed(list(shape))), np.dtype(np.float32), nbytes, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    assert w.fout is not None
    ends = []
    for fout, shard in zip(w.fout, w.tensors, strict=True):
        start = -(-fout.tell() // w.data_alignment) * w.data_alignment
        data = sum(-(-ti.nbytes // w.data_alignment) * w.data_alignment for ti in shard.values())
        ends.append(start + data)
    paths = w.format_shard_names(path) if len(w.fout) > 1 else [path]
    w.close()
    for p, end in zip(paths, ends, strict=True):
        if fill:
            with open(p, "r+b") as f:
                f.truncate(end)
    return [Path(p) for p in paths]


def llama_like(*, n_layer: int = 4, n_embd: int = 256, n_head: int = 8, n_kv: int = 2, head_dim: int = 32,
               n_ff: int = 512, vocab: int = 1000, tied: bool = False, qtype: Q = Q.F16,
               ctx: int = 8192, extra: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], list[Tensor]]:
    """A dense GQA decoder: metadata and tensors."""
    kv: dict[str, Any] = {
        "general.name": "synthetic dense", "general.file_type": 1,
        "{arch}.block_count": n_layer, "{arch}.context_length": ctx, "{arch}.embedding_length": n_embd,
        "{arch}.feed_forward_length": n_ff, "{arch}.attention.head_count": n_head,
        "{arch}.attention.head_count_kv": n_kv, "{arch}.attention.key_length": head_dim,
        "{arch}.attention.value_length": head_dim, "{arch}.rope.dimension_count": head_dim,
    }
    kv.update(extra or {})
    t: list[Tensor] = [("token_embd.weight", (n_embd, vocab), qtype), ("output_norm.weight", (n_embd,), Q.F32)]
    if not tied:
        t.append(("output.weight", (n_embd, vocab), qtype))
    for i in range(n_layer):
        t += [
            (f"blk.{i}.attn_norm.weight", (n_embd,), Q.F32),
            (f"blk.{i}.attn_q.weight", (n_embd, n_head * head_dim), qtype),
            (f"blk.{i}.attn_k.weight", (n_embd, n_kv * head_dim), qtype),
            (f"blk.{i}.attn_v.weight", (n_embd, n_kv * head_dim), qtype),
            (f"blk.{i}.attn_output.weight", (n_head * head_dim, n_embd), qtype),
            (f"blk.{i}.ffn_norm.weight", (n_embd,), Q.F32),
            (f"blk.{i}.ffn_gate.weight", (n_embd, n_ff), qtype),
            (f"blk.{i}.ffn_up.weight", (n_embd, n_ff), qtype),
            (f"blk.{i}.ffn_down.weight", (n_ff, n_embd), qtype),
        ]
    return kv, t


def moe_ffn(i: int, *, n_embd: int, n_ff_exp: int, n_expert: int, shared: bool, qtype: Q) -> list[Tensor]:
    t: list[Tensor] = [
        (f"blk.{i}.ffn_norm.weight", (n_embd,), Q.F32),
        (f"blk.{i}.ffn_gate_inp.weight", (n_embd, n_expert), Q.F32),
        (f"blk.{i}.ffn_gate_exps.weight", (n_embd, n_ff_exp, n_expert), qtype),
        (f"blk.{i}.ffn_up_exps.weight", (n_embd, n_ff_exp, n_expert), qtype),
        (f"blk.{i}.ffn_down_exps.weight", (n_ff_exp, n_embd, n_expert), qtype),
    ]
    if shared:
        t += [
            (f"blk.{i}.ffn_gate_shexp.weight", (n_embd, n_ff_exp), qtype),
            (f"blk.{i}.ffn_up_shexp.weight", (n_embd, n_ff_exp), qtype),
            (f"blk.{i}.ffn_down_shexp.weight", (n_ff_exp, n_embd), qtype),
        ]
    return t


def attn_gqa(i: int, *, n_embd: int, n_head: int, n_kv: int, head_dim: int, qtype: Q) -> list[Tensor]:
    return [
        (f"blk.{i}.attn_norm.weight", (n_embd,), Q.F32),
        (f"blk.{i}.attn_q.weight", (n_embd, n_head * head_dim), qtype),
        (f"blk.{i}.attn_k.weight", (n_embd, n_kv * head_dim), qtype),
        (f"blk.{i}.attn_v.weight", (n_embd, n_kv * head_dim), qtype),
        (f"blk.{i}.attn_output.weight", (n_head * head_dim, n_embd), qtype),
    ]


def attn_mla(i: int, *, n_embd: int, n_head: int, q_lora: int, kv_lora: int, nope: int, rope: int, v_dim: int,
             qtype: Q) -> list[Tensor]:
    return [
        (f"blk.{i}.attn_norm.weight", (n_embd,), Q.F32),
        (f"blk.{i}.attn_q_a.weight", (n_embd, q_lora), qtype),
        (f"blk.{i}.attn_q_a_norm.weight", (q_lora,), Q.F32),
        (f"blk.{i}.attn_q_b.weight", (q_lora, n_head * (nope + rope)), qtype),
        (f"blk.{i}.attn_kv_a_mqa.weight", (n_embd, kv_lora + rope), qtype),
        (f"blk.{i}.attn_kv_a_norm.weight", (kv_lora,), Q.F32),
        (f"blk.{i}.attn_k_b.weight", (nope, kv_lora, n_head), qtype),
        (f"blk.{i}.attn_v_b.weight", (kv_lora, v_dim, n_head), qtype),
        (f"blk.{i}.attn_output.weight", (n_head * v_dim, n_embd), qtype),
    ]


def deepseek_like(*, n_layer: int = 4, dense_lead: int = 1, n_embd: int = 256, n_head: int = 4,
                  q_lora: int = 64, kv_lora: int = 64, nope: int = 32, rope: int = 16, v_dim: int = 32,
                  n_ff: int = 512, n_ff_exp: int = 64, n_expert: int = 8, n_used: int = 2, vocab: int = 1000,
                  nextn: int = 0, ctx: int = 4096, qtype: Q = Q.F16) -> tuple[dict[str, Any], list[Tensor]]:
    """A DeepSeek-V3-shaped MoE with MLA, shared experts and leading dense blocks."""
    kv: dict[str, Any] = {
        "general.name": "synthetic mla moe", "{arch}.block_count": n_layer + nextn,
        "{arch}.nextn_predict_layers": nextn, "{arch}.context_length": ctx, "{arch}.embedding_length": n_embd,
        "{arch}.feed_forward_length": n_ff, "{arch}.expert_feed_forward_length": n_ff_exp,
        "{arch}.attention.head_count": n_head, "{arch}.attention.head_count_kv": 1,
        "{arch}.attention.key_length": kv_lora + rope, "{arch}.attention.value_length": kv_lora,
        "{arch}.attention.key_length_mla": nope + rope, "{arch}.attention.value_length_mla": v_dim,
        "{arch}.attention.q_lora_rank": q_lora, "{arch}.attention.kv_lora_rank": kv_lora,
        "{arch}.rope.dimension_count": rope, "{arch}.leading_dense_block_count": dense_lead,
        "{arch}.expert_count": n_expert, "{arch}.expert_used_count": n_used, "{arch}.expert_shared_count": 1,
    }
    t: list[Tensor] = [("token_embd.weight", (n_embd, vocab), qtype), ("output_norm.weight", (n_embd,), Q.F32),
                       ("output.weight", (n_embd, vocab), qtype)]
    for i in range(n_layer + nextn):
        t += attn_mla(i, n_embd=n_embd, n_head=n_head, q_lora=q_lora, kv_lora=kv_lora, nope=nope, rope=rope,
                      v_dim=v_dim, qtype=qtype)
        if i < dense_lead:
            t += [(f"blk.{i}.ffn_norm.weight", (n_embd,), Q.F32),
                  (f"blk.{i}.ffn_gate.weight", (n_embd, n_ff), qtype),
                  (f"blk.{i}.ffn_up.weight", (n_embd, n_ff), qtype),
                  (f"blk.{i}.ffn_down.weight", (n_ff, n_embd), qtype)]
        else:
            t += moe_ffn(i, n_embd=n_embd, n_ff_exp=n_ff_exp, n_expert=n_expert, shared=True, qtype=qtype)
    return kv, t


def in_memory(arch: str, kv: Mapping[str, Any], tensors: Iterable[Tensor]) -> Any:
    """The same model as ``write_gguf`` would read back, without a file (for hypothesis)."""
    from rigbench.model.gguf import GGUFFile, TensorInfo

    meta = {"general.architecture": arch}
    meta.update({k.replace("{arch}", arch): (v[0] if isinstance(v, tuple) else v) for k, v in kv.items()})
    infos = []
    for name, shape, qtype in tensors:
        n = 1
        for d in shape:
            n *= d
        infos.append(TensorInfo(name, tuple(shape), int(qtype), qtype.name, n, tensor_bytes(shape, qtype), 0, 0))
    return GGUFFile(path=Path(f"/synthetic/{arch}.gguf"), shards=(Path(f"/synthetic/{arch}.gguf"),), version=3,
                    metadata=meta, tensors=tuple(infos), file_bytes=sum(t.n_bytes for t in infos))


def qwen3moe_like(*, n_layer: int, n_embd: int, n_head: int, n_kv: int, head_dim: int, n_ff_exp: int,
                  n_expert: int, n_used: int, ctx: int, vocab: int = 151936, qtype: Q = Q.Q4_K,
                  rope: Mapping[str, Any] | None = None,
                  name: str = "synthetic qwen3moe") -> tuple[dict[str, Any], list[Tensor]]:
    """A Qwen3-MoE decoder (GQA with q/k norms, routed experts, no shared ones)."""
    kv: dict[str, Any] = {
        "general.name": name, "general.file_type": 15, "{arch}.block_count": n_layer,
        "{arch}.context_length": ctx, "{arch}.embedding_length": n_embd,
        "{arch}.feed_forward_length": n_ff_exp * 8, "{arch}.expert_feed_forward_length": n_ff_exp,
        "{arch}.attention.head_count": n_head, "{arch}.attention.head_count_kv": n_kv,
        "{arch}.attention.key_length": head_dim, "{arch}.attention.value_length": head_dim,
        "{arch}.rope.freq_base": 1_000_000.0, "{arch}.expert_count": n_expert, "{arch}.expert_used_count": n_used,
    }
    kv.update({f"{{arch}}.rope.scaling.{k}": v for k, v in (rope or {}).items()})
    t: list[Tensor] = [("token_embd.weight", (n_embd, vocab), qtype), ("output_norm.weight", (n_embd,), Q.F32),
                       ("output.weight", (n_embd, vocab), Q.Q6_K)]
    for i in range(n_layer):
        t += attn_gqa(i, n_embd=n_embd, n_head=n_head, n_kv=n_kv, head_dim=head_dim, qtype=qtype)
        t += [(f"blk.{i}.attn_q_norm.weight", (head_dim,), Q.F32), (f"blk.{i}.attn_k_norm.weight", (head_dim,), Q.F32)]
        t += moe_ffn(i, n_embd=n_embd, n_ff_exp=n_ff_exp, n_expert=n_expert, shared=False, qtype=qtype)
    return kv, t


def qwen3_30b_a3b_yarn() -> tuple[dict[str, Any], list[Tensor]]:
    """Qwen3-30B-A3B as the 128K GGUFs ship it: context_length 131,072 written over a 32,768
    trained window, YaRN x4 (the first post's "YaRN sticker")."""
    return qwen3moe_like(n_layer=48, n_embd=2048, n_head=32, n_kv=4, head_dim=128, n_ff_exp=768, n_expert=128,
                         n_used=8, ctx=131072, name="Qwen3-30B-A3B-128K",
                         rope={"type": "yarn", "factor": 4.0, "original_context_length": 32768})


def qwen3_coder_480b_1m() -> tuple[dict[str, Any], list[Tensor]]:
    """Qwen3-Coder-480B-A35B, the "1M" GGUF: 262,144 trained, 1,048,576 through YaRN x4."""
    return qwen3moe_like(n_layer=62, n_embd=6144, n_head=96, n_kv=8, head_dim=128, n_ff_exp=2560, n_expert=160,
                         n_used=8, ctx=1048576, name="Qwen3-Coder-480B-A35B-Instruct-1M",
                         rope={"type": "yarn", "factor": 4.0, "original_context_length": 262144})


def glm51_like() -> tuple[dict[str, Any], list[Tensor]]:
    """GLM-5.1 (glm-dsa): 78 MLA layers (512 latent + 64 rope), 202,752 native, no rope scaling."""
    kv, t = deepseek_like(n_layer=78, dense_lead=3, n_embd=6144, n_head=64, q_lora=2048, kv_lora=512, nope=192,
                          rope=64, v_dim=256, n_ff=12288, n_ff_exp=2048, n_expert=256, n_used=8, vocab=154880,
                          ctx=202752, qtype=Q.Q4_K)
    kv["general.name"] = "GLM-5.1"
    return kv, t
