"""Client overhead: how well rigbench's streaming client measures a known decode rate.

A scripted fake server runs in its own process (no shared GIL) and streams at 100,
1,000, 5,000 and 20,000 tok/s in multi-token chunks, reasoning first. For each rate this
prints the decode rate rigbench measured, the true rate (from the server's own send
timestamps, same formula, same clock), the error, and the client's CPU time per token.
Goal: <= 1% error up to 5,000 tok/s.

    python bench/client_overhead.py [--tokens 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

import httpx

from rigbench.client.stream import Timeouts, stream_request
from rigbench.measure.speed import figures, row_from_record

RATES = [(100, 1), (1000, 2), (5000, 4), (20000, 8)]  # (tok/s, tokens per chunk)


def start_fake(script: dict) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "rigbench.testing.fake_server", "--script", json.dumps(script)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["port"]
    return proc, port


def true_rate(sent: list[int], tokens: int) -> float:
    return (tokens - 1) / ((sent[-1] - sent[0]) / 1e9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=0, help="tokens per request (default: 3 s of streaming, >= 200)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    cpu = platform.processor() or platform.machine()
    print(f"machine: {platform.node()} · {cpu} · python {platform.python_version()}")
    print(f"{'rate tok/s':>10} {'tok/chunk':>9} {'measured':>10} {'true':>10} {'error %':>8} {'cpu µs/tok':>10}")
    for rate, per_chunk in RATES:
        tokens = args.tokens or max(200, int(rate * 3))
        script = {"tokens": tokens, "tokens_per_chunk": per_chunk, "rate_tok_s": rate,
                  "reasoning_tokens": tokens // 4, "role_chunk": True, "timings": False}
        proc, port = start_fake(script)
        errs, cpus, meas, trues = [], [], [], []
        try:
            with httpx.Client() as client:
                for _ in range(args.repeats):
                    cpu0 = time.process_time()
                    rec = stream_request(client, f"http://127.0.0.1:{port}/v1/chat/completions",
                                         {"model": "fake-model", "messages": [], "max_tokens": tokens, "stream": True},
                                         timeouts=Timeouts(read_s=30))
                    cpu = time.process_time() - cpu0
                    assert rec.ok, rec.error
                    measured = figures(row_from_record(rec)).decode_tok_s
                    sent = client.get(f"http://127.0.0.1:{port}/_sent").json()["sent_ns"]
                    # the server's chunks carry `per_chunk` tokens; the client's formula counts
                    # generated tokens - 1 between the first and the last token-carrying chunk
                    truth = true_rate(sent, tokens)
                    assert measured is not None
                    meas.append(measured)
                    trues.append(truth)
                    errs.append((measured - truth) / truth * 100)
                    cpus.append(cpu / tokens * 1e6)
        finally:
            proc.terminate()
            proc.wait()
        print(f"{rate:>10,} {per_chunk:>9} {statistics.median(meas):>10,.1f} {statistics.median(trues):>10,.1f} "
              f"{statistics.median(errs):>+8.2f} {statistics.median(cpus):>10.1f}")


if __name__ == "__main__":
    main()
