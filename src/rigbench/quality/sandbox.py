"""Run model-written code against hidden tests, contained.

Each call runs one separate process (``_sandbox_child``) in a fresh temporary folder,
never the user's working directory, with an empty environment and a wall-clock limit
after which its whole process group is killed. The child contains itself before any
model code runs: namespaces where the kernel allows them (no network, private /tmp, a
PID namespace that dies with it), rlimits on CPU, address space, file size, open files
and process count, an unprivileged uid when started as root (the kernel does not apply
RLIMIT_NPROC to root), and an audit hook that refuses sockets, subprocesses, ``ctypes``
and writes outside its folder. ``SandboxResult.layers`` says which layers held.

This is containment for the accidents of generated code (fork bombs, runaway loops,
huge allocations, stray writes, network calls), not a boundary against a determined
attacker: the report is a file in the folder the code itself can write to.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CHILD", "Limits", "SandboxResult", "describe_layers", "run_tests"]

CHILD = Path(__file__).with_name("_sandbox_child.py")
_MAX_REPORT = 1 << 20


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0  # the whole process group is killed after this
    per_test_s: float = 2.0  # each test (and twice this for loading the code)
    cpu_s: int = 5
    memory_bytes: int = 512 * 2**20  # RLIMIT_AS
    file_bytes: int = 2**20
    processes: int = 32  # RLIMIT_NPROC, counted per uid
    open_files: int = 64

    def to_json(self) -> dict[str, Any]:
        return {"per_test_s": self.per_test_s, "cpu_s": self.cpu_s, "memory_bytes": self.memory_bytes,
                "file_bytes": self.file_bytes, "processes": self.processes, "open_files": self.open_files}


@dataclass(frozen=True)
class SandboxResult:
    passed: int
    total: int
    outcome: str  # "ran" | "timeout" | "killed" | "crashed"
    error: str | None = None  # why the code did not load, or how the process ended
    failures: list[str] = field(default_factory=list)
    layers: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "total": self.total, "outcome": self.outcome, "error": self.error,
                "failures": self.failures, "wall_s": round(self.wall_s, 3)}


def _unprivileged_ids() -> tuple[int, int] | None:
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pw = pwd.getpwnam("nobody")
        return pw.pw_uid, pw.pw_gid
    except KeyError:
        return 65534, 65534


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"


def _ended(returncode: int | None) -> tuple[str, str]:
    if returncode is None:
        return "killed", "did not end"
    sig = -returncode if returncode < 0 else (returncode - 128 if returncode > 128 else 0)
    if sig:
        name = _signal_name(sig)
        if sig == signal.SIGXCPU or sig == signal.SIGKILL:
            return "killed", f"killed by {name} (CPU limit)" if sig == signal.SIGXCPU else f"killed by {name}"
        return "crashed", f"ended by {name}"
    return "crashed", f"exited with code {returncode} before reporting"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the child's whole process group; called while the leader is unreaped, so the
    group id cannot belong to anyone else."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass


def run_tests(code: str, tests: Sequence[str], *, setup: str = "", limits: Limits = Limits(),
              audit: bool = True, namespaces: bool = True, python: str | None = None) -> SandboxResult:
    """Load ``code`` (after ``setup``) and run each test statement against it, contained.

    ``audit`` and ``namespaces`` exist so that tests can prove each layer on its own."""
    start = time.monotonic()
    folder = tempfile.mkdtemp(prefix="rigbench-sbx-")
    ids = _unprivileged_ids()
    try:
        if ids is not None:
            os.chown(folder, ids[0], ids[1])
        nonce = secrets.token_hex(16)
        request = {"nonce": nonce, "code": code, "tests": list(tests), "setup": setup, "limits": limits.to_json(),
                   "audit": audit, "namespaces": namespaces,
                   "uid": ids[0] if ids else None, "gid": ids[1] if ids else None}
        proc = subprocess.Popen(
            [python or sys.executable, "-I", "-S", "-B", str(CHILD)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=folder, env={}, start_new_session=True, close_fds=True,
        )
        timed_out = False
        try:
            proc.communicate(json.dumps(request).encode("utf-8"), timeout=limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            proc.wait()
        except BaseException:  # Ctrl-C or anything else: leave nothing running behind us
            _kill_group(proc)
            proc.wait()
            raise
        wall = time.monotonic() - start
        result = _read_report(Path(folder) / f"result-{nonce}.json")
        if result is not None:
            return SandboxResult(
                passed=int(result["passed"]), total=int(result["total"]), outcome="ran",
                error=result.get("import_error"), failures=list(result.get("failures") or []),
                layers=dict(result.get("layers") or {}), wall_s=wall)
        if timed_out:
            return SandboxResult(0, len(tests), "timeout", f"killed after the {limits.wall_s:g} s wall-clock limit",
                                 wall_s=wall)
        outcome, why = _ended(proc.returncode)
        return SandboxResult(0, len(tests), outcome, why, wall_s=wall)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            obj = json.loads(f.read(_MAX_REPORT))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) and isinstance(obj.get("passed"), int) else None


def describe_layers(layers: dict[str, Any], limits: Limits = Limits()) -> str:
    """One line for the card: what contained the model's code on this machine."""
    if not layers:
        return "sandbox: not exercised"
    net = layers.get("network")
    parts = ["network namespace" if net == "namespace"
             else "sockets refused by an audit hook (no network namespace here)" if net == "audit hook"
             else "NO network isolation"]
    if layers.get("private_tmp"):
        parts.append("private /tmp")
    if layers.get("pid_namespace"):
        parts.append("PID namespace")
    user = layers.get("user")
    parts.append("as nobody" if user == "nobody" else "as the calling user (not root)" if user == "same user"
                 else f"as {user}")
    names = set(layers.get("rlimits") or [])
    shown = [text for key, text in (("cpu", f"CPU {limits.cpu_s} s"), ("memory", f"{limits.memory_bytes >> 20} MiB"),
                                    ("file size", f"{limits.file_bytes >> 10} KiB files"),
                                    ("processes", f"{limits.processes} processes")) if key in names]
    parts.append(f"rlimits ({', '.join(shown)})" if shown else "no rlimits")
    if layers.get("audit_hook"):
        parts.append("audit hook (no sockets, programs, ctypes, or writes outside its folder)")
    parts.append(f"{limits.wall_s:g} s wall clock")
    return "sandbox for model-written code: " + ", ".join(parts)
