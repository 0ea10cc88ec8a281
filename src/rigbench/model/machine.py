"""Facts about this machine: CPU, cores, memory, GPUs, OS. Cheap to gather (< 1 s)."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = ["OtherLoad", "check_label", "local_listener_pids", "machine_facts", "machine_uid"]


def check_label(label: str) -> str:
    """A user's label for a rig (``--label rig-a``): up to 64 printable characters."""
    from rigbench.errors import UsageError

    text = label.strip()
    if not text or len(text) > 64 or not text.isprintable():
        raise UsageError(f"the label {label[:80]!r} is not usable", "give 1 to 64 printable characters, e.g. rig-a")
    return text

_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def _os_machine_id() -> str | None:
    """The OS's own stable id: systemd's machine-id on Linux, the platform UUID on macOS."""
    for name in _MACHINE_ID_FILES:
        try:
            with open(name, encoding="ascii", errors="replace") as f:
                text = f.read(256).strip()
            if len(text) >= 16:
                return text
        except OSError:
            continue
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True,
                                 text=True, timeout=5)
            for line in out.stdout.splitlines():
                if "IOPlatformUUID" in line:
                    return line.split("=", 1)[1].strip().strip('"')
        except (OSError, subprocess.TimeoutExpired, IndexError):
            pass
    return None


def machine_uid() -> str:
    """A stable id for this machine that is not its hostname and does not reveal the OS's id:
    sha256 of the OS machine id (hashed with rigbench's name, as systemd advises for
    applications), else a random id generated once and kept in the user's config dir
    (``$RIGBENCH_MACHINE_ID`` overrides both)."""
    import hashlib
    import os

    env = os.environ.get("RIGBENCH_MACHINE_ID", "").strip()
    if env:
        return hashlib.sha256(f"rigbench-env:{env}".encode()).hexdigest()[:32]
    raw = _os_machine_id()
    if raw:
        return hashlib.sha256(f"rigbench:{raw}".encode()).hexdigest()[:32]
    return _generated_uid()


def _generated_uid() -> str:
    import os
    import uuid
    from pathlib import Path

    from platformdirs import user_config_dir

    path = Path(user_config_dir("rigbench", appauthor=False)) / "machine-id"
    try:
        text = path.read_text(encoding="ascii").strip()
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            return text
    except (OSError, UnicodeDecodeError):
        pass
    uid = uuid.uuid4().hex
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(uid + "\n", encoding="ascii")
        os.replace(tmp, path)
        uid = path.read_text(encoding="ascii").strip() or uid  # two first runs at once: one id wins
    except OSError:
        pass  # a read-only home: this run's id is not kept (the next run gets another)
    return uid


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
        "machine_id": machine_uid(),
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


class OtherLoad:
    """CPU-seconds used by processes outside this one's tree while the block runs (sampled
    each second): a run on a busy machine says so, since configurations with more
    threads than free cores suffer most. Servers being measured that run on this machine
    (found by the process that listens on their port, with its children) are not other
    load: their CPU time is kept apart."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.server_first: dict[int, float] = {}
        self.server_last: dict[int, float] = {}
        self.server_roots: set[int] = set()
        self.interval_s = interval_s
        self.wall_s = 0.0
        self._t0 = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rigbench-load", daemon=True)

    def watch(self, base_url: str | None) -> list[int]:
        """Count the server at ``base_url`` as measured, not as other load, when it listens on
        this machine; returns the process ids found."""
        pids = local_listener_pids(base_url)
        with self._lock:
            self.server_roots |= set(pids)
            for pid in pids:  # its time so far is not this compare's load
                self.first.pop(pid, None)
                self.last.pop(pid, None)
        return pids

    def _servers(self) -> set[int]:
        import psutil

        out: set[int] = set()
        for pid in self.server_roots:
            try:
                proc = psutil.Process(pid)
                out |= {pid} | {c.pid for c in proc.children(recursive=True)}
            except psutil.Error:
                continue
        return out

    def _sample(self) -> None:
        import psutil

        me = psutil.Process(os.getpid())
        try:
            ours = {me.pid} | {c.pid for c in me.children(recursive=True)}
        except psutil.Error:
            return
        with self._lock:
            servers = self._servers()
            for p in psutil.process_iter():
                if p.pid in ours:
                    continue
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                first, last = (self.server_first, self.server_last) if p.pid in servers else (self.first, self.last)
                first.setdefault(p.pid, t.user + t.system)
                last[p.pid] = t.user + t.system

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> OtherLoad:
        self._t0 = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall_s = time.monotonic() - self._t0

    def cores_busy(self) -> float:
        """Cores the other processes kept busy on average."""
        used = sum(self.last[p] - self.first[p] for p in self.last if p not in self.server_last)
        return used / self.wall_s if self.wall_s > 0 else 0.0

    def server_cores_busy(self) -> float | None:
        """Cores the measured servers on this machine (attached by URL) kept busy; None when
        none was found."""
        if not self.server_last:
            return None
        used = sum(self.server_last[p] - self.server_first[p] for p in self.server_last)
        return used / self.wall_s if self.wall_s > 0 else 0.0
