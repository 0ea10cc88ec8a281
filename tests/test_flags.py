from __future__ import annotations

import pytest

from rigbench.engines.flags import normalize_flags, parse_flag_string, to_argv
from rigbench.errors import UsageError


def test_normalize_and_argv() -> None:
    flags = normalize_flags({"c": 8192, "ub": "512", "b": 2048, "fa": "1", "mlock": True, "no-mmap": False,
                             "ctk": "Q8_0", "ngl": "all"})
    assert dict(flags) == {"c": "8192", "ub": "512", "b": "2048", "fa": "on", "mlock": "on", "ctk": "q8_0",
                           "ngl": "all"}
    argv = to_argv(flags)
    assert argv[argv.index("-ub") + 1] == "512" and "--mlock" in argv and "--no-mmap" not in argv


def test_aliases_and_spec_strings() -> None:
    assert dict(parse_flag_string("t=1,ctx-size=4096,mlock")) == {"t": "1", "c": "4096", "mlock": "on"}


@pytest.mark.parametrize("bad", [{"b": 256, "ub": 512}, {"fa": "maybe"}, {"ctk": "q3"}, {"t": 0}, {"c": "big"},
                                 {"nope": 1}, {"ctv": "q8_0", "fa": "off"}, {"mlock": "sometimes"}])
def test_bad_flags_are_usage_errors(bad: dict) -> None:
    with pytest.raises(UsageError):
        normalize_flags(bad)


def test_apply_to_params_maps_onto_xllamacpp() -> None:
    xl = pytest.importorskip("xllamacpp")
    from rigbench.engines.flags import apply_to_params

    p = xl.CommonParams()
    unmapped = apply_to_params(p, dict(normalize_flags({"c": 2048, "t": 1, "ub": 128, "b": 256, "fa": "off",
                                                         "ctk": "q8_0", "np": 2, "mlock": "on"})), xl)
    assert unmapped == []
    assert (p.n_ctx, p.n_ubatch, p.n_batch, p.n_parallel) == (2048, 128, 256, 2)
    assert p.cpuparams.n_threads == 1 and p.cpuparams_batch.n_threads == 1
    assert p.flash_attn_type == xl.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
    assert p.cache_type_k == xl.ggml_type.GGML_TYPE_Q8_0
    assert p.load_mode == xl.llama_load_mode.LLAMA_LOAD_MODE_MMAP_MLOCK
