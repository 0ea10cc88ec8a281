"""Tables for docs/benchmarks/h100.md from bench/gpu_reference.sh's results folder.

    python bench/gpu_summary.py RESULTS_DIR

For each model: rigbench's decode (client), llama-server's own figure, and llama-bench
in-process at the same depth, split into the harness gap (client vs server timings) and
llama-server's own overhead (server vs llama-bench); prefill; the decode ceiling at the
bandwidth the card used (the vendor's figure for the GPU: 3.35 TB/s for an H100) and at the
measured device copy bandwidth, with % of each. Then the
compares and the tuning campaign. Then round two's tables (bench/gpu_summary_load.py: load,
llama-batched-bench, energy, split models). Markdown on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b:
        return "—"
    return f"{(a - b) / b * 100:+.1f}%"


def num(v: float | None, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


def bench_rows(data: Any) -> dict[tuple[int, str], float]:
    """(depth, 'pp'|'tg') -> tok/s from llama-bench's JSON."""
    out: dict[tuple[int, str], float] = {}
    for r in data or []:
        depth = int(r.get("n_depth", 0))
        kind = "tg" if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0 else "pp"
        out[(depth, kind)] = float(r.get("avg_ts", 0.0))
    return out


def main() -> int:
    res = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    bw = load(res / "device_bandwidth.json") or {}
    copy = bw.get("copy_gb_s")
    print(f"Device copy bandwidth: {num(copy)} GB/s ({bw.get('method', 'not measured')}) on "
          f"{bw.get('device', 'the device')}.\n")
    for run_file in sorted(res.glob("run_*.json")):
        name = run_file.stem[4:]
        run = load(run_file)
        if not run:
            print(f"## {name}: no run output\n")
            continue
        bench = bench_rows(load(res / f"llama_bench_{name}.json"))
        m = run["model"]
        active, per_token = (m.get("params_active") or 0) / 1e9, (m.get("active_bytes_per_token") or 0) / 1e9
        print(f"## {name}: {m.get('name')} · {m.get('quant')} · {m.get('file_bytes', 0) / 1e9:.2f} GB · "
              f"{active:.2f} B active params · {per_token:.2f} GB read per token\n")
        print(f"run {run['run_id']} · {run['engine'].get('build')} · {', '.join(run['engine'].get('devices') or [])}\n")
        card_bw = (run.get("ceiling") or {}).get("bandwidth_gb_s")
        print("| depth | decode (rigbench) | decode (server) | tg128 (llama-bench) | harness gap | server vs bench "
              f"| prefill (rigbench) | prefill (server) | pp512 (llama-bench) | ceiling @{num(card_bw, 0)} GB/s | % "
              "| ceiling @copy | % |")
        print("|" + "---:|" * 13)
        for p in run["points"]:
            d = p["depth"]
            tg = bench.get((d, "tg"))
            pp = bench.get((d, "pp"))
            ceil = p.get("ceiling_tok_s")
            ceil_copy = ceil * copy / card_bw if ceil and copy and card_bw else None
            dec = p.get("decode_tok_s")
            print(f"| {d:,} | {num(dec)} | {num(p.get('decode_tok_s_server'))} | {num(tg)} | "
                  f"{pct(dec, p.get('decode_tok_s_server'))} | {pct(p.get('decode_tok_s_server'), tg)} | "
                  f"{num(p.get('prefill_tok_s'))} | {num(p.get('prefill_tok_s_server'))} | {num(pp)} | {num(ceil)} | "
                  f"{num(p.get('pct_of_ceiling'), 0)}% | {num(ceil_copy)} | "
                  f"{num(dec / ceil_copy * 100 if dec and ceil_copy else None, 0)}% |")
        c = run.get("ceiling") or {}
        print(f"\n{c.get('statement', '')}\n\n{run['context']['statement']}\n")
        print(f"Verdict: {run['verdict']['class']} — {run['verdict']['summary']}\n")
    for cmp_file in sorted(res.glob("compare_*.json")):
        cmp = load(cmp_file)
        if not cmp:
            continue
        a_text, b_text = cmp["a"].get("text", cmp["a"]), cmp["b"].get("text", cmp["b"])
        print(f"## compare {cmp_file.stem[8:]}: A = {a_text}, B = {b_text}\n")
        print("| depth | A decode | B decode | A prefill | B prefill | B/A | 95% CI | verdict |")
        print("|---:|---:|---:|---:|---:|---:|---|---|")
        for d in cmp["depths"]:
            ci = d.get("ci") or [None, None]
            print(f"| {d['depth']:,} | {num(d['a_decode_tok_s'])} | {num(d['b_decode_tok_s'])} | "
                  f"{num(d['a_prefill_tok_s'])} | {num(d['b_prefill_tok_s'])} | {num(d['ratio'], 3)} | "
                  f"{num(ci[0], 3)}–{num(ci[1], 3)} | {d['verdict']} |")
        print(f"\nOverall: {cmp['verdict']}\n")
    tune = load(res / "tune.json")
    if tune:
        print(f"## tune campaign {tune['campaign_id']}\n")
        print("| config | status | decode | prefill | decision | reason |")
        print("|---|---|---:|---:|---|---|")
        for t in tune["trials"]:
            cfg = " ".join(f"{k}={v}" for k, v in (t.get("config") or {}).items()) or "(defaults)"
            print(f"| {cfg} | {t['status']} | {num(t.get('decode_tok_s'))} | {num(t.get('prefill_tok_s'))} | "
                  f"{t.get('decision') or ''} | {(t.get('reason') or '').replace('|', '/')} |")
        w = tune.get("winner") or {}
        imp = tune.get("improvement") or {}
        print(f"\nWinner: `{w.get('command')}` · improvement over the defaults: decode {imp.get('decode')}, "
              f"prefill {imp.get('prefill')}\n")
    import gpu_summary_load  # round two: load, llama-batched-bench, energy, split (bench/gpu_summary_load.py)

    gpu_summary_load.main(res, os.environ.get("ENERGY_PRICE") or "0.30/kWh")
    return 0


if __name__ == "__main__":
    sys.exit(main())
