"""Talk to a running server: find its API, probe what it can tell, tokenize, stream.

``ServerClient`` is the one object the rest of rigbench uses to reach a server. It
probes ``/v1/models`` (and its ``meta``), ``/props``, ``/metrics`` and ``/tokenize``,
and records in ServerFacts what was unavailable, so the card can say so. A server with
none of llama.cpp's extensions still works: prompt lengths are then calibrated from
``usage.prompt_tokens``.

Every streamed request gets a total deadline: the caller's, or one derived from the
request and the slowest prefill and decode rates this client has measured so far
(``client/limits.py``), so the warm-up, probes and quality prompts are bounded too.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx

from rigbench.client import dialects
from rigbench.client.limits import Rates, asked_tokens, deadline, prompt_tokens_upper
from rigbench.client.stream import Timeouts, stream_request
from rigbench.errors import EngineError, NotCompatibleError, UsageError
from rigbench.types import RequestRecord, ServerFacts

__all__ = ["ServerClient", "parse_prometheus", "unavailable_note"]

_NO_FORCE = "output length could not be forced"
# what one probe answer (/v1/models, /props, /metrics, /version, /tokenize) may take: a server
# that sends more, or trickles bytes past the total time, is read no further
MAX_PROBE_BYTES = 16 * 2**20
MAX_PROBE_S = 60.0


class ProbeTooLarge(httpx.HTTPError):
    """A probe answer over ``MAX_PROBE_BYTES`` or ``MAX_PROBE_S``: not read further."""
_HINT_URLS = "LM Studio serves http://127.0.0.1:1234/v1, Ollama http://127.0.0.1:11434/v1"


def parse_prometheus(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) >= 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out


def unavailable_note(what: str) -> str:
    """A run note for one thing the server could not tell or do."""
    return what if what.startswith(_NO_FORCE) else f"the server could not tell: {what}"


class ServerClient:
    def __init__(self, facts: ServerFacts, *, api_key: str | None = None,
                 timeouts: Timeouts | None = None) -> None:
        self.facts = facts
        self.api_base = facts.base_url.rstrip("/")
        self.root = self.api_base[:-3] if self.api_base.endswith("/v1") else self.api_base
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.timeouts = timeouts or Timeouts()
        self.http = httpx.Client(timeout=httpx.Timeout(30.0), trust_env=False)
        self.model: str | None = facts.model_id
        self.can_tokenize = False
        self.extra_body: dict[str, Any] = {}  # server-specific fields that force exact output lengths
        self._exact_known = False
        self.rates = Rates()  # the slowest prefill and decode measured so far, for deadlines
        self.dialect: dialects.Dialect = dialects.GENERIC
        self.metrics_dialect: dialects.Dialect | None = None  # whose counters /metrics carries
        self._tokenize_dialect: dialects.Dialect | None = None  # whose /tokenize shape works
        self._models_headers: dict[str, str] = {}
        self.on_unavailable: Callable[[str], None] | None = None  # told when a limit is learned mid-run

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- probing -------------------------------------------------------------------
    def _bounded(self, method: str, url: str, *, max_bytes: int = MAX_PROBE_BYTES, max_s: float = MAX_PROBE_S,
                 **kw: Any) -> httpx.Response:
        """One request whose answer is read to at most ``max_bytes`` (decoded) within ``max_s``
        in all; past either it raises ``ProbeTooLarge`` (an ``httpx.HTTPError``)."""
        end = time.monotonic() + max_s
        with self.http.stream(method, url, headers=self._headers, **kw) as r:
            buf = bytearray()
            for chunk in r.iter_bytes():
                buf += chunk
                if len(buf) > max_bytes:
                    raise ProbeTooLarge(f"{url} answered with more than {max_bytes / 2**20:.0f} MiB")
                if time.monotonic() > end:
                    raise ProbeTooLarge(f"{url} took more than {max_s:.0f} s to answer")
            headers = [(k, v) for k, v in r.headers.items() if k.lower() not in ("content-encoding", "content-length")]
            return httpx.Response(r.status_code, headers=headers, content=bytes(buf), request=r.request)

    def _get(self, url: str) -> httpx.Response | None:
        try:
            return self._bounded("GET", url)
        except httpx.HTTPError:
            return None

    def _list_models(self) -> list[dict[str, Any]]:
        candidates = [self.api_base + "/models"]
        if not self.api_base.endswith("/v1"):
            candidates.insert(0, self.api_base + "/v1/models")
        last: str = ""
        for url in candidates:
            try:
                r = self._bounded("GET", url)
            except httpx.ConnectError:
                raise EngineError(f"nothing is listening at {self.api_base}",
                                  f"start the server or check the URL and port ({_HINT_URLS})") from None
            except ProbeTooLarge as exc:
                raise EngineError(str(exc), "this is not an OpenAI-compatible server's answer: check the URL") from None
            except httpx.HTTPError as exc:
                raise EngineError(f"could not reach {self.api_base}: {type(exc).__name__}",
                                  "check the URL and that the server is up") from None
            if r.status_code in (401, 403):
                raise EngineError(f"{url} refused the request (HTTP {r.status_code})",
                                  "pass --api-key KEY or set OPENAI_API_KEY")
            if r.status_code == 200:
                self._models_headers = {k.lower(): v[:200] for k, v in r.headers.items()}
                try:
                    data = r.json()
                except (ValueError, json.JSONDecodeError):
                    last = "it did not answer with JSON"
                    continue
                models = data.get("data") if isinstance(data, dict) else None
                if isinstance(models, list):
                    if url.endswith("/v1/models") and not self.api_base.endswith("/v1"):
                        self.api_base = url[: -len("/models")]
                        self.root = self.api_base[:-3]
                    return [m for m in models if isinstance(m, dict)]
                last = "its /models answer has no 'data' list"
            else:
                last = f"GET {url} gave HTTP {r.status_code}"
        raise NotCompatibleError(f"{self.api_base} answered, but not as an OpenAI-compatible server ({last})",
                                 f"check the URL: {_HINT_URLS}")

    def probe(self, wanted_model: str | None = None) -> ServerFacts:
        f = self.facts
        models = self._list_models()
        ids = [str(m.get("id")) for m in models if m.get("id")]
        if wanted_model:
            if wanted_model not in ids:
                raise UsageError(f"the server has no model {wanted_model!r}",
                                 f"pick one of: {', '.join(ids) or '(none listed)'}")
            self.model = wanted_model
        elif len(ids) == 1:
            self.model = ids[0]
        elif not ids:
            raise NotCompatibleError(f"{self.api_base} lists no models", "load a model in the server first")
        else:
            raise UsageError(f"the server lists {len(ids)} models", f"choose one with --model: {', '.join(ids)}")
        f.model_id = self.model
        f.base_url = self.api_base
        entry = next(m for m in models if m.get("id") == self.model)
        meta: dict[str, Any] = entry["meta"] if isinstance(entry.get("meta"), dict) else {}
        f.meta["models_entry"] = {k: v for k, v in entry.items()
                                  if k in ("id", "owned_by", "meta", "max_model_len", "root")}
        if meta.get("n_ctx_train") and not f.n_ctx_train:
            f.n_ctx_train = int(meta["n_ctx_train"])
        unavailable: list[str] = []
        # /props: llama.cpp's slot context and slot count
        r = self._get(self.root + "/props")
        props: dict[str, Any] | None = None
        if r is not None and r.status_code == 200:
            try:
                props = r.json()
            except ValueError:
                props = None
        props_ok = isinstance(props, dict) and isinstance(props.get("default_generation_settings"), dict)
        f.endpoints["props"] = props_ok
        self.dialect = dialects.recognise(entry, headers=self._models_headers, props_ok=props_ok)
        if self.dialect.name == "llamacpp":
            f.is_llamacpp = True
        elif f.is_llamacpp and self.dialect is dialects.GENERIC:  # launched by rigbench: llama.cpp's own
            self.dialect = dialects.by_name("llamacpp")
        if isinstance(entry.get("max_model_len"), int) and not f.granted_context:
            f.granted_context = int(entry["max_model_len"])  # vLLM, SGLang
        if isinstance(props, dict) and props_ok:
            dgs = props.get("default_generation_settings") or {}
            n_ctx = dgs.get("n_ctx") if isinstance(dgs, dict) else None
            if isinstance(n_ctx, int):
                f.granted_context = n_ctx
            if isinstance(props.get("total_slots"), int):
                f.total_slots = props["total_slots"]
            f.chat_template = bool(props.get("chat_template"))
            f.meta["props"] = {k: props.get(k) for k in ("total_slots", "model_path", "build_info", "model_ftype")
                               if k in props}
            if props.get("build_info") and not f.build:
                f.build = str(props["build_info"])[:80]
        else:
            unavailable.append("/props (slot context and slots unknown)")
        self._served_path(entry, props if props_ok else None)
        r = self._get(self.root + "/metrics")
        text = r.text[:2_000_000] if r is not None and r.status_code == 200 else ""
        if self.dialect.metrics is None and text:  # a server known by its metric names only
            self.dialect = dialects.metrics_dialect(text) or self.dialect
        self.metrics_dialect = self.dialect if dialects.counters_from(self.dialect, text) else None
        f.endpoints["metrics"] = self.metrics_dialect is not None
        if not f.endpoints["metrics"]:
            unavailable.append("/metrics (no server-side counters)")
        self.can_tokenize = self._find_tokenize()
        f.endpoints["tokenize"] = self.can_tokenize
        if not self.can_tokenize:
            unavailable.append("/tokenize (prompt lengths calibrated from usage.prompt_tokens)")
        f.software = self._software()
        if not f.n_ctx_train:
            unavailable.append("training context (n_ctx_train)")
        if not f.granted_context:
            unavailable.append("granted context per slot")
        if self.dialect.forces_length is False:
            unavailable.append(f"{_NO_FORCE} ({self.dialect.title} does not take ignore_eos/min_tokens; "
                               "answers may end early)")
        f.unavailable = sorted(set(f.unavailable) | set(unavailable))
        if f.is_llamacpp:
            self.extra_body = {"ignore_eos": True, "cache_prompt": True}
            self._exact_known = True
        elif self.dialect.forces_length is False:
            self.extra_body = {}
            self._exact_known = True
        else:  # vLLM and others take these; a server that refuses them is retried without
            self.extra_body = {"ignore_eos": True, "min_tokens": 0}
            self._exact_known = bool(self.dialect.forces_length)
        return f

    def _served_path(self, entry: dict[str, Any], props: dict[str, Any] | None) -> None:
        """Where the server says its weights are (llama.cpp's /props model_path, vLLM's
        ``root``), kept when that path exists on this machine: the key for same-model checks."""
        f = self.facts
        if f.model_path:
            return
        candidates = [props.get("model_path") if props else None]
        if self.dialect.model_path_from:
            candidates.append(entry.get(self.dialect.model_path_from))
        candidates.append(entry.get("id"))
        for c in candidates:
            if isinstance(c, str) and c.startswith("/") and len(c) < 4096 and os.path.exists(c):
                f.model_path = c
                return

    def _software(self) -> dict[str, Any]:
        """``{"name", "version"}`` of the server software, as far as it says."""
        d = self.dialect
        version: str | None = None
        if d.name == "llamacpp":
            version = self.facts.build
        elif d.version_path:
            r = self._get(self.root + d.version_path)
            if r is not None and r.status_code == 200:
                try:
                    version = dialects.version_from(d, r.json())
                except ValueError:
                    version = None
        return {"name": d.title, "version": version, "dialect": d.name}

    def _find_tokenize(self) -> bool:
        """Try the recognised dialect's /tokenize shape, then every other known shape."""
        shapes: list[dialects.Dialect] = [self.dialect] if self.dialect.tokenize_shape else []
        shapes += [d for d in dialects.DIALECTS if d.tokenize_shape and d.tokenize_shape not in
                   {s.tokenize_shape for s in shapes}]
        for d in shapes:
            self._tokenize_dialect = d
            if self.tokenize("Hello world"):  # llama.cpp answers the other shape with no tokens
                return True
        self._tokenize_dialect = None
        return False

    def reachable(self) -> bool:
        """The server still answers its model list (a quick, bounded check after failures)."""
        try:
            r = self._bounded("GET", self.api_base + "/models", max_s=10.0, timeout=httpx.Timeout(5.0))
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def counters(self) -> dialects.Counters | None:
        """One scrape of the server's counters (None when it has no /metrics we can read)."""
        if self.metrics_dialect is None:
            return None
        r = self._get(self.root + "/metrics")
        if r is None or r.status_code != 200:
            return None
        return dialects.counters_from(self.metrics_dialect, r.text[:2_000_000])

    def tokenize(self, text: str, *, with_pieces: bool = False) -> list[Any] | None:
        d = self._tokenize_dialect
        if d is None:
            return None
        try:
            # a token's entry (id, piece, JSON) is far under 64 bytes a character of the text
            r = self._bounded("POST", self.root + (d.tokenize_path or "/tokenize"),
                              max_bytes=max(MAX_PROBE_BYTES, 64 * len(text)), max_s=600.0,
                              json=dialects.tokenize_body(d, text, model=self.model, with_pieces=with_pieces),
                              timeout=httpx.Timeout(120.0))
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        try:
            return dialects.tokenize_result(r.json())
        except ValueError:
            return None

    def count_tokens(self, text: str) -> int | None:
        toks = self.tokenize(text) if self.can_tokenize else None
        return len(toks) if toks is not None else None

    def learned(self, what: str) -> None:
        """Something the server cannot do, found out mid-run: kept in its facts and told to
        whoever listens (the run's notes), when it is learned."""
        if what in self.facts.unavailable:
            return
        self.facts.unavailable = sorted({*self.facts.unavailable, what})
        if self.on_unavailable is not None:
            self.on_unavailable(what)

    # -- requests ------------------------------------------------------------------
    def complete(self, prompt: str, *, max_tokens: int, timeouts: Timeouts | None = None,
                 **params: Any) -> RequestRecord:
        """One streamed plain completion (``/v1/completions``): for base models without a
        chat template."""
        body: dict[str, Any] = {"model": self.model, "prompt": prompt, "max_tokens": max_tokens, "stream": True,
                                "stream_options": {"include_usage": True}}
        if self.facts.is_llamacpp:
            body["cache_prompt"] = True
        body.update(params)
        return self._stream(self.api_base + "/completions", body, timeouts)

    def chat(self, messages: list[dict[str, Any]], *, max_tokens: int, exact: bool = False,
             timeouts: Timeouts | None = None, **params: Any) -> RequestRecord:
        """One streamed chat completion. ``exact`` asks the server to generate exactly
        ``max_tokens`` (ignore end-of-sequence) where it supports that."""
        body = self.chat_body(messages, max_tokens=max_tokens, exact=exact, **params)
        forced = exact and bool(self.extra_body)
        url = self.chat_url
        rec = self._stream(url, body, timeouts)
        if forced and not self._exact_known:
            if rec.http_status in (400, 422):
                self.extra_body = {}  # the server refuses them: say so once, retry plain
                self.learned(f"{_NO_FORCE} (ignore_eos/min_tokens refused with HTTP {rec.http_status}; "
                             "answers may end early)")
                for k in ("ignore_eos", "min_tokens"):
                    body.pop(k, None)
                rec = self._stream(url, body, timeouts)
            self._exact_known = rec.ok or self._exact_known
        return rec

    @property
    def chat_url(self) -> str:
        return self.api_base + "/chat/completions"

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request carries (the bearer token: never stored or shown)."""
        return dict(self._headers)

    def chat_body(self, messages: list[dict[str, Any]], *, max_tokens: int, exact: bool = False,
                  **params: Any) -> dict[str, Any]:
        """The streamed chat request body, with this server's fields that force the length."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if exact and self.extra_body:
            body.update(self.extra_body)
            if "min_tokens" in body:
                body["min_tokens"] = max_tokens
        elif self.facts.is_llamacpp:
            body["cache_prompt"] = True
        body.update(params)
        return body

    def _stream(self, url: str, body: dict[str, Any], timeouts: Timeouts | None) -> RequestRecord:
        t = timeouts or self.timeouts
        if t.total_s is None:
            d = deadline(prompt_tokens_upper(body), asked_tokens(body) or 0, self.rates.prefill_tok_s,
                         self.rates.decode_tok_s, t.read_s)
            t = Timeouts(t.connect_s, t.read_s, d.total_s, d.basis)
        rec = stream_request(self.http, url, body, headers=self._headers, timeouts=t)
        if rec.ok:
            from rigbench.measure.speed import figures, row_from_record

            f = figures(row_from_record(rec))
            self.rates.observe(f.processed_tokens, f.prefill_tok_s, f.generated_tokens, f.decode_tok_s)
        return rec
