"""``rigbench run --session agent`` on the real embedded engine: every turn stored, the
context growing, prompt-cache reuse read from the server's counters, the summary in the
run's extra and on its card."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from rigbench.jobs.run import RunOptions, run_job
from rigbench.measure.compare import session_figures
from rigbench.store import open_store
from rigbench.types import EngineSpec

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def session_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    db = tmp_path_factory.mktemp("agent") / "results.db"
    opts = RunOptions(spec=EngineSpec(kind="embedded", flags=(("t", "1"),)), gen_tokens=16, quality=False, db=str(db),
                      command="rigbench run --session agent", extra_params={"session": "agent", "session_turns": 6})
    return run_job(opts), db


def test_session_summary(session_run: tuple[dict[str, Any], Path]) -> None:
    out, _ = session_run
    assert out["status"] == "complete"
    s = out["session"]
    assert s["workload"] == "agent" and s["turns"] == s["turns_ok"] == 6 and s["plan"]["turns"] == 6
    assert s["decode_median_tok_s"] > 1 and s["decode_worst_tok_s"] <= s["decode_median_tok_s"]
    assert s["ttft_median_ms"] > 0 and s["context_end"] > s["context_start"] > 50
    c = s["cache"]
    assert c["verified_turns"] == 5 and c["missed_turns"] == 0  # from cache_n, turn after turn
    assert c["reused_tokens"] > c["processed_tokens"] / 2
    assert [p["kind"] for p in s["per_turn"]] == ["plan", "read", "search", "read", "docs", "summarise"]
    assert "sustained" in s["statement"] and "worst dip" in s["statement"]
    v = out["verdict"]  # judged on the session's sustained decode, not "no decode figure"
    assert v["basis"] == "session" and v["decode_tok_s"] == s["decode_median_tok_s"]
    assert "sustained over a 6-turn agent session" in v["summary"]


def test_turns_are_stored_with_growing_depth(session_run: tuple[dict[str, Any], Path]) -> None:
    out, db = session_run
    st = open_store(db)
    rows = st.requests(out["run_id"], phase="session")
    run = st.get_run(out["run_id"])
    st.close()
    assert run is not None and "session" not in (run["extra"] or {})  # figures are derived from the turns
    assert out["session"]["per_turn"] == session_figures(rows)["per_turn"]
    assert [r["rep"] for r in rows] == list(range(6)) and rows[0]["depth"] == 0
    depths = [r["depth"] for r in rows]
    assert depths == sorted(depths) and len(set(depths)) == 6
    for prev, r in itertools.pairwise(rows):
        assert r["depth"] == prev["prompt_tokens"] + prev["completion_tokens"]  # the context at the turn's start
        assert r["timings"]["cache_n"] >= prev["prompt_tokens"] - 16  # the server reused the history
        assert r["timings"]["prompt_n"] < r["prompt_tokens"] / 2 or r["depth"] < 600
    assert all(r["completion_tokens"] == 16 and r["content"] for r in rows)


def test_card_shows_the_session(session_run: tuple[dict[str, Any], Path], cli: Any) -> None:
    out, db = session_run
    card = cli("show", str(out["run_id"]), "--db", str(db)).out
    assert "Agent session · decode tok/s per turn" in card and "Session: decode" in card
    assert "No depth was measured" not in card
