"""A load run: many streams at once (``rigbench load --json`` / ``show --json`` of a load run).

The contract (issue 15, part 5)::

    {"run_id", "kind": "load", "status",
     "levels": [{"concurrency", "requests_ok", "requests_failed", "aggregate_tok_s",
                 "per_stream_decode_tok_s", "per_stream_decode_p10_tok_s", "ttft_ms_p50",
                 "ttft_ms_p95", "goodput_rps", "slo_share", ...}],
     "best": {"concurrency", "aggregate_tok_s", "tokens_per_hour"} | null,
     "knee": {"concurrency", "statement"}}

null where unknown, never 0. The keys beyond it (each level's wall time, token totals, server
deltas, gap and energy; the run's energy, SLOs, workload, servers, model, engine, notes) are
declared here in the order ``jobs.load_summary`` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rigbench.results._base import JsonObject, Result, key, more_field, order_field

__all__ = ["EnergyFigures", "EnergyInfo", "LoadBest", "LoadEngine", "LoadKnee", "LoadLevel", "LoadModel",
           "LoadResult", "LoadServer", "LoadServerFacts", "LoadSlo", "LoadWorkload"]


@dataclass(frozen=True, kw_only=True)
class EnergyFigures(Result):
    """Joules over a span per generated token (``measure.energy``): each level's ``energy``
    (its streams overlap, so the level's span; ``prefill_j_per_token`` is null there)."""

    source: str | None = None
    covers: str | None = None  # what the source measured: cpu_package + dram, gpu_board, system
    watts: float | None = None
    idle_watts: float | None = None
    j_per_token: float | None = None
    j_per_token_net: float | None = None  # idle power taken out
    prefill_j_per_token: float | None = None
    tokens_per_joule: float | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class EnergyInfo(Result):
    """A run's ``energy``: the power sources read (or why none), the idle baseline, one statement."""

    source: str | None = None
    covers: str | None = None
    idle_watts: float | None = None
    idle_s: float | None = None
    sources: list[JsonObject] = key(factory=list)
    checked: list[str] = key(factory=list)
    problems: list[str] = key(factory=list)
    statement: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadLevel(Result):
    """One concurrency level: N streams at once, ok and failed requests apart (``measure.load``)."""

    concurrency: int
    requests_ok: int = 0
    requests_failed: int = 0
    aggregate_tok_s: float | None = None  # generated tokens over the level's wall time
    per_stream_decode_tok_s: float | None = None  # median over the ok requests
    per_stream_decode_p10_tok_s: float | None = None  # the slow tail
    ttft_ms_p50: float | None = None
    ttft_ms_p95: float | None = None
    goodput_rps: float | None = None  # ok requests that met the SLOs, per second
    slo_share: float | None = None  # their share of all the level's requests
    wall_s: float | None = None
    generated_tokens: int | None = None  # client side: the server's per-request counts, summed
    server_tokens: int | None = None  # /metrics counter increase over the level
    token_gap_pct: float | None = None
    token_gap_flagged: bool = False
    server: JsonObject = key(factory=dict)  # /metrics deltas and gauge peaks
    errors: list[str] = key(factory=list)  # distinct failure reasons (untrusted text)
    complete: bool = True  # every planned request of the level is stored
    energy: EnergyFigures | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadBest(Result):
    """The level with the highest aggregate, and its tokens per hour."""

    concurrency: int
    aggregate_tok_s: float
    tokens_per_hour: int
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadKnee(Result):
    """The most streams fed at the SLO (None: none was), and the answer in words."""

    concurrency: int | None = None
    statement: str = ""
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadSlo(Result):
    decode_tok_s: float | None = None  # per stream
    ttft_ms: float | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadWorkload(Result):
    """What each stream sent: its conversation's depth, tokens per answer, requests per stream,
    Poisson arrivals per second (None: closed loop), and the levels asked for."""

    depth: int | None = None
    gen_tokens: int | None = None
    requests: int | None = None
    rate: float | None = None
    concurrency: list[int] = key(factory=list)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadServer(Result):
    """One server the streams were spread over, as it described itself (untrusted text)."""

    url: str | None = None
    model: str | None = None
    software: str | None = None
    version: str | None = None
    total_slots: int | None = None
    granted_context: int | None = None
    devices: list[Any] = key(factory=list)
    metrics: bool = False  # it serves /metrics
    kind: str | None = None  # the engine kind that started it (url: attached)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadModel(Result):
    name: str | None = None
    quant: str | None = None
    file_bytes: int | None = None
    native_context: int | None = None
    path: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadServerFacts(Result):
    kind: str | None = None
    total_slots: int | None = None
    devices: list[Any] = key(factory=list)
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadEngine(Result):
    kind: str | None = None
    base_url: str | None = None
    build: str | None = None
    flags: dict[str, Any] = key(factory=dict)
    served_model: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()


@dataclass(frozen=True, kw_only=True)
class LoadResult(Result):
    """A load run's evidence, recomputed from its stored requests (each level's finished attempt)."""

    run_id: int
    kind: str = "load"
    status: str
    reason: str | None = None
    levels: list[LoadLevel] = key(factory=list)
    energy: EnergyInfo = key(factory=EnergyInfo)
    best: LoadBest | None = None
    knee: LoadKnee = key(factory=LoadKnee)
    slo: LoadSlo = key(factory=LoadSlo)
    levels_missing: list[int] = key(factory=list)  # asked for, not measured (yet: --resume)
    workload: LoadWorkload = key(factory=LoadWorkload)
    servers: list[LoadServer] = key(factory=list)
    model: LoadModel = key(factory=LoadModel)
    server: LoadServerFacts = key(factory=LoadServerFacts)
    engine: LoadEngine = key(factory=LoadEngine)
    machine: JsonObject = key(factory=dict)  # the machine facts as probed
    tool_version: str | None = None
    notes: list[str] = key(factory=list)
    command: str | None = None
    created_at: str | None = None
    more: JsonObject = more_field()
    key_order: tuple[str, ...] = order_field()

    def level(self, concurrency: int | None) -> LoadLevel | None:
        """The level of ``concurrency`` streams, if measured."""
        return next((lv for lv in self.levels if lv.concurrency == concurrency), None) \
            if concurrency is not None else None
