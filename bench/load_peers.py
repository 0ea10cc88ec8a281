"""Side by side: ``rigbench load``, guidellm and AIPerf on the same server, the same figures.

Two servers:

- ``fake``: the scripted fake server (``rigbench.testing.fake_server``) with a shared token
  budget (``--budget`` tok/s shared by the streams generating, each at most ``--cap``), one
  fresh server process per tool and level, so its own send log (``/_sent_all``) gives the
  truth of every level: per-request decode from the first to the last token it wrote, and
  the aggregate from the first token written to the last. The fake writes the first token as
  soon as a request arrives, so its TTFT is network and client time only.
- ``engine``: the real embedded engine (llama.cpp in the xllamacpp wheel, the bundled Gemma 3
  270M) kept serving on a loopback port by rigbench's own worker
  (``rigbench.engines._embedded_worker``), with ``-np`` slots; every tool runs against the
  same process. No truth: the tools are compared with each other and with llama.cpp's own
  ``/metrics`` token counter.

Each tool runs every level as its own invocation with the same shape: N streams (closed loop),
``--requests`` requests per stream (guidellm ``max_requests`` and AIPerf ``--request-count``
are N x requests), ``--gen`` output tokens (ignore_eos) and prompts of ``--isl`` tokens
(rigbench: ``--depth``). What each reports is read from its own JSON output, unconverted
except that a per-token latency in ms becomes tok/s (1000 / ITL; p10 decode = 1000 / p90 ITL).

    python bench/load_peers.py setup                 # the peers' venvs (pip), their versions
    python bench/load_peers.py tokenizer             # a tokenizer dir from the bundled GGUF
    python bench/load_peers.py fake [--levels 1,2,4,8]
    python bench/load_peers.py engine [--levels 1,2,4] [--np 4] [--threads 1]
    python bench/load_peers.py table                 # print the table again from saved results

Run it with rigbench's own Python. The peers live in their own venvs (``GUIDELLM_VENV``,
``AIPERF_VENV``; default under ``RIGBENCH_PEERS_DIR``, /tmp/rigbench-peers), as does
everything they write. Nothing here is committed but this file: no tokenizer, no venv.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

WORK = Path(os.environ.get("RIGBENCH_PEERS_DIR", "/tmp/rigbench-peers"))
GUIDELLM = Path(os.environ.get("GUIDELLM_VENV", str(WORK / "venv-guidellm")))
AIPERF = Path(os.environ.get("AIPERF_VENV", str(WORK / "venv-aiperf")))
TOKDIR = WORK / "tokenizer"
RESULTS = WORK / "results.jsonl"

# guidellm 0.8.1 requires torch, and PyPI's Linux torch pulls the CUDA libraries (71 packages,
# several GB); it imports torch only for its data loader, so the CPU build is enough. Where a
# local CPU wheel exists (PIP_TORCH_CPU), install it first; otherwise pip takes PyPI's.
SETUP = {
    "guidellm": ["guidellm==0.8.1", "gguf"],
    "aiperf": ["aiperf==0.13.0"],
}

MAKE_TOKENIZER = r"""
import sys, tempfile, pathlib
from transformers import AutoTokenizer
src, out = pathlib.Path(sys.argv[1]).resolve(), sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:  # transformers wants a directory holding the file
    (pathlib.Path(tmp) / src.name).symlink_to(src)
    tok = AutoTokenizer.from_pretrained(tmp, gguf_file=src.name)
tok.save_pretrained(out)
print(type(tok).__name__, tok.vocab_size)
"""


def client_cpu_s() -> float:
    """CPU seconds of every finished child process tree (the tool just run, its workers too)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sh(cmd: list[str], log: Path, timeout: float = 900.0) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        try:
            return subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=log.parent).returncode
        except subprocess.TimeoutExpired:
            f.write(f"\n[timed out after {timeout:.0f} s]\n")
            return 124


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, venv in (("guidellm", GUIDELLM), ("aiperf", AIPERF)):
        r = subprocess.run([str(venv / "bin" / "python"), "-c",
                            f"import importlib.metadata as m; print(m.version('{name}'), m.version('transformers'))"],
                           capture_output=True, text=True)
        out[name] = r.stdout.strip() or f"missing ({r.stderr.strip().splitlines()[-1:]})"
    import rigbench

    out["rigbench"] = getattr(rigbench, "__version__", "?")
    return out


def setup() -> None:
    for name, venv in (("guidellm", GUIDELLM), ("aiperf", AIPERF)):
        if not (venv / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "pip"), "install", "-q"]
        if name == "guidellm" and os.environ.get("PIP_TORCH_CPU"):
            subprocess.run([*pip, os.environ["PIP_TORCH_CPU"]], check=True)
        subprocess.run([*pip, *SETUP[name]], check=True)
    print(json.dumps(versions()))


def tokenizer() -> None:
    from rigbench.engines.bundled import bundled_model_path

    gguf = bundled_model_path()
    TOKDIR.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([str(GUIDELLM / "bin" / "python"), "-c", MAKE_TOKENIZER, str(gguf), str(TOKDIR)],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"tokenizer: {r.stderr.strip().splitlines()[-1:]}")
    print(f"tokenizer from {gguf.name}: {r.stdout.strip()} -> {TOKDIR}")


# ---- the tools ---------------------------------------------------------------------------

def run_rigbench(base: str, n: int, a: argparse.Namespace, d: Path) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rigbench", "load", "--url", base + "/v1", "--concurrency", str(n),
           "--gen-tokens", str(a.gen), "--depth", str(a.isl), "--requests", str(a.requests),
           "--slo-decode-tok-s", "1", "--json", "--db", str(d / "rigbench.db")]
    rc = sh(cmd, d / "log.txt")
    text = (d / "log.txt").read_text()
    try:
        out, _ = json.JSONDecoder().raw_decode(text[text.index("\n{") + 1:])
    except ValueError:
        return {"error": f"rc {rc}: {text[-300:]}"}
    lv = out["levels"][0]
    return {"agg": lv["aggregate_tok_s"], "decode": lv["per_stream_decode_tok_s"],
            "decode_p10": lv["per_stream_decode_p10_tok_s"], "ttft_p50": lv["ttft_ms_p50"],
            "ttft_p95": lv["ttft_ms_p95"], "ok": lv["requests_ok"], "failed": lv["requests_failed"],
            "tokens": lv["generated_tokens"], "tokens_server_usage": lv["generated_tokens"],
            "metrics_tokens": lv.get("server_tokens"), "wall_s": lv.get("wall_s")}


def run_guidellm(base: str, model: str, n: int, a: argparse.Namespace, d: Path) -> dict[str, Any]:
    out = d / "guidellm.json"
    cmd = [str(GUIDELLM / "bin" / "guidellm"), "run",
           "--backend", f"kind=openai_http,target={base},model={model},max_tokens={a.gen}",
           "--profile", f"kind=concurrent,streams={n}",
           "--data", f"kind=synthetic_text,prompt_tokens={a.isl},output_tokens={a.gen}",
           "--tokenizer", f"kind=huggingface_auto,model={TOKDIR}",
           "--constraint", f"kind=max_requests,count={n * a.requests}",
           "--output", f"kind=json,path={out}", "--disable-progress"]
    rc = sh(cmd, d / "log.txt")
    if not out.exists():
        return {"error": f"rc {rc}: {(d / 'log.txt').read_text()[-300:]}"}
    b = json.loads(out.read_text())["benchmarks"][0]
    m = b["metrics"]

    def dist(key: str) -> dict[str, Any]:
        d: dict[str, Any] = m[key]["successful"]
        return d

    itl = dist("inter_token_latency_ms")
    ttft = dist("time_to_first_token_ms")
    tot = m["request_totals"]
    return {"agg": dist("output_tokens_per_second")["mean"],
            "decode": 1000 / itl["percentiles"]["p50"] if itl["count"] else None,
            "decode_p10": 1000 / itl["percentiles"]["p90"] if itl["count"] else None,
            "ttft_p50": ttft["percentiles"]["p50"] if ttft["count"] else None,
            "ttft_p95": ttft["percentiles"]["p95"] if ttft["count"] else None,
            "ok": tot["successful"], "failed": tot["errored"] + tot["incomplete"],
            "tokens": dist("output_token_count")["total_sum"], "wall_s": b["duration"]}


def run_aiperf(base: str, model: str, n: int, a: argparse.Namespace, d: Path) -> dict[str, Any]:
    art = d / "artifacts"
    cmd = [str(AIPERF / "bin" / "aiperf"), "profile", "--model", model, "--url", base, "--endpoint-type", "chat",
           "--streaming", "--tokenizer", str(TOKDIR), "--concurrency", str(n), "--request-count",
           str(n * a.requests), "--isl", str(a.isl), "--osl", str(a.gen), "--extra-inputs", "ignore_eos:true",
           "--random-seed", "1", "--ui-type", "none", "--artifact-dir", str(art)]
    rc = sh(cmd, d / "log.txt")
    f = art / "profile_export_aiperf.json"
    if not f.exists():
        return {"error": f"rc {rc}: {(d / 'log.txt').read_text()[-300:]}"}
    j = json.loads(f.read_text())

    def g(key: str, stat: str = "avg") -> float | None:
        v = j.get(key)
        return v.get(stat) if isinstance(v, dict) else None

    dur = g("benchmark_duration")
    usage = g("total_usage_completion_tokens")
    tokens = g("total_output_tokens")
    errors = sum(int(e.get("count", 0)) for e in j.get("error_summary") or [])
    return {"agg": g("output_token_throughput"), "decode": g("output_token_throughput_per_user", "p50"),
            "decode_p10": g("output_token_throughput_per_user", "p10"),
            "ttft_p50": g("time_to_first_token", "p50"), "ttft_p95": g("time_to_first_token", "p95"),
            # AIPerf's completed_request_count counts errors too
            "ok": (g("completed_request_count") or 0) - errors, "failed": errors, "tokens": tokens,
            "tokens_server_usage": usage,
            # the same window, the server's counts: AIPerf's own figure counts its tokenizer's tokens
            "agg_server_usage": (g("output_token_throughput") or 0) * usage / tokens if usage and tokens else None,
            "wall_s": dur}


# ---- servers -----------------------------------------------------------------------------

def start_fake(a: argparse.Namespace) -> tuple[subprocess.Popen[str], str]:
    script = {"tokens": a.gen, "shared_tok_s": a.budget, "rate_tok_s": a.cap, "metrics": True, "props": True,
              "tokenize": True, "slots": 64, "timings": True}
    p = subprocess.Popen([sys.executable, "-m", "rigbench.testing.fake_server", "--script", json.dumps(script)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    return p, f"http://127.0.0.1:{json.loads(p.stdout.readline())['port']}"


def fake_truth(base: str, gen: int) -> dict[str, Any]:
    logs = [s for s in httpx.get(base + "/_sent_all", timeout=30).json()["sent_ns"] if len(s) == gen]
    if not logs:
        return {}
    dec = [(len(s) - 1) / ((s[-1] - s[0]) / 1e9) for s in logs]
    span = (max(s[-1] for s in logs) - min(s[0] for s in logs)) / 1e9
    return {"true_decode": statistics.median(dec), "true_agg": sum(len(s) for s in logs) / span,
            "true_requests": len(logs)}


def llama_counters(base: str) -> dict[str, float]:
    """llama.cpp's generated-token counter and the slot-seconds it spent generating them."""
    out: dict[str, float] = {}
    try:
        for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
            for key in ("llamacpp:tokens_predicted_total", "llamacpp:tokens_predicted_seconds_total"):
                if line.startswith(key + " "):
                    out[key] = float(line.split()[-1])
    except httpx.HTTPError:
        pass
    return out


def record(row: dict[str, Any]) -> None:
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    print(fmt_row(row), flush=True)


def tool_run(tool: str, base: str, model: str, n: int, a: argparse.Namespace, d: Path) -> dict[str, Any]:
    cpu0 = client_cpu_s()
    if tool == "rigbench":
        row = run_rigbench(base, n, a, d)
    elif tool == "guidellm":
        row = run_guidellm(base, model, n, a, d)
    else:
        row = run_aiperf(base, model, n, a, d)
    row["client_cpu_s"] = client_cpu_s() - cpu0  # start-up and tokenizer loading included
    return row


def fake(a: argparse.Namespace) -> None:
    for n in a.levels:
        for tool in a.tools:
            p, base = start_fake(a)
            try:
                load0 = os.getloadavg()[0]
                t0 = time.time()
                row = tool_run(tool, base, "fake-model", n, a, WORK / "fake" / f"{tool}-c{n}")
                row.update(fake_truth(base, a.gen))
            finally:
                p.kill()
                p.wait()
            row.update({"server": "fake", "tool": tool, "level": n, "load_avg": load0, "elapsed_s": time.time() - t0,
                        "budget": a.budget, "cap": a.cap, "gen": a.gen})
            record(row)


def engine(a: argparse.Namespace) -> None:
    from rigbench.engines.bundled import bundled_model_path

    cfg = {"model": str(bundled_model_path()), "port": 0, "verbosity": 1,
           "flags": {"np": str(a.np), "c": str(a.np * a.ctx), "t": str(a.threads)}}
    log = (WORK / "engine" / "server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    p = subprocess.Popen([sys.executable, "-m", "rigbench.engines._embedded_worker", json.dumps(cfg)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), text=True,
                         start_new_session=True)
    assert p.stdout is not None
    base = json.loads(p.stdout.readline())["listening"].rstrip("/")
    try:
        for _ in range(120):
            try:
                if httpx.get(base + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        model = httpx.get(base + "/v1/models", timeout=10).json()["data"][0]["id"]
        for n in a.levels:  # level by level, the tools one after the other: the machine's drift spreads evenly
            for tool in a.tools:
                load0 = os.getloadavg()[0]
                t0 = time.time()
                c0 = llama_counters(base)
                row = tool_run(tool, base, model, n, a, WORK / "engine" / f"{tool}-c{n}")
                c1 = llama_counters(base)
                tok, sec = "llamacpp:tokens_predicted_total", "llamacpp:tokens_predicted_seconds_total"
                before, after = c0.get(tok), c1.get(tok)
                if sec in c0 and sec in c1 and c1[sec] > c0[sec] and before is not None and after is not None:
                    # llama.cpp's own decode per stream over the invocation: its tokens over the
                    # slot-seconds it spent generating (warm-up and priming included for rigbench)
                    row["server_decode"] = (after - before) / (c1[sec] - c0[sec])
                row.update({"server": "engine", "tool": tool, "level": n, "load_avg": load0,
                            "elapsed_s": time.time() - t0, "np": a.np, "threads": a.threads, "gen": a.gen,
                            "metrics_delta": after - before if after is not None and before is not None else None})
                record(row)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=30)


# ---- the table ---------------------------------------------------------------------------

def _f(v: Any, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


HEADER = (f"{'server':<6} {'tool':<8} {'N':>2} {'ok':>3} {'fail':>4} {'agg tok/s':>9} {'true':>6} {'(usage)':>7} "
          f"{'decode':>7} {'p10':>6} {'true':>6} {'llama':>6} {'TTFT p50':>8} {'p95':>7} {'tokens':>6} {'server':>6} "
          f"{'load':>4} {'cpu s':>5}")


def fmt_row(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{r['server']:<6} {r['tool']:<8} {r['level']:>2} error: {r['error'][:200]!r}"
    server_tok = r.get("metrics_delta") if r["server"] == "engine" else r.get("true_requests", 0) * r.get("gen", 0)
    return (f"{r['server']:<6} {r['tool']:<8} {r['level']:>2} {_f(r['ok'], 0):>3} {_f(r['failed'], 0):>4} "
            f"{_f(r['agg']):>9} {_f(r.get('true_agg')):>6} {_f(r.get('agg_server_usage')):>7} "
            f"{_f(r['decode']):>7} {_f(r['decode_p10']):>6} {_f(r.get('true_decode')):>6} "
            f"{_f(r.get('server_decode')):>6} "
            f"{_f(r['ttft_p50']):>8} {_f(r['ttft_p95']):>7} {_f(r['tokens'], 0):>6} {_f(server_tok, 0):>6} "
            f"{r['load_avg']:>4.1f} {_f(r.get('client_cpu_s')):>5}")


def table() -> None:
    print(HEADER)
    for line in RESULTS.read_text().splitlines():
        print(fmt_row(json.loads(line)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["setup", "tokenizer", "fake", "engine", "table"])
    ap.add_argument("--levels", default=None)
    ap.add_argument("--tools", default="rigbench,guidellm,aiperf")
    ap.add_argument("--gen", type=int, default=64, help="output tokens per request")
    ap.add_argument("--isl", type=int, default=64, help="prompt tokens (rigbench: --depth)")
    ap.add_argument("--requests", type=int, default=3, help="requests per stream")
    ap.add_argument("--budget", type=float, default=240.0, help="fake: shared tok/s")
    ap.add_argument("--cap", type=float, default=100.0, help="fake: per-stream tok/s cap")
    ap.add_argument("--np", type=int, default=4, help="engine: slots")
    ap.add_argument("--ctx", type=int, default=2048, help="engine: context per slot")
    ap.add_argument("--threads", type=int, default=1, help="engine: -t")
    a = ap.parse_args()
    a.tools = a.tools.split(",")
    a.levels = [int(x) for x in (a.levels or ("1,2,4,8" if a.what == "fake" else "1,2,4")).split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    if a.what == "setup":
        setup()
    elif a.what == "tokenizer":
        tokenizer()
    elif a.what == "table":
        table()
    else:
        if not TOKDIR.exists():
            tokenizer()
        print(f"{platform.node()} · {os.cpu_count()} cores · load average {os.getloadavg()[0]:.1f} · "
              f"{json.dumps(versions())}")
        print(HEADER, flush=True)
        fake(a) if a.what == "fake" else engine(a)


if __name__ == "__main__":
    main()
