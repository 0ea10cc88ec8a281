"""A pure, incremental Server-Sent Events parser (no I/O).

Follows the WHATWG event-stream rules that matter for LLM servers: lines end in
CRLF, LF or CR (a CR at the end of one network read may pair with an LF at the start of
the next), ``:`` starts a comment, ``data`` lines accumulate joined by LF, a blank line
dispatches the event, a field without a colon has an empty value, and one leading space
after the colon is dropped. Bytes are decoded incrementally, so a UTF-8 character split
across two reads is kept whole; invalid UTF-8 becomes U+FFFD rather than an exception.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEEvent", "SSEParser"]

_EOL = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Feed it bytes as they arrive; it returns the events each read completed."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False

    @property
    def has_partial_event(self) -> bool:
        """True when fields were read but no blank line has dispatched them yet."""
        return self._has_fields or bool(self._buf)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        text = self._decoder.decode(chunk)
        return self._feed_text(text)

    def close(self) -> list[SSEEvent]:
        """End of stream: flush the decoder. Per the spec, an event without its
        terminating blank line is discarded (see ``has_partial_event``)."""
        return self._feed_text(self._decoder.decode(b"", final=True))

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        buf = self._buf + text if self._buf else text
        events: list[SSEEvent] = []
        start = 0
        end = len(buf)
        for m in _EOL.finditer(buf):
            if m.end() == end and m.group() == "\r":
                self._pending_cr = True
            self._line(buf[start : m.start()], events)
            start = m.end()
        self._buf = buf[start:]
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(
                    SSEEvent(
                        data="\n".join(self._data),
                        event=self._event or "message",
                        id=self._id,
                        retry=self._retry,
                    )
                )
            self._data = []
            self._event = ""
            self._retry = None
            self._has_fields = False
            return
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        self._has_fields = True
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # unknown fields are ignored, as the spec says
