"""Coverage-guided fuzzing (atheris, if it installs: ``pip install atheris``) of the two
parsers that read untrusted bytes: the SSE parser and the GGUF header reader. Any
exception other than rigbench's own error types is a finding and stops the run; a clean
run ends with libFuzzer's "Done N runs".

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
    fdp = atheris.FuzzedDataProvider(data)
    parser = SSEParser()
    while fdp.remaining_bytes():
        parser.feed(fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 64)))
    parser.close()


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
