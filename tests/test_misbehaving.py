"""Servers that misbehave the way real ones sometimes do (issue 23): one event that never
ends, bytes that trickle forever, a generation that ignores max_tokens. Each ends the
request with one line, within a bound rigbench states, and the run says what happened."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rigbench.client.limits import DEADLINE_FLOOR_S, asked_tokens, deadline, overrun_bound, prompt_tokens_upper
from rigbench.client.stream import Timeouts, stream_request
from rigbench.measure.overrun import max_tokens_overrun
from rigbench.measure.speed import figures, row_from_record
from rigbench.testing.fake_server import FakeServer, Script


def go(script: Script, max_tokens: int, timeouts: Timeouts = Timeouts(read_s=5)) -> Any:
    with FakeServer(script) as fake, httpx.Client() as client:
        return stream_request(client, fake.base_url + "/chat/completions",
                              {"model": "fake-model", "messages": [], "max_tokens": max_tokens, "stream": True},
                              timeouts=timeouts)


def test_an_endless_event_fails_the_request_with_one_line() -> None:
    rec = go(Script(endless_event_bytes=20_000_000), 16)
    assert rec.status == "error"
    assert rec.error == "the server sent an event over 16 MiB without a line end"
    assert rec.chunks == []


def test_bytes_that_trickle_forever_meet_the_total_deadline() -> None:
    t0 = time.monotonic()
    rec = go(Script(trickle_s=0.05), 16, Timeouts(read_s=5, total_s=1.0, total_basis="a test's limit"))
    took = time.monotonic() - t0
    assert rec.status == "incomplete"
    assert rec.error.startswith("the request ran past its 1 s limit (a test's limit)")
    assert "raise --timeout" in rec.error
    assert took < 5  # the read timeout (5 s) never fired: the deadline did


def test_a_runaway_generation_is_closed_at_the_stated_bound() -> None:
    rec = go(Script(tokens=4000, ignore_max_tokens=True), 16)
    bound = overrun_bound(16)
    assert bound == 2 * 16 + 64
    assert rec.ok and rec.cut == bound and rec.max_tokens == 16
    assert len(rec.chunks) == bound + 1  # closed on the first chunk past the bound
    assert rec.completion_tokens == bound + 1  # the server's count never came: the chunks received
    assert rec.usage is None and rec.finish_reason is None


def test_a_runaway_in_big_chunks_is_closed_by_its_text() -> None:
    # 200 tokens of 2,000 characters each: fewer chunks than the bound, more text than it allows
    rec = go(Script(tokens=200, ignore_max_tokens=True, token_text="x" * 2000), 16)
    assert rec.ok and rec.cut == overrun_bound(16)
    assert len(rec.chunks) < overrun_bound(16)
    assert len(rec.content) <= (overrun_bound(16) + 1) * 2000


def test_a_small_overrun_completes_and_keeps_the_servers_count() -> None:
    rec = go(Script(tokens=40, ignore_max_tokens=True, rate_tok_s=2000), 16)
    assert rec.ok and rec.cut is None and rec.completion_tokens == 40
    f = figures(row_from_record(rec))
    assert f.generated_tokens == 40 and f.decode_tok_s is not None  # decode from what was received


def test_a_server_that_keeps_to_max_tokens_is_not_cut() -> None:
    rec = go(Script(tokens=300), 300)
    assert rec.ok and rec.cut is None and rec.completion_tokens == 300


def _row(asked: int | None, got: int | None, *, cut: int | None = None, phase: str = "speed", seq: int = 0) -> dict:
    extra: dict[str, Any] = {"max_tokens": asked}
    if cut is not None:
        extra["cut_at_chunks"] = cut
    return {"phase": phase, "seq": seq, "status": "ok", "completion_tokens": got, "extra": extra}


def test_overrun_from_rows() -> None:
    assert max_tokens_overrun([_row(16, 16), _row(8, 3, phase="warmup"), _row(None, 500)]) is None
    o = max_tokens_overrun([_row(8, 8, phase="warmup"), _row(16, 4000, seq=1), _row(16, 16, seq=2)])
    assert o is not None
    assert o["statement"].startswith("the server ignored max_tokens: asked 16, got 4,000;")
    assert (o["asked"], o["got"], o["requests"], o["of"], o["closed_by_rigbench"]) == (16, 4000, 1, 3, False)
    cut = max_tokens_overrun([_row(16, 97, cut=96)])
    assert cut is not None and cut["closed_by_rigbench"] and cut["bound_chunks"] == 96
    assert "before rigbench closed the stream (its bound: 2 × 16 + 64 token chunks)" in cut["statement"]


def test_deadline_arithmetic() -> None:
    d = deadline(1000, 128, 100.0, 10.0, 30.0)
    assert d.total_s == pytest.approx(3 * (10 + 12.8) + DEADLINE_FLOOR_S)
    assert "measured" in d.basis and "assumed" not in d.basis
    slow = deadline(1000, 128, None, None, 600.0)  # --timeout 600 raises the floor
    assert slow.total_s == pytest.approx(3 * (1000 / 20 + 128 / 5) + 600)
    assert "assumed" in slow.basis
    assert asked_tokens({"max_tokens": 7}) == 7 and asked_tokens({"max_tokens": True}) is None
    assert asked_tokens({"max_completion_tokens": 9}) == 9 and asked_tokens({}) is None
    assert prompt_tokens_upper({"messages": [{"role": "user", "content": "x" * 4000}]}) > 2000
    assert prompt_tokens_upper({"prompt": "abcd"}) == 2


def test_every_client_request_gets_a_deadline_from_measured_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warm-up and probes too: ServerClient derives a total when the caller gives none,
    from the slowest rates it has measured so far."""
    import rigbench.client.probe as probe
    from rigbench.types import ServerFacts

    seen: list[Timeouts] = []
    real = probe.stream_request

    def spy(*a: Any, **k: Any) -> Any:
        seen.append(k["timeouts"])
        return real(*a, **k)

    monkeypatch.setattr(probe, "stream_request", spy)
    with FakeServer(Script(tokens=64, rate_tok_s=500)) as fake:
        client = probe.ServerClient(ServerFacts(base_url=fake.base_url, kind="url"), timeouts=Timeouts(read_s=7))
        first = client.chat([{"role": "user", "content": "hi"}], max_tokens=64)
        second = client.chat([{"role": "user", "content": "hi"}], max_tokens=64)
        client.close()
    assert first.ok and second.ok
    assert all(t.total_s is not None and t.read_s == 7 for t in seen)
    assert "assumed" in seen[0].total_basis  # nothing measured yet: 5 tok/s decode assumed
    assert client.rates.decode_tok_s is not None and "decode (measured)" in seen[1].total_basis
    assert seen[1].total_s < seen[0].total_s  # 500 tok/s measured beats 5 tok/s assumed


def test_a_run_against_a_server_that_ignores_max_tokens(cli: Any, tmp_path: Path) -> None:
    t0 = time.monotonic()
    with FakeServer(Script(tokens=4000, ignore_max_tokens=True, rate_tok_s=20_000)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "16",
                "--no-quality", "--json", "--db", str(tmp_path / "r.db"))
    took = time.monotonic() - t0
    assert r.code == 0, r.err
    out = r.json()
    ignored = out["server"]["max_tokens_ignored"]
    assert ignored["asked"] == 16 and ignored["got"] == overrun_bound(16) + 1 and ignored["closed_by_rigbench"]
    assert ignored["requests"] == ignored["of"] >= 5  # the warm-up and every sweep request
    assert ignored["statement"] in out["notes"]
    assert set(out["server"]) >= {"unavailable", "endpoints"}  # the existing keys stay
    assert all(p["generated_tokens"] == overrun_bound(16) + 1 for p in out["points"])
    assert took < 60  # 4,000 tokens a request at 20,000 tok/s would be 0.2 s each anyway; the cut keeps it short
    card = cli("show", str(out["run_id"]), "--db", str(tmp_path / "r.db")).out
    assert "the server ignored max_tokens: asked 16, got 97" in " ".join(card.split())


def test_a_run_against_an_endless_event_ends_in_one_line(cli: Any, tmp_path: Path) -> None:
    with FakeServer(Script(endless_event_bytes=20_000_000)) as fake:
        r = cli("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--no-quality",
                "--db", str(tmp_path / "r.db"))
    assert r.code != 0
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "the server sent an event over 16 MiB without a line end" in lines[0]


def test_sweep_limits_always_carry_a_total_and_timeout_raises_it() -> None:
    from rigbench.jobs.bench import request_timeouts

    base = Timeouts(read_s=120.0)
    auto = request_timeouts(base, 4096, 128, 200.0, 20.0, explicit=False)
    given = request_timeouts(Timeouts(read_s=900.0), 4096, 128, 200.0, 20.0, explicit=True)
    assert auto.total_s is not None and given.total_s is not None  # an explicit --timeout no longer drops it
    assert given.read_s == 900.0 and auto.read_s == max(120.0, 3 * 4096 / 200 + 60)
    assert given.total_s == pytest.approx(3 * (4096 / 200 + 128 / 20) + 900.0)
    assert given.total_s > auto.total_s and "measured" in auto.total_basis


def _client_with(handler: Any) -> Any:
    from rigbench.client import probe
    from rigbench.types import ServerFacts

    client = probe.ServerClient(ServerFacts(base_url="http://127.0.0.1:9/v1", kind="url"))
    client.http = httpx.Client(transport=httpx.MockTransport(handler))
    return client


_MODELS = b'{"object": "list", "data": [{"id": "m", "object": "model"}]}'


def test_a_probe_answer_over_the_bound_is_not_read_whole() -> None:
    from rigbench.client import probe
    from rigbench.errors import EngineError

    huge = b"x" * (probe.MAX_PROBE_BYTES + 1)

    def models_too_big(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=huge)

    with pytest.raises(EngineError, match="more than 16 MiB"):
        _client_with(models_too_big).probe()

    def props_too_big(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, content=_MODELS)
        if request.url.path == "/props":
            body = b'{"default_generation_settings": {"n_ctx": 4096}, "x": "' + huge + b'"}'
            return httpx.Response(200, content=body)
        return httpx.Response(404)

    facts = _client_with(props_too_big).probe()  # /props is read no further: as if the server had none
    assert facts.model_id == "m"
    assert facts.granted_context != 4096
