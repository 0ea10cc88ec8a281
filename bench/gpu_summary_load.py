"""Tables for docs/benchmarks/h200-load.md (round two of bench/gpu_reference.sh): load,
llama-batched-bench, energy, split models. bench/gpu_summary.py prints them after round one's.

Every figure comes from the results folder: the JSON rigbench printed, the database beside it
(rigbench.db: raw requests and energy readings, read through rigbench's store), the NVML trace
(bench/nvml_trace.py) and llama-batched-bench's JSONL. The arithmetic is rigbench's own
(rigbench.measure.load.knee_of for the 100 tok/s knee, rigbench.measure.energy for energy over
a window); this file only picks windows and lays out tables.

- load: per model, -np and depth, per level: aggregate, per-stream decode median and p10,
  TTFT p95; the knee at 30 tok/s (the run's) and at 100 tok/s (recomputed from the stored
  per-level figures); beside each level llama-batched-bench's S_TG at the same batch size
  (npp 128 for depth 0, npp 4096 for depth 4096) and the gap split in two: harness = the
  client's token total against the server's /metrics increase (goal: within 1%), server = the
  server's aggregate (its own token count over the level's wall time) against S_TG.
- energy: J/token per level from rigbench's stored NVML readings, and from the trace's counter
  and its integrated sampled power over the same window (goal: within 5%); per depth from the
  energy run, idle watts, tokens per joule at the best aggregate against one stream, the cost
  of a million tokens at the stated price.
- split: each mode's decode against its ceiling (the card's statement names the split and
  every device), and its load.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

LOAD_RE = re.compile(r"^load_(?P<model>.+)_np(?P<np>\d+)_d(?P<depth>\d+)$")
SPLIT_RE = re.compile(r"^split_(?P<model>.+)_(?P<mode>none|layer|row|tensor|rpc|replicas)_(?P<what>run|load)$")
KNEE_BARS = (30.0, 100.0)
AGREE_GOAL_PCT = 5.0
HARNESS_GOAL_PCT = 1.0


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def num(v: float | None, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


def pct(a: float | None, b: float | None) -> str:
    if a is None or b is None or not b:
        return "—"
    return f"{(a - b) / b * 100:+.1f}%"


def sig(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}g}"


# ---------- llama-batched-bench ----------

def batched_rows(path: Path) -> dict[tuple[int, int], dict[str, float]]:
    """(npp, batch size) -> {"s_tg", "s_pp", "t_tg"} from llama-batched-bench's JSONL (lines that
    are not JSON objects, its log, are skipped)."""
    out: dict[tuple[int, int], dict[str, float]] = {}
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            r = json.loads(line)
            out[(int(r["pp"]), int(r["pl"]))] = {"s_tg": float(r["speed_tg"]), "s_pp": float(r["speed_pp"]),
                                                 "t_tg": float(r["t_tg"])}
        except (ValueError, KeyError, TypeError):
            continue
    return out


def npp_for_depth(depth: int) -> int:
    return 4096 if depth >= 4096 else 128


# ---------- the 100 tok/s knee, with rigbench's own rule ----------

def knee_at(levels: Sequence[Mapping[str, Any]], bar: float, slo_ttft_ms: float | None = None) -> int | None:
    """The knee at ``bar`` tok/s per stream from the stored per-level figures, through
    rigbench.measure.load.knee_of (None where nothing meets it, or the module is missing)."""
    try:
        from rigbench.measure.load import LevelFigures, knee_of
    except ImportError:
        return None
    names = {f.name for f in fields(LevelFigures)}
    figs = [LevelFigures(**{k: v for k, v in lv.items() if k in names}) for lv in levels]
    return knee_of(figs, None, slo_decode_tok_s=bar, slo_ttft_ms=slo_ttft_ms).concurrency


# ---------- energy over windows ----------

class Store:
    """The results database through rigbench's store (read only here); None-safe."""

    def __init__(self, db: Path) -> None:
        self.store: Any = None
        if db.exists():
            try:
                from rigbench.store import open_store

                self.store = open_store(str(db))
            except Exception as exc:  # a summary prints what it can
                print(f"(database {db.name} not readable: {exc})\n")

    def rows(self, run_id: int | None, phase: str | None = None) -> list[dict[str, Any]]:
        if self.store is None or run_id is None:
            return []
        return list(self.store.requests(int(run_id), phase=phase))

    def recover_load(self, model: str, np_: int, depth: int) -> Any:
        """A load run whose JSON was lost (its time box cut it before it printed): the newest
        stored load run whose command names this model, -np and depth, summarised from the
        database (rigbench.jobs.load_summary's result as JSON, the same as --json)."""
        if self.store is None:
            return None
        want = (f"{model}.gguf", f"-np {np_} ", f"--depth {depth} ")
        for r in self.store.list_runs(kind="load"):
            run = self.store.get_run(int(r["id"]))
            command = f"{(run or {}).get('command') or ''} "
            if all(w in command for w in want):
                from rigbench.jobs.load_summary import load_summary

                return load_summary(self.store, int(r["id"])).to_json()
        return None

    def energy(self, run_id: int | None) -> Any:
        if self.store is None or run_id is None:
            return None
        try:
            from rigbench.measure.energy import energy_data
            from rigbench.store.energy import energy_samples
        except ImportError:
            return None
        return energy_data(energy_samples(self.store, int(run_id)))


def trace_data(path: Path) -> tuple[Any, Any, Any, list[str]]:
    """The NVML trace as two (three) rigbench EnergyData: the counter, the integrated
    nvmlDeviceGetPowerUsage and the integrated instant power; and the device names."""
    try:
        from rigbench.measure.energy import EnergyData, curves
    except ImportError:
        return None, None, None, []
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    devices: list[str] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None, None, None, []
    for line in text.splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue  # a line cut by the kill
        if "devices" in r:
            devices = [str(d) for d in r["devices"]]
            continue
        for key, kind in (("energy_j", "counter"), ("power_w", "power"), ("power_instant_w", "power")):
            v = r.get(key)
            if isinstance(v, (int, float)):
                rows[key].append({"session": 1, "source": "nvml", "channel": f"gpu{r['gpu']}",
                                  "covers": "gpu_board", "kind": kind, "t_ns": int(r["t_ns"]), "value": float(v)})

    def data(key: str) -> Any:
        return EnergyData(curves(rows[key]), None, "nvml", "gpu_board") if rows.get(key) else None

    return data("energy_j"), data("power_w"), data("power_instant_w"), devices


def window(data: Any, a: int | None, b: int | None) -> float | None:
    return None if data is None else data.window(a, b)


def span(rows: Iterable[Mapping[str, Any]]) -> tuple[int | None, int | None]:
    ok = [r for r in rows if r.get("status") == "ok"]
    starts = [int(r["t_sent_ns"]) for r in ok if r.get("t_sent_ns") is not None]
    ends = [int(r["t_end_ns"]) for r in ok if r.get("t_end_ns") is not None]
    return (min(starts), max(ends)) if starts and ends else (None, None)


def by_level(rows: Iterable[Mapping[str, Any]]) -> dict[int, list[Mapping[str, Any]]]:
    """A load run's rows per level, the last attempt only (earlier attempts are kept, unused)."""
    grouped: dict[int, dict[int, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        extra = r.get("extra") or {}
        if isinstance(extra, str):
            try:
                extra = json.loads(extra)
            except ValueError:
                extra = {}
        if "level" in extra:
            grouped[int(extra["level"])][int(extra.get("attempt") or 0)].append(r)
    return {lv: att[max(att)] for lv, att in grouped.items()}


class Agreement:
    """Counter against integrated power, summed over windows."""

    def __init__(self) -> None:
        self.counter = 0.0
        self.power = 0.0
        self.instant = 0.0
        self.n = 0
        self.n_instant = 0

    def add(self, c: float | None, p: float | None, i: float | None) -> None:
        if c is None or p is None:
            return
        self.counter += c
        self.power += p
        self.n += 1
        if i is not None:
            self.instant += i
            self.n_instant += 1

    def line(self) -> str:
        if not self.n:
            return "counter against integrated power: no window had both (no trace, or no NVML)"
        d = (self.power - self.counter) / self.counter * 100 if self.counter else None
        verdict = "within" if d is not None and abs(d) <= AGREE_GOAL_PCT else "outside"
        text = (f"counter against integrated power over {self.n} windows: {num(self.counter, 0)} J against "
                f"{num(self.power, 0)} J ({pct(self.power, self.counter)}; {verdict} the {AGREE_GOAL_PCT:g}% goal)")
        if self.n_instant == self.n:
            text += f"; instant power integrated: {num(self.instant, 0)} J ({pct(self.instant, self.counter)})"
        return text


def price_per_kwh(text: str) -> float | None:
    m = re.match(r"\s*\$?([0-9.]+)", text or "")
    try:
        return float(m.group(1)) if m else None
    except ValueError:
        return None


def cost_per_mtok(j_per_token: float | None, price: float | None) -> float | None:
    return None if j_per_token is None or price is None else j_per_token * 1e6 / 3.6e6 * price


# ---------- the sections ----------

def load_section(res: Path, st: Store, trace: tuple[Any, Any, Any, list[str]], agree: Agreement,
                 price: float | None) -> dict[str, dict[str, Any]]:
    """The load tables; returns per model the figures the energy section compares."""
    counter, power, instant, _ = trace
    runs = []
    for f in sorted(res.glob("load_*.json")):
        m = LOAD_RE.match(f.stem)
        if m:
            runs.append((m["model"], int(m["np"]), int(m["depth"]), f))
    runs.sort(key=lambda r: (r[0], -r[1], r[2]))
    per_model: dict[str, dict[str, Any]] = {}
    if runs:
        print("# Load\n")
    for model, np_, depth, f in runs:
        data = load_json(f)
        bb = batched_rows(res / f"batched_{model}.jsonl")
        print(f"## {model} · llama-server -np {np_} · depth {depth:,}\n")
        if not data:
            data = st.recover_load(model, np_, depth)
            if data:
                print(f"({f.name} is empty: the time box cut the run; its finished levels, from the database, "
                      f"run {data.get('run_id')} {data.get('status')})\n")
        if not data or not data.get("levels"):
            print(f"no load output ({f.name} is empty: the time box or an error cut it; the finished levels "
                  "are in rigbench.db, `rigbench show RUN --json`)\n")
            continue
        levels = data["levels"]
        rows = by_level(st.rows(data.get("run_id"), "load"))
        rb_energy = st.energy(data.get("run_id"))
        print("| streams | ok/failed | aggregate tok/s | per-stream decode median | p10 | TTFT p95 ms "
              "| client tokens | server tokens | harness gap | server tok/s | S_TG (batched-bench) | server vs S_TG "
              "| J/token (rigbench) | J/token counter | J/token ∫power | ∫power vs counter | W |")
        print("|" + "---:|" * 17)
        for lv in levels:
            c = int(lv["concurrency"])
            wall = lv.get("wall_s")
            srv_tok = lv.get("server_tokens")
            srv_rate = srv_tok / wall if srv_tok and wall else None
            s_tg = (bb.get((npp_for_depth(depth), c)) or {}).get("s_tg")
            lrows = rows.get(c, [])
            a, b = span(lrows)
            gen = lv.get("generated_tokens")
            jc, jp, ji = window(counter, a, b), window(power, a, b), window(instant, a, b)
            agree.add(jc, jp, ji)
            rbj = None
            if rb_energy is not None and rb_energy.present and lrows:
                from rigbench.measure.energy import level_energy

                rbj = level_energy(lrows, rb_energy).get("j_per_token")
            watts = jc / ((b - a) / 1e9) if jc is not None and a is not None and b is not None and b > a else None
            print(f"| {c} | {lv.get('requests_ok')}/{lv.get('requests_failed')} | {num(lv.get('aggregate_tok_s'))} | "
                  f"{num(lv.get('per_stream_decode_tok_s'))} | {num(lv.get('per_stream_decode_p10_tok_s'))} | "
                  f"{num(lv.get('ttft_ms_p95'), 0)} | {gen if gen is not None else '—'} | "
                  f"{srv_tok if srv_tok is not None else '—'} | {pct(gen, srv_tok)} | {num(srv_rate)} | {num(s_tg)} | "
                  f"{pct(srv_rate, s_tg)} | {sig(rbj)} | {sig(jc / gen if jc and gen else None)} | "
                  f"{sig(jp / gen if jp and gen else None)} | {pct(jp, jc)} | {num(watts, 0)} |")
            per_model.setdefault(model, {}).setdefault((np_, depth), []).append(
                {"c": c, "agg": lv.get("aggregate_tok_s"), "j": jc / gen if jc and gen else rbj})
        knees = {bar: knee_at(levels, bar, (data.get("slo") or {}).get("ttft_ms")) for bar in KNEE_BARS}
        best = data.get("best") or {}
        gaps = [abs(float(lv["token_gap_pct"])) for lv in levels if lv.get("token_gap_pct") is not None]
        print(f"\nKnee at 30 tok/s per stream: {knees[30.0] if knees[30.0] is not None else 'none'} "
              f"(the run's: {(data.get('knee') or {}).get('concurrency')}); at 100 tok/s: "
              f"{knees[100.0] if knees[100.0] is not None else 'none'}. Best aggregate "
              f"{num(best.get('aggregate_tok_s'))} tok/s at {best.get('concurrency')} streams. "
              f"Harness gap (client tokens against /metrics): at most {num(max(gaps) if gaps else None, 2)}% "
              f"(goal {HARNESS_GOAL_PCT:g}%).\n")
        st_words = (data.get("knee") or {}).get("statement")
        if st_words:
            print(f"> {st_words}\n")
    return per_model


def batched_section(res: Path) -> None:
    files = sorted(res.glob("batched_*.jsonl"))
    if not files:
        return
    print("# llama-batched-bench (in-process, no HTTP, no sampling)\n")
    for f in files:
        rows = batched_rows(f)
        print(f"## {f.stem[8:]}\n")
        if not rows:
            print("no rows (see logs/70_batched_*.err)\n")
            continue
        print("| PP | B | S_PP t/s | S_TG t/s | S_TG per sequence |")
        print("|---:|---:|---:|---:|---:|")
        for (pp, pl), r in sorted(rows.items()):
            print(f"| {pp:,} | {pl} | {num(r['s_pp'])} | {num(r['s_tg'])} | {num(r['s_tg'] / pl)} |")
        print()


def energy_section(res: Path, st: Store, trace: tuple[Any, Any, Any, list[str]], agree: Agreement,
                   per_model: Mapping[str, Mapping[Any, list[dict[str, Any]]]], price: float | None,
                   price_text: str) -> None:
    counter, power, instant, devices = trace
    files = sorted(res.glob("energy_*.json"))
    print("# Energy (NVML)\n")
    if devices:
        print(f"Trace: {', '.join(devices)} (bench/nvml_trace.py: counter, power and instant power of each GPU).\n")
    for f in files:
        run = load_json(f)
        if not run:
            print(f"{f.name}: no output\n")
            continue
        print(f"## per depth: {f.stem[7:]} (rigbench run, run {run.get('run_id')})\n")
        rows = st.rows(run.get("run_id"))
        print("| depth | decode tok/s | W | J/token | J/token net of idle | tokens/J | prefill J/token "
              "| decode J counter | ∫power | vs counter |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        idle = None
        for p in run.get("points") or []:
            e = p.get("energy") or {}
            idle = e.get("idle_watts") if e.get("idle_watts") is not None else idle
            jc = jp = 0.0
            any_w = False
            for r in rows:
                if r.get("depth") != p["depth"] or r.get("status") != "ok":
                    continue
                a, b = r.get("t_first_token_ns"), r.get("t_last_token_ns")
                c_, p_, i_ = window(counter, a, b), window(power, a, b), window(instant, a, b)
                agree.add(c_, p_, i_)
                if c_ is not None and p_ is not None:
                    jc += c_
                    jp += p_
                    any_w = True
            print(f"| {p['depth']:,} | {num(p.get('decode_tok_s'))} | {num(e.get('watts'), 0)} | "
                  f"{sig(e.get('j_per_token'))} | {sig(e.get('j_per_token_net'))} | {sig(e.get('tokens_per_joule'))} | "
                  f"{sig(e.get('prefill_j_per_token'))} | {num(jc if any_w else None, 0)} | "
                  f"{num(jp if any_w else None, 0)} | {pct(jp, jc) if any_w else '—'} |")
        print(f"\nIdle: {num(idle)} W (rigbench's baseline: server up, nothing asked). "
              f"{(run.get('energy') or {}).get('statement', '') if isinstance(run.get('energy'), dict) else ''}\n")
    for model, runs in per_model.items():
        for (np_, depth), lv in sorted(runs.items()):
            one = next((x for x in lv if x["c"] == 1), None)
            top = max((x for x in lv if x["agg"] is not None), key=lambda x: x["agg"], default=None)
            if not one or not top or not one["j"] or not top["j"]:
                continue
            c1 = cost_per_mtok(one["j"], price)
            ct = cost_per_mtok(top["j"], price)
            print(f"- {model} -np {np_} depth {depth:,}: one stream {sig(one['j'])} J/token "
                  f"({sig(1 / one['j'])} tokens/J); best aggregate ({top['c']} streams, {num(top['agg'])} tok/s) "
                  f"{sig(top['j'])} J/token ({sig(1 / top['j'])} tokens/J): {num(one['j'] / top['j'], 1)}x cheaper "
                  f"per token; 1M tokens cost {sig(c1)} against {sig(ct)} at {price_text}")
    print(f"\n{agree.line()}\n")


def split_section(res: Path) -> None:
    files = sorted(res.glob("split_*.json"))
    if not files:
        return
    print("# One model over two GPUs\n")
    for f in files:
        m = SPLIT_RE.match(f.stem)
        if not m:
            continue
        data = load_json(f)
        print(f"## {m['model']} · {m['mode']} · {m['what']}\n")
        if not data:
            print("no output (see logs/80_*.err)\n")
            continue
        if m["what"] == "run":
            eng = data.get("engine") or {}
            print(f"engine: {eng.get('build')} · {', '.join(eng.get('devices') or [])}\n")
            print("| depth | decode | server decode | ceiling | % of ceiling | prefill |")
            print("|---:|---:|---:|---:|---:|---:|")
            for p in data.get("points") or []:
                print(f"| {p['depth']:,} | {num(p.get('decode_tok_s'))} | {num(p.get('decode_tok_s_server'))} | "
                      f"{num(p.get('ceiling_tok_s'))} | {num(p.get('pct_of_ceiling'), 0)}% | "
                      f"{num(p.get('prefill_tok_s'))} |")
            c = data.get("ceiling") or {}
            print(f"\n{c.get('statement', 'no ceiling')}\n")
        else:
            print("| streams | aggregate | per-stream decode | TTFT p95 ms | harness gap |")
            print("|---:|---:|---:|---:|---:|")
            for lv in data.get("levels") or []:
                print(f"| {lv['concurrency']} | {num(lv.get('aggregate_tok_s'))} | "
                      f"{num(lv.get('per_stream_decode_tok_s'))} | {num(lv.get('ttft_ms_p95'), 0)} | "
                      f"{num(lv.get('token_gap_pct'), 2)}% |")
            print(f"\n{(data.get('knee') or {}).get('statement', '')}\n")


def main(res: Path, price_text: str = "0.30/kWh") -> None:
    st = Store(res / "rigbench.db")
    trace = trace_data(res / "nvml_trace.jsonl")
    agree = Agreement()
    price = price_per_kwh(price_text)
    per_model = load_section(res, st, trace, agree, price)
    batched_section(res)
    if per_model or list(res.glob("energy_*.json")) or trace[0] is not None:
        energy_section(res, st, trace, agree, per_model, price, price_text)
    split_section(res)
