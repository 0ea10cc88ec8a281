"""Bad input, fuzzed: every command line and the parsers of every input rigbench reads.

No exception may escape other than rigbench's own error types (which the CLI turns into
one line). Engines are stubbed out so that a fuzzed command line never starts a server
or touches the network.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rigbench.errors import EngineError, RigbenchError

COMMANDS = ["run", "runs", "show", "inspect", "advise", "board", "suite", "compare", "report", "tune", "lab", "nope"]
TOKENS = [
    "--json", "--db", "--depths", "--repeats", "--gen-tokens", "--url", "--model", "--api-key", "--server", "--budget",
    "--timeout", "--no-quality", "--resume", "--bandwidth", "--ctx", "--cache-type", "--space", "--objective",
    "--format", "--sort", "-c", "-ngl", "-fa", "-b", "-ub", "-np", "-t", "-ctk", "-ctv", "--mlock", "--no-mmap",
    "--", "0,1024", "1k,,2", "-5", "abc", "embedded:t=1", "server:/nope", "run:1", "run:x", "ub=128,512", "t=0",
    "http://127.0.0.1:9/v1", "ftp://x", "q8_0", "on", "maybe", "1M", "list", "validate", "x.gguf", "10m", "h100",
]


class _NoEngine(Exception):
    pass


@pytest.fixture
def no_engines(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*a: Any, **k: Any) -> Any:
        raise EngineError("fuzz: engines are stubbed out", "none")

    import rigbench.engines as engines
    from rigbench.client.probe import ServerClient

    monkeypatch.setattr(engines, "make_engine", refuse)
    monkeypatch.setattr(ServerClient, "probe", refuse)
    monkeypatch.setattr("rigbench.jobs.session.make_engine", refuse, raising=False)
    monkeypatch.setenv("RIGBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # a fuzzed "--db --json" makes a file named "--json": keep it out of the repo


argv_st = st.tuples(
    st.sampled_from(COMMANDS),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=12)), max_size=7),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argv_st)
def test_any_command_line_ends_in_one_line_or_success(no_engines: None, tmp_path: Path, argv: tuple) -> None:
    from rigbench.cli import main

    cmd, rest = argv
    args = [cmd, *rest]
    if "--db" not in args:
        args += ["--db", str(tmp_path / "fuzz.db")]
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(args)
    assert isinstance(code, int)
    text = err.getvalue()
    assert "Traceback" not in text
    assert "internal error" not in text, (args, text)
    if code != 0:
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert len(lines) <= 1, (args, text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_spec_and_flag_strings(text: str) -> None:
    from rigbench.engines.attach import normalize_base_url
    from rigbench.engines.flags import parse_flag_string
    from rigbench.measure.plan import parse_depths, parse_duration

    for fn in (parse_flag_string, parse_depths, parse_duration, normalize_base_url):
        try:
            fn(text)
        except RigbenchError:
            pass


@pytest.fixture(scope="module")
def gguf_header(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from gguf_factory import llama_like, write_gguf

    kv, tensors = llama_like(n_layer=2, vocab=50)
    path = tmp_path_factory.mktemp("fuzz") / "seed.gguf"
    write_gguf(path, "llama", kv, tensors, fill=False)
    return path.read_bytes()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), max_size=6),
       cut=st.integers(0, 10**6), tail=st.binary(max_size=64))
def test_gguf_reader_never_leaks_an_exception(tmp_path: Path, gguf_header: bytes, edits: list, cut: int,
                                              tail: bytes) -> None:
    """A valid synthetic header with random bytes overwritten, cut anywhere, junk appended."""
    from rigbench.model.facts import model_facts

    data = bytearray(gguf_header)
    for pos, chunk in edits:
        at = pos % len(data)
        data[at : at + len(chunk)] = chunk
    data = data[: max(4, cut % (len(data) + 1))] + tail
    f = tmp_path / "fuzz.gguf"
    f.write_bytes(bytes(data))
    try:
        model_facts(f)
    except RigbenchError:
        pass


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_suite_yaml(text: str) -> None:
    from rigbench.quality.suite import parse_suite

    try:
        parse_suite(text)
    except RigbenchError:
        pass


yaml_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(
        ["name", "version", "prompts", "id", "category", "prompt", "tests", "answer", "checks", "max_tokens",
         "schema", "required", "facts", "depths", "entry"]), inner, max_size=5)),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(yaml_like)
def test_suite_structures(obj: Any) -> None:
    import yaml

    from rigbench.quality.suite import parse_suite

    try:
        parse_suite(yaml.safe_dump(obj))
    except RigbenchError:
        pass
