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

__all__ = ["Timeouts", "error_text", "finish_record", "stream_request"]

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


def _stream_once(
    client: httpx.Client,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str] | None,
    timeouts: Timeouts,
) -> RequestRecord:
    perf = time.perf_counter_ns
    rec = RequestRecord(status="incomplete", t_sent_ns=perf())
    parser = SSEParser()
    chunks = rec.chunks
    append = chunks.append
    loads = json.loads
    done = False
    end_by = rec.t_sent_ns + int(timeouts.total_s * 1e9) if timeouts.total_s else None
    asked = asked_tokens(body)
    rec.max_tokens = asked
    bound = overrun_bound(asked) if asked else None
    char_bound = bound * OVERRUN_CHARS_PER_TOKEN if bound else 0
    n_chars = 0
    tool_acc: dict[int, dict[str, Any]] = {}
    try:
        with client.stream(
            "POST", url, json=body, headers=headers or {}, timeout=timeouts.httpx()
        ) as resp:
            rec.t_headers_ns = perf()
            rec.http_status = resp.status_code
            if resp.status_code != 200:
                raw = _read_some(resp, _MAX_ERROR_BODY)
                rec.t_end_ns = perf()
                rec.status = "error"
                try:
                    payload: Any = json.loads(raw)
                except ValueError:
                    payload = raw.decode("utf-8", "replace").strip() or resp.reason_phrase
                rec.error = f"HTTP {resp.status_code}: {error_text(payload)}"
                return rec
            for raw_chunk in resp.iter_bytes():
                t = perf()
                try:
                    events = parser.feed(raw_chunk)
                except EventTooLarge as exc:
                    rec.status = "error"
                    rec.error = exc.message
                    rec.t_end_ns = t
                    return _finish(rec, tool_acc)
                for ev in events:
                    rec.n_events += 1
                    data = ev.data
                    if data == "[DONE]":
                        done = True
                        continue
                    try:
                        obj = loads(data)
                    except ValueError:
                        rec.status = "error"
                        rec.error = f"malformed JSON in the stream: {data[:80]!r}"
                        rec.t_end_ns = t
                        return _finish(rec, tool_acc)
                    if ev.event == "error" or (isinstance(obj, dict) and "error" in obj):
                        rec.status = "error"
                        rec.error = f"error in the stream: {error_text(obj)}"
                        rec.t_end_ns = t
                        return _finish(rec, tool_acc)
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
                                n_chars += len(text)
                        else:
                            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                            if reasoning:
                                append(TokenChunk(t, "reasoning", reasoning))
                                n_chars += len(reasoning)
                            content = delta.get("content")
                            if content:
                                append(TokenChunk(t, "content", content))
                                n_chars += len(content)
                            calls = delta.get("tool_calls")
                            if calls:
                                _acc_tools(tool_acc, calls)
                                append(TokenChunk(t, "tool", json.dumps(calls)))
                                n_chars += len(chunks[-1].text)
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
                    if bound is not None and (len(chunks) > bound or n_chars > char_bound):
                        rec.t_end_ns = t  # the server ignored max_tokens: keep what came, close the stream
                        rec.status = "ok"
                        rec.cut = bound
                        _finish(rec, tool_acc)
                        if rec.completion_tokens is None:
                            rec.completion_tokens = len(chunks)  # a lower bound: chunks carry >= 1 token
                        return rec
                if end_by is not None and t > end_by:
                    rec.error = (f"the request ran past its {timeouts.total_s:,.0f} s limit"
                                 + (f" ({timeouts.total_basis})" if timeouts.total_basis else "")
                                 + ": raise --timeout if the server is really this slow")
                    rec.t_end_ns = t
                    return _finish(rec, tool_acc)
            parser.close()
            rec.t_end_ns = perf()
            if done or rec.finish_reason:
                rec.status = "ok"
            else:
                rec.error = "the stream ended without [DONE] or a finish reason"
    except httpx.ConnectError as exc:
        rec.status = "error"
        rec.error = f"could not connect: {_short(exc)}"
    except httpx.ReadTimeout:
        rec.error = f"the server sent nothing for {timeouts.read_s:.0f} s (stalled)"
    except httpx.TimeoutException as exc:
        rec.error = f"timed out: {type(exc).__name__}"
    except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
        rec.error = f"the server closed the connection mid-stream: {_short(exc)}"
    except httpx.HTTPError as exc:
        rec.status = "error"
        rec.error = f"HTTP failure: {_short(exc)}"
    if rec.t_end_ns is None:
        rec.t_end_ns = perf()
    return _finish(rec, tool_acc)


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
