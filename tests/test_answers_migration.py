"""Graded answers as raw rows (table ``answers``) and the upgrade of a database written by
release 0.1.0: its answers back-filled from ``requests.extra``, ``runs.extra["quality"]``
cut down to inputs, and the same quality figures recomputed on read.

``tests/data/upgrade-0.1.0.sqlite`` was written by 0.1.0's own code
(``tests/data/make_upgrade_0_1_0.py``): run 1 mixes right, wrong, failed and retried
answers with a judge (one reply unreadable), run 2 is a resumed pass, run 3 an
incomplete one, run 4 an agent session, run 5 a tune campaign with a quality gate and a
final, run 6 a lab that failed, run 7 a lab with a lossy KV cache and its gate.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rigbench.jobs.summary import run_summary
from rigbench.quality.summary import quality_figures, quality_summary
from rigbench.store import open_store
from rigbench.store.answers import add_answer, list_answers, set_judge_rating
from rigbench.store.backfill import QUALITY_DERIVED
from rigbench.store.migrations import applied_migrations
from rigbench.types import EngineSpec, RequestRecord

FIXTURE = Path(__file__).parent / "data" / "upgrade-0.1.0.sqlite"


def _old_extras(path: Path) -> dict[int, dict[str, Any]]:
    con = sqlite3.connect(path)
    try:
        return {int(i): json.loads(e) if e else {} for i, e in con.execute("SELECT id, extra FROM runs")}
    finally:
        con.close()


@pytest.fixture
def upgraded(tmp_path: Path) -> tuple[Path, dict[int, dict[str, Any]]]:
    db = tmp_path / "old.sqlite"
    shutil.copy(FIXTURE, db)
    before = _old_extras(db)
    con = sqlite3.connect(db)
    assert [n for (n,) in con.execute("SELECT name FROM schema_migrations ORDER BY name")] == [
        "0001_initial", "0002_tune_trials"]  # as 0.1.0 left it
    con.close()
    return db, before


def test_the_fixture_is_what_0_1_0_wrote() -> None:
    extras = _old_extras(FIXTURE)
    assert extras[1]["quality"]["score"] == pytest.approx(2.083) and extras[1]["quality"]["failed_answers"] == 2
    assert extras[1]["quality"]["judge"]["unreadable"] == 1 and "quality" not in extras[3]


def test_upgrade_keeps_every_quality_figure(upgraded: tuple[Path, dict[int, dict[str, Any]]]) -> None:
    db, before = upgraded
    s = open_store(db)
    try:
        for rid, extra in before.items():
            want = extra.get("quality")
            got = quality_summary(s, rid)
            assert got == want, rid  # the score, CIs, categories, items, judge, speed: recomputed, equal
            if want is not None:
                assert list(got or {}) == list(want)  # the JSON keys in 0.1.0's order
                assert run_summary(s, rid).to_json()["quality"] == want  # what show --json prints
            else:
                assert "quality" not in run_summary(s, rid).to_json()  # an unfinished pass showed no score, nor now
    finally:
        s.close()


def test_upgrade_backfills_answers_and_keeps_inputs_only(upgraded: tuple[Path, dict[int, dict[str, Any]]]) -> None:
    db, _ = upgraded
    s = open_store(db)
    try:
        with s.engine.connect() as conn:
            assert {"0010_answers", "0011_drop_measurements", "0012_derived_out_of_run_extra"} <= set(
                applied_migrations(conn))
        assert "measurements" not in s.t
        for rid in (1, 2, 3):  # the quality passes
            rows = s.requests(rid, phase="quality")
            answers = list_answers(s, rid)
            graded = [r for r in rows if "score" in (r["extra"] or {})]
            assert [a["request_id"] for a in answers] == [r["id"] for r in graded]  # superseded ones are not answers
            assert all(a["score"] == r["extra"]["score"] and a["detail"] == r["extra"]["grade"]
                       and a["prompt_id"] == r["role"] and a["rep"] == r["rep"]
                       for a, r in zip(answers, graded, strict=True))
        assert len(list_answers(s, 1)) == 12 and len(list_answers(s, 2)) == 12 and len(list_answers(s, 3)) == 4
        judged = [a for a in list_answers(s, 1) if a["judge_request_id"] is not None]
        judge_rows = s.requests(1, phase="judge")
        assert [a["judge_request_id"] for a in judged] == [r["id"] for r in judge_rows]
        assert [a["judge_rating"] for a in judged] == [r["extra"]["rating"] for r in judge_rows]
        q = (s.get_run(1) or {})["extra"]["quality"]
        assert not set(QUALITY_DERIVED) & set(q) and q["judge"] == {"url": "http://judge/v1", "model": "judge-model"}
        assert [pid for pid, _cat in q["order"]] == ["c1", "q1", "q2", "i1", "e1", "l1"]
    finally:
        s.close()
    s = open_store(db)  # a second open applies nothing and changes nothing
    try:
        assert len(list_answers(s, 1)) == 12
    finally:
        s.close()


def _same(old: Any, new: Any, path: str = "") -> list[str]:
    """Where ``new`` differs from ``old`` (a key ``old`` did not have is no difference)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in old for d in (_same(old[k], new[k], f"{path}/{k}") if k in new else [f"{path}/{k} gone"])]
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True)) for d in _same(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def test_show_json_after_upgrade_matches_0_1_0(upgraded: tuple[Path, dict[int, dict[str, Any]]], cli: Any) -> None:
    """Every key ``show --json`` printed on the 0.1.0 database before the figures moved to
    rows (tests/data/upgrade-0.1.0-show.json: main at 97a1d94, before issue 13) keeps its
    value, for every run kind of the fixture: the quality, session, tune and lab figures
    now recomputed from rows. (A re-derived tune final adds the keys today's paired
    statistics carry, ``effect_pct`` and ``bound_pct``.)"""
    db, before = upgraded
    golden = json.loads((FIXTURE.parent / "upgrade-0.1.0-show.json").read_text())
    for rid, want in golden.items():
        out = cli("show", rid, "--db", str(db), "--json")
        assert out.code == 0, out.err
        got = json.loads(out.out)
        assert _same(want, got) == [], rid
        for key in ("quality", "session"):
            assert (key in got) == (key in want) and got.get(key) == want.get(key)
    s = open_store(db)
    extra4 = (s.get_run(4) or {})["extra"]
    s.close()
    assert "session" not in extra4 and before[4]["session"]["turns"] == 30  # derived now, not stored


def test_show_prints_the_same_quality_after_upgrade(upgraded: tuple[Path, dict[int, dict[str, Any]]],
                                                    cli: Any) -> None:
    db, before = upgraded
    out = cli("show", "1", "--db", str(db), "--json")
    assert out.code == 0, out.err
    assert json.loads(out.out)["quality"] == before[1]["quality"]
    card = cli("show", "1", "--db", str(db)).out
    assert "2.08" in card


def _rec(content: str, status: str = "ok") -> RequestRecord:
    return RequestRecord(status=status, t_sent_ns=0, t_first_token_ns=1_000_000, t_last_token_ns=401_000_000,  # type: ignore[arg-type]
                         t_end_ns=402_000_000, content=content, completion_tokens=21, prompt_tokens=50)


def test_answers_written_and_read_back(tmp_path: Path) -> None:
    s = open_store(tmp_path / "r.db")
    try:
        rid = s.create_run(kind="run", spec=EngineSpec(kind="url", url="http://x/v1"), params={}, command="t",
                           machine={"hostname": "t"}, tool_version="t")
        ids = [s.add_request(rid, _rec("a"), phase="quality", role="p1", rep=k) for k in range(2)]
        failed = s.add_request(rid, _rec("", "error"), phase="quality", role="p2", rep=0)
        a0 = add_answer(s, rid, ids[0], kind="quality", prompt_id="p1", rep=0, category="code", score=5.0,
                        suite="mini", suite_version="1", detail={"passed": 2, "tests": 2}, extra={"mode": "chat"})
        add_answer(s, rid, ids[1], kind="quality", prompt_id="p1", rep=1, category="code", score=2.5,
                   suite="mini", suite_version="1", detail={"passed": 1, "tests": 2})
        add_answer(s, rid, failed, kind="quality", prompt_id="p2", rep=0, category="reasoning", score=0.0,
                   suite="mini", suite_version="1", detail={"why": "request failed: boom"})
        set_judge_rating(s, a0, 4.0, ids[1])
        rows = list_answers(s, rid)
        assert [(a["prompt_id"], a["rep"], a["score"], a["request_status"]) for a in rows] == [
            ("p1", 0, 5.0, "ok"), ("p1", 1, 2.5, "ok"), ("p2", 0, 0.0, "error")]
        assert rows[0]["detail"] == {"passed": 2, "tests": 2} and rows[0]["judge_rating"] == 4.0
        inputs = {"suite": "mini", "suite_version": "1", "repeats": 2, "order": [["p1", "code"], ["p2", "reasoning"]]}
        q = quality_figures(inputs, rows, s.requests(rid, phase="quality"), [])
        assert q["items"]["p1"] == {"category": "code", "score": 3.75, "scores": [5.0, 2.5]}
        assert q["categories"] == {"code": 3.75, "reasoning": 0.0} and q["score"] == pytest.approx(1.875)
        assert q["failed_answers"] == 1 and q["prompts"] == 2 and "judge" not in q
        with pytest.raises(sa.exc.IntegrityError), s.engine.begin() as conn:  # one answer per request
            conn.execute(s.t["answers"].insert().values(run_id=rid, request_id=ids[0], kind="quality",
                                                        prompt_id="p1", score=1.0))
    finally:
        s.close()


def test_session_figures_are_recomputed_from_turns(tmp_path: Path) -> None:
    from rigbench.jobs.agent import session_summary
    from rigbench.measure.compare import session_figures

    s = open_store(tmp_path / "r.db")
    try:
        plan = {"turns": 3, "tool_tokens": 64, "chars_per_token": 3.5, "est_total_tokens": 900, "notes": []}
        rid = s.create_run(kind="run", spec=EngineSpec(kind="url", url="http://x/v1"),
                           params={"session_plan": plan}, command="t", machine={"hostname": "t"}, tool_version="t")
        assert session_summary(s, rid) is None  # no turn stored: no session figures
        for turn in range(3):
            s.add_request(rid, _rec("ok"), phase="session", depth=turn * 71, rep=turn, role="read",
                          extra={"turn_kind": "read", "expected_reuse": turn * 50 or None, "cache_verified": None})
        typed = session_summary(s, rid)
        got = typed.to_json() if typed is not None else None
        assert got == {"workload": "agent", **session_figures(s.requests(rid, phase="session")), "plan": plan}
        assert got is not None and got["turns"] == 3 and got["decode_median_tok_s"] == pytest.approx(50.0)
        summary = run_summary(s, rid).to_json()
        assert summary["session"] == got and summary["verdict"]["basis"] == "session"
        assert "session" not in ((s.get_run(rid) or {}).get("extra") or {})
    finally:
        s.close()


def test_lab_gate_scores_come_from_answers() -> None:
    from rigbench.lab.summary import gate_from

    answers = [{"kind": "gate", "scope": "arm:baseline", "prompt_id": "p1", "score": 4.0},
               {"kind": "gate", "scope": "arm:baseline", "prompt_id": "p2", "score": 2.0},
               {"kind": "gate", "scope": "arm:q4", "prompt_id": "p1", "score": 1.0},
               {"kind": "quality", "scope": None, "prompt_id": "p1", "score": 5.0}]
    stored = {"baseline": {"not_run": None, "suite": "default v1.1 (chat prompts)"},
              "q4": {"not_run": None, "suite": "default v1.1 (chat prompts)"},
              "q2": {"not_run": "no chat template", "suite": None},
              "old": {"scores": {"p1": 3.0}, "mean": 3.0, "not_run": None, "suite": "s"}}  # 0.1.0, not back-filled
    g = gate_from(answers, stored)
    assert g["baseline"] == {"scores": {"p1": 4.0, "p2": 2.0}, "mean": 3.0, "not_run": None,
                             "suite": "default v1.1 (chat prompts)"}
    assert g["q4"]["scores"] == {"p1": 1.0} and g["q4"]["mean"] == 1.0
    assert g["q2"] == {"scores": {}, "mean": None, "not_run": "no chat template", "suite": None}
    assert g["old"]["scores"] == {"p1": 3.0}


def test_upgrade_recomputes_tune_and_lab_figures(upgraded: tuple[Path, dict[int, dict[str, Any]]]) -> None:
    """Run 5 is a tune campaign with a quality gate and a final, run 7 a lab with a lossy KV
    cache and its gate, both written by 0.1.0: their figures left runs.extra, and what the
    rows give back equals what 0.1.0 stored."""
    from rigbench.store.trials import list_trials
    from rigbench.tune.result import trial_figures

    db, before = upgraded
    s = open_store(db)
    try:
        requests = s.requests(5, phase="tune")
        for t in list_trials(s, 5):
            if t["status"] == "measured":
                f = trial_figures(requests, int(t["n"]))
                assert f is not None and {k: f[k] for k in ("prefill", "decode", "grow_prefill")} == {
                    k: t["figures"][k] for k in ("prefill", "decode", "grow_prefill")}
        tune = (s.get_run(5) or {})["extra"]["tune"]
        old = before[5]["tune"]
        assert "winner_trial" not in tune and "participants" not in tune["final"]
        assert [n for n, _label in tune["final"]["entrants"]] == [p["n"] for p in old["final"]["participants"]]
        gates = {a["scope"] for a in list_answers(s, 5) if a["kind"] == "gate"}
        assert gates and all(g.startswith("trial:") for g in gates)
        lab = (s.get_run(7) or {})["extra"]
        assert "table" not in lab and "table" in before[7]
        assert set(lab["gate"]) == {"baseline", "kv q8_0"}
        for arm, g in lab["gate"].items():
            assert set(g) == {"not_run", "suite"}
            scores = {a["prompt_id"]: a["score"] for a in list_answers(s, 7) if a["scope"] == f"arm:{arm}"}
            assert scores and scores == before[7]["gate"][arm]["scores"]
    finally:
        s.close()


def test_a_quality_gates_answers_are_rows(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from rigbench.client.stream import Timeouts
    from rigbench.jobs.bench import Bench
    from rigbench.jobs.lifecycle import Recording
    from rigbench.tune.gate import PER_CATEGORY, grade_subset
    from rigbench.types import ServerFacts

    calls: list[int] = []

    def chat(messages: list[dict[str, str]], *, max_tokens: int, **kw: Any) -> RequestRecord:
        calls.append(max_tokens)
        return _rec("hello" if len(calls) % 2 else "", "ok" if len(calls) < 6 else "error")

    facts = ServerFacts(base_url="http://x/v1", kind="url", chat_template=True)
    session = SimpleNamespace(facts=facts, client=SimpleNamespace(chat=chat), server_alive=lambda: True)
    s = open_store(tmp_path / "r.db")
    try:
        rid = s.create_run(kind="tune", spec=EngineSpec(kind="url", url="http://x/v1"), params={}, command="t",
                           machine={"hostname": "t"}, tool_version="t")
        bench = Bench(Recording(s, rid, "tune"), session, timeouts=Timeouts())  # type: ignore[arg-type]
        scores = grade_subset(bench, 2)
        answers = list_answers(s, rid)
        assert len(answers) == len(calls) == 3 * PER_CATEGORY
        assert all(a["kind"] == "gate" and a["scope"] == "trial:2" and a["suite"] == "default" for a in answers)
        assert {a["prompt_id"]: a["score"] for a in answers} == scores.scores
        assert answers[-1]["request_status"] == "error" and answers[-1]["detail"]["why"].startswith("request failed")
        rows = s.requests(rid, phase="tune")
        assert [a["request_id"] for a in answers] == [r["id"] for r in rows]
        assert all(r["role"] == f"trial2:quality:{r['extra']['prompt']}" and r["extra"]["stage"] == "quality"
                   for r in rows)
    finally:
        s.close()


def test_a_lab_arms_quality_gate_is_recorded_under_the_arm(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from rigbench.client.stream import Timeouts
    from rigbench.jobs.bench import Bench
    from rigbench.jobs.lifecycle import Recording
    from rigbench.tune.gate import PER_CATEGORY, grade_subset
    from rigbench.types import ServerFacts

    def chat(messages: list[dict[str, str]], *, max_tokens: int, **kw: Any) -> RequestRecord:
        assert kw["exact"] is False and kw["temperature"] == 0.0  # an answer, not a forced length
        return _rec("hello", "ok")

    facts = ServerFacts(base_url="http://x/v1", kind="url", chat_template=True)
    session = SimpleNamespace(facts=facts, client=SimpleNamespace(chat=chat), server_alive=lambda: True)
    s = open_store(tmp_path / "r.db")
    try:
        rid = s.create_run(kind="lab", spec=EngineSpec(kind="url", url="http://x/v1"), params={}, command="t",
                           machine={"hostname": "t"}, tool_version="t")
        bench = Bench(Recording(s, rid, "lab"), session, timeouts=Timeouts())  # type: ignore[arg-type]
        scores = grade_subset(bench, 1, arm="kv q8_0")
        rows = s.requests(rid, phase="lab")
        answers = list_answers(s, rid)
        assert len(rows) == len(answers) == 3 * PER_CATEGORY and set(scores.scores) == {a["prompt_id"] for a in answers}
        assert all(r["role"] == "kv q8_0" and r["extra"]["stage"] == "quality" for r in rows)
        assert all(r["extra"]["gate_role"] == f"trial1:quality:{r['extra']['prompt']}" for r in rows)
        assert all(a["scope"] == "arm:kv q8_0" and a["kind"] == "gate" for a in answers)
    finally:
        s.close()
