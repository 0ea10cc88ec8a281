"""Launchers for the winner and its command (no engine)."""

from __future__ import annotations

import plistlib
import shlex

import pytest

from rigbench.errors import UsageError
from rigbench.tune.export import export_launcher, parse_command_flags, server_argv

FLAGS = {"t": "2", "ub": "2048", "b": "2048", "fa": "on", "np": "1", "mlock": "on", "ctk": "q8_0"}


def test_command_parses_back_into_the_same_flags() -> None:
    argv = server_argv("/opt/llama.cpp/build/bin/llama-server", "/m/GLM 5.1.gguf", FLAGS)
    assert argv[:3] == ["/opt/llama.cpp/build/bin/llama-server", "-m", "/m/GLM 5.1.gguf"]
    assert parse_command_flags(shlex.split(shlex.join(argv))) == FLAGS


def test_shell_script() -> None:
    text = export_launcher("sh", server_argv("llama-server", "/m/a b.gguf", FLAGS), campaign_id=3,
                           summary="trial 2: 1.9x", port=8081)
    assert text.startswith("#!/bin/sh\n")
    line = next(ln for ln in text.splitlines() if ln.startswith("exec "))
    words = shlex.split(line)
    assert words[1:4] == ["llama-server", "-m", "/m/a b.gguf"]
    assert words[words.index("--host") + 1] == "127.0.0.1" and words[words.index("--port") + 1] == "8081"
    assert parse_command_flags(words[1:]) == FLAGS


def test_systemd_unit_quotes_what_systemd_would_expand() -> None:
    text = export_launcher("systemd", server_argv("/usr/bin/llama-server", "/m/50% off.gguf", {"t": "2"}),
                           campaign_id=3, summary="s")
    exec_line = next(ln for ln in text.splitlines() if ln.startswith("ExecStart="))
    assert '"/m/50%% off.gguf"' in exec_line and "--host 127.0.0.1" in exec_line
    assert "[Service]" in text and "WantedBy=default.target" in text


def test_launchd_plist_is_valid_and_binds_loopback() -> None:
    argv = server_argv("/usr/local/bin/llama-server", "/m/<x>&y.gguf", {"t": "8"})
    data = plistlib.loads(export_launcher("launchd", argv, campaign_id=9, summary="a -- b").encode())
    assert data["Label"] == "com.rigbench.tune-9"
    assert data["ProgramArguments"] == [*argv, "--host", "127.0.0.1", "--port", "8080"]
    assert data["RunAtLoad"] is True


def test_unknown_kind() -> None:
    with pytest.raises(UsageError):
        export_launcher("docker", ["x"], campaign_id=1, summary="")
