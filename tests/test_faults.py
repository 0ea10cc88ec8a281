"""Faults with real processes: a stand-in llama-server binary (rigbench.testing.
fake_llama_server) launched by rigbench's real launch path, with scripted faults.

For each fault: one clear line, a non-zero exit, every measurement already taken is in
the database, the run is `incomplete` (or `failed` when nothing was measured) with the
reason, and `rigbench run --resume RUN` finishes it without repeating finished points.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from rigbench.store import open_store

DEPTHS = "0,256"
REPEATS = 2
POINTS = {(d, r) for d in (0, 256) for r in range(REPEATS)}


@pytest.fixture
def fakebin(tmp_path: Path) -> Path:
    exe = tmp_path / "llama-server"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m rigbench.testing.fake_llama_server \"$@\"\n")
    exe.chmod(0o755)
    return exe


@pytest.fixture
def model() -> str:
    from rigbench.engines.bundled import bundled_model_path

    return str(bundled_model_path())


def rigbench(db: Path, *args: str, env: dict[str, str] | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rigbench", *args, "--db", str(db)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def start_run(db: Path, fakebin: Path, model: str, *extra: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return rigbench(db, "run", model, "--server", str(fakebin), "--depths", DEPTHS, "--repeats", str(REPEATS),
                    "--gen-tokens", "16", "--no-quality", "--bandwidth", "50", *extra, env=env, timeout=timeout)


def script_env(tmp_path: Path, **script: Any) -> dict[str, str]:
    state = tmp_path / "requests.count"
    return {"RIGBENCH_FAKE_SCRIPT": json.dumps({"tokens": 16, "rate_tok_s": 400, "state_file": str(state), **script})}


def speed_points(db: Path) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    s = open_store(db)
    try:
        run = s.list_runs()[0]
        ok = [(r["depth"], r["rep"]) for r in s.requests(run["id"], phase="speed") if r["status"] == "ok"]
        return run, ok
    finally:
        s.close()


def one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def resume_completes(db: Path, run_id: int, env: dict[str, str], before: list[tuple[int, int]]) -> None:
    r = rigbench(db, "run", "--resume", str(run_id), "--json", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "complete"
    _, ok = speed_points(db)
    assert sorted(ok) == sorted(POINTS), "every planned point measured exactly once"
    assert set(before) <= set(ok)


# (name, script faults on the 3rd chat request: warm-up is the 1st, extra CLI args, what the line says)
FAULTS = [
    ("killed mid-stream", {"die_after": 3}, [], "the server died"),
    ("hangs after the headers", {"stall_after": 0}, ["--timeout", "2"], "sent nothing"),
    ("stalls mid-stream", {"stall_after": 3}, ["--timeout", "2"], "sent nothing"),
    ("malformed SSE", {"malformed_after": 2}, [], "malformed JSON"),
    ("HTTP 500", {"http_status": 500}, [], "HTTP 500"),
    ("error object in a 200 stream", {"error_after": 2}, [], "model crashed"),
    ("drops the connection", {"close_after": 2}, [], "ended without [DONE]"),
]


@pytest.mark.parametrize("name,faults,extra,says", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_then_resume(tmp_path: Path, fakebin: Path, model: str, name: str, faults: dict[str, Any],
                           extra: list[str], says: str) -> None:
    db = tmp_path / "r.db"
    env = script_env(tmp_path, fault_at=3, **faults)
    r = start_run(db, fakebin, model, *extra, env=env)
    assert r.returncode != 0
    line = one_line(r.stderr)
    assert says in line and "--resume" in line, line
    run, ok = speed_points(db)
    assert run["status"] == "incomplete" and says in (run["reason"] or "")
    assert (0, 0) in ok  # the request before the fault is kept
    resume_completes(db, run["id"], env, ok)


def test_slow_start_past_the_deadline(tmp_path: Path, fakebin: Path, model: str) -> None:
    db = tmp_path / "r.db"
    env = {**script_env(tmp_path), "RIGBENCH_FAKE_START_DELAY": "4"}
    r = start_run(db, fakebin, model, "--timeout", "1", env=env)
    assert r.returncode != 0 and "did not become healthy within 1 s" in one_line(r.stderr)
    run, ok = speed_points(db)
    assert run["status"] == "failed" and ok == []
    resume_completes(db, run["id"], script_env(tmp_path), [])


def test_binary_that_fails_to_load(tmp_path: Path, fakebin: Path, model: str) -> None:
    db = tmp_path / "r.db"
    r = start_run(db, fakebin, model, env={**script_env(tmp_path), "RIGBENCH_FAKE_EXIT": "1"})
    line = one_line(r.stderr)
    assert r.returncode != 0 and "exited with code 1" in line and "error loading model" in line


def test_capping_line_from_a_launched_binary(tmp_path: Path, fakebin: Path, model: str) -> None:
    db = tmp_path / "r.db"
    r = start_run(db, fakebin, model, "-c", "8192", "--json", env=script_env(tmp_path))
    assert r.returncode == 0, r.stderr
    ctx = json.loads(r.stdout)["context"]
    assert ctx["capped"] is True and ctx["granted"] == 4096 and "capped the slot at 4,096" in ctx["statement"]


def test_two_rigbench_processes_write_one_database(tmp_path: Path, fakebin: Path, model: str) -> None:
    db = tmp_path / "shared.db"
    results: list[subprocess.CompletedProcess[str]] = []

    def go(i: int) -> None:
        results.append(start_run(db, fakebin, model, env=script_env(tmp_path / f"p{i}")))

    (tmp_path / "p0").mkdir()
    (tmp_path / "p1").mkdir()
    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    s = open_store(db)
    try:
        runs = s.list_runs()
        assert len(runs) == 2 and {r["status"] for r in runs} == {"complete"}
        for run in runs:
            ok = {(r["depth"], r["rep"]) for r in s.requests(run["id"], phase="speed") if r["status"] == "ok"}
            assert ok == POINTS
    finally:
        s.close()


def test_disk_full_while_writing_the_database(tmp_path: Path, fakebin: Path, model: str) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (needs root); test_store covers an injected disk-full error")
    try:
        db = mnt / "r.db"
        open_store(db).close()  # the schema first (its size grows with the migrations), then a ballast
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        (mnt / "ballast").write_bytes(b"\0" * max(0, free - 512 * 1024))  # ~512 KiB left: the run fills it
        env = script_env(tmp_path, tokens=16)
        r = rigbench(db, "run", model, "--server", str(fakebin), "--depths", "0,64,128,256,512,1024,2048",
                     "--repeats", "8", "--gen-tokens", "16", "--no-quality", "--bandwidth", "50", env=env)
        assert r.returncode != 0
        line = one_line(r.stderr)
        assert "full" in line
        copy = tmp_path / "copy.db"  # move the database to a roomy place: that frees the disk
        for suffix in ("", "-wal", "-shm"):
            if Path(str(db) + suffix).exists():
                shutil.copy(str(db) + suffix, str(copy) + suffix)
        run, ok = speed_points(copy)
        assert len(ok) >= 1  # what was written before the disk filled is there
        assert run["status"] in ("running", "incomplete")
        resume_completes_any(copy, run["id"], env)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def resume_completes_any(db: Path, run_id: int, env: dict[str, str]) -> None:
    r = rigbench(db, "run", "--resume", str(run_id), "--json", env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "complete"
