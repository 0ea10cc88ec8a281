"""``rigbench tune`` against real engines: the embedded one (a tiny space and workload, Ctrl-C
and --resume), and an opt-in real llama-server (RIGBENCH_LLAMA_SERVER=path)."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from rigbench.store import open_store
from rigbench.store.trials import list_trials
from rigbench.tune.export import parse_command_flags

TINY = ["--space", "ub=32,64", "b=32", "--objective", "prefill@128", "--repeats", "2", "--gen-tokens", "16"]


def _search_requests(db: str, run_id: int) -> list[tuple[Any, ...]]:
    store = open_store(db)
    try:
        return [(r["role"], r["rep"]) for r in store.requests(run_id, phase="tune")
                if (r.get("extra") or {}).get("stage") == "search"]
    finally:
        store.close()


def _check_summary(s: dict[str, Any]) -> None:
    assert s["status"] == "complete"
    trials = s["trials"]
    assert trials[0]["n"] == 0 and trials[0]["config"] in ({}, {"server": s["trials"][0]["config"].get("server")})
    for t in trials:
        assert t["decision"] in ("keep", "discard") and t["reason"], t
        assert t["status"] in ("measured", "rejected", "failed")
        if t["status"] == "measured":
            assert t["decode_tok_s"] and t["prefill_tok_s"]  # never a 0 tok/s stand-in
        else:
            assert t["decode_tok_s"] is None and t["prefill_tok_s"] is None
    rejected = [t for t in trials if t["status"] == "rejected"]
    assert rejected and "b=32" in rejected[0]["reason"] and "ub=64" in rejected[0]["reason"]
    win = s["winner"]
    flags = {k: v for k, v in win["config"].items() if k != "server"}
    assert parse_command_flags(shlex.split(win["command"])) == flags
    assert set(s["improvement"]) >= {"decode", "prefill"}
    assert "Trial 0" in s["journal"] and "Winner:" in s["journal"]


@pytest.mark.engine
@pytest.mark.timeout(300)
def test_campaign_on_the_embedded_engine_survives_ctrl_c(cli: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from rigbench.tune import campaign

    db = str(tmp_path / "tune.db")
    final = campaign._Campaign._final

    def ctrl_c(self: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(campaign._Campaign, "_final", ctrl_c)
    r = cli("tune", *TINY, "--db", db)
    assert r.code == 130 and "--resume" in r.err
    store = open_store(db)
    try:
        run = store.list_runs(kind="tune")[0]
        assert run["status"] == "incomplete" and "Ctrl-C" in (run["reason"] or "")
        run_id = int(run["id"])
        assert [t["status"] for t in list_trials(store, run_id)] == ["measured", "measured", "rejected"]
    finally:
        store.close()
    before = _search_requests(db, run_id)
    monkeypatch.setattr(campaign._Campaign, "_final", final)
    r = cli("tune", "--resume", str(run_id), "--db", db, "--json")
    assert r.code == 0, r.err
    s = r.json()
    assert s["campaign_id"] == run_id
    assert _search_requests(db, run_id) == before  # nothing measured twice
    _check_summary(s)
    assert s["final"]["participants"] and s["winner"]["command"].startswith("llama-server -m ")
    r = cli("tune", "--resume", str(run_id), "--db", db, "--export", "sh")
    assert r.code == 0 and r.out.startswith("#!/bin/sh") and "--host 127.0.0.1" in r.out


@pytest.mark.llama_server
@pytest.mark.timeout(300)
def test_campaign_on_a_real_llama_server(cli: Any, tmp_path: Path) -> None:
    from rigbench.engines.bundled import bundled_model_path

    binary = os.environ["RIGBENCH_LLAMA_SERVER"]
    r = cli("tune", str(bundled_model_path()), "--server", binary, *TINY, "--db", str(tmp_path / "t.db"), "--json")
    assert r.code == 0, r.err
    s = r.json()
    _check_summary(s)
    assert shlex.split(s["winner"]["command"])[0] == binary
