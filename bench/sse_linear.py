"""SSE parse time against event size: linear from 1 KB to 64 MB (issue 23).

One event of N bytes (``data: {"choices":[{"delta":{"content":"xxxx...`` and its line
end) is fed to the parser in network-sized reads (64 KiB, as httpx hands them over), the
bound on one event raised past 64 MB for the measurement. Printed per size: parse time,
nanoseconds per byte (flat when the work is linear), and bytes scanned for a line end
(each byte once). The "before" column runs the pre-issue-23 algorithm (join the whole
unfinished line with each read and rescan it) on sizes up to ``--before-max``, for
comparison; it grows with the square of the size.

    python bench/sse_linear.py [--read 65536] [--repeats 3] [--before-max 4MB]
"""

from __future__ import annotations

import argparse
import codecs
import platform
import re
import statistics
import time

from rigbench.client.sse import SSEParser

SIZES = [1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
_OLD_EOL = re.compile(r"\r\n|\r|\n")


def _label(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB"


class _BeforeParser:
    """Only the line scanning of the parser before issue 23, for the comparison column."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self.lines = 0

    def feed(self, chunk: bytes) -> None:
        text = self._decoder.decode(chunk)
        buf = self._buf + text if self._buf else text
        start = 0
        for m in _OLD_EOL.finditer(buf):
            self.lines += 1
            start = m.end()
        self._buf = buf[start:]


def _event(n: int) -> bytes:
    head = b'data: {"choices":[{"delta":{"content":"'
    return head + b"x" * max(0, n - len(head) - 2) + b"\n\n"


def _time_new(raw: bytes, read: int) -> tuple[float, int]:
    p = SSEParser(max_event_bytes=len(raw) * 2)
    t0 = time.perf_counter()
    events = []
    for i in range(0, len(raw), read):
        events += p.feed(raw[i : i + read])
    took = time.perf_counter() - t0
    assert len(events) == 1
    return took, p.bytes_scanned


def _time_before(raw: bytes, read: int) -> float:
    p = _BeforeParser()
    t0 = time.perf_counter()
    for i in range(0, len(raw), read):
        p.feed(raw[i : i + read])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--read", type=int, default=65536, help="bytes per network read")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--before-max", default="4MB", help="largest size to run the old algorithm on (0: none)")
    args = ap.parse_args()
    before_max = int(args.before_max.upper().replace("MB", "")) << 20 if args.before_max != "0" else 0
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"python {platform.python_version()} · reads of {args.read:,} bytes · median of {args.repeats}")
    print(f"{'event':>7} {'parse ms':>10} {'ns/byte':>8} {'scanned':>14} {'before ms':>10}")
    for n in SIZES:
        raw = _event(n)
        runs = [_time_new(raw, args.read) for _ in range(args.repeats)]
        took = statistics.median(t for t, _ in runs)
        scanned = runs[0][1]
        before = "—"
        if n <= before_max:
            before = f"{statistics.median(_time_before(raw, args.read) for _ in range(args.repeats)) * 1e3:,.1f}"
        print(f"{_label(n):>7} {took * 1e3:>10,.2f} {took / len(raw) * 1e9:>8.2f} {scanned:>14,} {before:>10}")


if __name__ == "__main__":
    main()
