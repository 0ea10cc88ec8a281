"""End to end on the real embedded engine (llama.cpp through xllamacpp, the bundled model)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from golden_util import mismatches

from rigbench.store import open_store

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def run_result(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    import contextlib
    import io
    import json

    from rigbench.cli import main

    db = tmp_path_factory.mktemp("run") / "results.db"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["run", "--depths", "0,512", "--repeats", "2", "--gen-tokens", "64", "--no-quality", "--json",
                     "--db", str(db)])
    return code, json.loads(buf.getvalue()), db


def test_run_json_contract(run_result: tuple) -> None:
    code, out, _ = run_result
    assert code == 0
    assert set(out) >= {"run_id", "engine", "model", "machine", "points", "verdict"}
    assert out["engine"]["kind"] == "embedded" and out["engine"]["base_url"].startswith("http://127.0.0.1:")
    m = out["model"]
    assert m["native_context"] == 32768 and m["file_bytes"] > 200_000_000 and m["quant"]
    assert m["granted_context"] and m["granted_context"] <= 32768
    assert [p["depth"] for p in out["points"]] == [0, 512]
    for p in out["points"]:
        assert set(p) >= {"depth", "ttft_ms", "prefill_tok_s", "prefill_tok_s_server", "decode_tok_s",
                          "decode_tok_s_server", "generated_tokens", "reasoning_tokens", "cache_verified"}
        assert p["generated_tokens"] == 64  # exact length forced with ignore_eos
        assert p["decode_tok_s"] > 1 and p["decode_tok_s_server"] > 1
        # client and server decode agree within 5% at every depth (the bar)
        assert abs(p["decode_tok_s"] - p["decode_tok_s_server"]) / p["decode_tok_s_server"] < 0.05
        assert p["reasoning_tokens"] == 0
    assert out["points"][1]["cache_verified"] is True  # repeats at 512 reused the cached context
    assert out["ceiling"]["bandwidth_gb_s"] > 0 and "bandwidth" in out["ceiling"]["statement"]
    assert all(p["pct_of_ceiling"] and 0 < p["pct_of_ceiling"] < 100 for p in out["points"])
    assert out["model"]["params_total"] == 268098176 and out["context"]["status"] == "native"


def test_the_verdict_follows_from_the_bars(run_result: tuple) -> None:
    _, out, _ = run_result
    v = out["verdict"]
    assert v["decode_bar_tok_s"] == 100 and v["context_bar_tokens"] == 1_000_000
    # the verdict is read off the deepest point at or under the working depth, and both bars decide the class
    assert v["at_depth"] == 512 and v["decode_tok_s"] == out["points"][1]["decode_tok_s"]
    assert v["decode_ok"] is (v["decode_tok_s"] >= 100)
    assert v["context_ok"] is False  # a native 32,768 is short of the 1M bar...
    assert v["class"] == "background"  # ...so the class is background whatever the decode
    assert "Background-worker class." in v["summary"] and f"{v['decode_tok_s']:.1f} tok/s" in v["summary"]


def test_stored_rows_recompute_the_card(run_result: tuple, cli) -> None:
    _, out, db = run_result
    s = open_store(db)
    rows = s.requests(out["run_id"])
    s.close()
    speed = [r for r in rows if r["phase"] == "speed"]
    assert len(speed) == 4 and all(r["status"] == "ok" for r in speed)
    assert all(r["t_first_token_ns"] and r["timings"]["predicted_n"] == 64 for r in speed)
    grow512 = next(r for r in speed if r["depth"] == 512 and r["role"] == "grow")
    assert grow512["timings"]["prompt_n"] >= 512 - 16  # only the new part was prefilled...
    assert grow512["prompt_tokens"] >= 512  # ...of a prompt holding the whole context
    # a new process recomputes the summary from the stored rows alone: every key the run returned is there,
    # with the same value (the run's own summary was made in this process, from the same rows)
    shown = json.loads(subprocess.run([sys.executable, "-m", "rigbench", "show", str(out["run_id"]), "--json",
                                       "--db", str(db)], capture_output=True, text=True, check=True,
                                      timeout=120).stdout)
    diff = mismatches(out, shown)
    assert not diff, "show --json differs from the run's own JSON:\n" + "\n".join(diff)
    assert shown["points"][1]["decode_tok_s"] > 0  # the comparison compared figures, not two empty summaries
    listed = cli("runs", "--json", "--db", str(db)).json()
    assert listed[0]["run_id"] == out["run_id"] and listed[0]["status"] == "complete"
    card = cli("show", str(out["run_id"]), "--db", str(db)).out
    assert "Speed by context depth" in card and "Verdict" in card and "512" in card


def test_attach_by_url_to_a_running_server(embedded_server, cli, tmp_path: Path) -> None:
    r = cli("run", "--url", embedded_server.base_url, "--depths", "0", "--repeats", "1", "--gen-tokens", "16",
            "--no-quality", "--json", "--db", str(tmp_path / "r.db"))
    assert r.code == 0, r.err
    out = r.json()
    assert out["engine"]["kind"] == "url" and out["points"][0]["decode_tok_s"] > 1
    assert out["model"]["native_context"] == 32768  # from /v1/models meta
    assert out["model"]["granted_context"] == 4096  # from /props


def test_attach_sends_the_api_key_and_never_stores_it(embedded_server, cli, tmp_path: Path) -> None:
    key = "sk-planted-secret-4242"
    db = tmp_path / "r.db"
    r = cli("run", "--url", embedded_server.base_url, "--api-key", key, "--depths", "0", "--repeats", "1",
            "--gen-tokens", "8", "--no-quality", "--json", "--db", str(db))
    assert r.code == 0, r.err
    assert key not in r.out and key not in r.err
    assert key.encode() not in db.read_bytes()
    for f in db.parent.rglob("*"):
        if f.is_file():
            assert key.encode() not in f.read_bytes(), f


def test_million_token_mirage(cli, tmp_path: Path) -> None:
    """The first post's sequence, live on the bundled model: -c 1000000 is allocated (1M cells of
    its 3 global layers, about 2.9 GiB), then the slot is capped to the trained 32,768."""
    import psutil

    from rigbench.engines.bundled import bundled_model_path
    from rigbench.model.facts import model_facts

    facts = model_facts(bundled_model_path())
    need = facts.kv_cache_bytes(1_000_000)
    if psutil.virtual_memory().available < need + 2 * 2**30:
        pytest.skip(f"needs {need / 2**30:.1f} GiB free for the 1M-cell KV cache, plus headroom")
    db = str(tmp_path / "r.db")
    r = cli("run", "-c", "1000000", "--depths", "0,512,1024", "--repeats", "1", "--gen-tokens", "8",
            "--no-quality", "--json", "--db", db)
    assert r.code == 0, r.err
    out = r.json()
    c = out["context"]
    assert c["requested"] == 1_000_000 and c["native"] == 32768 and c["granted"] == 32768
    assert c["capped"] is True and c["status"] == "beyond"
    assert "exceeds the training context of the model (32768) - capping" in c["capping_line"]
    assert c["kv_cache_cells"] == 1_000_192  # padded to 256, as llama.cpp does
    assert c["kv_cache_mib"] == pytest.approx(need / 2**20, rel=0.01)  # the log agrees with the header
    assert c["overflow"] == {"n_ctx_seq": 1_000_192, "n_ctx_train": 32768}
    assert c["sequence"][0] == "requested 1,000,000" and c["sequence"][-1] == "native 32,768"
    # two depths with 256+ new tokens (512 and 1,024): a fit, projected to the three targets
    fill_s, fill = c["fill_s"], c["fill"]
    assert set(fill_s) == {"native", "granted", "1m"} and fill["skipped_depths"] == [0]
    assert len(fill["samples"]) == 2 and fill["basis"] == "server"
    a, b = fill["a_s_per_token"], fill["b_s_per_token2"]
    assert fill_s["native"] == fill_s["granted"] == pytest.approx(a * 32768 + b * 32768**2, abs=0.1)
    assert fill_s["1m"] == pytest.approx(a * 1e6 + b * 1e12, abs=0.1) and fill_s["1m"] > fill_s["native"] > 0
    assert out["verdict"]["context_ok"] is False
    card = cli("show", str(out["run_id"]), "--db", db).out
    flat = " ".join(card.split())
    for words in ("requested 1,000,000 →", "KV cache allocated", "(1,000,192 cells)", "slot capped to 32,768",
                  "→ native 32,768", "Fill time", "1,000,000 tokens"):
        assert words in flat, words
