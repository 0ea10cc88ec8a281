"""Coverage-guided fuzzing (atheris, if it installs: ``pip install atheris``) of the two
parsers that read untrusted bytes: the SSE parser (long lines included, and the check
that no byte is scanned twice) and the GGUF header reader. Any exception other than
rigbench's own error types is a finding and stops the run; a clean run ends with
libFuzzer's "Done N runs".

    python bench/fuzz_atheris.py sse  -runs=200000
    python bench/fuzz_atheris.py gguf -runs=20000
"""

from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from rigbench.client.sse import SSEParser
    from rigbench.errors import RigbenchError
    from rigbench.model.gguf import read_gguf

_TMP = os.path.join(tempfile.mkdtemp(), "fuzz.gguf")


def fuzz_sse(data: bytes) -> None:
    """Reads of 1..64 bytes, some of them one byte repeated up to 8 KiB (long lines with
    no line end), against a bound on one event of 16 bytes..1 MiB: the parser may raise
    only EventTooLarge, and never scans a byte twice."""
    fdp = atheris.FuzzedDataProvider(data)
    parser = SSEParser(max_event_bytes=fdp.ConsumeIntInRange(16, 1 << 20))
    fed = 0
    try:
        while fdp.remaining_bytes():
            if fdp.ConsumeIntInRange(0, 15) == 0:
                chunk = fdp.ConsumeBytes(1) * fdp.ConsumeIntInRange(1, 8192)
            else:
                chunk = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 64))
            fed += len(chunk)
            parser.feed(chunk)
            if parser.bytes_scanned > fed:
                raise AssertionError(f"scanned {parser.bytes_scanned} bytes of {fed} received")
        parser.close()
    except RigbenchError:
        pass


def fuzz_gguf(data: bytes) -> None:
    with open(_TMP, "wb") as f:
        f.write(b"GGUF" + data if not data.startswith(b"GGUF") else data)
    try:
        read_gguf(_TMP)
    except RigbenchError:
        pass


def main() -> None:
    target = sys.argv.pop(1) if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else "sse"
    fn = {"sse": fuzz_sse, "gguf": fuzz_gguf}[target]
    atheris.Setup(sys.argv, fn)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
