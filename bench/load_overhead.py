"""Load harness overhead: how well ``rigbench load``'s concurrent client measures many streams
at once against a server whose truth is known.

The scripted fake server runs in its own process with a shared token budget (one token
clock shared by the streams generating: each of N gets budget / N) and a llama.cpp-style
/metrics. For each level, N closed-loop streams run through the same pool and stream reader
``rigbench load`` uses (``jobs.pool.run_streams``), and this prints:

- per-stream decode: the median of the client's per-request figures, the true median from
  the server's own send timestamps (same formula, same clock), and the error;
- aggregate: the client's figure (tokens over first request sent to last token received)
  against the truth (the same tokens over first request sent to last token *written*);
- tokens: the client's total (the server's per-request counts) against the /metrics
  increase over the level;
- the client's CPU time per token, and how late the client read the first and the last
  token of a request after the server wrote them (median; a client short of CPU reads late,
  and a first-token lag larger than the last-token lag shortens the measured span).

Goal: error <= 1% up to 64 streams and 20,000 tok/s aggregate on 2 cores.

    python bench/load_overhead.py [--levels 1,4,16,64,128,256] [--requests 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any

import httpx

from rigbench.client.dialects import by_name, counters_from
from rigbench.client.stream import Timeouts
from rigbench.jobs.pool import ClosedLoop, Shot, Target, run_streams
from rigbench.measure.load import level_figures
from rigbench.measure.speed import row_from_record

# streams -> (aggregate budget tok/s, tokens per chunk)
BUDGET = {1: (1000, 1), 4: (4000, 2), 16: (10000, 4), 32: (15000, 4), 64: (20000, 8), 128: (30000, 8),
          256: (50000, 16)}


def start_fake(script: dict[str, Any]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "rigbench.testing.fake_server", "--script", json.dumps(script)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["port"]


def generated(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    c = counters_from(by_name("llamacpp"), text)
    return float(c.generation_tokens or 0) if c else 0.0


def one_level(n: int, requests: int) -> dict[str, Any]:
    budget, per_chunk = BUDGET.get(n, (min(50000, 400 * n), 8))
    tokens = max(64, int(budget / n * 2.0) // per_chunk * per_chunk)  # about 2 s per request
    proc, port = start_fake({"tokens": tokens, "tokens_per_chunk": per_chunk, "shared_tok_s": budget,
                             "timings": True, "metrics": True, "slots": n})
    try:
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        target = Target(url, {})
        before = generated(port)
        cpu0 = time.process_time()
        shots: list[Shot] = []
        level = run_streams([target], ClosedLoop(n, requests),
                            lambda s, k: {"model": "fake-model", "stream": True, "max_tokens": tokens,
                                          "messages": [{"role": "user", "content": f"stream {s} request {k}"}],
                                          "stream_options": {"include_usage": True}},
                            shots.append, timeouts_for=lambda _i, _b: Timeouts(total_s=600.0),
                            sample_gauges=False)
        cpu = time.process_time() - cpu0
        after = generated(port)
    finally:
        proc.kill()
        proc.wait()
    rows = [row_from_record(s.record) for s in level.shots]
    for row in rows:
        row["phase"], row["extra"] = "load", {"level": n}
    lv = level_figures(n, rows, slo_decode_tok_s=0.0)
    ok = [s.record for s in level.shots if s.record.ok and s.record.timings]
    true_dec = [((r.completion_tokens or 0) - 1) /
                ((r.timings["fake_last_sent_ns"] - r.timings["fake_first_sent_ns"]) / 1e9)  # type: ignore[index]
                for r in ok]
    true_med = statistics.median(true_dec) if true_dec else None
    total = sum(r.completion_tokens or 0 for r in ok)
    t_first = min(s.record.t_sent_ns for s in level.shots)
    t_last = max(r.timings["fake_last_sent_ns"] for r in ok)  # type: ignore[index]
    true_agg = total / ((t_last - t_first) / 1e9) if ok else None

    first_lag = [(r.t_first_token_ns - r.timings["fake_first_sent_ns"]) / 1e6 for r in ok  # type: ignore[index]
                 if r.t_first_token_ns is not None]
    last_lag = [(r.t_last_token_ns - r.timings["fake_last_sent_ns"]) / 1e6 for r in ok  # type: ignore[index]
                if r.t_last_token_ns is not None]
    failures = sorted({(s.record.error or "?")[:60] for s in level.shots if not s.record.ok})

    def err(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else (a - b) / b * 100

    return {"streams": n, "budget": budget, "ok": lv.requests_ok, "failed": lv.requests_failed,
            "decode": lv.per_stream_decode_tok_s, "decode_true": true_med,
            "decode_err": err(lv.per_stream_decode_tok_s, true_med),
            "agg": lv.aggregate_tok_s, "agg_true": true_agg, "agg_err": err(lv.aggregate_tok_s, true_agg),
            "client_tokens": lv.generated_tokens, "server_tokens": round(after - before),
            "cpu_us_per_tok": cpu / total * 1e6 if total else None,
            "lag_first_ms": statistics.median(first_lag) if first_lag else None,
            "lag_last_ms": statistics.median(last_lag) if last_lag else None, "failures": failures}


def _f(v: float | None, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", default="1,4,16,64,128,256")
    ap.add_argument("--requests", type=int, default=3, help="requests per stream")
    args = ap.parse_args()
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
          f"load average {os.getloadavg()[0]:.1f} · python {platform.python_version()}")
    print(f"{'streams':>7} {'budget':>7} {'ok':>5} {'fail':>4} {'decode':>8} {'true':>8} {'err %':>6} "
          f"{'aggregate':>9} {'true':>9} {'err %':>6} {'client tok':>10} {'server tok':>10} {'cpu µs/tok':>10} "
          f"{'lag ms first/last':>17}")
    for n in [int(x) for x in args.levels.split(",")]:
        r = one_level(n, args.requests)
        print(f"{n:>7} {r['budget']:>7,} {r['ok']:>5} {r['failed']:>4} {_f(r['decode']):>8} {_f(r['decode_true']):>8} "
              f"{_f(r['decode_err'], 2):>6} {_f(r['agg']):>9} {_f(r['agg_true']):>9} {_f(r['agg_err'], 2):>6} "
              f"{r['client_tokens'] or 0:>10,} {r['server_tokens']:>10,} {_f(r['cpu_us_per_tok']):>10} "
              f"{_f(r['lag_first_ms'], 0):>8}/{_f(r['lag_last_ms'], 0):<8}", flush=True)
        for f in r["failures"]:
            print(f"{'':>7} failed: {f}")


if __name__ == "__main__":
    main()
