"""The engine interface and the process plumbing the launching engines share.

An engine makes a server exist: ``start()`` returns its ServerFacts (base URL included),
``stop()`` makes it go away. Engines that launch a process write its log to a file,
wait for health with a deadline, and stop it with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from rigbench.engines.bootlog import parse_boot_log, tail
from rigbench.errors import EngineError, EngineStartError, PortInUseError
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["Engine", "ManagedProcess", "ProcessEngine", "exit_words", "free_port", "port_is_free"]

LOOPBACK = "127.0.0.1"


class Engine(Protocol):
    spec: EngineSpec

    def start(self) -> ServerFacts: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


class ProcessEngine:
    """What the engines that launch a process share: its lifecycle, and the ServerFacts
    that llama.cpp's boot log gives."""

    spec: EngineSpec
    _mp: ManagedProcess | None = None

    def stop(self) -> None:
        if self._mp is not None:
            self._mp.stop()

    def alive(self) -> bool:
        return self._mp is not None and self._mp.alive()

    @property
    def pid(self) -> int | None:
        return self._mp.proc.pid if self._mp and self._mp.proc else None

    def boot_facts(self, base_url: str, model: Path, log_path: Path, *, build: str | None,
                   extra_log: dict[str, Any] | None = None) -> ServerFacts:
        assert self._mp is not None
        log = parse_boot_log(self._mp.log_text())
        return ServerFacts(
            base_url=base_url,
            kind=self.spec.kind,
            model_path=str(model),
            n_ctx_train=log.get("n_ctx_train"),
            granted_context=log.get("slot_n_ctx") or log.get("n_ctx_slot"),
            requested_context=self.spec.int_flag("c"),
            total_slots=log.get("n_slots"),
            capped=bool(log.get("capped")),
            capping_line=log.get("capping_line"),
            build=build or log.get("build"),
            backend=log.get("backend"),
            devices=list(log.get("devices") or []),
            is_llamacpp=True,
            log_path=str(log_path),
            log_facts={**log, **(extra_log or {})},
        )


def exit_words(what: str, code: int) -> tuple[str, str]:
    """The message and hint for a server process that ended while starting: a signal by its
    name (a negative return code), with what a SIGILL means for a llama.cpp build."""
    if code >= 0:
        return f"{what} exited with code {code} while starting", "read the log tail"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    if name == "SIGILL":
        return (f"{what} was killed by SIGILL (an illegal instruction) while starting",
                "the binary uses CPU instructions this machine cannot run (a -march=native or AMX build): "
                "rebuild llama.cpp with -DGGML_NATIVE=OFF and -DGGML_AMX_TILE=OFF")
    return f"{what} was killed by {name} while starting", "read the log tail"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


class ManagedProcess:
    """A child process with its output in a log file, a health wait, and a clean stop."""

    def __init__(self, argv: list[str], log_path: Path, *, what: str, stdin_pipe: bool = False,
                 env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.log_path = log_path
        self.what = what
        self._stdin_pipe = stdin_pipe
        self._env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def launch(self) -> subprocess.Popen[bytes]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - held open for the child's lifetime
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE if self._stdin_pipe else subprocess.DEVNULL,
                stdout=subprocess.PIPE if self._stdin_pipe else self._log,
                stderr=self._log,
                env=self._env,
                start_new_session=True,  # Ctrl-C in the terminal reaches rigbench, which stops us cleanly
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except FileNotFoundError:
            self._close_log()
            raise EngineStartError(f"{self.what} not found: {self.argv[0]}", "check the path") from None
        except PermissionError:
            self._close_log()
            raise EngineStartError(
                f"{self.what} is not executable: {self.argv[0]}", f"chmod +x {self.argv[0]}"
            ) from None
        except OSError as exc:
            self._close_log()
            raise EngineStartError(f"could not start {self.what}: {exc}",
                                   "check the path and its permissions") from None
        return self.proc

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def fail(self, message: str, hint: str) -> EngineError:
        """An EngineStartError carrying the log tail, with the port case told apart."""
        text = self.log_text()
        facts = parse_boot_log(text)
        if "error_port" in facts:
            return PortInUseError(f"{self.what} could not bind its port", "pick another port or stop what holds it")
        last = tail(text, 1).strip()
        detail = f" (log: {last[-160:]})" if last else ""
        return EngineStartError(f"{message}{detail}", f"{hint}; full log: {self.log_path}", log_tail=tail(text))

    def wait_healthy(self, health_url: str, deadline_s: float, headers: dict[str, str] | None = None) -> None:
        start = time.monotonic()
        with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise self.fail(*exit_words(self.what, self.proc.returncode))
                try:
                    r = client.get(health_url, headers=headers or {})
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() - start > deadline_s:
                    self.stop()
                    raise self.fail(
                        f"{self.what} did not become healthy within {deadline_s:.0f} s",
                        "raise --timeout if the model is large, or read the log",
                    )
                time.sleep(0.2)

    def stop(self, grace_s: float = 10.0) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            if self._stdin_pipe and proc.stdin is not None:
                try:
                    proc.stdin.close()  # the embedded worker exits cleanly on EOF
                    proc.wait(timeout=grace_s / 2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if proc.poll() is None:
                _signal(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace_s)
                except subprocess.TimeoutExpired:
                    _signal(proc, signal.SIGKILL)
                    proc.wait(timeout=5)
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: have the kernel send SIGTERM to the server if rigbench itself is killed."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _signal(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
