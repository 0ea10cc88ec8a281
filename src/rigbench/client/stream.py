"""One streamed request -> one RequestRecord.

The hot loop does only this: take a timestamp per network read, feed the SSE parser,
decode each event's JSON, and append the token-carrying pieces. Everything derived
(TTFT, decode rate, think-tag splitting) happens after the stream ends.

A request is ``ok`` only when the stream ended properly (``[DONE]`` or a finish reason)
and carried no error; an HTTP 200 stream that carries an error object is a failure, and
a stream that stops early is ``incomplete``. Neither is ever mixed into statistics of
good requests.

Bounded in time and size (``client/limits.py``): every request has a total deadline
(``Timeouts.total_s``; derived from the body when the caller gives none), checked at
every network read, so a server that trickles bytes forever is cut off there; one SSE
event may hold 16 MiB (``client/sse.py``); and a server that generates past
``max_tokens`` has its stream closed after ``limits.overrun_bound`` token-carrying
chunks. Such a request is kept as received (``ok``, ``cut`` set): its generated tokens
are the chunks received, a lower bound, since the server's own count never came.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from rigbench.client.limits import (
    OVERRUN_CHARS_PER_TOKEN,
    asked_tokens,
    deadline,
    overrun_bound,
    prompt_tokens_upper,
)
from rigbench.client.sse import SSEParser
from rigbench.client.think import split_think
from rigbench.errors import EventTooLarge
from rigbench.types import RequestRecord, TokenChunk

__all__ = ["StreamReader", "Timeouts", "astream_request", "error_text", "finish_record", "stream_request"]

_MAX_ERROR = 300
_MAX_ERROR_BODY = 4000


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 10.0
    read_s: float = 120.0  # longest silence allowed between two reads (a stall)
    total_s: float | None = None  # the whole request, from send to end of stream (None: derived from the body)
    total_basis: str = ""  # how total_s was derived, for the error that names it

    def httpx(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_s, read=self.read_s, write=self.connect_s, pool=self.connect_s)


def error_text(obj: Any) -> str:
    """A short human message from an error payload (dict, str or anything)."""
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or json.dumps(err)[:_MAX_ERROR]
            code = err.get("code") or err.get("type")
            return f"{msg} ({code})" if code else str(msg)
        return str(err)[:_MAX_ERROR]
    return str(obj)[:_MAX_ERROR]


def stream_request(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeouts: Timeouts = Timeouts(),
) -> RequestRecord:
    """POST ``body`` with ``stream: true`` and record the stream as it arrives.

    A kept-alive connection the server closed just as it was reused fails before any
    response byte arrives; that one case is retried once on a fresh connection (the
    server never saw the request), with the clock restarted.

    Without ``timeouts.total_s`` the deadline is derived from the body at pessimistic
    rates (``limits.deadline``); ``ServerClient`` passes one from the rates it measured."""
    if timeouts.total_s is None:
        d = deadline(prompt_tokens_upper(body), asked_tokens(body) or 0, None, None, timeouts.read_s)
        timeouts = Timeouts(timeouts.connect_s, timeouts.read_s, d.total_s, d.basis)
    rec = _stream_once(client, url, body, headers, timeouts)
    if rec.t_headers_ns is None and rec.error and "without sending a response" in rec.error:
        rec = _stream_once(client, url, body, headers, timeouts)
    return rec


class StreamReader:
    """The sans-IO half of one streamed request: fed the response status, then each network
    read with its timestamp, it builds the RequestRecord. The sync and the async drivers
    (``stream_request``, ``astream_request``) only move bytes and map transport errors;
    everything a stream can say or do wrong is decided here, once."""

    __slots__ = (
        "_bound",
        "_char_bound",
        "_done",
        "_end_by",
        "_n_chars",
        "_parser",
        "_timeouts",
        "_tool_acc",
        "rec",
    )

    def __init__(self, body: dict[str, Any], timeouts: Timeouts, t_sent_ns: int) -> None:
        self.rec = RequestRecord(status="incomplete", t_sent_ns=t_sent_ns)
        self._parser = SSEParser()
        self._done = False
        self._timeouts = timeouts
        self._end_by = t_sent_ns + int(timeouts.total_s * 1e9) if timeouts.total_s else None
        asked = asked_tokens(body)
        self.rec.max_tokens = asked
        self._bound = overrun_bound(asked) if asked else None
        self._char_bound = self._bound * OVERRUN_CHARS_PER_TOKEN if self._bound else 0
        self._n_chars = 0
        self._tool_acc: dict[int, dict[str, Any]] = {}

    def headers(self, status_code: int, t: int) -> bool:
        """The response's status arrived; True when it is an error (read the body with ``error_body``)."""
        self.rec.t_headers_ns = t
        self.rec.http_status = status_code
        return status_code != 200

    def error_body(self, raw: bytes, reason: str, t: int) -> RequestRecord:
        rec = self.rec
        rec.t_end_ns = t
        rec.status = "error"
        try:
            payload: Any = json.loads(raw)
        except ValueError:
            payload = raw.decode("utf-8", "replace").strip() or reason
        rec.error = f"HTTP {rec.http_status}: {error_text(payload)}"
        return rec

    def feed(self, raw_chunk: bytes, t: int) -> bool:
        """One network read at ``t``; True when the stream must not be read further."""
        rec = self.rec
        chunks = rec.chunks
        append = chunks.append
        bound = self._bound
        try:
            events = self._parser.feed(raw_chunk)
        except EventTooLarge as exc:
            rec.status = "error"
            rec.error = exc.message
            rec.t_end_ns = t
            return True
        for ev in events:
            rec.n_events += 1
            data = ev.data
            if data == "[DONE]":
                self._done = True
                continue
            try:
                obj = json.loads(data)
            except ValueError:
                rec.status = "error"
                rec.error = f"malformed JSON in the stream: {data[:80]!r}"
                rec.t_end_ns = t
                return True
            if ev.event == "error" or (isinstance(obj, dict) and "error" in obj):
                rec.status = "error"
                rec.error = f"error in the stream: {error_text(obj)}"
                rec.t_end_ns = t
                return True
            if not isinstance(obj, dict):
                continue
            choices = obj.get("choices")
            if choices:
                ch = choices[0]
                delta = ch.get("delta")
                if delta is None:  # /v1/completions
                    text = ch.get("text")
                    if text:
                        append(TokenChunk(t, "content", text))
                        self._n_chars += len(text)
                else:
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning:
                        append(TokenChunk(t, "reasoning", reasoning))
                        self._n_chars += len(reasoning)
                    content = delta.get("content")
                    if content:
                        append(TokenChunk(t, "content", content))
                        self._n_chars += len(content)
                    calls = delta.get("tool_calls")
                    if calls:
                        _acc_tools(self._tool_acc, calls)
                        append(TokenChunk(t, "tool", json.dumps(calls)))
                        self._n_chars += len(chunks[-1].text)
                fr = ch.get("finish_reason")
                if fr:
                    rec.finish_reason = fr
            usage = obj.get("usage")
            if usage:
                rec.usage = usage
            timings = obj.get("timings")
            if timings:
                rec.timings = timings
            if rec.model is None and obj.get("model"):
                rec.model = obj.get("model")
            if bound is not None and (len(chunks) > bound or self._n_chars > self._char_bound):
                rec.t_end_ns = t  # the server ignored max_tokens: keep what came, close the stream
                rec.status = "ok"
                rec.cut = bound
                return True
        if self._end_by is not None and t > self._end_by:
            to = self._timeouts
            rec.error = (f"the request ran past its {to.total_s:,.0f} s limit"
                         + (f" ({to.total_basis})" if to.total_basis else "")
                         + ": raise --timeout if the server is really this slow")
            rec.t_end_ns = t
            return True
        return False

    def ended(self, t: int) -> None:
        """The server closed the stream normally."""
        rec = self.rec
        self._parser.close()
        rec.t_end_ns = t
        if self._done or rec.finish_reason:
            rec.status = "ok"
        else:
            rec.error = "the stream ended without [DONE] or a finish reason"

    def failed(self, exc: httpx.HTTPError) -> None:
        """The transport failed (the one mapping of httpx errors to a request's outcome)."""
        rec = self.rec
        if isinstance(exc, httpx.ConnectError):
            rec.status = "error"
            rec.error = f"could not connect: {_short(exc)}"
        elif isinstance(exc, httpx.ReadTimeout):
            rec.error = f"the server sent nothing for {self._timeouts.read_s:.0f} s (stalled)"
        elif isinstance(exc, httpx.TimeoutException):
            rec.error = f"timed out: {type(exc).__name__}"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            rec.error = f"the server closed the connection mid-stream: {_short(exc)}"
        else:
            rec.status = "error"
            rec.error = f"HTTP failure: {_short(exc)}"

    def finish(self, t: int) -> RequestRecord:
        rec = self.rec
        if rec.t_end_ns is None:
            rec.t_end_ns = t
        _finish(rec, self._tool_acc)
        if rec.cut is not None and rec.completion_tokens is None:
            rec.completion_tokens = len(rec.chunks)  # a lower bound: chunks carry >= 1 token
        return rec


def _stream_once(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    timeouts: Timeouts,
) -> RequestRecord:
    perf = time.perf_counter_ns
    rd = StreamReader(body, timeouts, perf())
    try:
        with client.stream(
            "POST", url, json=body, headers=headers or {}, timeout=timeouts.httpx()
        ) as resp:
            if rd.headers(resp.status_code, perf()):
                raw = _read_some(resp, _MAX_ERROR_BODY)
                return rd.error_body(raw, resp.reason_phrase, perf())
            feed = rd.feed
            for raw_chunk in resp.iter_bytes():
                if feed(raw_chunk, perf()):
                    return rd.finish(perf())
            rd.ended(perf())
    except httpx.HTTPError as exc:
        rd.failed(exc)
    return rd.finish(perf())


async def astream_request(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    timeouts: Timeouts = Timeouts(),
) -> RequestRecord:
    """``stream_request`` on an event loop: the same reader, the same bounds and deadline,
    the same one retry of a kept-alive connection the server had closed."""
    if timeouts.total_s is None:
        d = deadline(prompt_tokens_upper(body), asked_tokens(body) or 0, None, None, timeouts.read_s)
        timeouts = Timeouts(timeouts.connect_s, timeouts.read_s, d.total_s, d.basis)
    rec = await _astream_once(client, url, body, headers, timeouts)
    if rec.t_headers_ns is None and rec.error and "without sending a response" in rec.error:
        rec = await _astream_once(client, url, body, headers, timeouts)
    return rec


async def _astream_once(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    timeouts: Timeouts,
) -> RequestRecord:
    perf = time.perf_counter_ns
    rd = StreamReader(body, timeouts, perf())
    try:
        async with client.stream(
            "POST", url, json=body, headers=headers or {}, timeout=timeouts.httpx()
        ) as resp:
            if rd.headers(resp.status_code, perf()):
                out = bytearray()
                async for part in resp.aiter_bytes():
                    out += part
                    if len(out) >= _MAX_ERROR_BODY:
                        break
                return rd.error_body(bytes(out[:_MAX_ERROR_BODY]), resp.reason_phrase, perf())
            feed = rd.feed
            async for raw_chunk in resp.aiter_bytes():
                if feed(raw_chunk, perf()):
                    return rd.finish(perf())
            rd.ended(perf())
    except httpx.HTTPError as exc:
        rd.failed(exc)
    return rd.finish(perf())


def _read_some(resp: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of a response body: an error page is shown, never hoarded."""
    out = bytearray()
    for part in resp.iter_bytes():
        out += part
        if len(out) >= limit:
            break
    return bytes(out[:limit])


def _short(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__)[:_MAX_ERROR]


def _acc_tools(acc: dict[int, dict[str, Any]], calls: list[dict[str, Any]]) -> None:
    for call in calls:
        idx = int(call.get("index", len(acc)))
        slot = acc.setdefault(idx, {"id": None, "name": "", "arguments": ""})
        if call.get("id"):
            slot["id"] = call["id"]
        fn = call.get("function") or {}
        if fn.get("name"):
            slot["name"] += fn["name"]
        if fn.get("arguments"):
            slot["arguments"] += fn["arguments"]


def _finish(rec: RequestRecord, tool_acc: dict[int, dict[str, Any]]) -> RequestRecord:
    rec.tool_calls = [tool_acc[k] for k in sorted(tool_acc)]
    return finish_record(rec)


def finish_record(rec: RequestRecord) -> RequestRecord:
    """Derive text, token counts and first/last token times from the raw chunks."""
    chunks = rec.chunks
    if chunks:
        rec.t_first_token_ns = chunks[0].t_ns
        rec.t_last_token_ns = chunks[-1].t_ns
    field_reasoning = "".join(c.text for c in chunks if c.kind == "reasoning")
    content_pieces = [c for c in chunks if c.kind == "content"]
    content = "".join(c.text for c in content_pieces)
    split = split_think(content)
    rec.think_unclosed = split.unclosed
    rec.reasoning = field_reasoning + split.reasoning
    rec.content = split.answer
    if split.answer_offset is not None:
        pos = 0
        for c in content_pieces:
            pos += len(c.text)
            if pos > split.answer_offset:
                rec.t_first_content_ns = c.t_ns
                break
    elif any(c.kind == "tool" for c in chunks):
        rec.t_first_content_ns = next(c.t_ns for c in chunks if c.kind == "tool")
    usage = rec.usage or {}
    if isinstance(usage.get("prompt_tokens"), int):
        rec.prompt_tokens = usage["prompt_tokens"]
    if isinstance(usage.get("completion_tokens"), int):
        rec.completion_tokens = usage["completion_tokens"]
    details = usage.get("prompt_tokens_details") or {}
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        rec.cached_tokens = details["cached_tokens"]
    cdetails = usage.get("completion_tokens_details") or {}
    if isinstance(cdetails, dict) and isinstance(cdetails.get("reasoning_tokens"), int):
        rec.reasoning_tokens = cdetails["reasoning_tokens"]
    timings = rec.timings or {}
    if rec.prompt_tokens is None and isinstance(timings.get("prompt_n"), int):
        cache_n = timings.get("cache_n") if isinstance(timings.get("cache_n"), int) else 0
        rec.prompt_tokens = timings["prompt_n"] + cache_n
    if rec.cached_tokens is None and isinstance(timings.get("cache_n"), int):
        rec.cached_tokens = timings["cache_n"]
    if rec.completion_tokens is None and isinstance(timings.get("predicted_n"), int):
        rec.completion_tokens = timings["predicted_n"]
    if rec.reasoning_tokens is None and not rec.reasoning:
        rec.reasoning_tokens = 0 if rec.completion_tokens is not None else None
    return rec
