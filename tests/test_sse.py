from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rigbench.client.sse import SSEEvent, SSEParser


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
