"""The quality pass against a scripted server: scoring, storing, reasoning, completion
mode, resume, failures, the long-context document, the judge; then the whole default
suite once against the real embedded engine."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from rigbench.client.limits import Rates
from rigbench.client.stream import Timeouts
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording
from rigbench.quality.prompts import CHATML_FALLBACK, build_document, choose_mode, plan_context
from rigbench.quality.runner import SEED_BASE, run_quality
from rigbench.quality.scoring import Scored, aggregate, bootstrap_mean_ci
from rigbench.quality.suite import LongContextPrompt, load_suite
from rigbench.quality.summary import quality_summary
from rigbench.store import Store, open_store
from rigbench.store.answers import list_answers
from rigbench.types import EngineSpec, RequestRecord, RequestStatus, ServerFacts

MINI = """
name: mini
version: "1"
prompts:
  - id: c1
    category: code
    max_tokens: 64
    prompt: "Write add(a, b). [c1]"
    tests: ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]
  - id: r1
    category: repair
    max_tokens: 64
    prompt: "Fix sq so that it squares. [r1]"
    buggy: "def sq(x):\\n    return x * 2\\n"
    tests: ["assert sq(3) == 9", "assert sq(2) == 4"]
  - id: q1
    category: reasoning
    max_tokens: 32
    prompt: "What is 2 + 2? [q1]"
    answer: 4
  - id: i1
    category: instruction
    max_tokens: 32
    prompt: "Say hello in lowercase. [i1]"
    checks: [{lowercase: true}, {required: [hello]}]
    judge: Is it friendly?
  - id: e1
    category: extraction
    max_tokens: 32
    prompt: "Extract the name: Ada. [e1]"
    fields: {name: Ada}
  - id: l1
    category: long_context
    max_tokens: 8
    needle: The code word is plover.
    depth: 0.25
    prompt: "What is the code word? [l1]"
    answer: plover
  - id: l2
    category: long_context
    max_tokens: 8
    needle: The vault number is 5521.
    depth: 0.75
    prompt: "What is the vault number? [l2]"
    answer: 5521
"""

RIGHT = {
    "c1": "```python\ndef add(a, b):\n    return a + b\n```",
    "r1": "```python\ndef sq(x):\n    return x * x\n```",
    "q1": "2 and 2 make 4.\nAnswer: 4",
    "i1": "hello there, friend",
    "e1": '{"name": "Ada"}',
    "l1": "plover",
    "l2": "5521",
}
WRONG = {"c1": "```python\ndef add(a, b):\n    return None\n```", "r1": "```python\ndef sq(x):\n    return x * 2\n```",
         "q1": "Answer: 5", "i1": "GOODBYE", "e1": "Ada Lovelace was a mathematician.", "l1": "5521", "l2": "no idea"}


def _rec(content: str, *, reasoning: str = "", reasoning_tokens: int | None = None, finish: str = "stop",
         think_unclosed: bool = False, gen: int = 21, status: RequestStatus = "ok",
         error: str | None = None) -> RequestRecord:
    t0 = time.perf_counter_ns()
    first = t0 + 2_000_000
    last = first + int((gen - 1) / 50 * 1e9)  # 50 tok/s
    return RequestRecord(
        status=status, t_sent_ns=t0, t_first_token_ns=first, t_first_content_ns=first, t_last_token_ns=last,
        t_end_ns=last + 1000, content=content, reasoning=reasoning, prompt_tokens=100, completion_tokens=gen,
        reasoning_tokens=reasoning_tokens if reasoning_tokens is not None else (None if reasoning else 0),
        finish_reason=finish, think_unclosed=think_unclosed, error=error,
    )


class FakeClient:
    """Answers each prompt by the [id] tag in it; records every call."""

    def __init__(self, facts: ServerFacts, reply: Callable[[str, str, int], RequestRecord]) -> None:
        self.facts = facts
        self.model = "fake"
        self.api_base = facts.base_url
        self.can_tokenize = False
        self.rates = Rates()
        self.reply = reply
        self.calls: list[dict[str, Any]] = []

    def _tag(self, text: str) -> str:
        tags = re.findall(r"\[([a-z]\d)\]", text)
        return tags[-1] if tags else "?"

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int, **params: Any) -> RequestRecord:
        text = messages[-1]["content"]
        self.calls.append({"kind": "chat", "tag": self._tag(text), "text": text, "max_tokens": max_tokens, **params})
        return self.reply(self._tag(text), text, max_tokens)

    def complete(self, text: str, *, max_tokens: int, **params: Any) -> RequestRecord:
        self.calls.append({"kind": "completion", "tag": self._tag(text), "text": text, "max_tokens": max_tokens,
                           **params})
        return self.reply(self._tag(text), text, max_tokens)

    def count_tokens(self, text: str) -> int | None:
        return None


class FakeSession:
    def __init__(self, reply: Callable[[str, str, int], RequestRecord], *, chat_template: bool = True,
                 granted: int = 8192) -> None:
        self.facts = ServerFacts(base_url="http://fake/v1", kind="url", granted_context=granted,
                                 chat_template=chat_template)
        self.client = FakeClient(self.facts, reply)
        self.alive = True

    def server_alive(self) -> bool:
        return self.alive


def _answers(table: dict[str, str]) -> Callable[[str, str, int], RequestRecord]:
    return lambda tag, text, n: _rec(table[tag])


@pytest.fixture
def suite_file(tmp_path: Path) -> str:
    p = tmp_path / "mini.yaml"
    p.write_text(MINI)
    return str(p)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Store, int]]:
    s = open_store(tmp_path / "t.db")
    rid = s.create_run(kind="run", spec=EngineSpec(kind="url", url="http://fake/v1"), params={}, command="test",
                       machine={"hostname": "t"}, tool_version="t")
    yield s, rid
    s.close()


class Notes(list[str]):
    def __call__(self, text: str) -> None:
        self.append(text)


def _progress() -> Any:
    return SimpleNamespace(stage=lambda t: None, begin=lambda n, t: None, advance=lambda t=None: None,
                           end=lambda: None)


def _bench(session: Any, store: Store, run_id: int) -> Bench:
    return Bench(Recording(store, run_id, "run"), session, timeouts=Timeouts())


def _run(session: FakeSession, store: tuple[Store, int], notes: Notes | None = None,
         **params: Any) -> dict[str, Any]:
    s, rid = store
    return run_quality(_bench(session, s, rid), progress=_progress(), note=notes if notes is not None else Notes(),
                       opts=SimpleNamespace(extra_params=params))


def test_perfect_answers_score_5_and_every_answer_is_stored(suite_file: str, store: tuple[Store, int]) -> None:
    session = FakeSession(_answers(RIGHT))
    q = _run(session, store, suite=suite_file, quality_repeats=2)
    assert q["score"] == 5.0 and q["ci"] == [5.0, 5.0]
    assert q["categories"] == {c: 5.0 for c in ("code", "repair", "reasoning", "instruction", "extraction",
                                                 "long_context")}
    assert (q["prompts"], q["repeats"], q["suite"], q["suite_version"], q["mode"]) == (7, 2, "mini", "1", "chat")
    assert q["speed"]["decode_tok_s"] == pytest.approx(50.0, rel=0.01) and q["speed"]["requests"] == 14
    assert q["reasoning_tokens"] == 0 and q["failed_answers"] == 0
    s, rid = store
    rows = s.requests(rid, phase="quality")
    assert sorted((r["role"], r["rep"]) for r in rows) == sorted((p, k) for p in RIGHT for k in (0, 1))
    assert all(r["extra"]["seed"] == SEED_BASE + r["rep"] for r in rows)
    assert all(r["extra"]["temperature"] == q["temperature"] for r in rows)
    # every graded answer is a row beside the request it grades; the run's extra keeps inputs only
    answers = list_answers(s, rid)
    assert [a["request_id"] for a in answers] == [r["id"] for r in rows]
    assert all(a["score"] == 5.0 and a["kind"] == "quality" and a["suite_version"] == "1" for a in answers)
    assert all(a["detail"]["score"] == 5.0 and a["prompt_id"] == r["role"] for a, r in zip(answers, rows, strict=True))
    code = next(a for a in answers if a["prompt_id"] == "c1")
    assert code["detail"]["passed"] == 2 and code["category"] == "code"  # what the grader saw, kept
    stored = (s.get_run(rid) or {})["extra"]["quality"]
    assert "score" not in stored and "items" not in stored and stored["order"][0] == ["c1", "code"]
    assert quality_summary(s, rid) == q  # recomputed on read, the same figures
    # prompts of one kind are asked together: each prompt's repeats back to back, long context last
    order = [c["tag"] for c in session.client.calls]
    assert order[:2] == ["c1", "c1"] and order[-4:] == ["l1", "l1", "l2", "l2"]


def test_wrong_answers_score_0(suite_file: str, store: tuple[Store, int]) -> None:
    q = _run(FakeSession(_answers(WRONG)), store, suite=suite_file, quality_repeats=1)
    assert q["score"] == 0.0 and set(q["categories"].values()) == {0.0}


def test_partial_credit_and_ci(suite_file: str, store: tuple[Store, int]) -> None:
    mixed = {**RIGHT, "c1": WRONG["c1"], "q1": WRONG["q1"]}
    q = _run(FakeSession(_answers(mixed)), store, suite=suite_file, quality_repeats=1)
    assert q["score"] == pytest.approx(5 * 5 / 7, abs=1e-3)
    assert q["categories"]["code"] == 0.0 and q["categories"]["repair"] == 5.0
    lo, hi = q["ci"]
    assert lo < q["score"] < hi


def test_the_default_suites_extraction_prompts_with_right_answers_in_other_words(
        tmp_path: Path, store: tuple[Store, int]) -> None:
    """Issue 21 through the whole quality pass: the four answers that the word-for-word grader
    marked down (the category read 4.21) score 5, stored under the suite's version 1.1."""
    import json

    import yaml

    from rigbench.quality.suite import ExtractionPrompt

    default = load_suite()
    raw = {"name": "default-extraction", "version": default.version,
           "prompts": [p.model_dump(exclude_none=True) for p in default.prompts if isinstance(p, ExtractionPrompt)]}
    path = tmp_path / "extraction.yaml"
    path.write_text(yaml.safe_dump(raw))
    answers = {
        "Marta": {"customer": "Marta Kowalski", "order_id": "A-7731", "total": 23.4, "express": True,
                  "items": ["blue notebook", "blue notebook", "fountain pen"]},
        "payments API": {"service": "payments API", "started": "09:12", "duration_minutes": 45,
                         "customers_affected": 1300, "root_cause": "An expired TLS certificate on the gateway"},
        "Bazel": {"decision": "Move the build system to Bazel", "owner": "Priya", "deadline": "2025-03-14",
                  "summary": "The team moves the build to Bazel, led by Priya."},
        "Version 4.2.1": {"app_version": "4.2.1", "os": "Windows 11", "crash": False, "reporter": None,
                          "steps": ["Open settings page", "Switch to dark theme", "Press Save"]},
    }

    def reply(tag: str, text: str, max_tokens: int) -> RequestRecord:
        return _rec(json.dumps(next(a for k, a in answers.items() if k in text)))

    q = _run(FakeSession(reply), store, suite=str(path), quality_repeats=1)
    assert q["categories"] == {"extraction": 5.0} and q["suite_version"] == "1.1"
    s, rid = store
    assert all(r["extra"]["suite_version"] == "1.1" for r in s.requests(rid, phase="quality"))


def test_reasoning_is_stripped_counted_and_given_room(suite_file: str, store: tuple[Store, int]) -> None:
    def reply(tag: str, text: str, max_tokens: int) -> RequestRecord:
        if max_tokens < 1000:  # the first answer runs out of room while reasoning
            return _rec("", reasoning="Let me think " * 40, reasoning_tokens=400, finish="length",
                        think_unclosed=True)
        return _rec(RIGHT[tag], reasoning="Let me think.", reasoning_tokens=7)

    notes = Notes()
    session = FakeSession(reply)
    q = _run(session, store, notes, suite=suite_file, quality_repeats=1, quality_reasoning_tokens=2048)
    assert q["score"] == 5.0  # the visible answer was graded, never the reasoning
    assert q["reasons"] is True and q["reasoning_allowance"] == 2048 and q["retried_answers"] == 1
    assert q["reasoning_tokens"] == 400 + 7 * 7
    assert session.client.calls[0]["max_tokens"] == 64 and session.client.calls[1]["max_tokens"] == 64 + 2048
    assert any("reasons before answering" in n for n in notes)


def test_an_unclosed_think_block_is_an_empty_answer(suite_file: str, store: tuple[Store, int]) -> None:
    def reply(tag: str, text: str, max_tokens: int) -> RequestRecord:
        return _rec("", reasoning="Answer: 4 " + RIGHT[tag], reasoning_tokens=30, finish="length",
                    think_unclosed=True)

    q = _run(FakeSession(reply), store, suite=suite_file, quality_repeats=1)
    assert q["score"] == 0.0


def test_base_model_gets_completion_prompts(suite_file: str, store: tuple[Store, int]) -> None:
    def reply(tag: str, text: str, max_tokens: int) -> RequestRecord:
        code = RIGHT[tag]
        if tag in ("c1", "r1"):  # the primer opened the fence: the model writes the code
            code = code.removeprefix("```python\n").removesuffix("```")
        return _rec(code)

    notes = Notes()
    session = FakeSession(reply, chat_template=False)
    q = _run(session, store, notes, suite=suite_file, quality_repeats=1)
    assert q["mode"] == "completion" and q["score"] == 5.0
    assert any("plain completions" in n for n in notes)
    first = session.client.calls[0]
    assert first["kind"] == "completion" and first["text"].startswith("### Task:\n")
    assert first["text"].endswith("### Response:\n```python\n") and "\n```" in first["stop"]


def test_no_completions_endpoint_falls_back_to_chat(suite_file: str, store: tuple[Store, int]) -> None:
    session = FakeSession(_answers(RIGHT), chat_template=False)

    def refuse(text: str, *, max_tokens: int, **params: Any) -> RequestRecord:
        session.client.calls.append({"kind": "completion", "tag": "?"})
        rec = _rec("", status="error", error="HTTP 404: not found")
        rec.http_status = 404
        return rec

    session.client.complete = refuse  # type: ignore[method-assign]
    notes = Notes()
    q = _run(session, store, notes, suite=suite_file, quality_repeats=1)
    assert q["mode"] == "chat" and q["score"] == 5.0 and q["failed_answers"] == 0
    assert [c["kind"] for c in session.client.calls].count("completion") == 1
    assert any("refused completion prompts" in n for n in notes)


def test_resume_keeps_graded_answers(suite_file: str, store: tuple[Store, int]) -> None:
    first = FakeSession(_answers(RIGHT))
    _run(first, store, suite=suite_file, quality_repeats=1)
    again = FakeSession(_answers(WRONG))
    q = _run(again, store, suite=suite_file, quality_repeats=2)
    asked = {c["tag"] for c in again.client.calls}
    assert len(again.client.calls) == 7 and asked == set(RIGHT)  # only the new repeat was asked
    assert q["score"] == pytest.approx(2.5)


def test_failed_requests_are_retried_then_scored_0(suite_file: str, store: tuple[Store, int]) -> None:
    def reply(tag: str, text: str, max_tokens: int) -> RequestRecord:
        if tag == "q1":
            return _rec("", status="error", error="HTTP 500: boom")
        return _rec(RIGHT[tag])

    notes = Notes()
    session = FakeSession(reply)
    q = _run(session, store, notes, suite=suite_file, quality_repeats=1)
    assert q["failed_answers"] == 1 and q["categories"]["reasoning"] == 0.0
    assert sum(1 for c in session.client.calls if c["tag"] == "q1") == 2
    assert any("failed after a retry" in n for n in notes)
    s, rid = store  # both asks are stored as they end: the first superseded, the second the answer that counts
    first, second = [r for r in s.requests(rid, phase="quality") if r["role"] == "q1"]
    assert first["extra"]["superseded"] == "failed; asked again" and "retried" not in first["extra"]
    assert "superseded" not in second["extra"] and second["extra"]["retried"] is True
    assert [a["request_id"] for a in list_answers(s, rid) if a["prompt_id"] == "q1"] == [second["id"]]


def test_a_dead_server_stops_the_pass(suite_file: str, store: tuple[Store, int]) -> None:
    from rigbench.errors import EngineError

    session = FakeSession(lambda tag, text, n: _rec("", status="error", error="connection refused"))
    session.alive = False
    with pytest.raises(EngineError, match="stopped during the quality pass"):
        _run(session, store, suite=suite_file, quality_repeats=1)
    s, rid = store
    rows = s.requests(rid, phase="quality")  # the failed request is kept as evidence, not as an answer
    assert len(rows) == 1 and rows[0]["status"] == "error" and "server stopped" in rows[0]["extra"]["superseded"]
    assert not list_answers(s, rid) and len(session.client.calls) == 1


def test_long_context_prompts_share_one_document(suite_file: str, store: tuple[Store, int]) -> None:
    session = FakeSession(_answers(RIGHT), granted=8192)
    q = _run(session, store, suite=suite_file, quality_repeats=1)
    lc = [c["text"] for c in session.client.calls if c["tag"] in ("l1", "l2")]
    doc = lc[0][: lc[0].index("Question:")]
    assert lc[1].startswith(doc)  # the server prefills the document once
    assert doc.index("The code word is plover.") < doc.index("The vault number is 5521.")
    ctx = q["context"]
    assert ctx["tokens"] == 2048 and "prefill" in ctx["why"]  # no measured prefill: the CPU-safe default
    assert 0.2 < ctx["needle_depths"]["l1"] < 0.3 and 0.7 < ctx["needle_depths"]["l2"] < 0.8
    assert len(doc) == pytest.approx(2048 * 3.0, rel=0.05)
    # the bench gives the document's prompts a longer silence before the first token
    read = {c["tag"]: c["timeouts"].read_s for c in session.client.calls}
    assert read["l1"] > read["q1"] and read["q1"] == Timeouts().read_s


def test_judge_is_reported_apart(suite_file: str, store: tuple[Store, int], monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    import rigbench.quality.judge as judge_mod

    def rate(tag: str, text: str, max_tokens: int) -> RequestRecord:
        assert "Criterion: Is it friendly?" in text and "hello" in text
        return _rec("It is terse.\nScore: 2")

    judge = FakeSession(rate)  # the judge's server, measured through a bench of its own
    judge.client.api_base, judge.client.model = "http://judge/v1", "judge-model"
    opened: list[tuple[str, str | None]] = []

    @contextlib.contextmanager
    def attach(url: str, *, api_key: str | None, model: str | None) -> Iterator[FakeSession]:
        opened.append((url, api_key))
        yield judge

    monkeypatch.setattr(judge_mod, "judge_session", attach)
    q = _run(FakeSession(_answers(RIGHT)), store, suite=suite_file, quality_repeats=2, judge_url="http://judge/v1")
    assert opened == [("http://judge/v1", None)]
    assert q["score"] == 5.0  # never mixed in
    j = q["judge"]
    assert (j["score"], j["prompts"], j["ratings"], j["model"], j["url"]) == (2.0, 1, 2, "judge-model",
                                                                             "http://judge/v1")
    assert [(c["temperature"], c["seed"], c["exact"]) for c in judge.client.calls] == [(0.0, 0, False)] * 2
    s, rid = store
    replies = s.requests(rid, phase="judge")
    assert len(replies) == 2 and all(r["extra"]["rating"] == 2 and r["role"] == "i1" for r in replies)
    assert [r["rep"] for r in replies] == [0, 1]
    rated = [a for a in list_answers(s, rid) if a["judge_request_id"] is not None]
    assert [(a["prompt_id"], a["judge_rating"]) for a in rated] == [("i1", 2.0), ("i1", 2.0)]
    assert [a["judge_request_id"] for a in rated] == [r["id"] for r in replies]
    assert [r["extra"]["answer_id"] for r in replies] == [a["id"] for a in rated]


def test_parse_rating() -> None:
    from rigbench.quality.judge import judge_prompt, parse_rating

    assert parse_rating("Clear and correct.\nScore: 4") == 4
    assert parse_rating("**Score:** 5/5") == 5
    assert parse_rating("3") == 3
    assert parse_rating("I cannot rate this.") is None
    assert "Criterion: be nice" in judge_prompt("task", "", "be nice") and "(empty)" in judge_prompt("t", "", "r")


# -- pure parts ----------------------------------------------------------------------------
def test_aggregate_and_bootstrap() -> None:
    scored = [Scored("a", "code", 0, 5.0), Scored("a", "code", 1, 3.0), Scored("b", "reasoning", 0, 0.0)]
    agg = aggregate(scored, {"a": "code", "b": "reasoning", "c": "reasoning"})
    assert agg.items["a"].score == 4.0 and agg.items["a"].scores == [5.0, 3.0] and agg.items["c"].scores == []
    assert agg.categories == {"code": 4.0, "reasoning": 0.0}
    assert agg.score == pytest.approx(4 / 3, abs=1e-3)  # a prompt never answered counts 0
    assert bootstrap_mean_ci([1.0]) is None
    lo, hi = bootstrap_mean_ci([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]) or (0.0, 0.0)
    assert lo < 2.5 < hi and lo >= 0.0 and hi <= 5.0


def test_plan_context() -> None:
    cpu = plan_context(granted=32768, working_depth=32768, prefill_tok_s=350.0, override=None, reserve=400)
    assert cpu[0] == 2560 and "prefills in about 8 s" in cpu[1]
    assert plan_context(granted=32768, working_depth=32768, prefill_tok_s=None, override=None, reserve=400)[0] == 2048
    gpu = plan_context(granted=262144, working_depth=32768, prefill_tok_s=9000.0, override=None, reserve=400)
    assert gpu == (32768, "32,768 tokens: the working depth")
    small = plan_context(granted=4096, working_depth=32768, prefill_tok_s=9000.0, override=None, reserve=400)
    assert small[0] == 3584 and "grants one slot" in small[1]
    assert plan_context(granted=32768, working_depth=32768, prefill_tok_s=1.0, override=8000, reserve=400)[0] == 7936


def test_choose_mode(tmp_path: Path) -> None:
    facts = ServerFacts(base_url="x", kind="url", chat_template=True)
    assert choose_mode(facts, None).mode == "chat"
    assert choose_mode(facts, CHATML_FALLBACK).mode == "completion"
    assert choose_mode(facts, "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}").mode == "chat"
    assert choose_mode(ServerFacts(base_url="x", kind="url", chat_template=False), None).mode == "completion"
    log = tmp_path / "boot.log"
    log.write_text("llama_model_loader: - kv   0: general.architecture str = gemma3\n")
    base = ServerFacts(base_url="x", kind="embedded", chat_template=True, log_path=str(log))
    assert choose_mode(base, None).mode == "completion"
    log.write_text(log.read_text() + "llama_model_loader: - kv   1: tokenizer.chat_template str = {% ...\n")
    assert choose_mode(base, None).mode == "chat"
    assert choose_mode(base, None, "completion").mode == "completion"


def test_document_plants_needles_at_their_depths() -> None:
    needles = [p for p in load_suite().prompts if isinstance(p, LongContextPrompt)]
    for size in (8_000, 20_000, 130_000):
        doc = build_document(needles, size)
        for p in needles:
            assert doc.text.count(p.needle) == 1
            assert abs(doc.depths[p.id] - p.depth) < 0.03, (size, p.id, doc.depths[p.id])
        assert abs(len(doc.text) - size) < 600
        assert "\n\n" + needles[0].needle + "\n\n" in doc.text  # a paragraph of its own


# -- the real engine -------------------------------------------------------------------------
@pytest.mark.engine
def test_default_suite_on_the_embedded_engine(tmp_path: Path) -> None:
    """The whole default suite once on the bundled 270M base model: it scores low; this
    checks the pipeline (completion prompts, grading, sandbox, storage), not the score."""
    from rigbench.jobs.session import open_session

    s = open_store(tmp_path / "t.db")
    spec = EngineSpec(kind="embedded")
    rid = s.create_run(kind="run", spec=spec, params={}, command="test", machine={"hostname": "t"}, tool_version="t")
    notes = Notes()
    try:
        with open_session(spec, tmp_path / "logs") as session:
            started = time.monotonic()
            q = run_quality(_bench(session, s, rid), progress=_progress(), note=notes,
                            opts=SimpleNamespace(extra_params={"quality_repeats": 1}))
            wall = time.monotonic() - started
        suite = load_suite()
        assert q["prompts"] == len(suite.prompts) and q["repeats"] == 1
        assert 0.0 <= q["score"] <= 5.0 and set(q["categories"]) == set(suite.categories)
        assert q["mode"] == "completion"  # a base model: no chat template of its own
        assert q["sandbox"]["layers"]["rlimits"] and "sandbox" in q["sandbox"]["statement"]
        assert q["speed"]["decode_tok_s"] > 1 and q["speed"]["requests"] == len(suite.prompts)
        assert q["context"]["tokens"] >= 1024 and q["failed_answers"] == 0
        rows = s.requests(rid, phase="quality")
        assert len(rows) == len(suite.prompts) and all(r["status"] == "ok" for r in rows)
        from rigbench.store.answers import list_answers

        graded = {a["request_id"]: a for a in list_answers(s, rid, kind="quality")}
        assert set(graded) == {r["id"] for r in rows}  # every answer graded, as a raw row of its own
        assert all(a["detail"] and 0.0 <= a["score"] <= 5.0 for a in graded.values())
        lc = [r for r in rows if r["extra"]["category"] == "long_context"]
        assert all(r["prompt_tokens"] > q["context"]["tokens"] * 0.8 for r in lc)  # the document was really read
        assert any("plain completions" in n for n in notes)
        assert 0 < q["wall_s"] <= wall + 1  # the pass times itself (its budget: test_quality_suite)
    finally:
        s.close()
