"""The ceiling arithmetic and the fit: the seed's napkin math, properties, and the advise verdicts."""

from __future__ import annotations

from typing import Any

import pytest
from gguf_factory import in_memory, llama_like
from hypothesis import given
from hypothesis import strategies as st

from rigbench.model.facts import facts_from_gguf
from rigbench.model.roofline import (
    MARGIN_BYTES,
    advise,
    bytes_ceiling_tok_s,
    ceiling_tok_s,
    fit,
    model_ceiling_tok_s,
    percent_of_ceiling,
)

GB = 10**9
GIB = 2**30


def test_napkin_math_from_the_seed() -> None:
    assert ceiling_tok_s(800 * GB, 16 * GB, 0, 0) == pytest.approx(50.0)
    assert ceiling_tok_s(800 * GB, 17.5 * GB, 0, 0) == pytest.approx(45.7, abs=0.05)
    # the same 17.5 GB as 16 GB of weights plus 1.5 GB of KV read at depth 100,000
    assert ceiling_tok_s(800 * GB, 16 * GB, 15_000, 100_000) == pytest.approx(800 / 17.5)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        bytes_ceiling_tok_s(0, 1)
    with pytest.raises(ValueError):
        bytes_ceiling_tok_s(1, 0)
    with pytest.raises(ValueError):
        ceiling_tok_s(1, 1, 1, -1)


@given(bw=st.floats(1e9, 1e13), active=st.floats(1e6, 1e12), kv=st.floats(0, 1e6),
       d1=st.integers(0, 10**6), d2=st.integers(0, 10**6))
def test_ceiling_properties(bw: float, active: float, kv: float, d1: int, d2: int) -> None:
    lo, hi = sorted((d1, d2))
    c_lo, c_hi = ceiling_tok_s(bw, active, kv, lo), ceiling_tok_s(bw, active, kv, hi)
    assert c_hi <= c_lo  # deeper never decodes faster
    assert ceiling_tok_s(2 * bw, active, kv, lo) == pytest.approx(2 * c_lo)  # linear in bandwidth
    assert c_lo * (active + kv * lo) == pytest.approx(bw)


def test_model_ceiling_uses_sliding_windows() -> None:
    kv = {"{arch}.block_count": 18, "{arch}.embedding_length": 640, "{arch}.attention.head_count": 4,
          "{arch}.attention.head_count_kv": 1, "{arch}.attention.key_length": 256,
          "{arch}.attention.value_length": 256, "{arch}.attention.sliding_window": 512,
          "{arch}.context_length": 32768}
    _, tensors = llama_like(tied=True)
    f = facts_from_gguf(in_memory("gemma3", kv, tensors))
    naive = ceiling_tok_s(100 * GB, f.active_bytes_per_token, f.kv_bytes_per_token, 32768)
    honest = model_ceiling_tok_s(f, 100 * GB, 32768)
    assert honest == pytest.approx(100 * GB / (f.active_bytes_per_token + 32768 * 3072 + 512 * 15 * 1024))
    assert honest > naive


def test_percent_of_ceiling() -> None:
    assert percent_of_ceiling(45.0, 50.0) == pytest.approx(90.0)
    assert percent_of_ceiling(None, 50.0) is None and percent_of_ceiling(45.0, None) is None


def test_fit_margin_and_headroom() -> None:
    f = fit(100 * GIB, 20 * GIB, 256 * GIB)
    assert f.margin_bytes == 12 * GIB + MARGIN_BYTES
    assert f.needed_bytes == 133 * GIB and f.headroom_bytes == 123 * GIB and f.fits
    tight = fit(100 * GIB, 20 * GIB, 132 * GIB)
    assert not tight.fits and tight.headroom_bytes == -GIB
    assert tight.to_json()["fits"] is False


@given(w=st.integers(0, 2**40), kv=st.integers(0, 2**40), ram=st.integers(0, 2**41))
def test_fit_is_consistent(w: int, kv: int, ram: int) -> None:
    f = fit(w, kv, ram)
    assert f.fits == (w + kv + f.margin_bytes <= ram)
    assert f.margin_bytes >= MARGIN_BYTES


def _model(n_layer: int = 4) -> Any:
    kv, tensors = llama_like(n_layer=n_layer, n_embd=1024, n_ff=4096, n_head=8, n_kv=8, head_dim=128, vocab=32000,
                             ctx=131072)
    return facts_from_gguf(in_memory("llama", kv, tensors))


def test_advise_verdicts() -> None:
    f = _model()  # ~0.3 GiB of weights; f16 KV is 32 KiB a token
    w = f.weights_bytes
    opts, line = advise(f, ram_bytes=64 * GIB, bandwidth_bytes_per_s=100 * GB, ctx=131072)
    assert [o.cache_type for o in opts] == ["f16", "q8_0", "q4_0"]
    assert all(o.fit.fits for o in opts) and line.startswith("loads at 131,072 tokens")
    assert opts[0].decode_ceiling_tok_s == pytest.approx(100 * GB / f.active_bytes_per_token)
    assert opts[0].max_ctx_that_fits == 131072  # capped at what the model declares
    # RAM for q8_0 KV at 128K but not f16
    ram = w + f.with_cache_type("q8_0").kv_cache_bytes(131072) + int(
        (w + f.with_cache_type("q8_0").kv_cache_bytes(131072)) * 0.1) + MARGIN_BYTES + 1
    opts, line = advise(f, ram_bytes=ram, bandwidth_bytes_per_s=100 * GB, ctx=131072)
    assert [o.fit.fits for o in opts] == [False, True, True]
    assert line.startswith("loads only with q8_0 KV")
    assert 0 < opts[0].max_ctx_that_fits < 131072
    # too little for even q4_0 at 128K, enough for a shorter context
    opts, line = advise(f, ram_bytes=int(1.5 * GIB), bandwidth_bytes_per_s=None, ctx=131072)
    assert not any(o.fit.fits for o in opts) and "longest context that loads" in line
    assert opts[0].decode_ceiling_tok_s is None
    # not even the weights
    _, line = advise(f, ram_bytes=GIB // 2, bandwidth_bytes_per_s=None, ctx=4096)
    assert line.startswith("does not load: the weights alone")


@given(ram=st.integers(GIB, 8 * GIB))
def test_max_ctx_that_fits_really_fits(ram: int) -> None:
    f = _model(2)
    (o,) = advise(f, ram_bytes=ram, bandwidth_bytes_per_s=None, ctx=131072, cache_types=("f16",))[0]
    if o.max_ctx_that_fits:
        assert fit(f.weights_bytes, f.kv_cache_bytes(o.max_ctx_that_fits), ram).fits
    if 0 < o.max_ctx_that_fits < 131072:
        assert not fit(f.weights_bytes, f.kv_cache_bytes(o.max_ctx_that_fits + 256), ram).fits
