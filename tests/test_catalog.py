"""The model catalog: sources, sizes against real files, the virtual header against a written one, the CLI."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rigbench.errors import CatalogError
from rigbench.model.catalog import bundled_catalog, parse_catalog
from rigbench.model.catalog_advice import attach_measured, catalog_advice, quant_of_label, verdict_line
from rigbench.model.facts import facts_from_gguf
from rigbench.model.gguf import read_gguf
from rigbench.model.quants import ModelHints, Tensor, tensor_bytes, tensor_type
from rigbench.model.shapes import catalog_facts, catalog_metadata, typed_tensors

ROOT = Path(__file__).resolve().parent.parent
CATALOG = {e.id: e for e in bundled_catalog().models}
# Real files named in issue 20: the bundled Gemma 3 270M Q4_K_M (253,113,024 bytes, read below from the
# file itself) and the synthetic Llama-3-8B Q4_K_M bench/synth_gguf.py writes (4.92 GB, as measured on the
# H100 reference run: docs/benchmarks/h100.md, "The models").
SYNTH_LLAMA3_8B_Q4_K_M_FILE_BYTES = 4.92e9
SYNTH_QWEN3_30B_A3B_Q4_K_M_FILE_BYTES = 18.56e9


def _synth() -> Any:
    spec = importlib.util.spec_from_file_location("synth_gguf", ROOT / "bench" / "synth_gguf.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["synth_gguf"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_every_entry_names_its_source() -> None:
    assert len(CATALOG) >= 12
    for e in CATALOG.values():
        assert e.source.startswith("https://huggingface.co/"), e.id
        assert e.checked_in.strip(), e.id


def test_an_entry_without_a_source_is_not_shipped() -> None:
    text = (ROOT / "src/rigbench/catalogs/models.yaml").read_text()
    broken = text.replace("    source: https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json\n", "", 1)
    assert broken != text
    with pytest.raises(CatalogError, match=r"model 'qwen3-8b': field 'source' is required"):
        parse_catalog(broken, "x.yaml")


def test_errors_name_the_entry_and_field() -> None:
    text = (ROOT / "src/rigbench/catalogs/models.yaml").read_text()
    bad = text.replace("experts: {count: 128, used: 8, ffn: 768}", "experts: {count: 128, used: 200, ffn: 768}", 1)
    with pytest.raises(CatalogError, match=r"model 'qwen3-30b-a3b': field 'experts' used \(200\) is more than"):
        parse_catalog(bad, "x.yaml")
    huge = text.replace("    layers: 48\n", "    layers: 100000000\n", 1)  # bounded: no endless tensor lists
    with pytest.raises(CatalogError, match=r"model 'gemma-3-12b': field 'layers' Input should be less than or equal"):
        parse_catalog(huge, "x.yaml")
    with pytest.raises(CatalogError, match="not valid YAML"):
        parse_catalog("models: [", "x.yaml")


def test_gemma_270m_matches_the_bundled_file_tensor_by_tensor() -> None:
    from rigbench.engines.bundled import bundled_model_path

    real = read_gguf(bundled_model_path())
    by_name = {t.name: t for t in real.tensors}
    mine = typed_tensors(CATALOG["gemma-3-270m"], "Q4_K_M")
    assert {t.name for t, _, _ in mine} == set(by_name)
    for t, kind, nbytes in mine:  # llama-quant.cpp's choices, fallbacks included (640-wide rows -> Q5_0/Q8_0)
        assert (kind, nbytes, t.shape) == (by_name[t.name].type_name, by_name[t.name].n_bytes, by_name[t.name].shape)
    f = catalog_facts(CATALOG["gemma-3-270m"], "Q4_K_M")
    assert f.weights_bytes == real.weights_bytes
    assert abs(f.weights_bytes - real.file_bytes) / real.file_bytes < 0.03  # the header (tokenizer) is the rest
    assert f.kv_bytes_per_token == facts_from_gguf(real).kv_bytes_per_token


def test_llama3_8b_matches_the_synthetic_file() -> None:
    synth = _synth()
    plan = {name: qt for name, _, qt in synth.tensor_plan(synth.SHAPES["llama3-8b"], 128256, "q4_k_m")}
    mine = {t.name: kind for t, kind, _ in typed_tensors(CATALOG["llama-3.1-8b"], "Q4_K_M")}
    assert {n: mine[n] for n in plan} == plan  # same Q4_K / Q6_K layout, tensor by tensor
    assert set(mine) - set(plan) == {"rope_freqs.weight"}  # Llama 3.1's rope scaling table, 256 bytes
    f = catalog_facts(CATALOG["llama-3.1-8b"], "Q4_K_M")
    assert abs(f.weights_bytes - SYNTH_LLAMA3_8B_Q4_K_M_FILE_BYTES) / SYNTH_LLAMA3_8B_Q4_K_M_FILE_BYTES < 0.03


def test_qwen3_30b_a3b_matches_the_synthetic_file() -> None:
    synth = _synth()
    plan = {name: qt for name, _, qt in synth.tensor_plan(synth.SHAPES["qwen3-30b-a3b"], 151936, "q4_k_m")}
    mine = {t.name: kind for t, kind, _ in typed_tensors(CATALOG["qwen3-30b-a3b"], "Q4_K_M")}
    assert {n: mine[n] for n in plan} == plan
    f = catalog_facts(CATALOG["qwen3-30b-a3b"], "Q4_K_M")
    assert abs(f.weights_bytes - SYNTH_QWEN3_30B_A3B_Q4_K_M_FILE_BYTES) / SYNTH_QWEN3_30B_A3B_Q4_K_M_FILE_BYTES < 0.03
    assert f.params_active < f.params_total / 9  # 8 of 128 experts


@pytest.mark.parametrize("model", ["qwen3-30b-a3b", "deepseek-v3", "gpt-oss-20b", "gemma-3-27b", "qwen3.6-35b-a3b"])
def test_virtual_header_reads_like_a_written_one(tmp_path: Path, model: str) -> None:
    """The same header written with gguf's own writer and read back gives the same facts."""
    from gguf import GGMLQuantizationType
    from gguf_factory import write_gguf

    e = CATALOG[model]
    quant = "Q4_K_M" if "Q4_K_M" in e.offered_quants() else "MXFP4_MOE"
    md = catalog_metadata(e, quant)
    tensors = [(t.name, t.shape, GGMLQuantizationType[k]) for t, k, _ in typed_tensors(e, quant)]
    path = write_gguf(tmp_path / "m.gguf", e.arch, {k: v for k, v in md.items() if k != "general.architecture"},
                      tensors, fill=False)[0]
    real = facts_from_gguf(read_gguf(path), ctx=32768)
    virtual = catalog_facts(e, quant, ctx=32768)
    for attr in ("weights_bytes", "params_total", "params_active", "active_bytes_per_token", "kv_bytes_per_token",
                 "native_context", "max_context", "attention", "sliding_window", "state_bytes"):
        assert getattr(real, attr) == getattr(virtual, attr), attr
    assert real.kv_cache_bytes(32768) == virtual.kv_cache_bytes(32768)


def test_quant_bytes_come_from_ggml_and_mlx_groups() -> None:
    t = Tensor("blk.0.attn_q.weight", (4096, 4096), 0)
    h = ModelHints(n_layer_all=32)
    assert tensor_bytes("Q4_K", t) == 4096 * 4096 // 256 * 144
    assert tensor_bytes("Q8_0", t) == 4096 * 4096 // 32 * 34
    assert tensor_type("MLX-4bit", t, h) == "MLX4"
    assert tensor_bytes("MLX4", t) * 8 / t.n_elements == 4.5  # 4 bits + fp16 scale and bias per 64
    assert tensor_bytes("MLX8", t) * 8 / t.n_elements == 8.5
    assert tensor_type("Q4_K_M", Tensor("blk.0.attn_q.weight", (2880, 4096), 0), h) == "Q5_0"  # 2880 % 256
    assert tensor_type("Q4_K_M", Tensor("blk.0.attn_norm.weight", (4096,), 0), h) == "F32"


def test_hybrid_moe_keeps_kv_only_on_full_attention_layers() -> None:
    f = catalog_facts(CATALOG["qwen3.6-35b-a3b"], "Q4_K_M")
    assert f.attention == "hybrid"
    assert len(f.kv_layers) == 10  # every 4th of 40 layers
    assert f.kv_bytes_per_token == 10 * 2 * 2 * 256 * 2  # layers x kv heads x (K+V) x head dim x f16
    # Gated DeltaNet state: (conv-1) x (2 x 16 x 128 + 4096) + 128 x 4096 f32 elements, 30 layers
    assert f.state_bytes == 30 * 4 * (3 * (2 * 16 * 128 + 4096) + 128 * 4096)
    assert 2.5e9 < f.params_active < 3.5e9 < 34e9 < f.params_total < 36e9  # "35B total, about 3B active"


def test_quant_labels_map_back() -> None:
    assert quant_of_label("Q4_K - Medium") == "Q4_K_M"
    assert quant_of_label("Q8_0") == "Q8_0"
    assert quant_of_label("something else") is None


def test_32gb_m4_max_moe_loads_and_dense_70b_does_not(cli: Any) -> None:
    r = cli("advise", "--catalog", "--ram", "32GB", "--bandwidth", "m4-max", "--json")
    assert r.code == 0, r.err
    rows = {(x["model"], x["quant"]): x for x in r.json()}
    keys = {"model", "quant", "file_bytes", "active_bytes_per_token", "kv_bytes_per_token", "loads",
            "longest_context", "ceiling_tok_s", "source"}
    assert all(keys <= set(x) for x in rows.values())
    moe, dense = rows[("qwen3-30b-a3b", "Q4_K_M")], rows[("llama-3.1-70b", "Q4_K_M")]
    assert moe["loads"] is True and moe["longest_context"] == 40960
    assert dense["loads"] is False and dense["longest_context"] == 0
    # 546 GB/s (Apple M4 Max) over the bytes one token reads
    assert moe["ceiling_tok_s"] == pytest.approx(546e9 / moe["active_bytes_per_token"], rel=1e-3)
    assert dense["ceiling_tok_s"] == pytest.approx(546e9 / dense["active_bytes_per_token"], rel=1e-3)
    assert moe["ceiling_tok_s"] > 5 * dense["ceiling_tok_s"]
    text = cli("advise", "--catalog", "--ram", "32GB", "--bandwidth", "m4-max")
    assert text.code == 0, text.err
    flat = " ".join(text.out.split())
    # the post's pick: "32 GB is enough to fit a 35B MoE"
    assert "32 GiB: the Qwen3.6 35B-A3B MoE at Q4_K_M loads with 262,144 tokens of context" in flat
    assert "a dense Llama 3.1 70B at Q4_K_M does not load" in flat
    assert "everything that loads is background class here" in flat  # no catalog model has a 1M native context


def test_advise_catalog_bad_input(cli: Any) -> None:
    r = cli("advise", "--catalog", "--family", "nosuch", "--ram", "32GB", "--bandwidth", "800")
    assert r.code == 2 and "no catalog model matches --family 'nosuch'" in r.err
    r = cli("advise", "--catalog", "--quant", "Q9_Z", "--ram", "32GB", "--bandwidth", "800")
    assert r.code == 2 and "unknown quant Q9_Z" in r.err
    r = cli("advise", "--catalog", "m.gguf")
    assert r.code == 2 and "not over files" in r.err


def test_catalog_list_and_validate(cli: Any, tmp_path: Path) -> None:
    r = cli("catalog", "list", "--json")
    assert r.code == 0
    items = r.json()
    assert {i["model"] for i in items} == set(CATALOG)
    assert all(i["source"].startswith("https://") for i in items)
    ok = cli("catalog", "validate", str(ROOT / "src/rigbench/catalogs/models.yaml"))
    assert ok.code == 0 and "valid" in ok.out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: mine\nversion: 1\nmodels:\n  - id: tiny\n    name: Tiny\n    family: x\n    arch: llama\n")
    r = cli("catalog", "validate", str(bad))
    assert r.code == 2 and "model 'tiny': field 'source' is required" in r.err


def test_measured_run_sits_beside_its_ceiling() -> None:
    opts = catalog_advice(bundled_catalog(), ram_bytes=2**30, bandwidth_bytes_per_s=100e9, ctx=4096,
                          family="gemma3", quants=["Q4_K_M"])
    run = SimpleNamespace(model="Gemma 3 270m", quant="Q4_K - Medium", decode_tok_s=55.5, depth=0, run_id=7,
                          machine="here")
    other = SimpleNamespace(model="Gemma 3 270m", quant="Q8_0", decode_tok_s=99.0, depth=0, run_id=8, machine="here")
    got = {o.entry.id: o for o in attach_measured(opts, [run, other])}
    m = got["gemma-3-270m"].measured
    assert m is not None and (m.run_id, m.decode_tok_s) == (7, 55.5)
    assert got["gemma-3-27b"].measured is None


def test_verdict_line_names_what_clears_the_decode_bar() -> None:
    opts = catalog_advice(bundled_catalog(), ram_bytes=32 * 2**30, bandwidth_bytes_per_s=546e9, ctx=32768,
                          quants=["Q4_K_M"])
    line = verdict_line(opts)
    assert "qwen3.6-35b-a3b" in line and "llama-3.1-70b" not in line and "qwen3-32b" not in line
    slow = catalog_advice(bundled_catalog(), ram_bytes=32 * 2**30, bandwidth_bytes_per_s=50e9, ctx=32768,
                          family="qwen3", quants=["Q4_K_M"])
    assert "no ceiling at 32,768 reaches 100 tok/s" in verdict_line(slow)
    assert verdict_line(catalog_advice(bundled_catalog(), ram_bytes=2**20, bandwidth_bytes_per_s=50e9, ctx=4096,
                                       family="llama3", quants=["Q4_K_M"])) == "verdict: nothing loads"


def test_db_without_catalog_is_refused_not_ignored(cli, tmp_path: Path) -> None:
    r = cli("advise", "--db", str(tmp_path / "r.db"))
    assert r.code != 0
    assert len(r.err.strip().splitlines()) == 1 and "--catalog" in r.err
    assert not (tmp_path / "r.db").exists()
