"""The agent-session script and builder (pure), and the loop's bookkeeping without a server."""

from __future__ import annotations

from typing import Any, cast

import pytest

from rigbench.errors import EngineError, RequestError
from rigbench.jobs.agent import AgentLoop
from rigbench.jobs.bench import FailureGuard
from rigbench.types import RequestRecord
from rigbench.workload.agent import DEFAULT_TURNS, SCRIPT, build_turns, plan_session


def test_the_script_is_a_coding_loop() -> None:
    kinds = [s.kind for s in SCRIPT]
    assert len(SCRIPT) == DEFAULT_TURNS == 30
    assert kinds[0] == "plan" and kinds[-1] == "summarise"
    for k in ("read", "search", "edit", "run", "error", "retry", "docs"):
        assert k in kinds
    tools = {s.tool for s in SCRIPT if s.tool}
    assert tools >= {"file", "grep", "docs", "diff", "test_fail", "test_pass", "lint", "suite"}


@pytest.mark.parametrize("granted", [2048, 4096, 8192, 32768, 131072, None])
@pytest.mark.parametrize("gen", [16, 128])
def test_the_plan_fits_the_granted_context(granted: int | None, gen: int) -> None:
    plan = plan_session(granted, gen)
    turns = build_turns(plan)
    assert len(turns) == plan.turns and turns[-1].kind == "summarise"
    total = sum(t.est_tokens for t in turns) + plan.turns * gen
    assert total <= min((granted or 32768) * 0.85, 16384) * 1.1
    if granted is None or granted >= 16384:
        assert plan.turns == 30 and plan.tool_tokens == 320 and not plan.notes
    else:
        assert plan.notes  # said so when the session was cut or shrunk


def test_turns_are_deterministic_and_carry_real_tool_output() -> None:
    plan = plan_session(32768, 64)
    a, b = build_turns(plan), build_turns(plan)
    assert [t.message for t in a] == [t.message for t in b]
    assert "Task:" in a[0].message and "Task:" not in a[1].message
    text = "\n".join(t.message for t in a)
    assert "def " in text and "AssertionError" in text and "passed in" in text and "+++ b/" in text
    assert "Elizabeth" in text or "Bennet" in text or "Darcy" in text  # the corpus, for the docs turns
    sizes = {t.kind: t.est_tokens for t in a}
    assert sizes["read"] > sizes["plan"]  # tool outputs are long, instructions short


def test_longer_sessions_repeat_the_loop() -> None:
    turns = build_turns(plan_session(131072, 16, turns=45))
    assert len(turns) == 45 and turns[-1].kind == "summarise"
    assert [t.kind for t in turns[29:38]] == [s.kind for s in SCRIPT[5:14]]


def _loop() -> AgentLoop:
    return AgentLoop(cast(Any, None), build_turns(plan_session(8192, 16, turns=6)), 16, granted=8192)


def test_restore_rebuilds_the_history_up_to_the_first_gap() -> None:
    loop = _loop()
    rows = [{"rep": 0, "status": "ok", "content": "plan: 1. read", "prompt_tokens": 120, "completion_tokens": 16},
            {"rep": 1, "status": "ok", "content": "the discount", "prompt_tokens": 500, "completion_tokens": 16},
            {"rep": 2, "status": "error", "content": "", "prompt_tokens": None, "completion_tokens": None},
            {"rep": 3, "status": "ok", "content": "later", "prompt_tokens": 900, "completion_tokens": 16}]
    loop.restore(rows)
    assert loop.next_turn == 2 and loop.context == 516 and loop.last_prompt is None
    roles = [m["role"] for m in loop.messages]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert loop.messages[3]["content"] == "the discount" and not loop.finished and loop.fits()


def test_fits_checks_the_next_turn_against_the_context() -> None:
    loop = _loop()
    loop.context = 8192 - 20
    assert not loop.fits()
    loop.granted = None
    assert loop.fits()


class _Session:
    def __init__(self, alive: bool) -> None:
        self.alive = alive
        self.facts = type("F", (), {"log_path": "/tmp/x.log"})()

    def server_alive(self) -> bool:
        return self.alive


def test_failure_guard() -> None:
    bad = RequestRecord(status="error", t_sent_ns=0, error="HTTP 500: boom")
    good = RequestRecord(status="ok", t_sent_ns=0)
    g = FailureGuard(cast(Any, _Session(True)))
    g.check(bad, "turn 1")
    g.check(bad, "turn 2")
    g.check(good, "turn 3")  # a success resets the count
    g.check(bad, "turn 4")
    g.check(bad, "turn 5")
    with pytest.raises(RequestError, match="three requests failed"):
        g.check(bad, "turn 6")
    with pytest.raises(EngineError, match="died at turn 1"):
        FailureGuard(cast(Any, _Session(False))).check(bad, "turn 1")
