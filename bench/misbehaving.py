"""A misbehaving server against rigbench's client (issue 23): how long each request takes
to end, with what line, and the client's peak memory.

Each case runs the scripted fake server in its own process (no shared GIL) and one
streamed request through ``ServerClient`` (so the deadline is the one every request
gets). Cases: one event of 40 MB with no line end; a server that ignores max_tokens
(asks 16, the server would send 4,000); keep-alive bytes forever against a total
deadline given on the command line (the derived one is two minutes or more).
Peak RSS is this process's high-water mark (``ru_maxrss``), imports included.

    python bench/misbehaving.py [--endless-mb 40] [--trickle-deadline 5]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.types import ServerFacts


def _serve(script: dict[str, object]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "rigbench.testing.fake_server", "--script", json.dumps(script)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = json.loads(proc.stdout.readline())["port"]
    return proc, f"http://127.0.0.1:{port}/v1"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endless-mb", type=float, default=40.0)
    ap.add_argument("--trickle-deadline", type=float, default=5.0, help="seconds: the total limit for that case")
    args = ap.parse_args()
    print(f"machine: {platform.node()} · {platform.processor() or platform.machine()} · "
          f"python {platform.python_version()} · peak RSS before any request {_rss_mb():.0f} MB")
    cases = [
        (f"endless event, {args.endless_mb:g} MB", {"endless_event_bytes": int(args.endless_mb * 1e6)}, None),
        ("ignores max_tokens (16 asked, 4,000 sent)", {"tokens": 4000, "ignore_max_tokens": True}, None),
        ("keep-alive bytes forever", {"trickle_s": 0.2}, args.trickle_deadline),
    ]
    for name, script, total in cases:
        proc, url = _serve(script)
        try:
            client = ServerClient(ServerFacts(base_url=url, kind="url"), timeouts=Timeouts(read_s=30.0))
            timeouts = Timeouts(read_s=30.0, total_s=total, total_basis="given by --trickle-deadline") if total \
                else None
            t0 = time.perf_counter()
            rec = client.chat([{"role": "user", "content": "Say hello."}], max_tokens=16, timeouts=timeouts)
            took = time.perf_counter() - t0
            client.close()
        finally:
            proc.kill()
            proc.wait()
        outcome = rec.error or (f"{rec.completion_tokens} tokens kept, the stream closed past its bound of {rec.cut}"
                                if rec.cut else f"{rec.completion_tokens} tokens")
        print(f"{name}: {took:.2f} s, peak RSS {_rss_mb():.0f} MB · {rec.status}: {outcome}")


if __name__ == "__main__":
    main()
