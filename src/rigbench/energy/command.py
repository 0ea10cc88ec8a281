"""A wall-plug meter: ``--power-cmd CMD`` runs a command that prints the machine's power in
watts (a smart plug's CLI), once a second during the run.

The command is the user's own, run by ``/bin/sh -c`` (pipes work), and still treated as
untrusted: it must end within ``timeout_s``, its output is read up to 4 KiB, and the first
non-empty line must be a number of watts (``87.5``, ``87.5 W``, ``87500 mW``, ``0.0875 kW``)
between 0 and 100 kW. A reading is stamped at the middle of the command's run. A bad or
slow command is named in one line (``PowerCommandError``); the stored run keeps only the
program's name, never the command (it may hold a plug's password).
"""

from __future__ import annotations

import os
import re
import selectors
import shlex
import signal
import subprocess
import time

from rigbench.energy.base import Reading, SourceUnavailable, clock_ns

__all__ = ["PowerCommand", "PowerCommandError", "parse_watts", "program_name"]

MAX_OUTPUT = 4096
MAX_WATTS = 100_000.0
_WATTS = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*(mW|W|kW|w|watts?)?\s*$")
_SCALE = {"mW": 1e-3, "kW": 1e3}


class PowerCommandError(SourceUnavailable):
    """The power command failed, was slow, or printed something that is not watts."""


def program_name(cmd: str) -> str:
    """The program's base name: what the card and the stored run show of a power command."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        words = cmd.split()
    return os.path.basename(words[0])[:40] if words else "?"


def parse_watts(text: str) -> float:
    """Watts from a power command's output: its first non-empty line, a number and an optional unit."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    m = _WATTS.match(line)
    if not m:
        shown = line.strip()[:40] or "nothing"
        raise PowerCommandError(f"the power command printed {shown!r}, not watts",
                                "it must print one number of watts, e.g. 87.5")
    value = float(m.group(1)) * _SCALE.get(m.group(2) or "W", 1.0)
    if not 0 <= value <= MAX_WATTS:
        raise PowerCommandError(f"the power command printed {value:g} W, outside 0-{MAX_WATTS:g} W")
    return value


def _run_bounded(cmd: str, timeout_s: float) -> tuple[int | None, bytes]:
    """Run through /bin/sh; the return code (None: killed at the deadline) and at most MAX_OUTPUT bytes."""
    proc = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + timeout_s
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    timed_out = False
    try:
        while len(out) < MAX_OUTPUT:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(left):
                continue
            chunk = os.read(proc.stdout.fileno(), MAX_OUTPUT - len(out))
            if not chunk:
                break
            out += chunk
        try:
            rc = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            rc = None
    finally:
        sel.close()
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
        proc.stdout.close()
    return (None if timed_out else rc), out


class PowerCommand:
    source = "power-cmd"
    channel = "wall"
    covers = "system"
    kind = "power"
    wrap: float | None = None

    def __init__(self, cmd: str, *, timeout_s: float = 5.0, interval_s: float = 1.0) -> None:
        if not cmd.strip():
            raise PowerCommandError("--power-cmd is empty", "give a command that prints watts")
        self.cmd = cmd
        self.name = program_name(cmd)
        self.timeout_s = timeout_s
        self.interval_s = interval_s

    def read(self) -> Reading:
        t0 = clock_ns()
        try:
            rc, out = _run_bounded(self.cmd, self.timeout_s)
        except OSError as exc:
            raise PowerCommandError(f"the power command {self.name!r} cannot run: {exc.strerror or exc}") from None
        t1 = clock_ns()
        if rc is None:
            raise PowerCommandError(f"the power command {self.name!r} took longer than {self.timeout_s:g} s",
                                    "it must print watts and exit within that")
        if rc != 0:
            raise PowerCommandError(f"the power command {self.name!r} exited with status {rc}")
        return Reading((t0 + t1) // 2, parse_watts(out.decode("utf-8", "replace")))

    def close(self) -> None:
        pass
