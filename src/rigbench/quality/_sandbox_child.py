"""The sandbox's child process: contain itself, then run model-written code and its tests.

Run by ``rigbench.quality.sandbox`` as ``python -I -S -B _sandbox_child.py`` in a fresh
temporary folder with an empty environment; standard library only (``-I -S``: no
site-packages, no user site, the script's folder is not on ``sys.path``). It reads one
JSON request on stdin and writes its report to ``result-<nonce>.json`` in its folder
(through a descriptor opened before any model code ran); everything the model's code
prints goes to /dev/null.

Containment, in the order it is set up (each layer that cannot be had is recorded, and
the layers after it still apply):

1. namespaces (``unshare``): a network namespace with no interfaces (not even
   loopback), a mount namespace with fresh tmpfs over /tmp, /var/tmp and /dev/shm, and
   a PID namespace whose first process is the worker (when it ends, the kernel kills
   everything it left behind). As root these need no more; as another user they come
   with a user namespace where the kernel allows one.
2. rlimits: CPU seconds, address space (RLIMIT_AS), file size, open files, process
   count (RLIMIT_NPROC), no core files.
3. when started as root: drop to an unprivileged uid/gid (nobody), because the kernel
   does not enforce RLIMIT_NPROC for root; then ``no_new_privs``.
4. an audit hook that refuses sockets, subprocesses and forks, ``ctypes``, and any
   write, rename, removal or mode change outside the sandbox folder.

Standard-library modules the tests commonly use are imported before privileges drop
(the interpreter may live where the unprivileged uid cannot read).
"""

from __future__ import annotations

import json
import os
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38

PRELOAD = (
    "abc", "array", "bisect", "calendar", "cmath", "collections", "collections.abc", "contextlib", "copy",
    "dataclasses", "datetime", "decimal", "enum", "fractions", "functools", "hashlib", "heapq", "io",
    "itertools", "json", "math", "numbers", "operator", "pprint", "random", "re", "socket", "statistics", "string",
    "struct", "textwrap", "time", "traceback", "types", "typing", "unicodedata", "weakref",
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
_PATH_EVENTS = {  # event -> indices of path arguments that must stay inside the folder
    "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1), "os.link": (0, 1),
    "os.symlink": (1,), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,), "os.utime": (0,),
    "shutil.rmtree": (0,), "shutil.copyfile": (1,), "shutil.move": (1,), "os.chflags": (0,),
    "os.mkfifo": (0,), "os.mknod": (0,), "os.setxattr": (0,), "os.removexattr": (0,),
}
_REFUSED_PREFIXES = ("socket.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty",
                     "pty.", "ctypes.", "os.system", "os.startfile", "resource.setrlimit", "resource.prlimit",
                     "os.kill", "os.killpg", "signal.pthread_kill", "webbrowser.", "urllib.", "http.", "ftplib.",
                     "smtplib.", "imaplib.", "poplib.", "nntplib.", "telnetlib.", "os.add_dll_directory")


class _TestTimeout(BaseException):
    """Raised by the per-test timer; a BaseException so that ``except Exception`` cannot swallow it."""


def _unshare(libc: object, flags: int) -> bool:
    return bool(libc.unshare(flags) == 0)  # type: ignore[attr-defined]


def _namespaces(libc: object, is_root: bool) -> set[str]:
    """Enter whatever namespaces the kernel allows; returns the names entered."""
    got: set[str] = set()
    if not is_root:
        uid, gid = os.getuid(), os.getgid()
        if not _unshare(libc, CLONE_NEWUSER):
            return got
        try:
            with open("/proc/self/setgroups", "w") as f:
                f.write("deny")
            with open("/proc/self/uid_map", "w") as f:
                f.write(f"{uid} {uid} 1")
            with open("/proc/self/gid_map", "w") as f:
                f.write(f"{gid} {gid} 1")
        except OSError:
            return got
        got.add("user")
    for name, flag in (("net", CLONE_NEWNET), ("mount", CLONE_NEWNS), ("pid", CLONE_NEWPID)):
        if _unshare(libc, flag):
            got.add(name)
    return got


def _private_tmp(libc: object) -> bool:
    mount = libc.mount  # type: ignore[attr-defined]
    if mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        return False
    ok = False
    for path in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(path):
            rc = mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=16m,mode=1777")
            ok = ok or rc == 0
    return ok


def _limits(cfg: dict[str, int]) -> list[str]:
    import resource

    set_ok: list[str] = []
    wanted = [
        ("cpu", resource.RLIMIT_CPU, cfg["cpu_s"], cfg["cpu_s"] + 1),  # the hard limit is SIGKILL
        ("memory", resource.RLIMIT_AS, cfg["memory_bytes"], cfg["memory_bytes"]),
        ("file size", resource.RLIMIT_FSIZE, cfg["file_bytes"], cfg["file_bytes"]),
        ("processes", resource.RLIMIT_NPROC, cfg["processes"], cfg["processes"]),
        ("open files", resource.RLIMIT_NOFILE, cfg["open_files"], cfg["open_files"]),
        ("core", resource.RLIMIT_CORE, 0, 0),
    ]
    for name, which, soft, hard in wanted:
        try:
            resource.setrlimit(which, (soft, hard))
            set_ok.append(name)
        except (ValueError, OSError):
            pass
    return set_ok


def _drop_privileges(uid: int, gid: int) -> bool:
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError:
        return False
    return os.getuid() == uid and os.geteuid() == uid


def _audit_hook(root: str, armed: list[bool]) -> object:
    join, realpath, fsdecode, sep = os.path.join, os.path.realpath, os.fsdecode, os.sep
    getcwd = os.getcwd
    prefix = root.rstrip(sep) + sep

    def inside(p: object) -> bool:
        if isinstance(p, int):
            return True  # an already open descriptor
        try:
            s = fsdecode(p)  # type: ignore[arg-type]
        except TypeError:
            return False
        full = realpath(join(getcwd(), s))
        return full == root or full.startswith(prefix)

    def hook(event: str, args: tuple[object, ...]) -> None:
        if not armed[0]:
            return
        if event == "open":
            path, mode, flags = (*args, None, None, None)[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and not inside(path):
                raise PermissionError(f"sandbox: writing outside its folder is refused ({path!r})")
            return
        idx = _PATH_EVENTS.get(event)
        if idx is not None:
            for i in idx:
                if i < len(args) and args[i] is not None and not inside(args[i]):
                    raise PermissionError(f"sandbox: {event} outside its folder is refused")
            return
        if event.startswith(_REFUSED_PREFIXES):
            raise PermissionError(f"sandbox: {event} is refused")

    return hook


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."


def _run(cfg: dict[str, object], budget_s: float, harness_pid: int) -> dict[str, object]:
    def on_alarm(signum: int, frame: object) -> None:
        raise _TestTimeout("time limit")

    signal.signal(signal.SIGALRM, on_alarm)
    per_test = float(budget_s)
    ns: dict[str, object] = {"__name__": "solution", "__builtins__": __builtins__}
    tests = [str(t) for t in cfg["tests"]]  # type: ignore[attr-defined]
    failures: list[str] = []
    import_error = None
    try:
        signal.setitimer(signal.ITIMER_REAL, per_test * 2)
        exec(compile(str(cfg["setup"]) + "\n" + str(cfg["code"]), "solution.py", "exec"), ns)
    except BaseException as exc:
        import_error = _short(exc)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if os.getpid() != harness_pid:  # a fork of the model's code came back here: not ours to report
        os._exit(0)
    passed = 0
    if import_error is None:
        for i, test in enumerate(tests):
            try:
                signal.setitimer(signal.ITIMER_REAL, per_test)
                exec(compile(test, f"test_{i}", "exec"), dict(ns))
                passed += 1
            except BaseException as exc:
                failures.append(f"test {i}: {_short(exc)}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    return {"passed": passed, "total": len(tests), "import_error": import_error, "failures": failures[:5]}


def main() -> None:
    cfg = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    report_name = f"result-{cfg['nonce']}.json"
    root = os.path.realpath(os.getcwd())
    folder_fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    is_root = os.geteuid() == 0
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    entered = _namespaces(libc, is_root) if cfg.get("namespaces", True) else set()
    private_tmp = "mount" in entered and _private_tmp(libc)
    if "pid" in entered:
        pid = os.fork()  # the child is the namespace's first process; when it ends, its leftovers die
        if pid:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)
    for name in PRELOAD:  # before privileges drop: the interpreter may live where nobody can read
        try:
            __import__(name)
        except ImportError:
            pass
    limits = _limits(cfg["limits"])
    user = "same user"
    if is_root and cfg.get("uid") is not None:
        user = "nobody" if _drop_privileges(int(cfg["uid"]), int(cfg["gid"])) else "root (drop failed)"
    nnp = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    del libc
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.stdout = sys.stderr = open(devnull, "w", closefd=False)  # noqa: SIM115
    audit = bool(cfg.get("audit", True))
    armed = [True]
    if audit:
        sys.addaudithook(_audit_hook(root, armed))  # type: ignore[arg-type]
    layers = {
        "network": "namespace" if "net" in entered else ("audit hook" if audit else "none"),
        "user": user, "user_namespace": "user" in entered, "pid_namespace": "pid" in entered,
        "private_tmp": private_tmp, "rlimits": limits, "audit_hook": audit, "no_new_privs": nnp,
    }
    harness_pid = os.getpid()
    result = _run(cfg, float(cfg["limits"]["per_test_s"]), harness_pid)
    if os.getpid() != harness_pid:
        os._exit(0)
    armed[0] = False  # our own report and clean-up are not the model's code
    result["layers"] = layers
    fd = os.open(report_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=folder_fd)
    os.write(fd, json.dumps(result).encode("utf-8"))
    os.close(fd)
    if "pid" not in entered:  # no namespace to end with us: end what the code left behind in our group
        try:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        except OSError:
            pass
    os._exit(0)


if __name__ == "__main__":
    main()
