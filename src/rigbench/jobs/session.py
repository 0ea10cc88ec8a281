"""A server session: start an engine, probe it, hand out a client, always stop it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.engines import Engine, make_engine
from rigbench.engines.bootlog import trained_context
from rigbench.types import EngineSpec, ServerFacts

__all__ = ["Session", "api_key_from_env", "model_info", "open_session"]


def api_key_from_env(explicit: str | None) -> str | None:
    return explicit or os.environ.get("OPENAI_API_KEY") or None


@dataclass
class Session:
    spec: EngineSpec
    engine: Engine
    facts: ServerFacts
    client: ServerClient

    def server_alive(self) -> bool:
        return self.engine.alive()


@contextmanager
def open_session(spec: EngineSpec, log_dir: Path, *, api_key: str | None = None,
                 timeouts: Timeouts | None = None, start_timeout_s: float | None = None,
                 engine_extra: dict[str, Any] | None = None) -> Iterator[Session]:
    engine = make_engine(spec, log_dir, timeout_s=start_timeout_s, **(engine_extra or {}))
    client: ServerClient | None = None
    try:
        facts = engine.start()
        client = ServerClient(facts, api_key=api_key, timeouts=timeouts)
        client.probe(spec.model_name)
        yield Session(spec, engine, facts, client)
    finally:
        if client is not None:
            client.close()
        engine.stop()


def merge_gguf_facts(info: dict[str, Any], gguf: dict[str, Any]) -> dict[str, Any]:
    """The GGUF header's word wins for what it knows (name, quant, contexts, sizes)."""
    out = dict(info)
    for key in ("name", "quant", "architecture", "native_context", "max_context", "params_total", "params_active",
                "active_bytes_per_token", "kv_bytes_per_token", "rope_scaling", "bits_per_weight", "file_bytes",
                "rope_scaling_factor", "rope_original_context", "context_length"):
        if gguf.get(key) is not None:
            out[key] = gguf[key]
    out["gguf"] = {k: gguf.get(k) for k in ("layers", "heads", "kv_heads", "head_dim", "attention", "sliding_window",
                                             "experts", "experts_used", "weights_bytes", "notes")}
    return out


def model_info(facts: ServerFacts, spec: EngineSpec) -> dict[str, Any]:
    """What we know of the served model, from the file, the boot log and the server."""
    log = facts.log_facts or {}
    entry = (facts.meta.get("models_entry") or {})
    meta: dict[str, Any] = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
    props = facts.meta.get("props") or {}
    path = facts.model_path
    file_bytes: int | None = None
    if path and os.path.exists(path):
        file_bytes = os.path.getsize(path)
    elif isinstance(meta.get("size"), int):
        file_bytes = int(meta["size"])
    name = log.get("general_name") or (Path(path).stem if path else None) or facts.model_id
    quant = log.get("file_type") or props.get("model_ftype") or meta.get("ftype")
    return {
        "name": name,
        "quant": quant,
        "file_bytes": file_bytes,
        "native_context": trained_context(log, facts.n_ctx_train),
        "granted_context": facts.granted_context,
        "path": path,
        "served_id": facts.model_id,
        "params": meta.get("n_params"),
        "architecture": log.get("arch"),
    }
