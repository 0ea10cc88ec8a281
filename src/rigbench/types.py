"""The core types that flow through rigbench, one way:

EngineSpec -> Engine (running, with ServerFacts) -> workload -> client -> RequestRecord
-> measure -> store -> report.

Timestamps are ``time.perf_counter_ns()`` on the client. A figure nobody measured is
``None``, never 0.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "EngineKind",
    "EngineSpec",
    "RequestRecord",
    "RequestStatus",
    "ServerFacts",
    "TokenChunk",
]

EngineKind = Literal["embedded", "llama-server", "url"]
RequestStatus = Literal["ok", "error", "incomplete"]


@dataclass(frozen=True)
class EngineSpec:
    """How a server comes to exist. Secrets (API keys) are never part of a spec."""

    kind: EngineKind
    model_path: str | None = None  # embedded / llama-server: the GGUF file
    server_bin: str | None = None  # llama-server: the binary
    url: str | None = None  # url: the OpenAI-compatible base URL
    model_name: str | None = None  # url: which served model (``--model``)
    flags: tuple[tuple[str, str], ...] = ()  # llama.cpp flag names -> values, sorted
    extra_args: tuple[str, ...] = ()  # free-form llama-server args after ``--``
    label: str | None = None  # a user-facing name (compare: "A", "B", a build name)

    def flag(self, name: str) -> str | None:
        for key, value in self.flags:
            if key == name:
                return value
        return None

    def int_flag(self, name: str) -> int | None:
        value = self.flag(name)
        return int(value) if value is not None and value.lstrip("-").isdigit() else None

    def flags_dict(self) -> dict[str, str]:
        return dict(self.flags)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["flags"] = dict(self.flags)
        d["extra_args"] = list(self.extra_args)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> EngineSpec:
        return cls(
            kind=d["kind"],
            model_path=d.get("model_path"),
            server_bin=d.get("server_bin"),
            url=d.get("url"),
            model_name=d.get("model_name"),
            flags=tuple(sorted((str(k), str(v)) for k, v in (d.get("flags") or {}).items())),
            extra_args=tuple(d.get("extra_args") or ()),
            label=d.get("label"),
        )

    def spec_hash(self) -> str:
        body = self.to_json()
        body.pop("label", None)
        raw = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]


@dataclass
class ServerFacts:
    """What a running server told us about itself, and what it could not tell."""

    base_url: str
    kind: EngineKind
    model_id: str | None = None
    model_path: str | None = None
    n_ctx_train: int | None = None
    granted_context: int | None = None  # per slot
    requested_context: int | None = None
    total_slots: int | None = None
    capped: bool | None = None  # the boot log said the slot was capped at the training context
    capping_line: str | None = None
    build: str | None = None
    backend: str | None = None
    devices: list[str] = field(default_factory=list)
    is_llamacpp: bool = False
    chat_template: bool | None = None  # the server applies a chat template
    endpoints: dict[str, bool] = field(default_factory=dict)  # props, metrics, tokenize, timings ...
    unavailable: list[str] = field(default_factory=list)  # human-readable: what the server could not tell
    log_path: str | None = None
    log_facts: dict[str, Any] = field(default_factory=dict)  # parsed from the boot log
    meta: dict[str, Any] = field(default_factory=dict)  # /v1/models meta, /props extracts
    software: dict[str, Any] = field(default_factory=dict)  # {"name", "version", "dialect"}: what the server is

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TokenChunk:
    """One streamed chunk that carried generated output."""

    t_ns: int
    kind: Literal["content", "reasoning", "tool"]
    text: str


@dataclass
class RequestRecord:
    """One streamed request, as observed: raw timestamps, server counts, outcome."""

    status: RequestStatus
    t_sent_ns: int
    t_headers_ns: int | None = None
    t_first_token_ns: int | None = None  # first chunk carrying a generated token (reasoning or content)
    t_first_content_ns: int | None = None  # first visible content token (TTFVT)
    t_last_token_ns: int | None = None
    t_end_ns: int | None = None
    chunks: list[TokenChunk] = field(default_factory=list)
    n_events: int = 0
    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    usage: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    finish_reason: str | None = None
    http_status: int | None = None
    error: str | None = None
    model: str | None = None
    think_unclosed: bool = False
    max_tokens: int | None = None  # the output length the request asked for
    cut: int | None = None  # rigbench closed the stream after this many token chunks: max_tokens was ignored

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def generated_tokens(self) -> int | None:
        """Generated tokens as the server counted them (reasoning included)."""
        if self.completion_tokens is not None:
            return self.completion_tokens
        if self.timings and isinstance(self.timings.get("predicted_n"), int):
            return int(self.timings["predicted_n"])
        return None

    def processed_prompt_tokens(self) -> int | None:
        """Prompt tokens the server actually evaluated: cached ones excluded."""
        if self.timings and isinstance(self.timings.get("prompt_n"), int):
            return int(self.timings["prompt_n"])
        if self.prompt_tokens is not None and self.cached_tokens is not None:
            return self.prompt_tokens - self.cached_tokens
        return None

    def server_cache_n(self) -> int | None:
        if self.timings and isinstance(self.timings.get("cache_n"), int):
            return int(self.timings["cache_n"])
        return self.cached_tokens
