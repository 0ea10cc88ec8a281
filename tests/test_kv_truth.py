"""Truth check: predicted sizes against llama.cpp's own load log, on the real embedded engine.

The prediction is made from the GGUF header alone (``model_facts``) with the context settings
the log reports (n_ctx, n_ubatch, n_seq_max, kv_unified); each cache (non-SWA and SWA) must
match llama.cpp's ``llama_kv_cache: size = ...`` line within 1%, and the weights its
``file size`` / model buffer lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rigbench.model.facts import ModelFacts, model_facts

pytestmark = pytest.mark.engine

MIB = 2**20


@pytest.fixture(scope="module")
def booted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    from rigbench.engines.embedded import EmbeddedEngine
    from rigbench.engines.flags import normalize_flags
    from rigbench.types import EngineSpec

    eng = EmbeddedEngine(EngineSpec(kind="embedded", flags=normalize_flags({"c": 4096})),
                         tmp_path_factory.mktemp("kv-truth"))
    server = eng.start()
    try:
        log = Path(server.log_path).read_text(errors="replace") if server.log_path else ""
        yield server, log
    finally:
        eng.stop()


@pytest.fixture(scope="module")
def facts(booted: tuple[Any, str]) -> ModelFacts:
    server, _ = booted
    return model_facts(server.model_path)


def _log_value(log: str, key: str) -> str:
    m = re.search(rf"llama_context: {key}\s*=\s*(\S+)", log)
    assert m, f"the boot log has no {key} line"
    return m.group(1)


def test_kv_cache_matches_the_load_log(booted: tuple[Any, str], facts: ModelFacts) -> None:
    server, log = booted
    lf = server.log_facts
    observed = lf["kv_cache"]
    assert len(observed) == 2, observed  # gemma3: a non-SWA and a SWA cache
    parts = facts.kv_cache_parts(int(lf["n_ctx"]), n_seq=int(_log_value(log, "n_seq_max")),
                                 n_ubatch=int(lf["n_ubatch"]), unified=_log_value(log, "kv_unified") == "true")
    assert [p.kind for p in parts] == ["global", "swa"]
    for predicted, seen in zip(parts, observed, strict=True):
        assert predicted.cells == seen["cells"] and predicted.layers == seen["layers"], (predicted, seen)
        assert seen["type_k"] == seen["type_v"] == "f16"
        assert predicted.bytes / MIB == pytest.approx(seen["mib"], rel=0.01)
        assert predicted.k_bytes / MIB == pytest.approx(seen["k_mib"], rel=0.01)
        assert predicted.v_bytes / MIB == pytest.approx(seen["v_mib"], rel=0.01)
    assert facts.kv_cache_bytes(int(lf["n_ctx"])) / MIB == pytest.approx(lf["kv_cache_mib"], rel=0.01)


def test_weights_and_model_facts_match_the_load_log(booted: tuple[Any, str], facts: ModelFacts) -> None:
    server, _ = booted
    lf = server.log_facts
    assert facts.weights_bytes / MIB == pytest.approx(lf["file_size_mib"], rel=0.01)
    mapped = lf["model_buffers_mib"].get("CPU_Mapped")
    if mapped is not None:  # a CPU build maps the whole file's tensors
        assert facts.weights_bytes / MIB == pytest.approx(mapped, rel=0.01)
    assert facts.params_total / 1e6 == pytest.approx(lf["model_params_m"], rel=0.001)
    assert facts.native_context == lf["n_ctx_train"]
    assert facts.layers == lf["n_layer"] and facts.sliding_window == lf["n_swa"]
    assert facts.architecture == lf["arch"] and facts.quant == lf["file_type"]
