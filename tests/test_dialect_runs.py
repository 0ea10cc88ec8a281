"""Runs against the fake server's vLLM-like and transformers-like modes: what the card and
JSON say (software, endpoints, server counters, cache verified from /metrics, a warm cache,
a limit learned mid-run), the working depth capped at the granted context, same-model
checks, and measured servers kept out of the machine load."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from rigbench.measure.points import verdict
from rigbench.model.identity import safetensors_params, same_model
from rigbench.testing.fake_server import FakeServer, Script


def _run(cli, url: str, db: Path, *more: str):
    return cli("run", "--url", url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "16", "--no-quality",
               "--json", "--db", str(db), *more)


def test_vllm_like_server(cli, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    with FakeServer(Script(dialect="vllm", tokens=16, rate_tok_s=2000, models=["gemma"])) as fake:
        r = _run(cli, fake.base_url, db)
        assert r.code == 0, r.err
        out = r.json()
        tok_bodies = [b for b in fake.bodies if "prompt" in b and "messages" not in b]
        # a second run on the same server: its first request finds the context already cached
        r2 = _run(cli, fake.base_url, db)
    assert out["engine"]["software"] == {"name": "vLLM", "version": "0.32.0"}
    assert out["server"]["endpoints"]["metrics"] is True and out["server"]["endpoints"]["tokenize"] is True
    assert tok_bodies and all(b.get("model") == "gemma" for b in tok_bodies)
    assert out["context"]["granted"] == 4096
    deep = out["points"][-1]
    assert deep["depth"] == 256 and deep["cache_verified"] is True and deep["cache_source"] == "metrics"
    assert deep["prefill_tok_s"] is not None  # cached tokens known from the counters
    # the context was cut by asking vLLM's /tokenize for counts (it gives ids, no pieces): 256 tokens
    # plus the note after it (about 20 on this fake) and the 10 the fake adds for the template
    assert 256 + 10 <= deep["prompt_tokens"] <= 256 + 40
    assert not any("calibrated" in n for n in out["notes"])
    c = out["server"]["counters"]
    assert c["requests"] == 4 and c["server"]["generation_tokens"] == c["client"]["generation_tokens"] == 64
    assert c["server"]["prompt_tokens"] == c["client"]["prompt_tokens"]
    assert not any("earlier run" in n for n in out["notes"])
    assert r2.code == 0, r2.err
    out2 = r2.json()
    warm = [n for n in out2["notes"] if "an earlier run left them" in n]
    assert warm and "grew the context to 256" in warm[0] and "warm-cache figures" in warm[0], out2["notes"]
    assert out2["points"][-1]["warm_cache_tokens"] > 200
    card = cli("show", str(out["run_id"]), "--db", str(db)).out
    assert "vLLM 0.32.0" in card and "Counters" in card and "usage said 64" in card


def test_refused_length_is_noted_when_learned(cli, tmp_path: Path) -> None:
    # a server that is not recognised: rigbench tries ignore_eos/min_tokens and learns the refusal mid-sweep
    with FakeServer(Script(dialect="transformers", tokens=8)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--gen-tokens", "8",
                "--no-quality", "--json", "--db", str(tmp_path / "r.db"))
        bodies = list(fake.bodies)
    assert r.code == 0, r.err
    out = r.json()
    assert any(b.get("ignore_eos") for b in bodies) and "ignore_eos" not in bodies[-1]
    learned = [n for n in out["notes"] if n.startswith("output length could not be forced")]
    assert learned and "HTTP 422" in learned[0]
    assert any(u.startswith("output length could not be forced") for u in out["server"]["unavailable"])
    card = cli("show", str(out["run_id"]), "--db", str(tmp_path / "r.db")).out
    assert "output length could not be forced" in card


def test_working_depth_never_above_granted() -> None:
    points = [{"depth": 0, "decode_tok_s": 50.0}, {"depth": 2048, "decode_tok_s": 40.0},
              {"depth": 4000, "decode_tok_s": 30.0}]
    v = verdict(points, 32768, granted_context=4096)
    assert v["working_depth"] == 4096 and v["working_depth_capped"] is True and v["at_depth"] == 4000
    assert "32,768 capped at the granted context" in v["summary"] and "working depth is 4,096" in v["summary"]
    v = verdict(points, 32768, granted_context=65536)
    assert v["working_depth"] == 32768 and v["working_depth_capped"] is False and "capped" not in v["summary"]
    v = verdict([{"depth": 4096, "decode_tok_s": 30.0}], 32768, granted_context=4096)
    assert "at depth 4,096 (the working depth, 32,768 capped at the granted context)" in v["summary"]


def _safetensors(path: Path, shapes: dict[str, list[int]]) -> None:
    header = {k: {"dtype": "BF16", "shape": s, "data_offsets": [0, 0]} for k, s in shapes.items()}
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw)


def test_same_model_by_weights_then_name(tmp_path: Path) -> None:
    hf = tmp_path / "hf"
    hf.mkdir()
    _safetensors(hf / "model.safetensors", {"a": [4, 8], "b": [8]})
    assert safetensors_params(hf) == 40
    assert same_model({"path": str(hf), "name": "x"}, {"path": str(hf) + "/", "name": "y"})[0] is True
    other = tmp_path / "other"
    other.mkdir()
    _safetensors(other / "model.safetensors", {"a": [4, 8], "b": [8]})
    same, how = same_model({"path": str(hf), "name": "x"}, {"path": str(other), "name": "y"})
    assert same is True and "parameter count, 40" in how
    # a GGUF's header params against the directory's
    assert same_model({"path": str(hf)}, {"params_total": 41, "name": "y"}) == (False, "40 against 41 parameters")
    assert same_model({"name": "a"}, {"name": "a"}) == (True, "the name a")
    assert same_model({"name": "a"}, {"name": "b"})[0] is False
    assert same_model({}, {})[0] is None


def test_compare_excludes_local_servers_from_other_load(cli, tmp_path: Path) -> None:
    import os
    import signal

    from rigbench.model.machine import OtherLoad, local_listener_pids

    # a server that is not rigbench's child (the shell that started it exits): as a user's vLLM would be
    info = tmp_path / "fake.json"
    pid = int(subprocess.run(["sh", "-c", f"{sys.executable} -m rigbench.testing.fake_server --port 0 > {info} "
                              "2>/dev/null & echo $!"], capture_output=True, text=True, check=True).stdout)
    try:
        for _ in range(200):
            if info.exists() and info.read_text().strip():
                break
            time.sleep(0.05)
        port = json.loads(info.read_text().splitlines()[0])["port"]
        url = f"http://127.0.0.1:{port}/v1"
        assert local_listener_pids(url) == [pid]
        assert local_listener_pids("http://example.invalid:1/v1") == []
        load = OtherLoad(interval_s=0.05)
        with load:
            assert load.watch(url) == [pid]
            time.sleep(0.2)
        assert pid in load.server_last and pid not in load.last
        assert load.server_cores_busy() is not None
        r = cli("compare", url, url, "--depths", "0", "--repeats", "1", "--gen-tokens", "4", "--json",
                "--db", str(tmp_path / "c.db"))
        assert r.code == 0, r.err
        other = r.json()["other_load"]
        assert other["excluded_server_pids"] == [pid] and other["servers_cores_busy"] is not None
    finally:
        os.kill(pid, signal.SIGTERM)


class _IdsOnly:
    """A tokenizer endpoint that gives ids and counts but no text pieces (as vLLM's)."""

    can_tokenize = True

    def __init__(self) -> None:
        self.calls = 0

    def tokenize(self, text: str, *, with_pieces: bool = False) -> list[int]:
        self.calls += 1
        return list(range(len(text.split())))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))


def test_context_cut_by_counts_when_there_are_no_pieces() -> None:
    from rigbench.workload.text import ContextText

    tok = _IdsOnly()
    text = ContextText(tok)
    for n in (1, 100, 2000):
        cut = text.text(n)
        assert tok.count_tokens(cut) == n
    assert text.method == "tokenize" and tok.calls < 80
