"""The winner as a command and as a launcher: a shell script, a systemd unit, a launchd plist.

Every launcher starts ``llama-server`` with the winning flags on 127.0.0.1 (a tuned
server is for this machine; put a proxy in front to share it). For a campaign on the
embedded engine the command is the equivalent ``llama-server`` one: the same model and
llama.cpp flags, for a llama-server binary found on PATH.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from rigbench.engines.flags import FLAGS, to_argv
from rigbench.errors import UsageError

__all__ = ["EXPORT_KINDS", "export_launcher", "parse_command_flags", "server_argv"]

EXPORT_KINDS = ("sh", "systemd", "launchd")
HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def server_argv(binary: str, model: str, flags: Mapping[str, str]) -> list[str]:
    """``llama-server -m MODEL <flags>``: the tuned part of the command."""
    return [binary, "-m", model, *to_argv(dict(flags))]


def parse_command_flags(argv: Sequence[str]) -> dict[str, str]:
    """The llama.cpp flags of a command made by ``server_argv`` (the inverse of ``to_argv``)."""
    by_argv = {f.argv: f for f in FLAGS.values()}
    out: dict[str, str] = {}
    i = 0
    args = list(argv)
    while i < len(args):
        fd = by_argv.get(args[i])
        if fd is None:
            i += 2 if args[i] in ("-m", "--host", "--port") else 1
            continue
        if fd.kind == "bool":
            out[fd.name] = "on"
            i += 1
        else:
            out[fd.name] = args[i + 1]
            i += 2
    return out


def _launch_argv(argv: Sequence[str], port: int) -> list[str]:
    return [*argv, "--host", HOST, "--port", str(port)]


def _systemd_word(word: str) -> str:
    """systemd's ExecStart quoting: double quotes, backslash escapes, % and $ doubled."""
    text = word.replace("%", "%%").replace("$", "$$")
    if text and not any(c in text for c in " \t\"'\\;"):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def export_launcher(kind: str, argv: Sequence[str], *, campaign_id: int, summary: str,
                    port: int = DEFAULT_PORT) -> str:
    """The text of a launcher that starts ``argv`` on 127.0.0.1:``port``."""
    full = _launch_argv(argv, port)
    comment = " ".join(summary.split())
    if kind == "sh":
        return ("#!/bin/sh\n"
                f"# llama-server as tuned by rigbench (campaign {campaign_id}): {comment}\n"
                "# Serves http://127.0.0.1:" + str(port) + "/v1 on this machine only.\n"
                f"exec {shlex.join(full)} \"$@\"\n")
    if kind == "systemd":
        return ("[Unit]\n"
                f"Description=llama-server as tuned by rigbench (campaign {campaign_id})\n"
                "After=network.target\n\n"
                "[Service]\n"
                f"# {comment}\n"
                "Type=simple\n"
                f"ExecStart={' '.join(_systemd_word(w) for w in full)}\n"
                "Restart=on-failure\n"
                "RestartSec=5\n\n"
                "[Install]\n"
                "WantedBy=default.target\n")
    if kind == "launchd":
        items = "\n".join(f"    <string>{escape(w)}</string>" for w in full)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" '
                '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n'
                '<plist version="1.0">\n<dict>\n'
                "  <key>Label</key>\n"
                f"  <string>com.rigbench.tune-{campaign_id}</string>\n"
                f"  <!-- {escape(comment).replace('--', '- -')} -->\n"
                "  <key>ProgramArguments</key>\n  <array>\n"
                f"{items}\n"
                "  </array>\n"
                "  <key>RunAtLoad</key>\n  <true/>\n"
                "  <key>KeepAlive</key>\n  <true/>\n"
                f"  <key>StandardOutPath</key>\n  <string>/tmp/rigbench-tune-{campaign_id}.log</string>\n"
                f"  <key>StandardErrorPath</key>\n  <string>/tmp/rigbench-tune-{campaign_id}.log</string>\n"
                "</dict>\n</plist>\n")
    raise UsageError(f"unknown export kind {kind!r}", f"use one of: {', '.join(EXPORT_KINDS)}")
