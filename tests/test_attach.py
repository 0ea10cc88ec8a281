"""--url against servers without llama.cpp's extensions (no /props, no timings, no /tokenize)."""

from __future__ import annotations

from pathlib import Path

from rigbench.testing.fake_server import FakeServer, Script


def test_plain_openai_server(cli, tmp_path: Path) -> None:
    # paced slowly enough (5 ms a chunk) that even a busy machine reads the chunks apart
    with FakeServer(Script(tokens=40, tokens_per_chunk=2, rate_tok_s=400)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "40",
                "--no-quality", "--json", "--db", str(tmp_path / "r.db"))
        bodies = list(fake.bodies)
    assert r.code == 0, r.err
    out = r.json()
    assert out["engine"]["kind"] == "url" and out["engine"]["served_model"] == "fake-model"
    for p in out["points"]:
        assert p["decode_tok_s"] and p["decode_tok_s_server"] is None and p["prefill_tok_s_server"] is None
        assert p["prefill_tok_s"] is None  # no cache counters: never assumed
        assert p["cache_verified"] is None
    unavailable = " ".join(out["server"]["unavailable"])
    assert "/props" in unavailable and "/tokenize" in unavailable and "/metrics" in unavailable
    assert any("calibrated" in n for n in out["notes"])
    assert out["model"]["native_context"] is None and "unknown" in out["verdict"]["summary"]
    chat = [b for b in bodies if b.get("messages")]
    assert all(b["stream"] and b["stream_options"] == {"include_usage": True} for b in chat)
    # a 256-token context was cut by calibration (4 chars per token on this server)
    sweep = [b["messages"][0]["content"] for b in chat if "Reader's note" in b["messages"][0]["content"]]
    deep = [c.split("\n\n[Reader's note")[0] for c in sweep if len(c) > 500]
    assert len(deep) == 2 and all(abs(len(c) - 256 * 4) < 40 for c in deep)
    card = cli("show", str(out["run_id"]), "--db", str(tmp_path / "r.db")).out
    assert "—" in card


def test_several_models_need_a_choice(cli, tmp_path: Path) -> None:
    with FakeServer(Script(models=["small", "big"])) as fake:
        r = cli("run", "--url", fake.base_url, "--no-quality", "--db", str(tmp_path / "r.db"))
        assert r.code == 2 and "small, big" in r.err and "--model" in r.err
        r = cli("run", "--url", fake.base_url, "--model", "huge", "--no-quality", "--db", str(tmp_path / "r.db"))
        assert r.code == 2 and "no model 'huge'" in r.err
        r = cli("run", "--url", fake.base_url, "--model", "big", "--depths", "0", "--repeats", "1", "--no-quality",
                "--json", "--db", str(tmp_path / "r.db"))
        assert r.code == 0 and r.json()["engine"]["served_model"] == "big"
        assert fake.bodies[-1]["model"] == "big"


def test_url_without_v1_is_found(cli, tmp_path: Path) -> None:
    with FakeServer(Script()) as fake:
        root = fake.base_url[: -len("/v1")]
        r = cli("run", "--url", root, "--depths", "0", "--repeats", "1", "--no-quality", "--json",
                "--db", str(tmp_path / "r.db"))
    assert r.code == 0, r.err
    assert r.json()["engine"]["base_url"].endswith("/v1")


def test_server_error_mid_run_marks_the_run_incomplete(cli, tmp_path: Path) -> None:
    with FakeServer(Script(tokens=20, error_after=2)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--no-quality",
                "--db", str(tmp_path / "r.db"))
    assert r.code != 0 and "warm-up request failed" in r.err
    listed = cli("runs", "--json", "--db", str(tmp_path / "r.db")).json()
    assert listed[0]["status"] == "incomplete" and "model crashed" in listed[0]["reason"]
