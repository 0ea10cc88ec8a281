"""A scripted OpenAI-compatible server for protocol edge cases and client benchmarks.

Never a stand-in for a real engine: it exists to produce what real servers produce only
sometimes (a role-only first chunk, multi-token chunks, reasoning fields, an error inside
an HTTP 200 stream, a missing usage block, a stall, a hang, a dropped connection,
malformed SSE, one event that never ends, keep-alive bytes that trickle forever, a
generation that ignores ``max_tokens``) and to stream at an exact, known rate.

Run it in a thread (``FakeServer(script).start()``) or as its own process
(``python -m rigbench.testing.fake_server --port N --script JSON``) so it does not share
the client's GIL. Each answered request's send timestamps (``time.perf_counter_ns``,
comparable across processes on one Linux host) are kept in ``sent_log`` (``GET /_sent``: the
last answer's, ``GET /_sent_all``: every answer's, for comparing other clients against the truth).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeServer", "Script"]


@dataclass
class Script:
    tokens: int = 32  # generated tokens (reasoning included)
    tokens_per_chunk: int = 1
    rate_tok_s: float | None = None  # pace the stream; None = as fast as possible
    reasoning_tokens: int = 0  # the first N tokens go to `reasoning_content`
    reasoning_field: str = "reasoning_content"
    think_tags: bool = False  # put reasoning inline as <think>...</think> instead
    role_chunk: bool = True  # a first chunk with only the role and no content
    usage: bool = True
    timings: bool = False  # llama.cpp-style timings in the last chunk
    prompt_tokens: int = 100
    cached_tokens: int | None = None
    http_status: int = 200
    error_body: str = '{"error": {"message": "the fake server was told to fail", "code": 500}}'
    error_after: int | None = None  # chunks before an in-stream error object
    malformed_after: int | None = None  # chunks before invalid JSON
    stall_after: int | None = None  # chunks before going silent forever (headers sent)
    close_after: int | None = None  # chunks before dropping the connection
    hang_before_headers: bool = False
    endless_event_bytes: int | None = None  # open one content event, send this many bytes with no line end, stall
    trickle_s: float | None = None  # send an SSE comment every this many seconds, forever, and nothing else
    ignore_max_tokens: bool = False  # generate `tokens` whatever the request asks for
    die_after: int | None = None  # chunks before the whole server process is SIGKILLed
    fault_at: int | None = None  # faults apply only to this chat request (1-based); None: to every one
    state_file: str | None = None  # counts chat requests across server processes (for fault_at)
    done_marker: bool = True  # send `data: [DONE]`
    finish_reason: bool = True
    crlf: bool = False  # CRLF line endings
    models: list[str] = field(default_factory=lambda: ["fake-model"])
    props: bool = False
    tokenize: bool = False
    chars_per_token: int = 4
    token_text: str = "tok "
    # "vllm": answer as vLLM does (owned_by, /version, /tokenize taking "prompt", /metrics with
    # vllm: counters and a prefix cache of 16-token blocks, max_model_len); "transformers":
    # refuse ignore_eos/min_tokens with a 422, as transformers serve does
    dialect: str | None = None
    max_model_len: int = 4096
    version: str = "0.32.0"
    # shared throughput (load tests): the streams generating at once share one token clock of
    # ``shared_tok_s`` (each gets shared_tok_s / n, at most ``rate_tok_s``), so per-stream and
    # aggregate truth are known; ``slots`` caps how many generate at once (the rest wait, as
    # llama.cpp's deferred requests do, or get ``busy_status`` at once when it is set)
    shared_tok_s: float | None = None
    slots: int | None = None
    busy_status: int | None = None
    metrics: bool = False  # llama.cpp-style /metrics (tokens predicted, requests processing/deferred)


def _chunk(obj: dict[str, Any], crlf: bool) -> bytes:
    eol = "\r\n" if crlf else "\n"
    return f"data: {json.dumps(obj)}{eol}{eol}".encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # without this, Nagle's algorithm holds the first small chunk behind the role chunk
        # until the client's delayed ACK (~40 ms): a server artifact, not client overhead
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        return

    def _json(self, status: int, obj: Any) -> None:
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        s = self.server.script
        if self.path in ("/v1/models", "/models"):
            if s.dialect == "vllm":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "owned_by": "vllm", "root": m, "max_model_len": s.max_model_len}
                    for m in s.models]})
                return
            self._json(200, {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "fake"}
                                                         for m in s.models]})
        elif self.path == "/version" and s.dialect == "vllm":
            self._json(200, {"version": s.version})
        elif self.path == "/metrics" and s.dialect == "vllm":
            c = self.server.counters
            lines = ['vllm:cache_config_info{block_size="16",engine="0"} 1.0']
            for key, name in (("gen", "generation_tokens_total"), ("prompt", "prompt_tokens_total"),
                              ("hits", "prefix_cache_hits_total"), ("queries", "prefix_cache_queries_total")):
                lines.append(f'vllm:{name}{{engine="0",model_name="{s.models[0]}"}} {float(c[key])}')
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/metrics" and s.metrics:
            g = self.server.gauges()
            lines = [f"llamacpp:prompt_tokens_total {float(self.server.counters['prompt'])}",
                     f"llamacpp:tokens_predicted_total {float(self.server.counters['gen'])}",
                     f"llamacpp:requests_processing {float(g[0])}",
                     f"llamacpp:requests_deferred {float(g[1])}",
                     f"llamacpp:kv_cache_usage_ratio {g[0] / (s.slots or 1):.3f}"]
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/_sent":  # send timestamps of the last streamed answer (for benchmarks)
            self._json(200, {"sent_ns": self.server.sent_log[-1] if self.server.sent_log else []})
        elif self.path == "/_sent_all":  # every answered request's send timestamps (peer comparisons)
            self._json(200, {"sent_ns": list(self.server.sent_log)})
        elif self.path == "/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/props" and s.props:
            self._json(200, {"default_generation_settings": {"n_ctx": 4096}, "total_slots": s.slots or 1})
        else:
            self._json(404, {"error": {"message": "not found", "code": 404}})

    def do_POST(self) -> None:
        self._arrived_ns = time.perf_counter_ns()  # request line and headers read
        s = self.server.script
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        self.server.bodies.append(body)
        self.server.auth.append(self.headers.get("Authorization"))
        if self.path == "/tokenize" and s.dialect == "vllm":
            if "prompt" not in body:
                self._json(400, {"error": {"message": "prompt: Field required", "code": 400}})
                return
            text = str(body.get("prompt", ""))
            n = -(-len(text) // s.chars_per_token) if text else 0
            self._json(200, {"count": n, "max_model_len": s.max_model_len, "tokens": list(range(n)),
                             "token_strs": None})
            return
        if self.path == "/tokenize" and s.tokenize:
            text = str(body.get("content", ""))
            n = max(1, len(text) // s.chars_per_token) if text else 0
            self._json(200, {"tokens": list(range(n))})
            return
        if self.path not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"error": {"message": "not found", "code": 404}})
            return
        s = self.server.script_for(self.server.next_request())
        if s.hang_before_headers:
            time.sleep(3600)
            return
        if s.http_status != 200:
            data = s.error_body.encode()
            self.send_response(s.http_status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if s.dialect == "transformers" and ("ignore_eos" in body or "min_tokens" in body):
            self._json(422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "ignore_eos"],
                                         "msg": "Extra inputs are not permitted"}]})
            return
        chars = sum(len(str(m.get("content") or "")) for m in body.get("messages") or [] if isinstance(m, dict))
        prompt_tokens = s.prompt_tokens if not chars else 10 + -(-chars // s.chars_per_token)
        if s.dialect == "vllm":
            self.server.count_prompt(body, prompt_tokens)
        max_tokens = int(body.get("max_tokens") or s.tokens)
        if not self.server.take_slot(s):
            data = json.dumps({"error": {"message": f"all {s.slots} slots are busy", "code": s.busy_status}}).encode()
            self.send_response(int(s.busy_status or 503))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        try:
            self.server.counters["prompt"] += prompt_tokens if s.metrics else 0
            self._stream(s, max_tokens, prompt_tokens)
        finally:
            self.server.free_slot(s)
        if s.dialect == "vllm":
            self.server.counters["gen"] += min(s.tokens, max_tokens) if max_tokens else s.tokens

    def _stream(self, s: Script, max_tokens: int, prompt_tokens: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        w = self.wfile
        perf = time.perf_counter_ns
        sent: list[int] = []
        n_tokens = min(s.tokens, max_tokens) if max_tokens and not s.ignore_max_tokens else s.tokens
        base = {"id": "fake-1", "object": "chat.completion.chunk", "model": s.models[0]}
        try:
            if s.role_chunk:
                w.write(_chunk({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]},
                               s.crlf))
                w.flush()
            if s.endless_event_bytes is not None:
                self._endless_event(s.endless_event_bytes)
                return
            if s.trickle_s is not None:
                while True:
                    w.write(b": keep-alive\n\n")
                    w.flush()
                    time.sleep(s.trickle_s)
            t0 = perf()
            due_s = float(t0)
            produced = 0
            chunk_i = 0
            think_closed = False
            while produced < n_tokens:
                k = min(s.tokens_per_chunk, n_tokens - produced)
                if s.shared_tok_s:
                    # one token clock shared by the streams generating now: this stream's next
                    # token is due n_active / shared_tok_s after its last (at most rate_tok_s)
                    if produced:
                        step = self.server.active / s.shared_tok_s
                        if s.rate_tok_s:
                            step = max(step, 1.0 / s.rate_tok_s)
                        due_s += step * k * 1e9
                    due = int(due_s)
                    while True:
                        left = due - perf()
                        if left <= 0:
                            break
                        if left > 2_000_000:
                            time.sleep((left - 1_000_000) / 1e9)
                elif s.rate_tok_s:
                    due = t0 + int((produced + k - 1) / s.rate_tok_s * 1e9)
                    while True:
                        left = due - perf()
                        if left <= 0:
                            break
                        if left > 2_000_000:
                            time.sleep((left - 1_000_000) / 1e9)
                if s.die_after is not None and chunk_i == s.die_after:
                    os.kill(os.getpid(), signal.SIGKILL)
                if s.stall_after is not None and chunk_i == s.stall_after:
                    time.sleep(3600)
                if s.close_after is not None and chunk_i == s.close_after:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if s.error_after is not None and chunk_i == s.error_after:
                    w.write(_chunk({"error": {"message": "model crashed mid-stream", "type": "server_error"}},
                                   s.crlf))
                    w.flush()
                    return
                if s.malformed_after is not None and chunk_i == s.malformed_after:
                    w.write(b"data: {\"choices\": [{\"delta\": {\"content\": \"x\"\n\n")
                    w.flush()
                    return
                delta: dict[str, Any] = {}
                n_reason = max(0, min(k, s.reasoning_tokens - produced))
                n_content = k - n_reason
                if n_reason:
                    text = s.token_text * n_reason
                    if s.think_tags:
                        if produced == 0:
                            text = "<think>" + text
                        delta["content"] = text
                    else:
                        delta[s.reasoning_field] = text
                if n_content:
                    text = s.token_text * n_content
                    if s.think_tags and s.reasoning_tokens and not think_closed:
                        text = "</think>" + text
                        think_closed = True
                    delta["content"] = delta.get("content", "") + text
                w.write(_chunk({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}, s.crlf))
                w.flush()
                sent.append(perf())
                produced += k
                if s.metrics:
                    self.server.count_gen(k)
                chunk_i += 1
            tail: dict[str, Any] = {**base, "choices": [{"index": 0, "delta": {},
                                                         "finish_reason": "length" if s.finish_reason else None}]}
            w.write(_chunk(tail, s.crlf))
            if s.usage or s.timings:
                last: dict[str, Any] = {**base, "choices": []}
                if s.usage:
                    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": n_tokens,
                                             "total_tokens": prompt_tokens + n_tokens}
                    if s.cached_tokens is not None:
                        usage["prompt_tokens_details"] = {"cached_tokens": s.cached_tokens}
                    last["usage"] = usage
                if s.timings and sent:
                    span_ms = (sent[-1] - t0) / 1e6
                    last["timings"] = {"prompt_n": prompt_tokens - (s.cached_tokens or 0), "prompt_ms": 1.0,
                                       "cache_n": s.cached_tokens or 0, "predicted_n": n_tokens,
                                       "predicted_ms": span_ms,
                                       "predicted_per_second": n_tokens / (span_ms / 1e3) if span_ms else None,
                                       # the truth, for benchmarks: when the first and last token chunks
                                       # were written (perf_counter_ns, comparable across processes)
                                       "fake_first_sent_ns": sent[0], "fake_last_sent_ns": sent[-1],
                                       "fake_arrived_ns": self._arrived_ns}
                w.write(_chunk(last, s.crlf))
            if s.done_marker:
                w.write(b"data: [DONE]\r\n\r\n" if s.crlf else b"data: [DONE]\n\n")
            w.flush()
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            self.server.sent_log.append(sent)


    def _endless_event(self, n_bytes: int) -> None:
        w = self.wfile
        w.write(b'data: {"choices":[{"index":0,"delta":{"content":"')
        block = b"a" * 65536
        left = n_bytes
        while left > 0:
            w.write(block[: min(left, len(block))])
            left -= len(block)
        w.flush()
        time.sleep(3600)  # no line end ever comes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of load streams connect at once: a backlog of 5 would reset them

    def __init__(self, addr: tuple[str, int], script: Script) -> None:
        super().__init__(addr, _Handler)
        self.script = script
        self.sent_log: list[list[int]] = []
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []  # the Authorization header of each POST
        self._count = 0
        self._lock = threading.Lock()
        self.counters = {"gen": 0, "prompt": 0, "hits": 0, "queries": 0}  # vLLM-like /metrics
        self._cached: list[str] = []  # prompts seen, for the prefix cache
        self._slot_cv = threading.Condition()
        self.active = 0  # streams generating now (holding a slot)
        self.waiting = 0  # streams waiting for a slot

    def take_slot(self, s: Script) -> bool:
        """A generation slot (False when all are busy and the script answers busy at once)."""
        with self._slot_cv:
            if s.slots is not None and self.active >= s.slots:
                if s.busy_status is not None:
                    return False
                self.waiting += 1
                while self.active >= s.slots:
                    self._slot_cv.wait()
                self.waiting -= 1
            self.active += 1
            return True

    def free_slot(self, s: Script) -> None:
        with self._slot_cv:
            self.active -= 1
            self._slot_cv.notify()

    def gauges(self) -> tuple[int, int]:
        with self._slot_cv:
            return self.active, self.waiting

    def count_gen(self, k: int) -> None:
        with self._lock:
            self.counters["gen"] += k

    def count_prompt(self, body: dict[str, Any], prompt_tokens: int) -> None:
        """vLLM's prefix cache, roughly: the longest prefix (in whole 16-token blocks) this
        prompt shares with one already served is a hit."""
        text = json.dumps(body.get("messages"))
        best = 0
        for seen in self._cached:
            n = next((i for i, (a, b) in enumerate(zip(seen, text, strict=False)) if a != b), min(len(seen), len(text)))
            best = max(best, n)
        hits = min(prompt_tokens, best // self.script.chars_per_token) // 16 * 16
        self._cached.append(text)
        self.counters["prompt"] += prompt_tokens
        self.counters["queries"] += prompt_tokens
        self.counters["hits"] += hits

    def next_request(self) -> int:
        """1-based number of this chat request (across processes when a state file is set)."""
        with self._lock:
            path = self.script.state_file
            if path:
                try:
                    with open(path) as f:
                        self._count = int(f.read().strip() or 0)
                except (OSError, ValueError):
                    self._count = 0
            self._count += 1
            if path:
                with open(path, "w") as f:
                    f.write(str(self._count))
            return self._count

    def script_for(self, n: int) -> Script:
        s = self.script
        if s.fault_at is None or n == s.fault_at:
            return s
        return dataclasses.replace(s, http_status=200, error_after=None, malformed_after=None, stall_after=None,
                                   close_after=None, hang_before_headers=False, die_after=None,
                                   endless_event_bytes=None, trickle_s=None, ignore_max_tokens=False)


class FakeServer:
    def __init__(self, script: Script | None = None, port: int = 0) -> None:
        self.script = script or Script()
        self._srv = _Server(("127.0.0.1", port), self.script)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._srv.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def sent_log(self) -> list[list[int]]:
        return self._srv.sent_log

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return self._srv.bodies

    @property
    def auth(self) -> list[str | None]:
        return self._srv.auth

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - used by bench scripts as a separate process
    import argparse
    import sys

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--script", default="{}")
    ns = ap.parse_args()
    fake = FakeServer(Script(**json.loads(ns.script)), port=ns.port)
    print(json.dumps({"port": fake.port, "script": asdict(fake.script)}), flush=True)
    try:
        fake._srv.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
