"""bench/gpu_summary_load.py (the tables of docs/benchmarks/h200-load.md) on a results folder
made here: a `rigbench load` run against the fake server with a shared token budget, an NVML
trace written by bench/nvml_trace.py over a stub pynvml whose power is a known function of
time (the counter its exact integral), and a llama-batched-bench JSONL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from rigbench.testing.fake_server import Script

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

import gpu_summary_load as gsl  # noqa: E402

STUB = '''
import math, time
T0 = time.perf_counter()
P, A, PER = 300.0, 60.0, 0.7   # watts: P + A sin(2 pi t / PER), per GPU
def _p(t): return P + A * math.sin(2 * math.pi * t / PER)
def _e(t): return P * t + A * PER / (2 * math.pi) * (1 - math.cos(2 * math.pi * t / PER))
def nvmlInit(): pass
def nvmlShutdown(): pass
def nvmlDeviceGetCount(): return 2
def nvmlDeviceGetHandleByIndex(i): return i
def nvmlDeviceGetName(h): return b"Stub GPU"
def nvmlSystemGetDriverVersion(): return "0.0"
def nvmlDeviceGetTotalEnergyConsumption(h): return int(_e(time.perf_counter() - T0) * 1000)
def nvmlDeviceGetPowerUsage(h): return int(_p(time.perf_counter() - T0) * 1000)
'''

def fake_process(script: Script) -> Any:
    """The fake server in its own process (not on the client's GIL), yielding its URL."""

    @contextmanager
    def run() -> Any:
        import dataclasses

        p = subprocess.Popen([sys.executable, "-m", "rigbench.testing.fake_server", "--port", "0", "--script",
                              json.dumps(dataclasses.asdict(script))], stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout is not None
            yield f"http://127.0.0.1:{json.loads(p.stdout.readline())['port']}/v1"
        finally:
            p.kill()
            p.wait()

    return run()


@contextmanager
def stub_gpus_traced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Any:
    """Two stub NVIDIA GPUs (a pynvml on the path) and bench/nvml_trace.py tracing them, for
    the body of the with; yields the results folder. rigbench's own NVML source reads the same
    stub (in this process): its stored readings give the "J/token (rigbench)" column, beside
    the trace's."""
    res = tmp_path / "results"
    res.mkdir()
    (tmp_path / "stub").mkdir()
    (tmp_path / "stub" / "pynvml.py").write_text(STUB)
    monkeypatch.syspath_prepend(str(tmp_path / "stub"))
    monkeypatch.delitem(sys.modules, "pynvml", raising=False)
    # the stub is imported now and taken out again when the test ends: left in sys.modules, every
    # later in-process run would find an "NVIDIA GPU" and sample the stub's power
    request.addfinalizer(lambda: sys.modules.pop("pynvml", None))
    trace = res / "nvml_trace.jsonl"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'stub'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    tracer = subprocess.Popen([sys.executable, str(BENCH / "nvml_trace.py"), "--out", str(trace), "--interval", "0.05",
                               "--max-s", "240"], env=env)
    try:
        for _ in range(100):
            if trace.exists() and len(trace.read_text().splitlines()) > 2:
                break
            time.sleep(0.05)
        yield res
        time.sleep(0.3)
    finally:
        tracer.send_signal(signal.SIGTERM)
        tracer.wait(10)
    assert tracer.returncode == 0


BATCHED = {1: 160.0, 2: 300.0, 4: 310.0, 8: 320.0}


def write_batched(path: Path) -> None:
    lines = ["main: n_kv_max = 4224, n_batch = 2048 (a log line, skipped)"]
    for pl, s_tg in BATCHED.items():
        lines.append(json.dumps({"pp": 128, "tg": 32, "pl": pl, "n_kv": pl * 160, "t_pp": 0.01, "speed_pp": 9000.0,
                                 "t_tg": 32 * pl / s_tg, "speed_tg": s_tg, "t": 1.0, "speed": 1.0}))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.timeout(300)
def test_the_load_tables_from_a_fake_server_run(cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    with stub_gpus_traced(tmp_path, monkeypatch, request) as res:
        # per stream: 150 tok/s alone, together at most 300: 1 and 2 streams at 150, 4 at ~75, 8 at ~38
        script = Script(tokens=48, shared_tok_s=300.0, rate_tok_s=150.0, metrics=True, props=True, tokenize=True,
                        slots=16, timings=True)
        # the command line stored with the run, as the script's would read (a lost JSON is found by it)
        monkeypatch.setattr(sys, "argv", ["rigbench", "load", "/m/fake.gguf", "-np", "4", "--depth", "0"])
        with fake_process(script) as url:
            r = cli("load", "--url", url, "--concurrency", "1,2,4,8", "--gen-tokens", "48", "--depth", "0",
                    "--requests", "2", "--slo-decode-tok-s", "30", "--json", "--db", str(res / "rigbench.db"))
        assert r.code == 0, r.err
        (res / "load_fake_np4_d0.json").write_text(r.out)
    (res / "load_fake_np16_d4096.json").write_text("")  # a run the time box cut: said, not dropped
    write_batched(res / "batched_fake.jsonl")
    out = r.json()
    capsys.readouterr()
    gsl.main(res, "0.30/kWh")
    text = capsys.readouterr().out

    assert "## fake · llama-server -np 4 · depth 0" in text
    assert "## fake · llama-server -np 16 · depth 4,096\n\nno load output" in text
    rows = {int(line.split("|")[1]): [c.strip() for c in line.split("|")[1:-1]]
            for line in text.splitlines() if line.startswith("| ") and line.split("|")[1].strip().isdigit()
            and len(line.split("|")) == 19}
    assert sorted(rows) == [1, 2, 4, 8]
    levels = {lv["concurrency"]: lv for lv in out["levels"]}
    for c, cells in rows.items():
        lv = levels[c]
        assert cells[2] == f"{lv['aggregate_tok_s']:,.1f}"
        assert cells[8] == "+0.0%"  # the client's tokens are the server's /metrics increase
        assert cells[10] == f"{BATCHED[c]:,.1f}"  # S_TG at the same batch size, npp 128 for depth 0
        server_rate = lv["server_tokens"] / lv["wall_s"]
        assert cells[11] == f"{(server_rate - BATCHED[c]) / BATCHED[c] * 100:+.1f}%"
        # two stub GPUs at 600 W on average: J/token from the counter over the level's span,
        # and rigbench's own figure from its stored readings of the same stub
        jc = float(cells[13])
        assert float(cells[12]) == pytest.approx(jc, rel=0.05)
        # rigbench load --json carries the same figure per level (the energy sampler runs for load)
        assert lv["energy"]["source"] == "nvml" and lv["energy"]["j_per_token"] == pytest.approx(float(cells[12]),
                                                                                                  rel=0.01)
        assert jc == pytest.approx(600.0 * lv["wall_s"] / lv["generated_tokens"], rel=0.12)
        # the integrated power against the exact counter: within 5% per level
        assert abs(float(cells[15].rstrip("%"))) < 5.0
    # the knees: the run's at 30 tok/s, and 100 tok/s recomputed with rigbench's own rule
    assert gsl.knee_at(out["levels"], 100.0) == 2
    assert gsl.knee_at(out["levels"], 30.0) == out["knee"]["concurrency"] == 8
    assert "Knee at 30 tok/s per stream: 8 (the run's: 8); at 100 tok/s: 2." in text
    assert "within the 5% goal" in text
    assert "Trace: Stub GPU, Stub GPU (bench/nvml_trace.py" in text
    assert "x cheaper per token; 1M tokens cost" in text
    # a load JSON the time box cut is recovered from the database by its command line
    st = gsl.Store(res / "rigbench.db")
    assert st.recover_load("fake", 4, 0)["levels"] == json.loads(json.dumps(out["levels"]))
    assert st.recover_load("fake", 16, 0) is None


@pytest.mark.timeout(300)
def test_the_energy_tables_from_a_fake_server_run(cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    with stub_gpus_traced(tmp_path, monkeypatch, request) as res:
        script = Script(tokens=64, rate_tok_s=100.0, metrics=True, props=True, tokenize=True, timings=True)
        with fake_process(script) as url:
            r = cli("run", "--url", url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "64", "--no-quality",
                    "--electricity-price", "0.30/kWh", "--json", "--db", str(res / "rigbench.db"))
        assert r.code == 0, r.err
        (res / "energy_fake.json").write_text(r.out)
    run = r.json()
    capsys.readouterr()
    gsl.main(res, "0.30/kWh")
    text = capsys.readouterr().out
    assert f"## per depth: fake (rigbench run, run {run['run_id']})" in text
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| ") and len(line.split("|")) == 12 and line.split("|")[1].strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["0", "256"]
    for row, p in zip(rows, run["points"], strict=True):
        e = p["energy"]
        assert e["source"] == "nvml" and row[2] == f"{e['watts']:,.0f}"
        assert e["watts"] == pytest.approx(600.0, rel=0.12)  # two stub GPUs, 600 W on average
        # the trace's integrated power against its counter over the same decode windows
        assert abs(float(row[9].rstrip("%"))) < 5.0
    assert "Idle: " in text and "within the 5% goal" in text


def test_batched_rows_and_cost() -> None:
    assert gsl.npp_for_depth(0) == 128 and gsl.npp_for_depth(4096) == 4096
    assert gsl.price_per_kwh("$0.30/kWh") == 0.30
    assert gsl.cost_per_mtok(3.6, 0.30) == pytest.approx(0.30)  # 3.6 J/token: 1 kWh per 1M tokens
    assert gsl.cost_per_mtok(None, 0.30) is None


def test_agreement_says_when_it_misses_the_goal() -> None:
    a = gsl.Agreement()
    assert "no window" in a.line()
    a.add(100.0, 108.0, None)
    assert "outside the 5% goal" in a.line() and "+8.0%" in a.line()
