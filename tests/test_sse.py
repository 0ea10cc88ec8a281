from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigbench.client.sse import MAX_EVENT_BYTES, SSEEvent, SSEParser
from rigbench.errors import EventTooLarge


def feed_all(parts: list[bytes]) -> list[SSEEvent]:
    p = SSEParser()
    out: list[SSEEvent] = []
    for part in parts:
        out += p.feed(part)
    out += p.close()
    return out


def test_basic_events_and_fields() -> None:
    raw = b"data: one\n\nevent: error\ndata: {\"x\": 1}\nid: 7\nretry: 100\n\n: comment\n\ndata\n\n"
    ev = feed_all([raw])
    assert ev == [
        SSEEvent("one"),
        SSEEvent('{"x": 1}', event="error", id="7", retry=100),
        SSEEvent("", id="7"),  # the last event id persists, as the spec says
    ]


def test_multiline_data_and_leading_space_rule() -> None:
    ev = feed_all([b"data:  two spaces\ndata:none\n\n"])
    assert ev == [SSEEvent(" two spaces\nnone")]


def test_crlf_split_across_reads() -> None:
    ev = feed_all([b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"])
    assert [e.data for e in ev] == ["a", "b"]


def test_lone_cr_line_endings() -> None:
    assert [e.data for e in feed_all([b"data: a\r\rdata: b\r\r"])] == ["a", "b"]


def test_utf8_split_across_reads() -> None:
    raw = "data: héllo — 世界\n\n".encode()
    parts = [raw[i : i + 1] for i in range(len(raw))]
    assert [e.data for e in feed_all(parts)] == ["héllo — 世界"]


def test_bom_is_dropped_and_invalid_utf8_replaced() -> None:
    ev = feed_all([b"\xef\xbb\xbfdata: \xff ok\n\n"])
    assert ev[0].data == "\ufffd ok"


def test_unterminated_event_is_not_dispatched() -> None:
    p = SSEParser()
    assert p.feed(b"data: partial") == []
    assert p.close() == []
    assert p.has_partial_event


def test_retry_must_be_digits() -> None:
    assert feed_all([b"retry: 1x\ndata: a\n\n"])[0].retry is None


events_st = st.lists(
    st.tuples(
        st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30),
        st.sampled_from(["", "error", "message", "ping"]),
    ),
    max_size=8,
)


@settings(max_examples=200, deadline=None)
@given(events=events_st, eol=st.sampled_from(["\n", "\r\n", "\r"]), cuts=st.lists(st.integers(0, 400), max_size=20))
def test_any_split_gives_the_same_events(events: list[tuple[str, str]], eol: str, cuts: list[int]) -> None:
    text = ""
    for data, name in events:
        if name:
            text += f"event: {name}{eol}"
        text += f"data: {data}{eol}{eol}"
    raw = text.encode()
    whole = feed_all([raw])
    pts = sorted({c % (len(raw) + 1) for c in cuts})
    parts = [raw[a:b] for a, b in zip([0, *pts], [*pts, len(raw)], strict=False)]
    assert feed_all(parts) == whole
    assert [e.data for e in whole] == [d for d, _ in events]
    assert [e.event for e in whole] == [n or "message" for _, n in events]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=10))
def test_arbitrary_bytes_never_raise(parts: list[bytes]) -> None:
    for ev in feed_all(parts):
        assert isinstance(ev.data, str)


# -- long lines, the bound on one event, and linear work --------------------------------


def test_a_long_line_in_many_reads_is_scanned_once() -> None:
    """The regression of issue 23: each read used to rescan the whole unfinished line."""
    line = b"data: " + b"x" * 200_000
    p = SSEParser()
    events: list[SSEEvent] = []
    for i in range(0, len(line), 100):
        events += p.feed(line[i : i + 100])
    events += p.feed(b"\n\n")
    assert [len(e.data) for e in events] == [200_000]
    assert p.bytes_scanned == len(line) + 2  # every byte once: 2,000 reads cost one read's scan


def test_an_event_that_never_ends_fails_with_one_line() -> None:
    p = SSEParser(max_event_bytes=1024)
    p.feed(b'data: {"choices":[{"delta":{"content":"')
    with pytest.raises(EventTooLarge) as err:
        for _ in range(100):
            p.feed(b"a" * 100)
    assert err.value.message == "the server sent an event over 1,024 bytes without a line end"
    assert len(p._buf) == 0  # what it held is dropped


def test_the_default_bound_is_16_mib_and_says_so() -> None:
    p = SSEParser()
    assert p.max_event_bytes == MAX_EVENT_BYTES == 16 * 1024 * 1024
    p.feed(b"data: " + b"a" * (MAX_EVENT_BYTES - 6))  # exactly at the bound: still fine
    with pytest.raises(EventTooLarge, match=r"^the server sent an event over 16 MiB without a line end$"):
        p.feed(b"a")


def test_many_data_lines_without_a_blank_line_are_bounded_too() -> None:
    p = SSEParser(max_event_bytes=1000)
    with pytest.raises(EventTooLarge, match="without the blank line that ends it"):
        for _ in range(100):
            p.feed(b"data: 0123456789\n")


def test_events_under_the_bound_pass_however_many() -> None:
    p = SSEParser(max_event_bytes=64)
    out: list[SSEEvent] = []
    for _ in range(1000):
        out += p.feed(b"data: " + b"y" * 50 + b"\n\n")
    assert len(out) == 1000


lines_st = st.lists(
    st.tuples(st.integers(0, 3000), st.sampled_from(["", "error"]), st.booleans()),  # data length, event, comment
    min_size=1, max_size=6,
)


def _stream_of(events: list[tuple[int, str, bool]], eol: str) -> tuple[bytes, list[int]]:
    raw = b""
    sizes = []
    for n, name, comment in events:
        lines = ([b": keep-alive"] if comment else []) + ([f"event: {name}".encode()] if name else [])
        lines.append(b"data: " + b"z" * n)
        sizes.append(sum(len(ln) for ln in lines))
        raw += b"".join(ln + eol.encode() for ln in lines) + eol.encode()
    return raw, sizes


def _run(parts: list[bytes], limit: int) -> tuple[list[SSEEvent], str | None, int]:
    p = SSEParser(max_event_bytes=limit)
    out: list[SSEEvent] = []
    try:
        for part in parts:
            out += p.feed(part)
    except EventTooLarge as exc:
        return out, exc.message, p.bytes_scanned
    return out + p.close(), None, p.bytes_scanned


@settings(max_examples=150, deadline=None)
@given(events=lines_st, eol=st.sampled_from(["\n", "\r\n", "\r"]), limit=st.integers(16, 4000),
       cuts=st.lists(st.integers(0, 20_000), max_size=40))
def test_long_lines_any_split_same_outcome_and_linear_work(events: list[tuple[int, str, bool]], eol: str,
                                                           limit: int, cuts: list[int]) -> None:
    """However the bytes are cut into reads: the same events, the bound hit exactly when
    some event's lines exceed it, and no byte scanned twice (work counted, not timed)."""
    raw, sizes = _stream_of(events, eol)
    pts = sorted({c % (len(raw) + 1) for c in cuts})
    parts = [raw[a:b] for a, b in zip([0, *pts], [*pts, len(raw)], strict=False)]
    split_events, split_err, scanned = _run(parts, limit)
    whole_events, whole_err, _ = _run([raw], limit)
    over = any(s > limit for s in sizes)
    assert (split_err is not None) == over == (whole_err is not None)
    if not over:
        assert split_events == whole_events
        assert [len(e.data) for e in whole_events] == [n for n, _, _ in events]
    assert scanned <= len(raw)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 50_000), read=st.integers(1, 4096))
def test_work_is_linear_in_the_bytes_of_an_unfinished_line(n: int, read: int) -> None:
    p = SSEParser()
    line = b"data: " + b"q" * n
    for i in range(0, len(line), read):
        p.feed(line[i : i + read])
    assert p.bytes_scanned == len(line)
    assert p.has_partial_event
