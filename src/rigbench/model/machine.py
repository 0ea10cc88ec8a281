"""Facts about this machine: CPU, cores, memory, GPUs, OS. Cheap to gather (< 1 s)."""

from __future__ import annotations

import platform
import shutil
import socket
import subprocess
import sys
from typing import Any

__all__ = ["local_listener_pids", "machine_facts"]


def _cpu_name() -> str:
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                 timeout=5)
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _nvidia_gpus() -> list[dict[str, Any]]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3:
            try:
                mem = int(float(parts[1])) * 1024 * 1024
            except ValueError:
                mem = None
            gpus.append({"name": parts[0], "memory_bytes": mem, "driver": parts[2]})
    return gpus


def machine_facts() -> dict[str, Any]:
    import psutil

    from rigbench import __version__

    vm = psutil.virtual_memory()
    return {
        "hostname": socket.gethostname(),
        "os": f"{platform.system()} {platform.release()}",
        "arch": platform.machine(),
        "cpu": _cpu_name(),
        "cores": psutil.cpu_count(logical=False) or psutil.cpu_count(),
        "threads": psutil.cpu_count(logical=True),
        "ram_bytes": int(vm.total),
        "gpus": _nvidia_gpus(),
        "python": platform.python_version(),
        "rigbench": __version__,
    }


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::"}


def local_listener_pids(base_url: str | None) -> list[int]:
    """The processes listening on ``base_url``'s port when its host is this machine (by
    port owner); empty for a remote host, or where the OS will not say."""
    from urllib.parse import urlsplit

    import psutil

    if not base_url:
        return []
    try:
        parts = urlsplit(base_url)
        host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return []
    local = host in _LOCAL_HOSTS
    if not local:
        try:
            local = host in {socket.gethostname(), socket.getfqdn()} or host in _own_addresses(psutil)
        except OSError:
            local = False
    if not local:
        return []
    try:
        conns = psutil.net_connections(kind="inet")
    except (psutil.Error, OSError):
        return []
    return sorted({c.pid for c in conns
                   if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid})


def _own_addresses(psutil: Any) -> set[str]:
    return {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
