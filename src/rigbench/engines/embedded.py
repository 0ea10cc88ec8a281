"""The embedded engine: llama.cpp through the xllamacpp wheel, on 127.0.0.1, a free port.

Zero set-up: with no model given it serves the bundled Gemma 3 270M. The server runs
in a worker process of rigbench's own (see ``_embedded_worker``) whose log goes to the
run's folder, so boot facts (training context, KV cache size, threads) are read from
llama.cpp's own words.
"""

from __future__ import annotations

import json
import selectors
import sys
import time
from pathlib import Path
from typing import Any

from rigbench.engines.base import ManagedProcess, ProcessEngine
from rigbench.engines.modelfile import check_gguf_path, default_start_timeout
from rigbench.errors import EngineStartError
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["EmbeddedEngine"]


def _build_label(version: object, build: dict[str, str]) -> str:
    label = f"xllamacpp {version}"
    number, commit = build.get("build_number"), build.get("commit")
    if number not in (None, "0", "") or commit not in (None, "unknown", ""):
        label += f" (llama.cpp b{number} {commit})"
    return label


class EmbeddedEngine(ProcessEngine):
    kind = "embedded"

    def __init__(self, spec: EngineSpec, log_dir: Path, *, timeout_s: float | None = None,
                 speculative: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.log_dir = log_dir
        self.timeout_s = timeout_s
        self.speculative = speculative or {}
        self._mp: ManagedProcess | None = None
        self.worker_info: dict[str, Any] = {}

    def model_path(self) -> Path:
        if self.spec.model_path:
            return check_gguf_path(self.spec.model_path)
        from rigbench.engines.bundled import bundled_model_path

        return bundled_model_path()

    def start(self) -> ServerFacts:
        model = self.model_path()
        deadline_s = self.timeout_s or default_start_timeout(model)
        cfg = {"model": str(model), "flags": self.spec.flags_dict(), "speculative": self.speculative}
        log_path = self.log_dir / f"embedded-{int(time.time() * 1000)}.log"
        mp = ManagedProcess(
            [sys.executable, "-m", "rigbench.engines._embedded_worker", json.dumps(cfg)],
            log_path,
            what="the embedded engine",
            stdin_pipe=True,
        )
        self._mp = mp
        proc = mp.launch()
        info = self._read_hello(mp, proc, deadline_s)
        if "error" in info:
            mp.stop()
            raise mp.fail(f"the embedded engine could not load {model.name}: {info['error']}",
                          "check that the file is a GGUF model llama.cpp supports")
        self.worker_info = info
        base = str(info["listening"]).rstrip("/")
        mp.wait_healthy(base + "/health", deadline_s)
        return self.boot_facts(base + "/v1", model, log_path,
                               build=_build_label(info.get("xllamacpp"), info.get("build_info") or {}))

    def _read_hello(self, mp: ManagedProcess, proc: Any, deadline_s: float) -> dict[str, Any]:
        assert proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        start = time.monotonic()
        buf = b""
        try:
            while b"\n" not in buf:
                left = deadline_s - (time.monotonic() - start)
                if left <= 0:
                    mp.stop()
                    raise mp.fail(f"the embedded engine did not start within {deadline_s:.0f} s",
                                  "raise --timeout, or read the log")
                if sel.select(timeout=min(left, 0.5)):
                    data = proc.stdout.read1(4096) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
                    if not data:
                        proc.wait(timeout=5)
                        raise mp.fail(
                            f"the embedded engine exited with code {proc.returncode} while starting",
                            "read the log tail",
                        )
                    buf += data
                elif proc.poll() is not None:
                    raise mp.fail(f"the embedded engine exited with code {proc.returncode} while starting",
                                  "read the log tail")
        finally:
            sel.close()
        line = buf.split(b"\n", 1)[0]
        try:
            result: dict[str, Any] = json.loads(line)
        except ValueError:
            mp.stop()
            raise EngineStartError(f"the embedded engine said something unexpected: {line[:120]!r}",
                                   f"read the log: {mp.log_path}") from None
        return result
