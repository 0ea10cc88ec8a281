"""Docs that cannot drift: every `rigbench ...` line in the README parses with today's CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

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


@pytest.mark.parametrize("line", readme_commands())
def test_readme_command_parses(cli, line: str) -> None:
    args = shlex.split(line)[1:]
    if "--" in args:  # arguments for llama-server are not rigbench's to parse
        args = args[: args.index("--")]
    r = cli(*args, "--help")
    assert r.code == 0, (line, r.err)
