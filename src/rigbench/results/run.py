"""A depth-sweep or agent-session run (``rigbench run --json`` / ``show --json`` of a run)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field
from rigbench.results.quality import QualityResult
from rigbench.results.session import SessionResult

__all__ = ["Ceiling", "ContextCheck", "DepthPoint", "EngineInfo", "Fill", "ModelInfo", "RequestCounts", "RunResult",
           "Verdict"]


@dataclass(frozen=True, kw_only=True)
class DepthPoint(Result):
    """The figures at one context depth: TTFT and prefill of the first request there, decode
    as the median over its requests (with the server's own figures and the gaps), the cache
    check and the decode ceiling there."""

    depth: int
    ttft_ms: float | None = None
    prefill_tok_s: float | None = None
    prefill_tok_s_server: float | None = None
    decode_tok_s: float | None = None
    decode_tok_s_server: float | None = None
    generated_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_verified: bool | None = None
    decode_ci: list[float] | None = None
    n: int = 0
    failed: int = 0
    prompt_tokens: int | None = None
    prefill_new_tokens: int | None = None
    ttft_warm_ms: float | None = None
    decode_gap_pct: float | None = None
    prefill_gap_pct: float | None = None
    warm_cache_tokens: int | None = None
    cache_source: str | None = None
    flags: list[str] = key(factory=list)
    ceiling_tok_s: float | None = None
    pct_of_ceiling: float | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class Verdict(Result):
    """The two bars of interactive coding use, judged at ``at_depth`` (or on a session)."""

    decode_bar_tok_s: float
    context_bar_tokens: int
    decode_ok: bool
    context_ok: bool
    cls: str = key("class", default="background")  # interactive | background
    decode_tok_s: float | None = None
    basis: str | None = None  # depth | session | None
    at_depth: int | None = None
    working_depth: int | None = None
    working_depth_capped: bool = False
    summary: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class Fill(Result):
    """Prefill time fitted on the measured depths and projected to the targets."""

    targets: JsonObject = key(factory=dict)
    range_s: JsonObject | None = None
    statement: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class ContextCheck(Result):
    """The context reality check: requested -> KV cache -> granted -> the trained window."""

    requested: int | None = None
    native: int | None = None
    max: int | None = None
    granted: int | None = None
    status: str = "unknown"  # native | extended | beyond | unknown
    capped: bool | None = None
    capping_line: str | None = None
    statement: str = ""
    n_ctx_train: int | None = None
    kv_cache_mib: float | None = None
    kv_cache_cells: int | None = None
    kv_cache: list[JsonObject] = key(factory=list)
    overflow: Any = None
    sequence: list[str] = key(factory=list)
    notes: list[str] = key(factory=list)
    fill_s: dict[str, float | None] = key(factory=dict)
    fill: Fill | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    def facts(self) -> list[tuple[str, Any]]:
        """The plain facts (numbers, words, yes/no) by JSON name, for a table of them."""
        skip = {"statement", "sequence", "kv_cache", "notes", "fill_s", "fill"}
        return [(k, v) for k, v in self.to_json().items()
                if k not in skip and v is not None and not isinstance(v, (dict, list))]


@dataclass(frozen=True, kw_only=True)
class Ceiling(Result):
    """The decode ceiling: memory bandwidth over the bytes read per token."""

    bandwidth_gb_s: float
    bandwidth_source: str | None = None
    bytes_per_token_depth0: float | None = None
    ceiling_tok_s_depth0: float | None = None
    bound: str | None = None
    statement: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    def facts(self) -> list[tuple[str, Any]]:
        return [(k, v) for k, v in self.to_json().items()
                if k != "statement" and v is not None and not isinstance(v, (dict, list))]


@dataclass(frozen=True, kw_only=True)
class EngineInfo(Result):
    """What served the run: the engine kind, its build and flags, the served model."""

    kind: str | None = None
    base_url: str | None = None
    build: str | None = None
    backend: str | None = None
    devices: list[Any] = key(factory=list)
    flags: dict[str, Any] = key(factory=dict)
    extra_args: list[str] = key(factory=list)
    server_bin: str | None = None
    served_model: str | None = None
    log_path: str | None = None
    software: JsonObject = key(factory=dict)  # {"name", "version"}
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class ModelInfo(Result):
    """The model's facts, from the GGUF header, the boot log and the server."""

    name: str | None = None
    quant: str | None = None
    file_bytes: int | None = None
    native_context: int | None = None
    granted_context: int | None = None
    path: str | None = None
    architecture: str | None = None
    max_context: int | None = None
    params_total: int | None = None
    params_active: int | None = None
    active_bytes_per_token: float | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class RequestCounts(Result):
    total: int = 0
    failed: int = 0


@dataclass(frozen=True, kw_only=True)
class RunResult(Result):
    """A run's evidence, recomputed from its stored requests."""

    run_id: int
    status: str
    reason: str | None = None
    created_at: str | None = None
    engine: EngineInfo = key(factory=EngineInfo)
    model: ModelInfo = key(factory=ModelInfo)
    machine: JsonObject = key(factory=dict)  # the machine facts as probed (hostname, cpu, cores, ram_bytes, gpus)
    context: ContextCheck = key(factory=ContextCheck)
    points: list[DepthPoint] = key(factory=list)
    ceiling: Ceiling | None = None
    verdict: Verdict | None = None
    server: JsonObject = key(factory=dict)  # unavailable endpoints, endpoints, /metrics counters, overrun
    sweep_cost: JsonObject = key(factory=dict)
    params: JsonObject = key(factory=dict)
    notes: list[str] = key(factory=list)
    command: str | None = None
    tool_version: str | None = None
    requests: RequestCounts = key(factory=RequestCounts)
    quality: QualityResult | None = key(omit_none=True)
    session: SessionResult | None = key(omit_none=True)
    more: JsonObject = more_field()  # what other passes added to the run
    key_order: tuple[str, ...] = order_field()

    kind = "run"

    def point_at(self, depth: int | None) -> DepthPoint | None:
        return next((p for p in self.points if p.depth == depth), None) if depth is not None else None
