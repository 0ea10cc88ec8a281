"""The streaming client against the scripted fake server: protocol edge cases."""

from __future__ import annotations

import httpx

from rigbench.client.stream import Timeouts, stream_request
from rigbench.measure.speed import figures, row_from_record
from rigbench.testing.fake_server import FakeServer, Script


def go(script: Script, timeouts: Timeouts = Timeouts(read_s=5)) -> tuple:
    with FakeServer(script) as fake, httpx.Client() as client:
        rec = stream_request(client, fake.base_url + "/chat/completions",
                             {"model": "fake-model", "messages": [], "max_tokens": script.tokens, "stream": True},
                             timeouts=timeouts)
        return rec, fake.sent_log


def test_role_only_first_chunk_is_not_the_first_token() -> None:
    rec, sent = go(Script(tokens=8, rate_tok_s=200))
    assert rec.ok and rec.completion_tokens == 8
    # TTFT lands on the first content chunk, after the role chunk was sent
    assert rec.t_first_token_ns >= sent[0][0] - 1_000_000
    assert rec.chunks[0].kind == "content"


def test_multi_token_chunks_count_from_usage_not_chunks() -> None:
    rec, _ = go(Script(tokens=40, tokens_per_chunk=4))
    assert rec.ok
    assert len(rec.chunks) == 10
    assert rec.completion_tokens == 40


def test_reasoning_fields_count_and_ttfvt_after_reasoning() -> None:
    rec, _ = go(Script(tokens=20, reasoning_tokens=12, rate_tok_s=400))
    assert rec.ok
    assert rec.reasoning.count("tok") == 12 and rec.content.count("tok") == 8
    first_content = next(c for c in rec.chunks if c.kind == "content")
    assert rec.t_first_content_ns == first_content.t_ns
    assert rec.t_first_token_ns == rec.chunks[0].t_ns and rec.chunks[0].kind == "reasoning"


def test_reasoning_alias_field() -> None:
    rec, _ = go(Script(tokens=6, reasoning_tokens=3, reasoning_field="reasoning"))
    assert rec.reasoning.count("tok") == 3


def test_inline_think_tags_split_after_the_stream() -> None:
    rec, _ = go(Script(tokens=10, reasoning_tokens=4, think_tags=True, rate_tok_s=500))
    assert rec.ok and rec.reasoning.count("tok") == 4 and rec.content.count("tok") == 6
    closing = next(c for c in rec.chunks if c.text.startswith("</think>"))
    assert rec.t_first_content_ns == closing.t_ns  # the visible answer starts after the tag


def test_in_stream_error_is_a_failure() -> None:
    rec, _ = go(Script(tokens=10, error_after=3))
    assert rec.status == "error" and "model crashed" in rec.error
    assert rec.http_status == 200


def test_missing_usage_block_leaves_counts_unknown() -> None:
    rec, _ = go(Script(tokens=5, usage=False))
    assert rec.ok and rec.completion_tokens is None
    f = figures(row_from_record(rec))
    assert f.decode_tok_s is None  # never counted from chunks


def test_http_500_is_an_error_with_the_message() -> None:
    rec, _ = go(Script(http_status=500))
    assert rec.status == "error" and rec.error.startswith("HTTP 500") and "told to fail" in rec.error


def test_malformed_json_is_an_error() -> None:
    rec, _ = go(Script(tokens=10, malformed_after=2))
    assert rec.status == "error" and "malformed" in rec.error


def test_stall_mid_stream_is_incomplete() -> None:
    rec, _ = go(Script(tokens=10, stall_after=2), Timeouts(read_s=0.5))
    assert rec.status == "incomplete" and "stalled" in rec.error
    assert len(rec.chunks) == 2


def test_dropped_connection_is_incomplete() -> None:
    rec, _ = go(Script(tokens=10, close_after=3))
    assert rec.status == "incomplete"


def test_stream_without_done_or_finish_is_incomplete() -> None:
    rec, _ = go(Script(tokens=4, done_marker=False, finish_reason=False))
    assert rec.status == "incomplete"


def test_crlf_stream() -> None:
    rec, _ = go(Script(tokens=6, crlf=True))
    assert rec.ok and rec.completion_tokens == 6


def test_connection_refused() -> None:
    from rigbench.engines.base import free_port

    with httpx.Client() as client:
        rec = stream_request(client, f"http://127.0.0.1:{free_port()}/v1/chat/completions", {"stream": True})
    assert rec.status == "error" and "could not connect" in rec.error


def test_total_timeout() -> None:
    rec, _ = go(Script(tokens=50, rate_tok_s=20), Timeouts(read_s=5, total_s=0.3))
    assert rec.status == "incomplete" and "limit" in rec.error
