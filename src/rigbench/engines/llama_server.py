"""A real ``llama-server`` binary, launched with flags in llama.cpp's own names.

Binds 127.0.0.1 on a free port (unless ``--host``/``--port`` are given after ``--``),
writes its log to the run's folder, waits for ``/health`` with a deadline, parses boot
facts from the log, and stops it with SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from rigbench.engines.base import LOOPBACK, ManagedProcess, ProcessEngine, free_port, port_is_free
from rigbench.engines.flags import to_argv
from rigbench.engines.modelfile import check_gguf_path, default_start_timeout
from rigbench.errors import EngineStartError, PortInUseError, UsageError
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["LlamaServerEngine", "server_argv", "server_help"]


def _arg_value(args: tuple[str, ...], *names: str) -> str | None:
    for i, a in enumerate(args):
        for n in names:
            if a == n and i + 1 < len(args):
                return args[i + 1]
            if a.startswith(n + "="):
                return a.split("=", 1)[1]
    return None


_VERBOSE = ("-lv", "--verbosity", "--log-verbosity", "-v", "--verbose", "--log-verbose")


def server_argv(spec: EngineSpec, model: Path, host: str, port: int, *, boot_info: bool = False) -> list[str]:
    """llama-server's command line. ``boot_info`` raises the log verbosity to 4, where the
    boot log names the devices, the training context and the KV cache (llama-server's
    default, 3, says almost nothing about them), unless the user set a verbosity."""
    assert spec.server_bin
    argv = [spec.server_bin, "-m", str(model)]
    if boot_info and not any(a.split("=", 1)[0] in _VERBOSE for a in spec.extra_args):
        argv += ["-lv", "4"]
    if _arg_value(spec.extra_args, "--host") is None:
        argv += ["--host", host]
    if _arg_value(spec.extra_args, "--port") is None:
        argv += ["--port", str(port)]
    argv += to_argv(spec.flags)
    if "--metrics" not in spec.extra_args:
        argv.append("--metrics")
    return argv + list(spec.extra_args)


def server_help(server_bin: str, timeout_s: float = 10.0) -> str:
    """The binary's ``--help`` text (flag names move between llama.cpp versions)."""
    try:
        out = subprocess.run([server_bin, "--help"], capture_output=True, timeout=timeout_s, text=True)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout + out.stderr


_HELP_CACHE: dict[str, bool] = {}


def _supports_verbosity(binary: str) -> bool:
    if binary not in _HELP_CACHE:
        _HELP_CACHE[binary] = "--log-verbosity" in server_help(binary) or "-lv," in server_help(binary)
    return _HELP_CACHE[binary]


class LlamaServerEngine(ProcessEngine):
    kind = "llama-server"

    def __init__(self, spec: EngineSpec, log_dir: Path, *, timeout_s: float | None = None) -> None:
        if not spec.server_bin:
            raise UsageError("no llama-server binary given", "pass --server PATH/TO/llama-server")
        self.spec = spec
        self.log_dir = log_dir
        self.timeout_s = timeout_s
        self._mp: ManagedProcess | None = None

    def check_binary(self) -> str:
        path = Path(self.spec.server_bin or "").expanduser()
        if not path.exists():
            raise EngineStartError(f"llama-server binary not found: {path}",
                                   "build it (cmake --build build --target llama-server) or fix the path")
        if path.is_dir():
            raise EngineStartError(f"{path} is a folder",
                                   "give the llama-server binary itself, e.g. build/bin/llama-server")
        if not os.access(path, os.X_OK):
            raise EngineStartError(f"{path} is not executable", f"chmod +x {path}")
        return str(path.resolve())

    def start(self) -> ServerFacts:
        if not self.spec.model_path:
            raise UsageError("llama-server needs a model file", "rigbench run MODEL.gguf --server PATH")
        model = check_gguf_path(self.spec.model_path)
        binary = self.check_binary()
        host = _arg_value(self.spec.extra_args, "--host") or LOOPBACK
        user_port = _arg_value(self.spec.extra_args, "--port")
        if user_port is not None:
            if not user_port.isdigit():
                raise UsageError(f"--port {user_port!r} is not a port number", "give a number like 8080")
            port = int(user_port)
            if not port_is_free(port, host if host != "0.0.0.0" else LOOPBACK):
                raise PortInUseError(f"port {port} is already in use", "pick another --port or stop what holds it")
        else:
            port = free_port(LOOPBACK)
        spec = EngineSpec(**{**self.spec.__dict__, "server_bin": binary})
        argv = server_argv(spec, model, host, port, boot_info=_supports_verbosity(binary))
        log_path = self.log_dir / f"llama-server-{int(time.time() * 1000)}.log"
        mp = ManagedProcess(argv, log_path, what="llama-server")
        self._mp = mp
        mp.launch()
        deadline = self.timeout_s or default_start_timeout(model)
        shown_host = LOOPBACK if host in ("0.0.0.0", "::") else host
        root = f"http://{shown_host}:{port}"
        mp.wait_healthy(root + "/health", deadline)
        return self.boot_facts(root + "/v1", model, log_path, build=None, extra_log={"argv": argv})
