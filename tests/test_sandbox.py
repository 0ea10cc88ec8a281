"""The sandbox for model-written code: each escape is contained and graded 0.

Each escape is tried twice where it matters: with every layer (what a real run uses),
and with the audit hook off, to prove the kernel-level layer (namespaces, rlimits, the
unprivileged uid) holds on its own where this machine has it.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rigbench.quality.graders import grade_code
from rigbench.quality.sandbox import Limits, describe_layers, run_tests
from rigbench.quality.suite import CodePrompt

GOOD = "\ndef add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]
PROMPT = CodePrompt(id="add", category="code", prompt="write add", max_tokens=64, tests=TESTS)
FAST = Limits(wall_s=6, per_test_s=1, cpu_s=2)


def _fenced(code: str) -> str:
    return f"```python\n{code}{GOOD}```"


@pytest.fixture(scope="module")
def layers() -> dict[str, object]:
    return run_tests(GOOD, TESTS).layers


def test_a_correct_answer_passes_in_the_sandbox(layers: dict[str, object]) -> None:
    res = run_tests(GOOD, TESTS)
    assert (res.passed, res.total, res.outcome) == (2, 2, "ran")
    assert layers["audit_hook"] is True and "memory" in layers["rlimits"]  # type: ignore[operator]
    if os.geteuid() == 0:
        assert layers["user"] == "nobody"  # root: RLIMIT_NPROC needs an unprivileged uid


def test_fresh_temp_folder_empty_environment_not_the_working_directory() -> None:
    code = "import os\nENV = dict(os.environ)\nCWD = os.getcwd()\nFILES = os.listdir('.')\n"
    cwd = os.getcwd()
    tests = [f"assert CWD != {cwd!r}", f"assert CWD.startswith({tempfile.gettempdir()!r})",
             "assert 'rigbench-sbx-' in CWD", "assert FILES == [], FILES",
             "assert set(ENV) <= {'LC_CTYPE'}, ENV"]  # Python's own locale coercion may add LC_CTYPE
    res = run_tests(code, tests)
    assert res.passed == len(tests), res.failures
    leftovers = [p for p in Path(tempfile.gettempdir()).glob("rigbench-sbx-*")
                 if p.stat().st_mtime > time.time() - 30]
    assert leftovers == []  # the folder is removed afterwards


def test_fork_bomb_is_contained_and_graded_0() -> None:
    bomb = "import os\nwhile True:\n    os.fork()\n"
    start = time.monotonic()
    g = grade_code(PROMPT, _fenced(bomb), limits=FAST)
    assert g.score == 0.0 and g.detail["passed"] == 0
    assert time.monotonic() - start < 10


def test_fork_bomb_is_held_by_the_process_limit_alone() -> None:
    bomb = "import os\nwhile True:\n    os.fork()\n"
    res = run_tests(bomb + GOOD, TESTS, audit=False, limits=FAST)
    assert res.passed == 0
    # RLIMIT_NPROC (with an unprivileged uid when we are root) stops it with EAGAIN, or the
    # wall clock kills the group; either way it ends and scores nothing
    assert res.outcome in ("ran", "timeout", "killed")
    if res.outcome == "ran":
        assert res.error is not None and "Resource temporarily unavailable" in res.error


def test_infinite_loop_is_contained_and_graded_0() -> None:
    start = time.monotonic()
    g = grade_code(PROMPT, _fenced("while True:\n    pass\n"), limits=FAST)
    assert g.score == 0.0
    assert time.monotonic() - start < FAST.wall_s + 2


def test_loop_that_swallows_the_timer_is_killed() -> None:
    stubborn = ("while True:\n    try:\n        while True:\n            pass\n"
                "    except BaseException:\n        pass\n")
    start = time.monotonic()
    res = run_tests(stubborn + GOOD, TESTS, limits=Limits(wall_s=4, cpu_s=1))
    assert res.passed == 0 and res.outcome in ("killed", "timeout")
    assert time.monotonic() - start < 8


def test_a_looping_test_fails_alone() -> None:
    code = GOOD + "def spin():\n    while True:\n        pass\n"
    res = run_tests(code, ["assert add(1, 1) == 2", "spin()", "assert add(0, 0) == 0"], limits=FAST)
    assert res.passed == 2 and res.outcome == "ran"


@pytest.mark.parametrize("audit", [True, False])
def test_ten_gigabyte_allocation_is_contained_and_graded_0(audit: bool) -> None:
    hog = "x = bytearray(10 * 1024 ** 3)\n"
    start = time.monotonic()
    res = run_tests(hog + GOOD, TESTS, audit=audit, limits=FAST)
    assert res.passed == 0 and res.error is not None and "MemoryError" in res.error
    assert time.monotonic() - start < 5
    assert grade_code(PROMPT, _fenced(hog), limits=FAST).score == 0.0


def test_write_outside_the_folder_is_contained_and_graded_0(tmp_path: Path) -> None:
    target = tmp_path / "escaped.txt"
    evil = f"open({str(target)!r}, 'w').write('pwned')\n"
    g = grade_code(PROMPT, _fenced(evil), limits=FAST)
    assert g.score == 0.0 and "PermissionError" in str(g.detail.get("error"))
    assert not target.exists()


def test_write_to_shared_tmp_is_contained_by_the_kernel(layers: dict[str, object]) -> None:
    name = f"rigbench-escape-{os.getpid()}.txt"
    target = Path("/tmp") / name
    evil = f"open('/tmp/{name}', 'w').write('pwned')\n"
    with_hook = run_tests(evil + GOOD, TESTS, limits=FAST)
    assert with_hook.passed == 0 and not target.exists()
    if not layers.get("private_tmp"):
        pytest.skip("no mount namespace here: only the audit hook keeps /tmp clean")
    res = run_tests(evil + GOOD, TESTS, audit=False, limits=FAST)
    assert not target.exists()  # it wrote into a private tmpfs that vanished with it
    assert res.outcome == "ran"


def test_write_to_a_user_folder_is_refused_by_the_kernel(layers: dict[str, object]) -> None:
    if layers.get("user") != "nobody":
        pytest.skip("runs as the same user here: only the audit hook guards the user's folders")
    target = Path.cwd() / f".rigbench-escape-{os.getpid()}.txt"  # the user's own folder, outside /tmp
    try:
        res = run_tests(f"open({str(target)!r}, 'w').write('x')\n" + GOOD, TESTS, audit=False, limits=FAST)
        # refused by the kernel; when the checkout lives under /tmp, the sandbox's private /tmp
        # hides the folder altogether: either way nothing is written
        assert res.passed == 0 and ("Permission denied" in str(res.error) or "No such file" in str(res.error))
        assert not target.exists()
    finally:
        target.unlink(missing_ok=True)


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bool]]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    srv.settimeout(0.2)
    hits: list[bool] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                hits.append(True)
                conn.close()
            except OSError:
                continue

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    yield srv.getsockname()[1], hits
    stop.set()
    th.join(2)
    srv.close()


def test_opening_a_socket_is_contained_and_graded_0(listener: tuple[int, list[bool]]) -> None:
    port, hits = listener
    evil = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\n"
    g = grade_code(PROMPT, _fenced(evil), limits=FAST)
    assert g.score == 0.0
    time.sleep(0.3)
    assert hits == []


def test_network_namespace_alone_blocks_the_connection(listener: tuple[int, list[bool]],
                                                       layers: dict[str, object]) -> None:
    if layers.get("network") != "namespace":
        pytest.skip("no network namespace here: sockets are refused by the audit hook instead")
    port, hits = listener
    evil = f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\n"
    res = run_tests(evil + GOOD, TESTS, audit=False, limits=FAST)
    assert res.passed == 0 and "unreachable" in str(res.error).lower()
    time.sleep(0.3)
    assert hits == []


def test_running_programs_is_refused() -> None:
    res = run_tests("import os\n" + GOOD, ["os.system('true')", "os.execv('/bin/true', ['true'])",
                                          "assert add(1, 1) == 2"])
    assert res.passed == 1 and all("refused" in f for f in res.failures), res.failures


def test_describe_layers_names_what_held(layers: dict[str, object]) -> None:
    line = describe_layers(layers)
    assert line.startswith("sandbox for model-written code: ")
    assert ("network namespace" in line) == (layers["network"] == "namespace")
    assert ("audit hook" in line)
    assert describe_layers({}) == "sandbox: not exercised"


def test_an_unprivileged_caller_gets_namespaces_through_a_user_namespace(tmp_path: Path) -> None:
    """Not root: the kernel layers come from a user namespace where the kernel allows one."""
    import shutil
    import subprocess

    import rigbench

    python = shutil.which("python3", path="/usr/bin:/bin")
    if os.geteuid() != 0 or python is None:
        pytest.skip("needs root (to become nobody) and a system python3 that nobody can run")
    src = str(Path(rigbench.__file__).resolve().parents[1])
    code = ("import json\nfrom rigbench.quality.sandbox import run_tests\n"
            "r = run_tests('import os\\nwhile True:\\n    os.fork()\\n', ['assert 1'], audit=False)\n"
            "print(json.dumps({'passed': r.passed, 'error': r.error, 'layers': r.layers}))\n")
    proc = subprocess.run([python, "-c", code], user=65534, group=65534, env={"PYTHONPATH": src}, cwd="/",
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"nobody cannot run rigbench from here: {proc.stderr.strip().splitlines()[-1:]}")
    import json

    res = json.loads(proc.stdout)
    assert res["passed"] == 0 and res["layers"]["user"] == "same user"
    assert "Resource temporarily unavailable" in str(res["error"])  # RLIMIT_NPROC applies to a normal user
    if not res["layers"]["user_namespace"]:
        pytest.skip("this kernel refuses unprivileged user namespaces: the audit hook is the network guard")
    assert res["layers"]["network"] == "namespace" and res["layers"]["pid_namespace"]


def test_an_interrupted_run_leaves_nothing_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    started: list[subprocess.Popen[bytes]] = []

    class Interrupting(subprocess.Popen[bytes]):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            started.append(self)

        def communicate(self, *a: Any, **kw: Any) -> tuple[bytes, bytes]:
            time.sleep(0.5)  # the child is running the sleeper by now
            raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "Popen", Interrupting)
    sleeper = "import time\nwhile True:\n    try:\n        time.sleep(60)\n    except BaseException:\n        pass\n"
    with pytest.raises(KeyboardInterrupt):
        run_tests(sleeper, ["assert 1"])
    assert started and started[0].returncode is not None  # killed and reaped
