"""The embedded engine's worker never outlives rigbench: killed outright (SIGKILL, no
cleanup), rigbench leaves no llama.cpp server serving on as an orphan."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest


@pytest.mark.engine
def test_worker_stops_when_rigbench_is_killed(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "rigbench", "run", "--depths", "0", "--repeats", "1",
                             "--no-quality", "--db", str(tmp_path / "r.db")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    t0 = time.monotonic()
    while worker is None and time.monotonic() - t0 < 180 and proc.poll() is None:
        for c in psutil.Process(proc.pid).children(recursive=True):
            if "_embedded_worker" in " ".join(c.cmdline()):
                worker = c
        time.sleep(0.2)
    assert worker is not None, "the embedded engine worker was not found"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    gone, alive = psutil.wait_procs([worker], timeout=15)
    for p in alive:
        p.kill()
    assert worker in gone and not alive, "the worker served on after rigbench was killed"
