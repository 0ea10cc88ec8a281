"""How a server comes to exist: one registry, one interface (start -> ServerFacts; stop)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rigbench.engines.base import Engine
from rigbench.errors import UsageError
from rigbench.types import EngineSpec

__all__ = ["ENGINE_KINDS", "Engine", "make_engine"]

ENGINE_KINDS = ("embedded", "llama-server", "url")


def make_engine(spec: EngineSpec, log_dir: Path, *, timeout_s: float | None = None, **extra: Any) -> Engine:
    if spec.kind == "embedded":
        from rigbench.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(spec, log_dir, timeout_s=timeout_s, **extra)
    if spec.kind == "llama-server":
        from rigbench.engines.llama_server import LlamaServerEngine

        return LlamaServerEngine(spec, log_dir, timeout_s=timeout_s)
    if spec.kind == "url":
        from rigbench.engines.attach import AttachEngine

        return AttachEngine(spec)
    raise UsageError(f"unknown engine kind {spec.kind!r}", f"use one of: {', '.join(ENGINE_KINDS)}")
