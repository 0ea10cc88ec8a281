"""ModelFacts arithmetic against hand-computed values: dense, GQA, MoE, MLA, sliding window, recurrent, YaRN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf_factory import Q, deepseek_like, in_memory, llama_like, write_gguf
from hypothesis import given, settings
from hypothesis import strategies as st

from rigbench.errors import UsageError
from rigbench.model.facts import ModelFacts, facts_from_gguf, model_facts, pad_to, row_bytes

MIB = 2**20


def facts(arch: str, kv: dict[str, Any], tensors: list[Any] | None = None, **kw: Any) -> ModelFacts:
    return facts_from_gguf(in_memory(arch, kv, tensors or []), **kw)


def attn_kv(n_layer: int, n_kv: int | list[int], head_dim: int, **extra: Any) -> dict[str, Any]:
    kv = {"{arch}.block_count": n_layer, "{arch}.embedding_length": 640, "{arch}.attention.head_count": 4,
          "{arch}.attention.head_count_kv": n_kv, "{arch}.attention.key_length": head_dim,
          "{arch}.attention.value_length": head_dim, "{arch}.context_length": 32768}
    kv.update(extra)
    return kv


# ---- dense and GQA -------------------------------------------------------------------------------------

def test_dense_gqa_params_bytes_and_kv(tmp_path: Path) -> None:
    # 4 layers, n_embd 256, 8 heads, 2 KV heads of 32, n_ff 512, vocab 1000, f16 weights, f32 norms
    kv, tensors = llama_like()
    f = model_facts(str(write_gguf(tmp_path / "d.gguf", "llama", kv, tensors)[0]), ctx=4096)
    per_layer = 2 * 256 + 256 * 256 + 2 * 256 * 64 + 256 * 256 + 3 * 256 * 512  # norms, q, k, v, o, ffn
    assert per_layer == 557_568
    assert f.params_total == 2 * 256 * 1000 + 256 + 4 * per_layer == 2_742_528
    # token_embd is a row lookup: one row of 256 instead of 256,000
    assert f.params_active == f.params_total - 256_000 + 256 == 2_486_784
    f32 = 256 + 4 * 512
    assert f.active_bytes_per_token == f32 * 4 + (f.params_active - f32) * 2 == 4_978_176
    assert f.layers == 4 and f.heads == 8 and f.kv_heads == 2 and f.head_dim_k == 32 and f.attention == "gqa"
    # 2 (K and V) x 2 KV heads x 32 dims x 2 bytes x 4 layers
    assert f.kv_bytes_per_token == 2 * 2 * 32 * 2 * 4 == 1024
    assert f.kv_cache_bytes(4096) == 4096 * 1024
    assert f.kv_bytes_at(1000) == 1000 * 1024 and f.kv_bytes_at(0) == 0
    assert f.quant == "F16" and f.bits_per_weight == pytest.approx(f.weights_bytes * 8 / f.params_total)


def test_tied_embedding_is_read_whole(tmp_path: Path) -> None:
    kv, tensors = llama_like(tied=True)
    f = facts("llama", kv, tensors)
    assert f.params_active == f.params_total  # the embedding doubles as the output projection
    assert any("tied" in n for n in f.notes)


def test_quantized_cache_types_use_ggml_quant_sizes() -> None:
    assert GGML_QUANT_SIZES[GGMLQuantizationType.Q8_0] == (32, 34)
    assert GGML_QUANT_SIZES[GGMLQuantizationType.Q4_0] == (32, 18)
    f = facts("llama", attn_kv(4, 2, 32))
    assert f.with_cache_type("q8_0").kv_bytes_per_token == 4 * 2 * (64 // 32 * 34) == 544
    assert f.with_cache_type("q4_0").kv_bytes_per_token == 4 * 2 * (64 // 32 * 18) == 288
    assert row_bytes("f32", 10) == 40 and row_bytes("q8_0", 64) == 68
    with pytest.raises(UsageError):
        f.with_cache_type("q3_weird")
    with pytest.raises(UsageError):
        facts("llama", attn_kv(4, 2, 32), cache_type="nope")


def test_per_layer_kv_heads() -> None:
    f = facts("openelm", attn_kv(4, [1, 2, 3, 4], 64))
    assert f.kv_heads == [1, 2, 3, 4]
    assert f.kv_bytes_per_token == (1 + 2 + 3 + 4) * 64 * 2 * 2


@settings(max_examples=80, deadline=None)
@given(n_layer=st.integers(1, 96), n_kv=st.integers(1, 16), head_dim=st.sampled_from([64, 96, 128, 192, 256]),
       ctx=st.integers(1, 300_000), cache=st.sampled_from(["f16", "q8_0", "q4_0"]))
def test_gqa_formula(n_layer: int, n_kv: int, head_dim: int, ctx: int, cache: str) -> None:
    f = facts("llama", attn_kv(n_layer, n_kv, head_dim), cache_type=cache)
    block, size = {"f16": (1, 2), "q8_0": (32, 34), "q4_0": (32, 18)}[cache]
    per_token = n_layer * 2 * (n_kv * head_dim // block * size)
    assert f.kv_bytes_per_token == per_token
    assert f.kv_cache_bytes(ctx) == pad_to(ctx, 256) * per_token
    assert f.kv_bytes_at(ctx) == ctx * per_token


# ---- MoE ----------------------------------------------------------------------------------------------

def test_moe_with_shared_experts_and_leading_dense_block() -> None:
    # deepseek_like: 4 layers (1 dense), 8 experts of which 2 per token, one shared expert, n_embd 256
    f = facts("deepseek2", *deepseek_like())
    attn = 256 + 256 * 64 + 64 + 64 * 4 * 48 + 256 * 80 + 64 + 32 * 64 * 4 + 64 * 32 * 4 + 4 * 32 * 256
    dense_ffn = 256 + 3 * 256 * 512
    experts = 3 * 256 * 64 * 8
    moe_ffn = 256 + 256 * 8 + experts + 3 * 256 * 64
    assert f.params_total == 2 * 256_000 + 256 + 4 * attn + dense_ffn + 3 * moe_ffn == 2_634_496
    # experts scale by 2/8; shared experts, the router and the dense block count in full; embedding: one row
    assert f.params_active == f.params_total - 256_000 + 256 - 3 * (experts - experts * 2 // 8) == 1_494_016
    f32 = 256 + 4 * (256 + 64 + 64) + 4 * 256 + 3 * 256 * 8  # norms and routers
    assert f.active_bytes_per_token == f32 * 4 + (f.params_active - f32) * 2 == 3_005_952
    assert f.experts == 8 and f.experts_used == 2


def test_mtp_layers_are_not_active() -> None:
    plain = facts("deepseek2", *deepseek_like())
    with_mtp = facts("deepseek2", *deepseek_like(nextn=1))
    assert with_mtp.layers == plain.layers == 4
    assert with_mtp.params_total > plain.params_total
    assert with_mtp.params_active == plain.params_active
    assert with_mtp.kv_bytes_per_token == plain.kv_bytes_per_token
    assert any("MTP" in n for n in with_mtp.notes)


# ---- MLA ----------------------------------------------------------------------------------------------

def test_mla_caches_one_latent_per_layer() -> None:
    f = facts("deepseek2", *deepseek_like())  # kv_lora_rank 64 + 16 rope dims, 4 layers
    assert f.attention == "mla" and f.head_dim_k == 80 and f.head_dim_v is None
    assert f.kv_bytes_per_token == 4 * (64 + 16) * 2 == 640
    (part,) = f.kv_cache_parts(4096)
    assert part.v_bytes == 0 and part.k_bytes == 4096 * 640


def test_mla_figure_from_a_real_log() -> None:
    # llama_kv_cache: size = 85709.81 MiB (1000192 cells, 78 layers, 1/1 seqs), K (f16): 85709.81 MiB
    kv, tensors = deepseek_like(n_layer=78, dense_lead=78, n_embd=64, n_head=1, q_lora=16, kv_lora=512, nope=16,
                                rope=64, v_dim=16, n_ff=64, vocab=100)
    f = facts("deepseek2", kv, tensors)
    (part,) = f.kv_cache_parts(1_000_000)
    assert part.cells == 1_000_192 and part.layers == 78
    assert round(part.bytes / MIB, 1) == 85_709.8 and part.v_bytes == 0


def test_legacy_mla_gguf_is_flagged() -> None:
    kv = attn_kv(2, 16, 192, **{"{arch}.attention.kv_lora_rank": 512, "{arch}.rope.dimension_count": 64})
    f = facts("deepseek2", kv)  # no key_length_mla, no attn_k_b: llama.cpp caches per head
    assert f.attention == "gqa" and f.kv_bytes_per_token == 2 * 2 * 16 * 192 * 2
    assert any("legacy MLA" in n for n in f.notes)


# ---- sliding window -----------------------------------------------------------------------------------

def gemma3_270m_shape() -> dict[str, Any]:
    return attn_kv(18, 1, 256, **{"{arch}.attention.sliding_window": 512})


def test_gemma3_sliding_window_matches_a_real_log() -> None:
    # n_ctx 8192: non-SWA 8192 cells, 3 layers, 24.00 MiB; SWA 1024 cells, 15 layers, 15.00 MiB
    f = facts("gemma3", gemma3_270m_shape())
    assert [la.index for la in f.kv_layers if la.window is None] == [5, 11, 17]  # 5 sliding, then 1 global
    glob, swa = f.kv_cache_parts(8192)
    assert (glob.kind, glob.cells, glob.layers, glob.bytes) == ("global", 8192, 3, 24 * MIB)
    assert (swa.kind, swa.cells, swa.layers, swa.bytes) == ("swa", 1024, 15, 15 * MIB)
    assert f.kv_bytes_per_token_by_kind() == {"global": 3 * 1024, "swa": 15 * 1024}
    # llama.cpp: pad256(min(n_ctx, n_swa * n_seq + n_ubatch)); unified caches hold n_seq windows
    assert f.kv_cache_parts(8192, n_ubatch=2048)[1].cells == 2560
    assert f.kv_cache_parts(8192, n_seq=4, unified=True)[1].cells == 2560
    assert f.kv_cache_parts(600)[1].cells == 768  # capped by n_ctx (768 after padding)
    assert f.kv_cache_parts(8192, swa_full=True)[1].cells == 8192


def test_sliding_layers_read_at_most_their_window() -> None:
    f = facts("gemma3", gemma3_270m_shape())
    assert f.kv_bytes_at(100) == 100 * 18 * 1024
    assert f.kv_bytes_at(10_000) == 10_000 * 3 * 1024 + 512 * 15 * 1024


@settings(max_examples=60, deadline=None)
@given(a=st.integers(0, 200_000), b=st.integers(0, 200_000))
def test_kv_read_grows_with_depth_and_never_beyond_full_attention(a: int, b: int) -> None:
    f = facts("gemma3", gemma3_270m_shape())
    lo, hi = sorted((a, b))
    assert f.kv_bytes_at(lo) <= f.kv_bytes_at(hi) <= hi * f.kv_bytes_per_token


def test_swa_patterns() -> None:
    g2 = facts("gemma2", attn_kv(4, 1, 64))  # no key: gemma2's default window of 4096, pattern 2
    assert g2.sliding_window == 4096 and [la.window for la in g2.kv_layers] == [4096, None, 4096, None]
    dense_first = facts("cohere2moe", attn_kv(8, 1, 64, **{"{arch}.attention.sliding_window": 128}))
    assert [la.index for la in dense_first.kv_layers if la.window is None] == [0, 4]
    explicit = facts("gemma3", attn_kv(4, 1, 64, **{"{arch}.attention.sliding_window": 64,
                                                    "{arch}.attention.sliding_window_pattern": [True, False, False,
                                                                                                True]}))
    assert [bool(la.window) for la in explicit.kv_layers] == [True, False, False, True]
    off = facts("gemma3", attn_kv(6, 1, 64, **{"{arch}.attention.sliding_window": 0}))
    assert off.sliding_window is None and all(la.window is None for la in off.kv_layers)
    ignored = facts("qwen2", attn_kv(4, 1, 64, **{"{arch}.attention.sliding_window": 4096}))
    assert ignored.sliding_window is None and any("sliding window" in n for n in ignored.notes)


# ---- recurrent and hybrid -----------------------------------------------------------------------------

def test_mamba_state_is_constant() -> None:
    kv = {"{arch}.block_count": 4, "{arch}.embedding_length": 256, "{arch}.ssm.conv_kernel": 4,
          "{arch}.ssm.inner_size": 512, "{arch}.ssm.state_size": 16, "{arch}.ssm.group_count": 1,
          "{arch}.context_length": 1_000_000}
    f = facts("mamba2", kv)
    per_layer = (3 * (512 + 2 * 16) + 16 * 512) * 4  # conv state + ssm state, f32
    assert f.attention == "recurrent" and f.kv_layers == () and f.kv_bytes_per_token == 0
    assert f.state_bytes == 4 * per_layer == 157_184
    assert f.kv_bytes_at(0) == f.kv_bytes_at(500_000) == 157_184
    assert [(p.kind, p.bytes) for p in f.kv_cache_parts(1_000_000)] == [("recurrent", 157_184)]


def test_rwkv_state() -> None:
    f = facts("rwkv6", {"{arch}.block_count": 2, "{arch}.embedding_length": 256, "{arch}.wkv.head_size": 64})
    assert f.state_bytes == 2 * (2 * 256 + 256 * 64) * 4


def test_hybrid_attention_every_fourth_layer() -> None:
    kv = attn_kv(8, 2, 64, **{"{arch}.full_attention_interval": 4, "{arch}.ssm.conv_kernel": 4,
                              "{arch}.ssm.inner_size": 128, "{arch}.ssm.state_size": 16,
                              "{arch}.ssm.group_count": 2})
    f = facts("qwen3next", kv)
    assert f.attention == "hybrid" and [la.index for la in f.kv_layers] == [3, 7]
    assert f.kv_bytes_per_token == 2 * 2 * 2 * 64 * 2
    assert f.state_bytes == 6 * (3 * (128 + 2 * 2 * 16) + 16 * 128) * 4


def test_hybrids_with_per_layer_kv_heads() -> None:
    ssm = {"{arch}.ssm.conv_kernel": 4, "{arch}.ssm.inner_size": 128, "{arch}.ssm.state_size": 16,
           "{arch}.ssm.group_count": 1}
    state = (3 * (128 + 2 * 16) + 16 * 128) * 4
    jamba = facts("jamba", attn_kv(4, [0, 2, 0, 0], 64, **ssm))
    assert [la.index for la in jamba.kv_layers] == [1] and jamba.state_bytes == 3 * state
    # nemotron-h: a layer with neither KV heads nor an MLP is a mamba layer; an MLP-only layer has no state
    nemo = facts("nemotron_h", attn_kv(4, [0, 2, 0, 0], 64, **{"{arch}.feed_forward_length": [0, 0, 512, 0]},
                                        **ssm))
    assert [la.index for la in nemo.kv_layers] == [1] and nemo.state_bytes == 2 * state
    falcon = facts("falcon-h1", attn_kv(3, 2, 64, **ssm))  # attention and a state in every layer
    assert len(falcon.kv_layers) == 3 and falcon.state_bytes == 3 * state and falcon.attention == "hybrid"


# ---- context ------------------------------------------------------------------------------------------

def test_yarn_declared_extends_the_maximum() -> None:
    kv = attn_kv(2, 1, 64, **{"{arch}.rope.scaling.type": "yarn", "{arch}.rope.scaling.factor": 4.0,
                              "{arch}.rope.scaling.original_context_length": 32768})
    f = facts("qwen3", kv)
    assert f.native_context == 32768 and f.max_context == 131072 and f.rope_scaling == "yarn"
    assert f.context_check(32768)["status"] == "native"
    assert f.context_check(65536) == {"requested": 65536, "native": 32768, "max": 131072, "status": "extended"}
    assert f.context_check(131073)["status"] == "beyond"
    (note,) = f.context_notes(65536)
    assert "--rope-scale 4" in note and "--yarn-orig-ctx 32768" in note and "caps a slot" in note
    assert "caps a slot" in f.context_notes(1_000_000)[0]
    assert f.context_notes(1000) == []


def test_yarn_sticker_native_is_the_trained_window() -> None:
    """context_length 131,072 written over a 32,768 trained window (YaRN x4): native is 32,768."""
    kv = attn_kv(2, 1, 64, **{"{arch}.context_length": 131072, "{arch}.rope.scaling.type": "yarn",
                              "{arch}.rope.scaling.factor": 4.0,
                              "{arch}.rope.scaling.original_context_length": 32768})
    f = facts("qwen2", kv)
    assert f.native_context == 32768 and f.max_context == 131072 and f.context_length == 131072
    assert f.context_check(32768)["status"] == "native"
    assert f.context_check(65536) == {"requested": 65536, "native": 32768, "max": 131072, "status": "extended"}
    assert f.context_check(131072)["status"] == "extended" and f.context_check(131073)["status"] == "beyond"
    (note,) = f.context_notes(65536)  # what llama.cpp does with such a file
    assert "n_ctx_train" in note and "does not cap a slot at 32,768" in note and "131,072" in note
    assert f.granted_at(65536) == 65536 and f.granted_at(1_000_000) == 131072  # capped at context_length
    assert f.to_json(ctx=65536)["granted_context"] == 65536


def test_original_context_without_scaling_is_not_a_sticker() -> None:
    kv = attn_kv(2, 1, 64, **{"{arch}.context_length": 131072,
                              "{arch}.rope.scaling.original_context_length": 32768})
    f = facts("llama", kv)  # no scaling type, no factor: nothing declares an extension
    assert f.native_context == f.max_context == 131072 and f.sticker_note() is None


def test_the_three_shapes_from_the_posts(tmp_path: Path) -> None:
    from gguf_factory import glm51_like, qwen3_30b_a3b_yarn, qwen3_coder_480b_1m

    from rigbench.measure.points import verdict

    a3b = model_facts(write_gguf(tmp_path / "a3b.gguf", "qwen3moe", *qwen3_30b_a3b_yarn())[0])
    assert 30.0e9 < a3b.params_total < 31.0e9 and 2.9e9 < a3b.params_active < 3.5e9
    assert (a3b.native_context, a3b.max_context, a3b.context_length) == (32768, 131072, 131072)
    assert a3b.context_check(65536)["status"] == "extended"
    assert a3b.context_check(1_000_000)["status"] == "beyond"
    assert a3b.kv_bytes_per_token == 48 * 2 * 4 * 128 * 2

    coder = model_facts(write_gguf(tmp_path / "coder.gguf", "qwen3moe", *qwen3_coder_480b_1m())[0])
    assert 470e9 < coder.params_total < 490e9 and 33e9 < coder.params_active < 37e9
    assert (coder.native_context, coder.max_context) == (262144, 1048576)
    assert coder.context_check(1_000_000)["status"] == "extended"  # a 1M window, through YaRN: not native
    assert coder.granted_at(1_000_000) == 1_000_192  # llama.cpp grants it: context_length is 1,048,576
    points = [{"depth": 0, "decode_tok_s": 150.0}]
    assert verdict(points, coder.native_context)["context_ok"] is False  # the bar counts native only

    glm = facts("glm-dsa", *glm51_like())
    assert (glm.native_context, glm.max_context) == (202752, 202752) and glm.attention == "mla"
    assert glm.kv_cache_bytes(1_000_000) / MIB == pytest.approx(85709.81, abs=0.01)  # the post's log line
    assert glm.granted_at(1_000_000) == 202752 and glm.context_check(1_000_000)["status"] == "beyond"
    assert glm.sticker_note() is None


def test_linear_scaling_and_missing_context() -> None:
    lin = facts("llama", attn_kv(2, 1, 64, **{"{arch}.rope.scaling.type": "linear",
                                              "{arch}.rope.scaling.factor": 2.0}))
    assert lin.max_context == lin.native_context == 32768
    kv = attn_kv(2, 1, 64)
    del kv["{arch}.context_length"]
    assert facts("llama", kv).context_check(4096)["status"] == "unknown"


def test_to_json_contract() -> None:
    from rigbench.model.bandwidth import Bandwidth

    kv, tensors = llama_like(tied=True)
    kv.update(gemma3_270m_shape())
    f = facts("gemma3", kv, tensors, ctx=8192)
    d = f.to_json(Bandwidth(100.0, "given"))
    assert set(d) >= {"architecture", "params_total", "params_active", "file_bytes", "active_bytes_per_token",
                      "kv_bytes_per_token", "native_context", "max_context", "kv_cache_bytes",
                      "decode_ceiling_tok_s", "context_check", "notes"}
    assert d["kv_cache_bytes"] == 39 * MIB and d["ctx"] == 8192
    assert set(d["context_check"]) == {"requested", "native", "max", "status"}
    assert d["bandwidth"] == {"gb_s": 100.0, "source": "given", "kind": "given"}
    assert d["decode_ceiling_tok_s"] == round(100e9 / f.active_bytes_per_token, 2)
    assert d["decode_ceiling_at_ctx_tok_s"] == round(100e9 / (f.active_bytes_per_token + f.kv_bytes_at(8192)), 2)
    assert facts("gemma3", gemma3_270m_shape()).to_json(Bandwidth(100.0, "given"))["decode_ceiling_tok_s"] is None


def test_real_bundled_model_header() -> None:
    from rigbench.engines.bundled import bundled_model_path

    f = model_facts(str(bundled_model_path()))
    assert f.architecture == "gemma3" and f.layers == 18 and f.native_context == 32768
    assert f.quant == "Q4_K - Medium" and f.sliding_window == 512 and f.kv_heads == 1 and f.head_dim_k == 256
    assert 265e6 < f.params_total < 271e6 and 240e6 < f.file_bytes < 270e6
    assert f.params_active == f.params_total  # tied embedding: read whole
    assert not f.unknown_keys and not f.unknown_tensor_types


def test_quantized_weights_bits_per_weight() -> None:
    kv, tensors = llama_like(qtype=Q.Q8_0)
    f = facts("llama", kv, tensors)
    assert 8.0 < f.bits_per_weight < 8.6  # 8.5 for Q8_0 blocks, f32 norms pull it a little up
