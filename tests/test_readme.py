"""Docs that cannot drift: every `rigbench ...` line in the README parses with today's CLI, and
the cheap ones run for real.

Each line is parsed by click itself (the command found, every option known, every value of
the right type, ``--`` respected), so a renamed or removed option fails here. The lines that
need no model run and no measurement run as written, on a copy of the 0.1.0 fixture database
(it holds runs 1 to 7, so ``show 3`` and ``report 3`` show a stored run) with a synthetic
``model.gguf`` in the working folder; ``run --url`` runs against the fake OpenAI server on the
README's own port when that port is free.
"""

from __future__ import annotations

import re
import shlex
import socket
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_commands() -> list[str]:
    blocks = re.findall(r"```\n(.*?)```", README.read_text(), flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("rigbench "):
                lines.append(line)
            elif "&& rigbench " in line:
                lines.append("rigbench " + line.split("&& rigbench ", 1)[1])
    return lines


def test_the_readme_opens_with_the_two_setup_commands() -> None:
    first = re.search(r"```\n(.*?)```", README.read_text(), flags=re.S)
    assert first is not None
    setup = [ln for ln in first.group(1).splitlines() if ln.strip()]
    assert setup == ["pip install . && rigbench run", "pip install '.[test]' && python -m pytest"]


def _parse(args: list[str]) -> Any:
    """click's own parsing of ``rigbench ARGS``, down to the last subcommand, without running it:
    raises click's usage error for an unknown command or option, or a value of the wrong type."""
    from typer.main import get_command

    from rigbench.cli import app

    cmd: Any = get_command(app)
    ctx = cmd.make_context("rigbench", list(args), resilient_parsing=False)
    while hasattr(cmd, "resolve_command"):
        protected = getattr(ctx, "protected_args", None)  # typer >= 0.24 vendors click: the private name
        rest = [*(ctx._protected_args if protected is None else protected), *ctx.args]
        name, cmd, rest = cmd.resolve_command(ctx, rest)
        ctx = cmd.make_context(name, rest, parent=ctx, resilient_parsing=False)
    return ctx


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_parses(line: str) -> None:
    ctx = _parse(shlex.split(line)[1:])
    assert ctx.command.callback is not None, line
    if "--" in shlex.split(line):  # what follows -- is llama-server's, handed through untouched
        assert ctx.args[-1:] == ["--jinja"], ctx.args


@pytest.mark.parametrize(("line", "words"), [
    ("rigbench run --depths 0,4k --depths-typo 1", "No such option"),
    ("rigbench show three", "valid integer"),
    ("rigbench board --sort", "requires an argument"),
    ("rigbench nosuchcommand", "No such command"),
])
def test_a_renamed_option_or_a_bad_value_fails_the_parse(line: str, words: str) -> None:
    with pytest.raises(Exception, match=words) as caught:  # typer vendors click: a click error by its shape
        _parse(shlex.split(line)[1:])
    assert hasattr(caught.value, "format_message") and getattr(caught.value, "exit_code", None) == 2


def _cheap(line: str) -> bool:
    """Lines that measure nothing and start no engine (``auto`` bandwidth measures this host)."""
    args = shlex.split(line)[1:]
    if args[0] in ("runs", "show", "board", "report", "inspect", "suite"):
        return True
    if args[0] == "catalog":
        return args[1] == "list"
    if args[0] == "advise":
        return "auto" not in args
    return args[:2] == ["run", "--url"]


CHEAP = [ln for ln in readme_commands() if _cheap(ln)]


@pytest.fixture(scope="module")
def readme_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``model.gguf`` and, as the default database, a copy of the 0.1.0 fixture."""
    from gguf_factory import llama_like, write_gguf
    from golden_util import FIXTURE

    folder = tmp_path_factory.mktemp("readme")
    write_gguf(folder / "model.gguf", "llama", *llama_like())
    (folder / "home").mkdir()
    (folder / "home" / "rigbench.db").write_bytes(FIXTURE.read_bytes())
    return folder


def test_the_cheap_lines_are_the_ones_expected() -> None:
    names = {" ".join(shlex.split(ln)[1:3]) for ln in CHEAP}
    assert {"runs", "show 3", "board --format", "report 3", "suite list", "catalog list", "run --url"} <= names


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("line", CHEAP)
def test_readme_command_runs(cli, readme_home: Path, monkeypatch: pytest.MonkeyPatch, line: str) -> None:
    monkeypatch.chdir(readme_home)
    monkeypatch.setenv("RIGBENCH_HOME", str(readme_home / "home"))
    args = shlex.split(line)[1:]
    server = None
    if args[:2] == ["run", "--url"]:
        from rigbench.testing.fake_server import FakeServer, Script

        port = int(re.search(r":(\d+)/", args[2]).group(1))  # type: ignore[union-attr]
        if not _port_free(port):
            pytest.skip(f"port {port} (the README's) is in use here")
        server = FakeServer(Script(tokens=8, props=True, tokenize=True, timings=True), port=port).start()
    try:
        r = cli(*args)
    finally:
        if server is not None:
            server.stop()
    assert r.code == 0, (line, r.err)
    assert r.out.strip() or Path(readme_home / "report.html").exists(), line
    if args[0] == "report":
        assert (readme_home / "report.html").stat().st_size > 1000
