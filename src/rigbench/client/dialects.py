"""What each kind of server can tell, as data: one ``Dialect`` per server family.

A dialect says how to recognise the server (its documented tells: ``owned_by`` in
``/v1/models``, a version endpoint, llama.cpp's ``/props``, a ``Server`` header), the shape
of its ``/tokenize`` request and answer, its Prometheus metric names (tokens generated,
prompt tokens, prefix-cache hits and queries, requests running and waiting, KV usage),
whether it can be made to generate an exact number of tokens, and where it reports the
context it grants. ``client.probe`` reads these; nothing here does I/O.

``source`` says where each dialect's facts come from: ``"ran"`` (checked against a real
server, docs/servers.md says which version) or ``"docs"`` (its documentation only).
Everything a server says is untrusted: names and versions are cut short and shown as text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DIALECTS",
    "GENERIC",
    "Counters",
    "Dialect",
    "MetricNames",
    "by_name",
    "counters_from",
    "parse_metrics",
    "recognise",
    "tokenize_body",
    "tokenize_result",
    "version_from",
]

_MAX_TEXT = 80  # longest server-given name or version kept


@dataclass(frozen=True)
class MetricNames:
    """Prometheus metric names (without labels). Counters are summed over label sets."""

    prefix: str  # a name every scrape of this server carries, e.g. "vllm:"
    generation_tokens: str | None = None
    prompt_tokens: str | None = None
    prefix_cache_hits: str | None = None  # tokens served from the prefix cache
    prefix_cache_queries: str | None = None  # prompt tokens looked up in it
    requests_running: str | None = None
    requests_waiting: str | None = None
    kv_usage: str | None = None  # a gauge, 0..1
    block_size_info: str | None = None  # a gauge whose ``block_size`` label is the cache block


@dataclass(frozen=True)
class Dialect:
    name: str  # key: "vllm"
    title: str  # what the card says: "vLLM"
    owned_by: tuple[str, ...] = ()
    version_path: str | None = None  # GET, JSON answer
    version_key: str = "version"
    server_header: str | None = None  # a substring of the HTTP ``Server`` header
    owned_by_header: str | None = None  # a response header that must come with the owned_by tell
    props: bool = False  # llama.cpp's /props with default_generation_settings
    tokenize_path: str | None = None
    tokenize_shape: Literal["llamacpp", "vllm"] | None = None
    metrics: MetricNames | None = None
    forces_length: bool | None = None  # ignore_eos/min_tokens honoured: True, refused: False, unknown: None
    force_fields: tuple[str, ...] = ()  # the request fields that force it
    context_from: str | None = None  # where the granted context is read, in words
    model_path_from: str | None = None  # the /v1/models key that holds the served path
    source: Literal["ran", "docs"] = "docs"


_LLAMACPP_METRICS = MetricNames(
    prefix="llamacpp:",
    generation_tokens="llamacpp:tokens_predicted_total",
    prompt_tokens="llamacpp:prompt_tokens_total",  # llama.cpp counts only the prompt tokens it evaluated
    prefix_cache_hits="llamacpp:prompt_tokens_cached_total",
    requests_running="llamacpp:requests_processing",
    requests_waiting="llamacpp:requests_deferred",
    kv_usage="llamacpp:kv_cache_usage_ratio",
)
_VLLM_METRICS = MetricNames(
    prefix="vllm:",
    generation_tokens="vllm:generation_tokens_total",
    prompt_tokens="vllm:prompt_tokens_total",
    prefix_cache_hits="vllm:prefix_cache_hits_total",
    prefix_cache_queries="vllm:prefix_cache_queries_total",
    requests_running="vllm:num_requests_running",
    requests_waiting="vllm:num_requests_waiting",
    kv_usage="vllm:kv_cache_usage_perc",
    block_size_info="vllm:cache_config_info",
)
_SGLANG_METRICS = MetricNames(
    prefix="sglang:",
    generation_tokens="sglang:generation_tokens_total",
    prompt_tokens="sglang:prompt_tokens_total",
    prefix_cache_hits="sglang:cached_tokens_total",
    requests_running="sglang:num_running_reqs",
    requests_waiting="sglang:num_queue_reqs",
    kv_usage="sglang:token_usage",
)

DIALECTS: tuple[Dialect, ...] = (
    Dialect("llamacpp", "llama.cpp", owned_by=("llamacpp",), server_header="llama.cpp", props=True,
            tokenize_path="/tokenize", tokenize_shape="llamacpp", metrics=_LLAMACPP_METRICS, forces_length=True,
            force_fields=("ignore_eos",), context_from="/props default_generation_settings.n_ctx",
            model_path_from=None, source="ran"),
    Dialect("vllm", "vLLM", owned_by=("vllm",), version_path="/version", tokenize_path="/tokenize",
            tokenize_shape="vllm", metrics=_VLLM_METRICS, forces_length=True, force_fields=("ignore_eos", "min_tokens"),
            context_from="/v1/models max_model_len", model_path_from="root", source="ran"),
    Dialect("sglang", "SGLang", owned_by=("sglang",), version_path="/version", tokenize_path="/tokenize",
            tokenize_shape="vllm", metrics=_SGLANG_METRICS, forces_length=True,
            force_fields=("ignore_eos", "min_tokens"), context_from="/v1/models max_model_len",
            model_path_from="root", source="docs"),
    Dialect("transformers", "transformers serve", owned_by=("local",), owned_by_header="x-request-id",
            forces_length=False, context_from=None, model_path_from="id", source="ran"),
    Dialect("lmstudio", "LM Studio", owned_by=("organization_owner",), forces_length=None,
            context_from="/api/v0/models loaded_context_length", source="docs"),
    Dialect("ollama", "Ollama", owned_by=("library",), version_path="/api/version", forces_length=False,
            context_from="/api/show model_info (trained context only)", source="docs"),
    Dialect("mlx", "MLX (mlx_lm.server)", owned_by=(), forces_length=None, context_from=None, source="docs"),
)
GENERIC = Dialect("openai", "OpenAI-compatible server", forces_length=None, source="docs")


def by_name(name: str | None) -> Dialect:
    for d in DIALECTS:
        if d.name == name:
            return d
    return GENERIC


def _clean(value: Any) -> str | None:
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return None
    text = re.sub(r"[^\w.+\-: /()]", "", str(value))[:_MAX_TEXT].strip()
    return text or None


def recognise(entry: Mapping[str, Any], *, headers: Mapping[str, str] | None = None,
              props_ok: bool = False) -> Dialect:
    """The dialect of a server from its ``/v1/models`` entry, that answer's headers (lower-case
    names) and whether it has llama.cpp's ``/props``; GENERIC when nothing tells.

    transformers serve names no owner of its own: ``owned_by`` is ``"local"`` for a model
    served from a local path (a Hub model's organisation otherwise, which tells nothing),
    and every answer carries an ``x-request-id`` header."""
    owner = str(entry.get("owned_by") or "").strip().lower()
    heads = {k.lower(): v for k, v in (headers or {}).items()}
    for d in DIALECTS:
        if owner and owner in d.owned_by and (d.owned_by_header is None or d.owned_by_header in heads):
            return d
    if props_ok:
        return by_name("llamacpp")
    server = str(heads.get("server") or "").lower()
    for d in DIALECTS:
        if d.server_header and d.server_header.lower() in server:
            return d
    return GENERIC


def version_from(dialect: Dialect, answer: Any) -> str | None:
    """The version out of a dialect's version endpoint's JSON answer."""
    if isinstance(answer, Mapping):
        return _clean(answer.get(dialect.version_key))
    return None


def tokenize_body(dialect: Dialect, text: str, *, model: str | None, with_pieces: bool) -> dict[str, Any]:
    """The ``/tokenize`` request body in the dialect's shape: llama.cpp takes ``content``,
    vLLM and SGLang take ``prompt`` (and the model's name)."""
    if dialect.tokenize_shape == "vllm":
        body: dict[str, Any] = {"prompt": text, "add_special_tokens": False}
        if model:
            body["model"] = model
        return body
    return {"content": text, "add_special": False, "with_pieces": with_pieces}


def tokenize_result(answer: Any) -> list[Any] | None:
    """The token list of a ``/tokenize`` answer, in either shape: llama.cpp's
    ``{"tokens": [id | {"id", "piece"}]}`` or vLLM's ``{"count", "max_model_len", "tokens": [id]}``."""
    if not isinstance(answer, Mapping):
        return None
    tokens = answer.get("tokens")
    if not isinstance(tokens, list):
        return None
    if isinstance(answer.get("count"), int) and answer["count"] != len(tokens):
        return None
    return tokens


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str, *, max_lines: int = 20000) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text exposition -> name -> [(labels, value)], at most ``max_lines`` lines."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for i, line in enumerate(text.splitlines()):
        if i >= max_lines:
            break
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out.setdefault(m.group(1), []).append((labels, value))
    return out


@dataclass(frozen=True)
class Counters:
    """One scrape of a server's counters, in rigbench's names; None where it has none."""

    generation_tokens: float | None = None
    prompt_tokens: float | None = None
    prefix_cache_hits: float | None = None
    prefix_cache_queries: float | None = None
    requests_running: float | None = None
    requests_waiting: float | None = None
    kv_usage: float | None = None
    block_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def delta(self, before: Counters) -> dict[str, int]:
        """Counter increases between two scrapes (gauges left out)."""
        out: dict[str, int] = {}
        for key in ("generation_tokens", "prompt_tokens", "prefix_cache_hits", "prefix_cache_queries"):
            a, b = getattr(before, key), getattr(self, key)
            if a is not None and b is not None and b >= a:
                out[key] = round(b - a)
        return out


def _sum(parsed: Mapping[str, Sequence[tuple[dict[str, str], float]]], name: str | None,
         *, gauge: bool = False) -> float | None:
    if not name or name not in parsed:
        return None
    values = [v for _, v in parsed[name]]
    return max(values) if gauge else sum(values)


def counters_from(dialect: Dialect, text: str) -> Counters | None:
    """The dialect's counters from a ``/metrics`` scrape; None when it carries none of them."""
    names = dialect.metrics
    if names is None or names.prefix not in text:
        return None
    parsed = parse_metrics(text)
    block: int | None = None
    if names.block_size_info and names.block_size_info in parsed:
        raw = parsed[names.block_size_info][0][0].get("block_size", "")
        block = int(raw) if raw.isdigit() else None
    c = Counters(
        generation_tokens=_sum(parsed, names.generation_tokens),
        prompt_tokens=_sum(parsed, names.prompt_tokens),
        prefix_cache_hits=_sum(parsed, names.prefix_cache_hits),
        prefix_cache_queries=_sum(parsed, names.prefix_cache_queries),
        requests_running=_sum(parsed, names.requests_running, gauge=True),
        requests_waiting=_sum(parsed, names.requests_waiting, gauge=True),
        kv_usage=_sum(parsed, names.kv_usage, gauge=True),
        block_size=block,
    )
    return c if c.to_json() else None


def metrics_dialect(text: str) -> Dialect | None:
    """The dialect whose metric prefix a scrape carries (a server recognised by nothing else)."""
    for d in DIALECTS:
        if d.metrics is not None and d.metrics.prefix in text:
            return d
    return None
