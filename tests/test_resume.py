"""A server killed mid-run leaves an incomplete run; --resume finishes it without repeating
finished points. Real processes, the real embedded engine."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rigbench.store import open_store

pytestmark = pytest.mark.engine


def _speed_rows(db: Path) -> list[dict]:
    if not db.exists():
        return []
    try:
        s = open_store(db)
    except Exception:
        return []
    try:
        runs = s.list_runs()
        return s.requests(runs[0]["id"], phase="speed") if runs else []
    finally:
        s.close()


def _start(db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "rigbench", "run", "--depths", "0,1024,2048", "--repeats", "2", "--gen-tokens", "48",
         "--no-quality", "--json", "--db", str(db), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rows(db: Path, n: int, proc: subprocess.Popen[str], limit: float = 120) -> None:
    t0 = time.monotonic()
    while len([r for r in _speed_rows(db) if r["status"] == "ok"]) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < limit
        time.sleep(0.2)


def test_killed_server_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proc = _start(db)
    _wait_rows(db, 3, proc)
    children = psutil.Process(proc.pid).children(recursive=True)
    workers = [c for c in children if "_embedded_worker" in " ".join(c.cmdline())]
    assert workers, "the embedded engine worker was not found"
    workers[0].send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--resume" in err
    s = open_store(db)
    run = s.list_runs()[0]
    s.close()
    assert run["status"] == "incomplete" and run["reason"]
    before = [(r["depth"], r["rep"]) for r in _speed_rows(db) if r["status"] == "ok"]
    assert len(before) >= 3

    r = subprocess.run([sys.executable, "-m", "rigbench", "run", "--resume", str(run["id"]), "--json", "--db",
                        str(db)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "complete" and [p["depth"] for p in out["points"]] == [0, 1024, 2048]
    ok = [(r["depth"], r["rep"]) for r in _speed_rows(db) if r["status"] == "ok"]
    assert sorted(ok) == sorted({(d, k) for d in (0, 1024, 2048) for k in (0, 1)})  # nothing measured twice
    assert set(before) <= set(ok)


def test_ctrl_c_keeps_what_was_measured(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    proc = _start(db)
    _wait_rows(db, 2, proc)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "--resume" in err
    s = open_store(db)
    run = s.list_runs()[0]
    s.close()
    assert run["status"] == "incomplete" and "interrupted" in run["reason"]
    assert len([r for r in _speed_rows(db) if r["status"] == "ok"]) >= 2
    time.sleep(0.5)
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)  # engine stopped
