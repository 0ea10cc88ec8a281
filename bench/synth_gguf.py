"""Synthetic-weight GGUFs in the exact shape of real models, written straight in their
quantized types with llama.cpp's gguf-py (speed does not depend on weight values).

Shapes: ``llama3-8b`` (Llama-3-8B: 32 layers, 4096 wide, GQA 32/8, 14336 FFN) and
``qwen3-30b-a3b`` (Qwen3-30B-A3B: 48 layers, 2048 wide, GQA 32/4 with 128-dim heads, 128
experts of 768 with 8 active). Types: ``q4_k_m`` (Q4_K, with Q6_K where llama.cpp's
Q4_K_M puts it: output, and attn_v / ffn_down on its "more bits" layers), ``q8_0``.
The tokenizer is copied from one of llama.cpp's vocab-only test files, so prompts
tokenize as on the real model. Blocks are random bytes with small valid scales (never
NaN or Inf), streamed tensor by tensor.

    python bench/synth_gguf.py --shape llama3-8b --type q4_k_m --vocab VOCAB.gguf --out m.gguf
    python bench/synth_gguf.py --shape tiny --type q8_0 --vocab VOCAB.gguf --out t.gguf   # a quick local check
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@dataclass(frozen=True)
class Shape:
    arch: str
    layers: int
    dim: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    ctx: int
    rope_base: float
    experts: int = 0
    experts_used: int = 0
    expert_ffn: int = 0
    qk_norm: bool = False


SHAPES = {
    "llama3-8b": Shape("llama", 32, 4096, 32, 8, 128, 14336, 8192, 500000.0),
    "qwen3-30b-a3b": Shape("qwen3moe", 48, 2048, 32, 4, 128, 6144, 40960, 1000000.0, experts=128, experts_used=8,
                           expert_ffn=768, qk_norm=True),
    "tiny": Shape("llama", 2, 256, 4, 2, 64, 512, 4096, 10000.0),
    "tiny-moe": Shape("qwen3moe", 2, 256, 4, 2, 64, 512, 4096, 10000.0, experts=8, experts_used=2, expert_ffn=128,
                      qk_norm=True),
}


def _more_bits(i: int, n: int) -> bool:
    """llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between."""
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def tensor_plan(s: Shape, n_vocab: int, qtype: str) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape (rows, cols, ...), ggml type) in llama.cpp's tensor names."""
    def q(default: str, *, more: bool = False) -> str:
        if qtype == "q8_0":
            return "Q8_0"
        return "Q6_K" if more else default

    kv = s.kv_heads * s.head_dim
    qd = s.heads * s.head_dim
    out: list[tuple[str, tuple[int, ...], str]] = [("token_embd.weight", (n_vocab, s.dim), q("Q4_K"))]
    for i in range(s.layers):
        p = f"blk.{i}."
        more = _more_bits(i, s.layers)
        out += [
            (p + "attn_norm.weight", (s.dim,), "F32"),
            (p + "attn_q.weight", (qd, s.dim), q("Q4_K")),
            (p + "attn_k.weight", (kv, s.dim), q("Q4_K")),
            (p + "attn_v.weight", (kv, s.dim), q("Q4_K", more=more)),
            (p + "attn_output.weight", (s.dim, qd), q("Q4_K")),
            (p + "ffn_norm.weight", (s.dim,), "F32"),
        ]
        if s.qk_norm:
            out += [(p + "attn_q_norm.weight", (s.head_dim,), "F32"), (p + "attn_k_norm.weight", (s.head_dim,), "F32")]
        if s.experts:
            out += [
                (p + "ffn_gate_inp.weight", (s.experts, s.dim), "F32"),
                (p + "ffn_gate_exps.weight", (s.experts, s.expert_ffn, s.dim), q("Q4_K")),
                (p + "ffn_up_exps.weight", (s.experts, s.expert_ffn, s.dim), q("Q4_K")),
                (p + "ffn_down_exps.weight", (s.experts, s.dim, s.expert_ffn), q("Q4_K", more=more)),
            ]
        else:
            out += [
                (p + "ffn_gate.weight", (s.ffn, s.dim), q("Q4_K")),
                (p + "ffn_up.weight", (s.ffn, s.dim), q("Q4_K")),
                (p + "ffn_down.weight", (s.dim, s.ffn), q("Q4_K", more=more)),
            ]
    out += [("output_norm.weight", (s.dim,), "F32"), ("output.weight", (n_vocab, s.dim), q("Q6_K", more=True))]
    return out


def _blocks(gguf: object, qtype: str, n_elems: int, rng: np.random.Generator) -> np.ndarray:
    """Random quantized blocks whose f16 scales are small and finite."""
    GQT = gguf.GGMLQuantizationType  # type: ignore[attr-defined]
    block, size = gguf.GGML_QUANT_SIZES[GQT[qtype]]  # type: ignore[attr-defined]
    n_blocks = n_elems // block
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    scale = np.frombuffer(np.float16(0.002).tobytes(), dtype=np.uint8)
    if qtype == "Q8_0":
        raw[:, 0:2] = scale
    elif qtype == "Q4_K":
        raw[:, 0:2] = scale  # d
        raw[:, 2:4] = scale  # dmin
    elif qtype == "Q6_K":
        raw[:, 208:210] = scale  # d is the last field
    return raw.reshape(-1)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--type", choices=["q4_k_m", "q8_0"], required=True)
    ap.add_argument("--vocab", required=True, help="a llama.cpp vocab-only GGUF (models/ggml-vocab-*.gguf)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--ctx", type=int, default=0, help="declared training context (default: the shape's)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import gguf

    s = SHAPES[a.shape]
    t0 = time.time()
    r = gguf.GGUFReader(a.vocab)
    f = r.fields
    tokens = f["tokenizer.ggml.tokens"].contents()
    plan = tensor_plan(s, len(tokens), a.type)
    w = gguf.GGUFWriter(a.out, s.arch)
    w.add_name(f"synthetic {a.shape} {a.type}")
    w.add_context_length(a.ctx or s.ctx)
    w.add_embedding_length(s.dim)
    w.add_block_count(s.layers)
    w.add_feed_forward_length(s.ffn)
    w.add_head_count(s.heads)
    w.add_head_count_kv(s.kv_heads)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_rope_dimension_count(s.head_dim)
    w.add_rope_freq_base(s.rope_base)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_vocab_size(len(tokens))
    if s.experts:
        w.add_expert_count(s.experts)
        w.add_expert_used_count(s.experts_used)
        w.add_expert_feed_forward_length(s.expert_ffn)
    ftype = gguf.LlamaFileType.MOSTLY_Q4_K_M if a.type == "q4_k_m" else gguf.LlamaFileType.MOSTLY_Q8_0
    w.add_file_type(ftype)
    for key in ("tokenizer.ggml.model", "tokenizer.ggml.pre"):
        if key in f:
            getattr(w, "add_tokenizer_model" if key.endswith("model") else "add_tokenizer_pre")(f[key].contents())
    w.add_token_list(tokens)
    if "tokenizer.ggml.token_type" in f:
        w.add_token_types(f["tokenizer.ggml.token_type"].contents())
    if "tokenizer.ggml.merges" in f:
        w.add_token_merges(f["tokenizer.ggml.merges"].contents())
    for key, add in (("tokenizer.ggml.bos_token_id", w.add_bos_token_id),
                     ("tokenizer.ggml.eos_token_id", w.add_eos_token_id)):
        if key in f:
            add(f[key].contents())
    w.add_chat_template(CHATML)
    GQT = gguf.GGMLQuantizationType
    for name, shape, qt in plan:
        n = int(np.prod(shape))
        if qt == "F32":
            w.add_tensor_info(name, shape, np.dtype(np.float32), n * 4)
        else:
            block, size = gguf.GGML_QUANT_SIZES[GQT[qt]]
            w.add_tensor_info(name, shape, np.dtype(np.float32), n // block * size, raw_dtype=GQT[qt])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(a.seed)
    written = 0
    for name, shape, qt in plan:
        n = int(np.prod(shape))
        arr = (np.full(n, 1.0 if "norm" in name else 0.01, dtype=np.float32) if qt == "F32"
               else _blocks(gguf, qt, n, rng))
        w.write_tensor_data(arr)
        written += arr.nbytes
    w.close()
    params = sum(int(np.prod(sh)) for _, sh, _ in plan)
    print(f"wrote {a.out}: {a.shape} {a.type}, {params / 1e9:.2f} B params, {written / 1e9:.2f} GB of tensors, "
          f"{len(tokens)} tokens, in {time.time() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
