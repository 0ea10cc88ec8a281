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

__all__ = ["Session", "api_key_from_env", "hf_config_facts", "model_info", "open_session"]


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
    if path and os.path.isfile(path):
        file_bytes = os.path.getsize(path)
    elif path and os.path.isdir(path):  # a Hugging Face directory: its weight files
        file_bytes = sum(f.stat().st_size for f in Path(path).glob("*.safetensors")) or None
    elif isinstance(meta.get("size"), int):
        file_bytes = int(meta["size"])
    name = log.get("general_name") or (Path(path).stem if path else None) or facts.model_id
    quant = log.get("file_type") or props.get("model_ftype") or meta.get("ftype")
    hf = hf_config_facts(path)
    return {
        "name": name,
        "quant": quant,
        "file_bytes": file_bytes,
        "native_context": trained_context(log, facts.n_ctx_train) or hf.get("native_context"),
        "granted_context": facts.granted_context,
        "path": path,
        "served_id": facts.model_id,
        "params": meta.get("n_params"),
        "architecture": log.get("arch") or hf.get("architecture"),
    }


def hf_config_facts(path: str | None) -> dict[str, Any]:
    """The trained window and architecture of a Hugging Face directory, from its
    ``config.json``: ``rope_scaling.original_max_position_embeddings`` where it declares
    scaling, else ``max_position_embeddings``."""
    import json

    if not path or not os.path.isdir(path):
        return {}
    cfg_path = Path(path) / "config.json"
    try:
        if cfg_path.stat().st_size > 1_000_000:
            return {}
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(cfg, dict):
        return {}
    text_cfg = cfg.get("text_config")
    if isinstance(text_cfg, dict):
        cfg = text_cfg
    scaling = cfg.get("rope_scaling")
    if not isinstance(scaling, dict):
        scaling = {}
    native = scaling.get("original_max_position_embeddings") or cfg.get("max_position_embeddings")
    arch = cfg.get("model_type")
    return {"native_context": native if isinstance(native, int) and native > 0 else None,
            "architecture": str(arch)[:40] if isinstance(arch, str) else None}
