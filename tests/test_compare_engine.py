"""compare end to end on the real embedded engine: two servers up at once, requests
interleaved, the JSON contract, a stored run as one side, and the report of a compare."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from rigbench.cli import main
from rigbench.store import open_store

pytestmark = pytest.mark.engine


def _json(*args: str) -> tuple[int, Any]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(list(args))
    return code, json.loads(buf.getvalue()) if code == 0 else None


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare") / "results.db"


@pytest.fixture(scope="module")
def live(db: Path) -> dict[str, Any]:
    # one thread a side: on a shared 2-core machine a 2-thread engine stalls whenever another process runs
    code, out = _json("compare", "embedded:t=1", "embedded:t=1,ub=256", "--depths", "0,256", "--repeats", "2",
                      "--gen-tokens", "16", "--json", "--db", str(db))
    assert code == 0
    return dict(out)


def test_json_contract(live: dict[str, Any]) -> None:
    assert set(live) >= {"a", "b", "depths", "verdict", "compare_id", "floors", "crossover", "mde_pct", "notes"}
    assert live["a"]["text"] == "embedded:t=1" and live["b"]["flags"] == {"t": "1", "ub": "256"}
    assert live["a"]["interleaved"] and live["interleaved"] and live["status"] == "complete"
    assert [p["depth"] for p in live["depths"]] == [0, 256]
    for p in live["depths"]:
        assert set(p) >= {"depth", "a_decode_tok_s", "b_decode_tok_s", "a_prefill_tok_s", "b_prefill_tok_s",
                          "ratio", "ci", "verdict"}
        assert p["a_decode_tok_s"] > 1 and p["b_decode_tok_s"] > 1 and p["pairs"] == 2
        assert p["ci"][0] <= p["ratio"] <= p["ci"][1]
        assert p["verdict"] in ("b_faster", "a_faster", "no_difference")
    assert live["depths"][1]["a_cache_verified"] is True and live["depths"][1]["b_cache_verified"] is True
    assert live["depths"][1]["a_prompt_tokens"] == live["depths"][1]["b_prompt_tokens"] >= 256
    assert live["verdict"] in ("b_faster", "a_faster", "no_difference", "mixed")
    assert set(live["floors"]) == {"a", "b"} and live["floors"]["a"]["decode_tok_s"] > 1
    assert live["other_load"]["cores"] >= 1 and live["other_load"]["cores_busy"] >= 0  # the machine's other work


def test_requests_alternate_and_are_stored_as_a_compare(live: dict[str, Any], db: Path) -> None:
    s = open_store(db)
    rows = s.requests(live["compare_id"])
    run = s.get_run(live["compare_id"])
    s.close()
    assert run is not None and run["kind"] == "compare" and run["status"] == "complete"
    assert run["engine_spec_id"] is None and run["params"]["a"]["kind"] == "embedded"
    measured = [r for r in rows if r["phase"] == "compare"]
    assert [r["role"] for r in measured] == ["a", "b"] * 4  # A B A B, never all A then all B
    assert [(r["depth"], r["rep"]) for r in measured[::2]] == [(0, 0), (0, 1), (256, 0), (256, 1)]
    assert all(r["status"] == "ok" and r["completion_tokens"] == 16 for r in measured)
    grow_a, grow_b = (next(r for r in measured if r["depth"] == 256 and r["rep"] == 0 and r["role"] == k)
                      for k in "ab")
    assert grow_a["prompt_tokens"] == grow_b["prompt_tokens"]  # the same prompt on both sides


def test_card_and_report_of_the_compare(live: dict[str, Any], db: Path, cli: Any, tmp_path: Path) -> None:
    r = cli("report", str(live["compare_id"]), "-o", str(tmp_path / "c.html"), "--db", str(db))
    assert r.code == 0, r.err
    html = (tmp_path / "c.html").read_text()
    assert html.count("<svg") == 3 and "embedded:t=1,ub=256" in html and "A B A B" in html


def test_a_stored_run_as_one_side(db: Path) -> None:
    code, run = _json("run", "-t", "1", "--depths", "0,256", "--repeats", "2", "--gen-tokens", "16", "--no-quality",
                      "--json", "--db", str(db))
    assert code == 0
    code, out = _json("compare", f"run:{run['run_id']}", "embedded:t=1", "--json", "--db", str(db))
    assert code == 0
    assert out["a"]["kind"] == "run" and out["a"]["interleaved"] is False and out["interleaved"] is False
    assert out["params"]["gen_tokens"] == 16 and out["params"]["planned_depths"] == [0, 256]  # the stored run's
    assert [p["depth"] for p in out["depths"]] == [0, 256] and out["a"]["model"] == "Gemma 3 270m"
    assert any("not interleaved" in n for n in out["notes"])
    s = open_store(db)
    rows = [r for r in s.requests(out["compare_id"]) if r["phase"] == "compare"]
    s.close()
    assert {r["role"] for r in rows} == {"b"}  # A's requests are the stored run's, used as they are


def test_agent_session_compare(db: Path) -> None:
    code, out = _json("compare", "embedded", "embedded", "-t", "1", "--session", "agent", "--turns", "4",
                      "--gen-tokens", "16", "--json", "--db", str(db))
    assert code == 0
    assert out["mode"] == "session" and out["params"]["session_plan"]["turns"] == 4
    assert len(out["depths"]) == 1 and out["depths"][0]["turns"] == [1, 4] and out["depths"][0]["pairs"] == 4
    for k in "ab":
        ss = out["sessions"][k]
        assert ss["turns_ok"] == 4 and ss["decode_median_tok_s"] > 1
        assert ss["cache"]["verified_turns"] == 3  # every turn after the first reused the history
    s = open_store(db)
    rows = [r for r in s.requests(out["compare_id"]) if r["phase"] == "compare"]
    s.close()
    assert [(r["rep"], r["role"]) for r in rows] == [(t, k) for t in range(4) for k in "ab"]  # turns A B A B


def test_two_urls_of_one_running_server(embedded_server: Any, db: Path) -> None:
    import httpx

    url = embedded_server.base_url
    served = httpx.get(url + "/models", timeout=10).json()["data"][0]["id"]
    code, out = _json("compare", url, f"{url}#{served}", "--depths", "0", "--repeats", "2",
                      "--gen-tokens", "8", "--json", "--db", str(db))
    assert code == 0
    assert out["a"]["kind"] == out["b"]["kind"] == "url" and out["a"]["granted_context"] == 4096
    assert any("the same server" in n for n in out["notes"])
    assert out["depths"][0]["pairs"] == 2


def test_a_server_dying_leaves_an_incomplete_compare(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    import psutil

    db = tmp_path / "r.db"
    argv = [sys.executable, "-m", "rigbench", "compare", "embedded:t=1", "embedded:t=1", "--depths", "0,256,512",
            "--repeats", "2", "--gen-tokens", "16", "--json", "--db", str(db)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while True:
        assert proc.poll() is None and time.monotonic() - t0 < 120, proc.communicate()
        s = open_store(db) if db.exists() else None
        runs = s.list_runs() if s else []
        n = len(s.requests(runs[0]["id"], phase="compare")) if s and runs else 0
        if s:
            s.close()
        if n >= 2:
            break
        time.sleep(0.2)
    workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
               if "_embedded_worker" in " ".join(c.cmdline())]
    assert len(workers) == 2
    workers[1].send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 3
    assert len(err.strip().splitlines()) == 1 and "died" in err and "rigbench report" in err
    s = open_store(db)
    run = s.list_runs()[0]
    s.close()
    assert run["kind"] == "compare" and run["status"] == "incomplete" and "died" in run["reason"]
