"""Golden files for the 0.1.0 fixture database (tests/data/rigbench-0.1.0.sqlite).

Shared by tests/test_fixture_0_1_0.py and tests/test_golden_text.py, and a script:

    python tests/golden_util.py capture DB OUT_DIR

writes, with whatever rigbench the running Python imports, ``show_N.json`` and ``show_N.txt``
for every run in DB, ``runs.json`` and ``board.json`` (each through a new ``python -m rigbench``
process, 100 columns, no colour), with DB's folder written as ``<DB_DIR>``. It is how the
reference files under tests/golden/v0_1_0/release_0_1_0/ were made with release 0.1.0;

    python tests/golden_util.py diff OLD_DIR NEW_DIR

lists every key whose value differs between two such captures (tests/golden/v0_1_0/README.md).
Only the standard library is imported here, so it runs in a 0.1.0 environment too.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
FIXTURE = TESTS / "data" / "rigbench-0.1.0.sqlite"
GOLDEN_JSON = TESTS / "golden" / "v0_1_0"
GOLDEN_TEXT = TESTS / "golden" / "text"
DB_DIR = "<DB_DIR>"
WIDTH = 100
# the runs of the fixture (tests/data/make_fixture_0_1_0.sh): card name -> (run id, kind, status, session)
CARDS: dict[str, tuple[int, str, str, bool]] = {
    "run_card": (1, "run", "complete", False),
    "session_card": (2, "run", "complete", True),
    "compare_card": (3, "compare", "complete", False),
    "tune_journal": (4, "tune", "complete", False),
    "lab_card": (5, "lab", "complete", False),
    "interrupted_after_warmup_card": (6, "run", "incomplete", False),
    "failed_run_card": (7, "run", "failed", False),
    "interrupted_run_card": (8, "run", "incomplete", False),
}
# the migrations release 0.1.0 applied to the databases it wrote
RELEASE_0_1_0_MIGRATIONS = ["0001_initial", "0002_tune_trials"]


def copy_fixture(folder: Path) -> Path:
    """A writable copy of the fixture (opening it migrates it: never the committed file)."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "rigbench.sqlite"
    shutil.copyfile(FIXTURE, db)
    return db


def fixture_runs(db: Path = FIXTURE) -> list[tuple[int, str, str]]:
    """(id, kind, status) of every run in the database, read with sqlite3 alone."""
    con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
    try:
        return [(int(i), str(k), str(s)) for i, k, s in con.execute("SELECT id, kind, status FROM runs ORDER BY id")]
    finally:
        con.close()


def normalise(text: str, db: Path) -> str:
    """The database's folder (a temporary path) written as ``<DB_DIR>``, however it was spelt."""
    for form in sorted({str(db.parent), str(db.parent.resolve())}, key=len, reverse=True):
        text = text.replace(form, DB_DIR)
    return text


def env_for_text() -> dict[str, str]:
    """A colourless, 100-column environment, the same whatever the caller's terminal is."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE", "TERM")}
    env.update({"COLUMNS": str(WIDTH), "LINES": "50", "NO_COLOR": "1", "TERM": "dumb"})
    return env


def rigbench(*args: str, env: dict[str, str] | None = None) -> str:
    """``python -m rigbench ARGS`` in a new process; its stdout (a non-zero exit raises)."""
    r = subprocess.run([sys.executable, "-m", "rigbench", *args], capture_output=True, text=True,
                       env=env or env_for_text(), timeout=300, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"rigbench {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def capture(db: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for run_id, _kind, _status in fixture_runs(db):
        data = json.loads(normalise(rigbench("show", str(run_id), "--json", "--db", str(db)), db))
        (out / f"show_{run_id}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        (out / f"show_{run_id}.txt").write_text(normalise(rigbench("show", str(run_id), "--db", str(db)), db))
    for name in ("runs", "board"):
        data = json.loads(normalise(rigbench(name, "--json", "--db", str(db)), db))
        (out / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def mismatches(golden: Any, actual: Any, where: str = "$", rel: float = 1e-9) -> list[str]:
    """Where ACTUAL differs from GOLDEN: every key of a golden object must be in the actual one
    with the same value (recursively; new keys are allowed); lists keep their length and order;
    numbers agree to ``rel`` (an int and the same float are equal); booleans and strings exactly."""
    if isinstance(golden, dict):
        if not isinstance(actual, dict):
            return [f"{where}: an object in the golden, {type(actual).__name__} now"]
        found: list[str] = []
        for key, value in golden.items():
            if key not in actual:
                found.append(f"{where}.{key}: missing")
            else:
                found += mismatches(value, actual[key], f"{where}.{key}", rel)
        return found
    if isinstance(golden, list):
        if not isinstance(actual, list):
            return [f"{where}: a list in the golden, {type(actual).__name__} now"]
        if len(golden) != len(actual):
            return [f"{where}: {len(golden)} items in the golden, {len(actual)} now"]
        pairs = enumerate(zip(golden, actual, strict=True))
        return [m for i, (g, a) in pairs for m in mismatches(g, a, f"{where}[{i}]", rel)]
    if isinstance(golden, bool) or isinstance(actual, bool) or not isinstance(golden, (int, float)):
        return [] if golden == actual and type(golden) is type(actual) else [f"{where}: {golden!r} -> {actual!r}"]
    if not isinstance(actual, (int, float)):
        return [f"{where}: {golden!r} -> {actual!r}"]
    if math.isclose(float(golden), float(actual), rel_tol=rel, abs_tol=0.0):
        return []
    return [f"{where}: {golden!r} -> {actual!r}"]


def check_text(name: str, text: str) -> None:
    """TEXT equals tests/golden/text/NAME; ``RIGBENCH_UPDATE_GOLDEN=1`` rewrites the file instead."""
    path = GOLDEN_TEXT / name
    if os.environ.get("RIGBENCH_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing; RIGBENCH_UPDATE_GOLDEN=1 writes it"
    want = path.read_text()
    if text != want:
        import difflib

        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True), "golden", "now", n=1))
        raise AssertionError(f"{name} changed; RIGBENCH_UPDATE_GOLDEN=1 rewrites it after a review\n{diff}")


def added_keys(old: Any, new: Any, where: str = "$") -> list[str]:
    """Keys of NEW that OLD lacks (where both hold an object, or lists of the same length)."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[str] = []
        for key, value in new.items():
            found += [f"{where}.{key}"] if key not in old else added_keys(old[key], value, f"{where}.{key}")
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [m for i, (o, n) in enumerate(zip(old, new, strict=True)) for m in added_keys(o, n, f"{where}[{i}]")]
    return []


def report(old_dir: Path, new_dir: Path) -> None:
    """Every difference between two captures, file by file: what changed or went, what is new."""
    for old in sorted(old_dir.glob("*.json")):
        a, b = json.loads(old.read_text()), json.loads((new_dir / old.name).read_text())
        found = [f"changed/missing {m}" for m in mismatches(a, b)] + [f"new {m}" for m in added_keys(a, b)]
        print(f"== {old.name}: {len(found) or 'no'} difference{'s' if len(found) != 1 else ''}")
        for line in found:
            print(f"   {line}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "capture":
        capture(Path(sys.argv[2]), Path(sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "diff":
        report(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit("usage: python tests/golden_util.py capture DB OUT_DIR | diff OLD_DIR NEW_DIR")
