"""``rigbench tune`` argument handling: one-line errors, nothing launched (no engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rigbench.cli.tune import parse_budget, split_words
from rigbench.errors import UsageError


def test_split_words_model_and_space() -> None:
    assert split_words("ub=128,512", "t=1,2", []) == (None, ["t=1,2", "ub=128,512"])
    assert split_words("m.gguf", "t=1,2", ["ub=1"]) == ("m.gguf", ["t=1,2", "ub=1"])
    assert split_words(None, "t=1,2 ub=1", []) == (None, ["t=1,2", "ub=1"])
    with pytest.raises(UsageError):
        split_words("a.gguf", "t=1", ["b.gguf"])


def test_parse_budget() -> None:
    assert parse_budget("20") == (20, None)
    assert parse_budget("30m") == (None, 1800.0)
    assert parse_budget(None) == (None, None)
    with pytest.raises(UsageError):
        parse_budget("soon")


@pytest.mark.parametrize(("args", "needle"), [
    (["tune"], "no search space"),
    (["tune", "--space", "t=0"], "at least 1"),
    (["tune", "--space", "t=1,2", "bogus=1"], "unknown llama.cpp flag"),
    (["tune", "--space", "t=1", "--export", "docker"], "unknown --export"),
    (["tune", "--space", "t=1", "-o", "x.sh"], "add --export"),
    (["tune", "--space", "t=1", "--objective", "fastest"], "unknown objective"),
    (["tune", "--resume", "1", "--space", "t=1"], "keeps its own"),
])
def test_usage_errors_are_one_line(cli: Any, args: list[str], needle: str) -> None:
    r = cli(*args)
    assert r.code == 2, r.err
    assert needle in r.err and r.err.count("\n") == 1


def test_resume_of_a_missing_or_foreign_run(cli: Any, tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    r = cli("tune", "--resume", "42", "--db", db)
    assert r.code == 2 and "no campaign 42" in r.err
    from rigbench.store import open_store

    store = open_store(db)
    run_id = store.create_run(kind="run", spec=None, params={}, command="", machine={}, tool_version="t")
    store.close()
    r = cli("tune", "--resume", str(run_id), "--db", db)
    assert r.code == 2 and "not a tuning campaign" in r.err


def test_missing_server_binary_is_one_line(cli: Any, tmp_path: Path) -> None:
    from rigbench.engines.bundled import bundled_model_path

    r = cli("tune", str(bundled_model_path()), "--server", str(tmp_path / "llama-server"), "--space", "t=1,2",
            "--db", str(tmp_path / "r.db"))
    assert r.code == 3 and "llama-server binary not found" in r.err
    # without a model file, --server launches the bundled model, as the embedded engine would
    r = cli("tune", "--server", str(tmp_path / "llama-server"), "--space", "t=1,2", "--db", str(tmp_path / "r.db"))
    assert r.code == 3 and "llama-server binary not found" in r.err and r.err.count("\n") == 1
