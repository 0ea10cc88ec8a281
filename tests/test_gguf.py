"""The GGUF header reader: values, skipped arrays, shards, unknowns, and every way a file can be bad."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from gguf import GGUFEndian, GGUFValueType, GGUFWriter
from gguf_factory import Q, llama_like, tensor_bytes, write_gguf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigbench.errors import GGUFError, InputError
from rigbench.model.gguf import SkippedArray, file_type_label, read_gguf, shard_paths


def _dense(tmp_path: Path, name: str = "m.gguf", **kw: object) -> Path:
    kv, tensors = llama_like(**kw)  # type: ignore[arg-type]
    return write_gguf(tmp_path / name, "llama", kv, tensors)[0]


def test_values_and_tensor_table(tmp_path: Path) -> None:
    kv, tensors = llama_like(extra={
        "general.tags": ["a", "b"],
        "llama.rope.freq_base": 500000.0,
        "llama.use_parallel_residual": True,
        "llama.attention.layer_norm_rms_epsilon": 1e-5,
        "tokenizer.ggml.tokens": [f"tok{i}" for i in range(6000)],
        "tokenizer.ggml.scores": ([0.5] * 5000, GGUFValueType.ARRAY),
    })
    p = write_gguf(tmp_path / "m.gguf", "llama", kv, tensors)[0]
    g = read_gguf(p)
    assert g.version == 3 and g.architecture == "llama"
    assert g.metadata["llama.block_count"] == 4 and g.metadata["general.name"] == "synthetic dense"
    assert g.metadata["general.tags"] == ["a", "b"]
    assert g.metadata["llama.rope.freq_base"] == 500000.0
    assert g.metadata["llama.use_parallel_residual"] is True
    assert g.metadata["tokenizer.ggml.tokens"] == SkippedArray("string", 6000)
    assert len(g.metadata["tokenizer.ggml.scores"]) == 5000
    assert [t.name for t in g.tensors] == [t[0] for t in tensors]
    emb = g.tensors[0]
    assert emb.shape == (256, 1000) and emb.type_name == "F16" and emb.n_elements == 256_000
    assert emb.n_bytes == 512_000
    assert g.weights_bytes == sum(tensor_bytes(s, q) for _, s, q in tensors)
    assert g.file_bytes == p.stat().st_size
    assert g.unknown_keys == () and g.unknown_tensor_types == () and g.warnings == ()


def test_quantized_tensor_sizes_come_from_ggml_quant_sizes(tmp_path: Path) -> None:
    kv, tensors = llama_like(qtype=Q.Q4_K, n_embd=256, n_ff=512)
    g = read_gguf(write_gguf(tmp_path / "q.gguf", "llama", kv, tensors)[0])
    q = next(t for t in g.tensors if t.name == "blk.0.ffn_up.weight")
    assert q.type_name == "Q4_K" and q.n_bytes == 256 * 512 // 256 * 144


def test_big_endian_file(tmp_path: Path) -> None:
    p = tmp_path / "be.gguf"
    w = GGUFWriter(p, "llama", endianess=GGUFEndian.BIG)
    w.add_uint32("llama.block_count", 2)
    w.add_string("general.name", "big")
    w.add_tensor_info("output_norm.weight", (64,), __import__("numpy").dtype("float32"), 256, raw_dtype=Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()
    g = read_gguf(p)
    assert g.metadata["llama.block_count"] == 2 and g.metadata["general.name"] == "big"
    assert g.tensors[0].shape == (64,) and g.tensors[0].n_bytes == 256


def test_split_model_is_read_across_all_shards(tmp_path: Path) -> None:
    kv, tensors = llama_like(n_layer=6)
    paths = write_gguf(tmp_path / "big.gguf", "llama", kv, tensors, split_max_tensors=20)
    assert len(paths) == 3 and paths[0].name == "big-00001-of-00003.gguf"
    for start in (paths[0], paths[2]):  # any shard names the whole model
        g = read_gguf(start)
        assert g.shards == tuple(paths) and g.path == paths[0]
        assert len(g.tensors) == len(tensors)
        assert {t.shard for t in g.tensors} == {0, 1, 2}
        assert g.file_bytes == sum(p.stat().st_size for p in paths)
        assert g.metadata["llama.block_count"] == 6


def test_missing_shard(tmp_path: Path) -> None:
    paths = write_gguf(tmp_path / "big.gguf", "llama", *llama_like(n_layer=6), split_max_tensors=20)
    paths[1].unlink()
    with pytest.raises(GGUFError, match=r"missing \(big-00002-of-00003.gguf\)"):
        read_gguf(paths[0])


def test_shard_names() -> None:
    assert shard_paths(Path("/m/x-00002-of-00003.gguf")) == tuple(
        Path(f"/m/x-0000{i}-of-00003.gguf") for i in (1, 2, 3))
    assert shard_paths(Path("/m/x.gguf")) == (Path("/m/x.gguf"),)
    with pytest.raises(GGUFError):
        shard_paths(Path("/m/x-00004-of-00003.gguf"))


def test_unknown_key_is_reported_not_fatal(tmp_path: Path) -> None:
    kv, tensors = llama_like(extra={"llama.some_future_knob": 7, "general.base_model.0.name": "x"})
    g = read_gguf(write_gguf(tmp_path / "m.gguf", "llama", kv, tensors)[0])
    assert g.unknown_keys == ("llama.some_future_knob",)
    assert g.metadata["llama.some_future_knob"] == 7


def test_unknown_tensor_type_is_reported_and_sized_from_offsets(tmp_path: Path) -> None:
    p = _dense(tmp_path, n_layer=1)
    data = bytearray(p.read_bytes())
    name = b"blk.0.ffn_up.weight"
    at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    type_at = at + 4 + 8 * n_dims
    assert struct.unpack_from("<I", data, type_at)[0] == int(Q.F16)
    struct.pack_into("<I", data, type_at, 250)
    p.write_bytes(bytes(data))
    g = read_gguf(p)
    t = next(t for t in g.tensors if t.name == "blk.0.ffn_up.weight")
    assert g.unknown_tensor_types == ("unknown(250)",)
    assert not t.size_known and t.n_bytes == 256 * 512 * 2  # the gap to the next tensor (aligned sizes)


def test_file_type_labels() -> None:
    assert file_type_label(15) == "Q4_K - Medium"
    assert file_type_label(1) == "F16"
    assert file_type_label(1024 | 18) == "(guessed) Q6_K"
    assert file_type_label(999) == "unknown (file_type 999)"
    assert file_type_label(None) is None


def test_not_a_gguf(tmp_path: Path) -> None:
    p = tmp_path / "x.gguf"
    p.write_bytes(b"PK\x03\x04 a zip, not a model" * 4)
    with pytest.raises(GGUFError, match="not a GGUF"):
        read_gguf(p)


def test_tiny_and_empty_files(tmp_path: Path) -> None:
    for content in (b"", b"GGU", b"GGUF"):
        p = tmp_path / "t.gguf"
        p.write_bytes(content)
        with pytest.raises(GGUFError):
            read_gguf(p)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(min_value=0.0, max_value=0.999))
def test_any_truncated_header_is_a_gguf_error(tmp_path: Path, cut: float) -> None:
    full = _dense(tmp_path, "full.gguf", extra={"tokenizer.ggml.tokens": [f"t{i}" for i in range(5000)]})
    raw = full.read_bytes()
    header_end = raw.rstrip(b"\0").__len__()  # the data section is zeros
    p = tmp_path / "cut.gguf"
    p.write_bytes(raw[: int(header_end * cut)])
    with pytest.raises(GGUFError):
        read_gguf(p)


def test_truncated_data_is_a_warning_not_an_error(tmp_path: Path) -> None:
    p = _dense(tmp_path)
    size = p.stat().st_size
    with open(p, "r+b") as f:
        f.truncate(size - 1000)
    g = read_gguf(p)
    assert any("shorter than its tensor table" in w for w in g.warnings)


def test_directory_missing_and_unreadable(tmp_path: Path) -> None:
    _dense(tmp_path, "inside.gguf")
    with pytest.raises(InputError, match="is a directory") as exc:
        read_gguf(tmp_path)
    assert "inside.gguf" in exc.value.one_line()
    with pytest.raises(InputError, match="does not exist"):
        read_gguf(tmp_path / "nope.gguf")
    if os.geteuid() != 0:
        p = _dense(tmp_path, "locked.gguf")
        p.chmod(0)
        with pytest.raises(InputError, match="cannot read"):
            read_gguf(p)


def test_sparse_multi_gigabyte_file_reads_only_the_header(tmp_path: Path) -> None:
    kv, tensors = llama_like(n_layer=2, n_embd=16384, n_ff=65536, vocab=256_000, n_head=128, n_kv=8,
                             head_dim=128)
    try:
        p = write_gguf(tmp_path / "huge.gguf", "llama", kv, tensors)[0]
    except OSError:
        pytest.skip("this filesystem cannot hold a sparse file")
    g = read_gguf(p)
    assert g.file_bytes > 20 * 10**9 and g.weights_bytes <= g.file_bytes
    assert os.stat(p).st_blocks * 512 < 10**8  # nothing was written into the data section
