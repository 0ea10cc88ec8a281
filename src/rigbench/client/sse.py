"""A pure, incremental Server-Sent Events parser (no I/O).

Follows the WHATWG event-stream rules that matter for LLM servers: lines end in
CRLF, LF or CR (a CR at the end of one network read may pair with an LF at the start of
the next), ``:`` starts a comment, ``data`` lines accumulate joined by LF, a blank line
dispatches the event, a field without a colon has an empty value, and one leading space
after the colon is dropped. A leading UTF-8 byte order mark is dropped; invalid UTF-8
becomes U+FFFD rather than an exception.

Linear in the bytes received: unread bytes are kept in one ``bytearray`` and each read
scans only its own new bytes for a line end (``bytes_scanned`` counts them; the search is
``bytearray.find``, memchr speed), so a line that arrives in a million reads costs what
one read of it would. Lines are split on the
bytes CR and LF, which never occur inside a UTF-8 sequence, and decoded once whole.

Bounded: one event (the bytes of its lines up to the blank line that ends it, comments
and its unfinished line included) may hold at most ``max_event_bytes`` (16 MiB by
default); past that ``feed`` raises ``EventTooLarge`` and drops what it held. Whether
it raises does not depend on how the bytes were split into reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigbench.errors import EventTooLarge

__all__ = ["MAX_EVENT_BYTES", "SSEEvent", "SSEParser"]

MAX_EVENT_BYTES = 16 * 1024 * 1024

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    return f"{n:,} bytes"


class SSEParser:
    """Feed it bytes as they arrive; it returns the events each read completed."""

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.max_event_bytes = max_event_bytes
        self._buf = bytearray()  # the unfinished line: never holds a line end between reads
        self._pending_cr = False
        self._started = False
        self._data: list[str] = []
        self._event_bytes = 0  # bytes of this event's lines so far (line ends not counted)
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._has_fields = False
        self._scanned = 0

    @property
    def has_partial_event(self) -> bool:
        """True when fields were read but no blank line has dispatched them yet."""
        return self._has_fields or bool(self._buf)

    @property
    def bytes_scanned(self) -> int:
        """Bytes searched for a line end so far: each received byte at most once."""
        return self._scanned

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        buf = self._buf
        if self._pending_cr:
            self._pending_cr = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not self._started:
            buf += chunk
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                return []  # could still be a byte order mark split across reads
            self._started = True
            if buf.startswith(_BOM):
                del buf[: len(_BOM)]
            pos = 0
        else:
            pos = len(buf)
            buf += chunk
        events: list[SSEEvent] = []
        start = 0
        end = len(buf)
        limit = self.max_event_bytes
        self._scanned += end - pos
        # the next CR and LF at or after `pos`; -1 means none up to the end of this read,
        # so neither search ever covers a byte twice (memchr speed, linear overall)
        cr = buf.find(b"\r", pos)
        lf = buf.find(b"\n", pos)
        while cr >= 0 or lf >= 0:
            if lf < 0 or 0 <= cr < lf:
                stop = cr
                nxt = cr + 1
                if nxt == end:
                    self._pending_cr = True  # a CR ending this read may pair with an LF opening the next
                elif buf[nxt] == 10:
                    nxt += 1
            else:
                stop = lf
                nxt = lf + 1
            n = stop - start
            if n:
                self._event_bytes += n
                if self._event_bytes > limit:
                    self._overflow(no_line_end=n > limit)
                self._field(buf[start:stop].decode("utf-8", "replace"))
            else:
                self._event_bytes = 0
                self._dispatch(events)
            start = nxt
            if 0 <= cr < start:
                cr = buf.find(b"\r", start)
            if 0 <= lf < start:
                lf = buf.find(b"\n", start)
        if start:
            del buf[:start]
        if self._event_bytes + len(buf) > limit:
            self._overflow(no_line_end=len(buf) > limit or not self._event_bytes)
        return events

    def close(self) -> list[SSEEvent]:
        """End of stream. Per the spec, an event without its terminating blank line is
        discarded (see ``has_partial_event``)."""
        return []

    def _overflow(self, *, no_line_end: bool) -> None:
        self._buf = bytearray()
        self._data = []
        self._event_bytes = 0
        what = "without a line end" if no_line_end else "without the blank line that ends it"
        raise EventTooLarge(f"the server sent an event over {_size(self.max_event_bytes)} {what}",
                            "the server's stream is broken: check it with another client")

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent(data="\n".join(self._data), event=self._event or "message", id=self._id,
                                   retry=self._retry))
        self._data = []
        self._event = ""
        self._retry = None
        self._has_fields = False

    def _field(self, line: str) -> None:
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
