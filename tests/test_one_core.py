"""Issue 13's "done when", as checks on the code and on the 0.1.0 fixture database.

- runs are created and ended in one place (the recorded-run lifecycle);
- the schedules (depth sweep, agent session, compare, tune trial, lab pairs, the quality
  pass, its judge, the quality gates of tune and lab) send their measured requests through
  the one conversation bench, never a client directly;
- one failure guard;
- report/ imports none of store/, jobs/, lab/, tune/, measure/, and its templates fail on an
  unknown name (jinja StrictUndefined);
- every figure of every kind is recomputed from the stored raw rows: change the rows of a
  run in a copy of the fixture, and its summary must change.

Checks that today's code does not pass yet are ``xfail(strict=True)`` with the reason: when the
refactor makes one pass, the strict xfail fails, and its marker is removed.
"""

from __future__ import annotations

import ast
import functools
import json
import sqlite3
from pathlib import Path

import pytest
from golden_util import CARDS, GOLDEN_JSON, copy_fixture, mismatches

SRC = Path(__file__).resolve().parent.parent / "src" / "rigbench"
SCHEDULES = ["jobs/sweep.py", "jobs/agent.py", "jobs/compare.py", "tune/trial.py", "lab/job.py",
             "quality/runner.py", "quality/judge.py", "tune/gate.py"]
MEASURING = ("store", "jobs", "lab", "tune", "measure")


@functools.cache
def _modules() -> dict[str, ast.Module]:
    return {p.relative_to(SRC).as_posix(): ast.parse(p.read_text(), str(p)) for p in sorted(SRC.rglob("*.py"))}


def _calls(tree: ast.AST, names: set[str]) -> list[tuple[str, int]]:
    """``x.name(...)`` calls in TREE, any receiver."""
    return [(n.func.attr, n.lineno) for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in names]


def _imports(path: str, tree: ast.AST) -> list[tuple[str, int]]:
    """Every rigbench module TREE imports (relative imports resolved), at any depth."""
    package = path.rsplit("/", 1)[0].split("/") if "/" in path else []
    found = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            found += [(a.name, n.lineno) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = ["rigbench", *package[: len(package) - n.level + 1]]
                mod = ".".join(base + ([n.module] if n.module else []))
            else:
                mod = n.module or ""
            found += [(mod, n.lineno)] + [(f"{mod}.{a.name}", n.lineno) for a in n.names]
    return [(m, line) for m, line in found if m == "rigbench" or m.startswith("rigbench.")]


def test_runs_are_created_and_ended_only_by_the_lifecycle() -> None:
    outside = [f"{path}:{line} {name}" for path, tree in _modules().items()
               if not path.startswith("store/") and path != "jobs/lifecycle.py"
               for name, line in _calls(tree, {"create_run", "finish_run"})]
    assert not outside, "runs created or ended outside jobs/lifecycle.py:\n" + "\n".join(outside)


@pytest.mark.parametrize("path", SCHEDULES)
def test_every_schedule_measures_through_the_bench(path: str) -> None:
    tree = _modules()[path]
    assert any(m.startswith("rigbench.jobs.bench") for m, _ in _imports(path, tree)), f"{path} does not use the bench"
    direct = _calls(tree, {"chat", "stream", "complete", "create_run", "finish_run"})
    assert not direct, f"{path} sends or records past the bench: {direct}"


def test_one_failure_guard() -> None:
    classes = [(path, n.name) for path, tree in _modules().items() for n in ast.walk(tree)
               if isinstance(n, ast.ClassDef) and "guard" in n.name.lower()]
    methods = [(path, n.name) for path, tree in _modules().items() for n in ast.walk(tree)
               if isinstance(n, ast.FunctionDef) and n.name == "_failed"]  # tune's own guard, before issue 13
    assert len(classes) == 1 and not methods, (classes, methods)


def test_report_imports_none_of_the_measuring_layers() -> None:
    bad = [f"report/{path.split('/', 1)[1]}:{line} {mod}" for path, tree in _modules().items()
           if path.startswith("report/") for mod, line in _imports(path, tree)
           if mod.split(".")[1:2] and mod.split(".")[1] in MEASURING]
    assert not bad, "report/ imports measuring layers:\n" + "\n".join(bad)


def test_the_html_templates_fail_on_an_unknown_name() -> None:
    text = "\n".join(p.read_text() for p in (SRC / "report").rglob("*.py"))
    assert "ChainableUndefined" not in text and "StrictUndefined" in text


# -- every figure from the raw rows --------------------------------------------------------------

def _slower(con: sqlite3.Connection, run_id: int, phases: tuple[str, ...]) -> int:
    """Every measured request of the run decodes half as fast, by the client's clock and the server's."""
    marks = ",".join("?" * len(phases))
    return con.execute(f"""
        UPDATE requests SET
          t_last_token_ns = t_first_token_ns + 2 * (t_last_token_ns - t_first_token_ns),
          t_end_ns = t_end_ns + (t_last_token_ns - t_first_token_ns),
          timings = CASE WHEN timings IS NULL THEN NULL ELSE json_set(timings,
            '$.predicted_ms', json_extract(timings, '$.predicted_ms') * 2,
            '$.predicted_per_second', json_extract(timings, '$.predicted_per_second') / 2,
            '$.predicted_per_token_ms', json_extract(timings, '$.predicted_per_token_ms') * 2) END
        WHERE run_id = ? AND phase IN ({marks}) AND t_first_token_ns IS NOT NULL AND t_last_token_ns IS NOT NULL
        """, (run_id, *phases)).rowcount


def _perfect_answers(con: sqlite3.Connection, run_id: int, phases: tuple[str, ...]) -> int:
    marks = ",".join("?" * len(phases))
    return con.execute(f"UPDATE requests SET extra = json_set(extra, '$.score', 5.0) WHERE run_id = ? "
                       f"AND phase IN ({marks}) AND json_extract(extra, '$.score') IS NOT NULL",
                       (run_id, *phases)).rowcount


_CHANGES = [  # card, what is changed in the rows, the part of show --json that must follow
    pytest.param("run_card", "speed", ("speed",), "points", id="run-depth-sweep"),
    pytest.param("run_card", "quality", ("quality",), "quality", id="run-quality"),
    pytest.param("session_card", "speed", ("session",), "session", id="session"),
    pytest.param("compare_card", "speed", ("compare",), "depths", id="compare"),
    pytest.param("tune_journal", "speed", ("tune",), "trials", id="tune"),
    pytest.param("lab_card", "speed", ("lab",), "rows", id="lab"),
]


@pytest.mark.parametrize(("card", "change", "phases", "part"), _CHANGES)
def test_figures_follow_the_stored_rows(tmp_path: Path, cli, card: str, change: str, phases: tuple[str, ...],
                                        part: str) -> None:
    run_id = CARDS[card][0]
    db = copy_fixture(tmp_path)
    con = sqlite3.connect(db)
    try:
        changed = (_slower if change == "speed" else _perfect_answers)(con, run_id, phases)
        con.commit()
    finally:
        con.close()
    assert changed > 0, f"nothing to change in run {run_id} ({phases})"
    r = cli("show", str(run_id), "--json", "--db", str(db))
    assert r.code == 0, r.err
    golden = json.loads((GOLDEN_JSON / f"show_{run_id}.json").read_text())
    diff = mismatches(golden[part], r.json().get(part))
    assert diff, f"show {run_id}: {part} did not change when its {change} rows did"
