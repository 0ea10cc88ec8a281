"""The quality pass of ``rigbench run``: ask every prompt of the suite N times, grade each
answer as it arrives and store it (the request, and an ``answers`` row with the score and
the grader's detail), and leave the pass's inputs in the run's ``extra["quality"]``. The
figures (score, intervals, per category) are derived from the answers on read
(``quality.summary``).

Order: prompt by prompt, its repeats back to back (the server's prefix cache then serves
each repeat's prompt), the long-context prompts last and together (they share one
document, so the server prefills it once). Repeats differ by seed at a fixed temperature;
both are recorded. Reasoning is never graded: ``RequestRecord.content`` is the visible
answer, and an unclosed think block is an empty answer. A model seen reasoning gets a
reasoning allowance on top of each prompt's answer budget, and the one answer that ran
out of room before it is asked again.

A resumed run keeps every answer already graded under the same suite version.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rigbench.errors import EngineError
from rigbench.jobs.bench import Bench, Sent
from rigbench.jobs.lifecycle import Recording
from rigbench.measure.points import WORKING_DEPTH
from rigbench.measure.speed import figures
from rigbench.measure.stats import summarize
from rigbench.quality.graders import Grade, grade
from rigbench.quality.prompts import Ask, Document, Mode, build_ask, build_document, choose_mode, plan_context
from rigbench.quality.sandbox import describe_layers
from rigbench.quality.suite import LongContextPrompt, Suite, load_suite
from rigbench.quality.summary import graded, quality_summary
from rigbench.store.answers import add_answer, list_answers, set_judge_rating
from rigbench.types import RequestRecord

__all__ = ["DEFAULT_TEMPERATURE", "SEED_BASE", "QualityOptions", "run_quality"]

DEFAULT_TEMPERATURE = 0.6
SEED_BASE = 1000
REASONING_ALLOWANCE = 4096
_LC_RESERVE = 320  # the question, the template around the document, the answer


@dataclass(frozen=True)
class QualityOptions:
    suite: str | None = None
    repeats: int = 3
    temperature: float = DEFAULT_TEMPERATURE
    judge_url: str | None = None
    judge_model: str | None = None
    judge_api_key: str | None = None
    mode: str | None = None  # "chat" | "completion": override the automatic choice
    context: int | None = None  # long-context document size in tokens
    working_depth: int = WORKING_DEPTH
    reasoning_allowance: int = REASONING_ALLOWANCE

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> QualityOptions:
        def _int(key: str, default: int | None) -> int | None:
            v = p.get(key)
            return int(v) if v not in (None, "") else default

        return cls(
            suite=p.get("suite") or None,
            repeats=max(1, _int("quality_repeats", 3) or 3),
            temperature=float(p.get("quality_temperature", DEFAULT_TEMPERATURE)),
            judge_url=p.get("judge_url") or None,
            judge_model=p.get("judge_model") or None,
            judge_api_key=p.get("judge_api_key") or None,
            mode=p.get("quality_mode") or None,
            context=_int("quality_context", None),
            working_depth=_int("working_depth", WORKING_DEPTH) or WORKING_DEPTH,
            reasoning_allowance=_int("quality_reasoning_tokens", REASONING_ALLOWANCE) or REASONING_ALLOWANCE,
        )


@dataclass
class _State:
    extra_tokens: int = 0
    reasons: bool = False
    failed: int = 0
    sandbox_layers: dict[str, Any] = field(default_factory=dict)
    document: Document | None = None
    context: dict[str, Any] = field(default_factory=dict)


def _props_template(client: Any) -> str | None:
    if not getattr(client.facts, "endpoints", {}).get("props"):
        return None
    try:
        r = client.http.get(client.root + "/props")
        data = r.json() if r.status_code == 200 else None
    except Exception:
        return None
    tpl = data.get("chat_template") if isinstance(data, dict) else None
    return tpl if isinstance(tpl, str) else None


def _speed_prefill(store: Any, run_id: int) -> float | None:
    """The run's measured prefill speed (speed-sweep requests of 256+ new tokens)."""
    vals = [f.prefill_tok_s for f in (figures(r) for r in store.requests(run_id, phase="speed"))
            if f.ok and f.processed_tokens is not None and f.processed_tokens >= 256]
    return summarize(vals).median


def _chars_per_token(client: Any, sample: str) -> float:
    n = client.count_tokens(sample) if getattr(client, "can_tokenize", False) else None
    return len(sample) / n if n else 3.0  # unknown: assume dense text, so the document stays short


class _Pass:
    def __init__(self, bench: Bench, suite: Suite, q: QualityOptions, mode: Mode, progress: Any,
                 note: Callable[[str], None]) -> None:
        self.bench, self.session, self.suite, self.q = bench, bench.session, suite, q
        self.store, self.run_id = bench.rec.store, bench.rec.run_id
        self.mode, self.progress, self.note = mode, progress, note
        self.state = _State()
        self.needles = [p for p in suite.prompts if isinstance(p, LongContextPrompt)]
        self.needle_values = [str(p.answer) for p in self.needles]
        self.done = self._graded_before()

    def _graded_before(self) -> dict[tuple[str, int], dict[str, Any]]:
        """The answers a resumed pass keeps: graded under this suite's version and asked the
        same way, their request a success."""
        answers = [a for a in list_answers(self.store, self.run_id, kind="quality")
                   if a.get("suite") == self.suite.name]
        return {k: dict(a) for k, a in graded(answers, suite_version=self.suite.version).items()
                if a["request_status"] == "ok" and (a.get("extra") or {}).get("mode") == self.mode}

    # -- the long-context document, built when first needed --------------------------------
    def _document(self) -> Document:
        if self.state.document is None:
            earlier = [(a.get("extra") or {}).get("context_tokens") for a in self.done.values()
                       if a.get("category") == "long_context"]
            granted = self.session.facts.granted_context
            reserve = _LC_RESERVE + max((p.max_tokens for p in self.needles), default=0) + self.state.extra_tokens
            override = int(earlier[0]) if earlier and earlier[0] else self.q.context
            tokens, why = plan_context(granted=granted, working_depth=self.q.working_depth,
                                       prefill_tok_s=_speed_prefill(self.store, self.run_id), override=override,
                                       reserve=reserve)
            cpt = _chars_per_token(self.session.client, build_document([], 8000).text)
            self.state.document = build_document(self.needles, int(tokens * cpt))
            self.state.context = {"tokens": tokens, "why": why, "chars_per_token": round(cpt, 3),
                                  "needle_depths": self.state.document.depths}
        return self.state.document

    # -- one answer --------------------------------------------------------------------------
    def _ask(self, p: Any) -> Ask:
        doc = self._document().text if isinstance(p, LongContextPrompt) else None
        return build_ask(p, self.mode, document=doc, extra_tokens=self.state.extra_tokens)

    def _observe_reasoning(self, rec: RequestRecord) -> bool:
        """Note reasoning; True when this answer ran out of room while reasoning (ask again)."""
        reasoned = bool(rec.reasoning) or bool(rec.reasoning_tokens)
        if not reasoned:
            return False
        first = not self.state.reasons
        self.state.reasons = True
        if first:
            self.state.extra_tokens = self.q.reasoning_allowance
            self.note(f"the model reasons before answering: each quality prompt got {self.q.reasoning_allowance:,} "
                      "extra tokens for reasoning (reasoning is never graded)")
        cut = rec.finish_reason == "length" and (rec.think_unclosed or not rec.content.strip())
        return first and cut

    def _count_reasoning(self, rec: RequestRecord) -> str | None:
        if rec.reasoning_tokens is not None:
            return "server"
        if rec.reasoning and getattr(self.session.client, "can_tokenize", False):
            n = self.session.client.count_tokens(rec.reasoning)
            if n is not None:
                rec.reasoning_tokens = n
                return "tokenize"
        return None

    def _again(self, rec: RequestRecord, ask: Ask) -> tuple[str, bool] | None:
        """Whether the first ask of an answer is asked again, and why: it ran out of room while
        reasoning, the server has no completions endpoint, or it failed. The flag is False
        when the server itself stopped: nothing is asked again, the pass ends."""
        if rec.ok:
            if self._observe_reasoning(rec):
                return "ran out of room while reasoning; asked again with the allowance", True
            return None
        if ask.text is not None and rec.http_status in (404, 405, 501):
            self.mode = "chat"
            self.note(f"the server refused completion prompts (HTTP {rec.http_status}): quality prompts sent as chat")
            return "the server has no completions endpoint; asked again as chat", True
        if not self.session.server_alive():
            return "failed; the server stopped (asked again when the run is resumed)", False
        return "failed; asked again", True

    def _send(self, p: Any, rep: int, ask: Ask, *, retried: bool) -> tuple[Sent, dict[str, Any], bool]:
        """Ask once through the bench, which stores the request as it ends: as the answer that
        counts, or, decided from the record before it is stored, as one ``superseded`` by
        another ask. Returns what was sent, how it was asked, and whether to ask again."""
        seed = SEED_BASE + rep
        head = {"category": p.category}
        tail = {"suite": self.suite.name, "suite_version": self.suite.version}
        how: dict[str, Any] = {
            "mode": self.mode, "temperature": self.q.temperature, "seed": seed, "max_tokens": ask.max_tokens,
            "primer": ask.primer or None, "retried": retried, "reasoning_tokens_source": None,
        }
        new_tokens = None
        if isinstance(p, LongContextPrompt):
            how["context_tokens"] = self.state.context.get("tokens")
            how["needle_depth"] = (self.state.document.depths.get(p.id) if self.state.document else None)
            new_tokens = int(how["context_tokens"] or 0) + _LC_RESERVE  # the deadline grows with the document
        again: tuple[str, bool] | None = None

        def annotate(rec: RequestRecord) -> dict[str, Any]:
            nonlocal again
            how["reasoning_tokens_source"] = self._count_reasoning(rec)
            mode = how["mode"]
            again = None if retried else self._again(rec, ask)
            if again is not None:
                return {**head, "superseded": again[0], **tail, "mode": mode, "max_tokens": ask.max_tokens}
            return {**head, **tail, **how}

        params: dict[str, Any] = {"temperature": self.q.temperature}
        if ask.messages is None:
            params["stop"] = ask.stop
        sent = self.bench.send(ask.messages, prompt=ask.text if ask.messages is None else None, phase="quality",
                               where=f"quality prompt {p.id}, repeat {rep + 1}", max_tokens=ask.max_tokens,
                               seed=seed, rep=rep, role=p.id, new_tokens=new_tokens, scrape=False, exact=False,
                               params=params, annotate=annotate, guard=False)
        if again is not None and not again[1]:
            raise EngineError(f"the server stopped during the quality pass ({sent.record.error})",
                              "read the server log; answers graded so far are kept")
        return sent, how, again is not None

    def answer(self, p: Any, rep: int) -> None:
        ask = self._ask(p)
        sent, how, again = self._send(p, rep, ask, retried=False)
        if again:
            ask = self._ask(p)
            sent, how, _ = self._send(p, rep, ask, retried=True)
        rec = sent.record
        if rec.ok:
            text = (ask.primer + rec.content) if ask.text is not None else rec.content
            others = [v for v in self.needle_values if v != str(getattr(p, "answer", ""))]
            g = grade(p, text, other_answers=others)
            if g.sandbox is not None and not self.state.sandbox_layers and g.sandbox.layers:
                self.state.sandbox_layers = g.sandbox.layers
        else:
            self.state.failed += 1
            g = Grade(0.0, {"why": f"request failed: {rec.error}"})
        add_answer(self.store, self.run_id, sent.request_id, kind="quality", prompt_id=p.id, rep=rep,
                   category=p.category, score=g.score, suite=self.suite.name, suite_version=self.suite.version,
                   detail=g.to_json(), extra=how)

    def run(self) -> None:
        order = [p for p in self.suite.prompts if not isinstance(p, LongContextPrompt)] + self.needles
        total = len(order) * self.q.repeats
        self.progress.begin(total, "quality")
        for p in order:
            for rep in range(self.q.repeats):
                if (p.id, rep) in self.done:
                    if isinstance(p, LongContextPrompt):
                        self._document()
                else:
                    self.answer(p, rep)
                self.progress.advance(f"quality · {p.id} · {rep + 1}/{self.q.repeats}")
        self.progress.end()


def _judge(suite: Suite, q: QualityOptions, rec: Recording, progress: Any,
           note: Callable[[str], None]) -> dict[str, Any] | None:
    """Have the judge rate the answers that count to open-ended prompts, through a bench of
    its own on the judge's URL inside this run: each reply is stored as it ends (phase
    ``judge``, with its rating) and its rating set on the answer. Returns the judge's
    address (an input of the pass), or None when nothing was judged."""
    from rigbench.errors import RigbenchError
    from rigbench.quality.judge import open_judge
    from rigbench.quality.prompts import prompt_content

    assert q.judge_url
    store, run_id = rec.store, rec.run_id
    rubrics = {p.id: p for p in suite.prompts if p.judge}
    if not rubrics:
        note("--judge: this suite marks no prompt as open-ended (no judge rubric); nothing was judged")
        return None
    with contextlib.ExitStack() as stack:
        try:
            judge = stack.enter_context(open_judge(rec, q.judge_url, api_key=q.judge_api_key, model=q.judge_model))
        except RigbenchError as exc:
            note(f"--judge: could not use {q.judge_url}: {exc.one_line()}")
            return None
        answers = [a for a in list_answers(store, run_id, kind="quality") if a.get("suite") == suite.name]
        counted = sorted(graded(answers, suite_version=suite.version).values(), key=lambda a: a["request_seq"])
        content = {int(r["id"]): r.get("content") or "" for r in store.requests(run_id, phase="quality")}
        todo = [a for a in counted if a["prompt_id"] in rubrics]
        failed, address = 0, {"url": judge.url, "model": judge.model}
        progress.begin(len(todo), "judging")
        for a in todo:
            p = rubrics[str(a["prompt_id"])]
            progress.advance(f"judging · {p.id}")
            answer = ((a.get("extra") or {}).get("primer") or "") + content.get(int(a["request_id"]), "")
            rating = judge.rate(prompt_content(p), answer, str(p.judge), role=p.id, rep=int(a["rep"]),
                                answer_id=int(a["id"]))
            set_judge_rating(store, int(a["id"]), rating.score, rating.request_id)
            failed += rating.score is None
        progress.end()
    if failed:
        note(f"--judge: {failed} of {len(todo)} ratings could not be read from the judge's replies")
    return address


def run_quality(bench: Bench, *, progress: Any, note: Callable[[str], None], opts: Any) -> dict[str, Any]:
    """Run the quality suite against ``bench``'s server, every request sent and stored
    through the bench, store every graded answer, and write the pass's inputs into the
    run's ``extra["quality"]``. Returns the figures, as ``quality.summary`` derives them
    from the stored answers."""
    started = time.monotonic()
    q = QualityOptions.from_params(dict(getattr(opts, "extra_params", None) or {}))
    progress.stage("quality: loading the suite")
    suite = load_suite(q.suite)
    choice = choose_mode(bench.session.facts, _props_template(bench.client), q.mode)
    if choice.reason:
        note(choice.reason)
    qp = _Pass(bench, suite, q, choice.mode, progress, note)
    qp.run()
    st = qp.state
    sandbox_line = describe_layers(st.sandbox_layers) if st.sandbox_layers else None
    if sandbox_line:
        note(sandbox_line)
    if st.failed:
        note(f"quality: {st.failed} answers failed after a retry and were scored 0")
    # inputs only: the figures are derived from the answers (quality.summary)
    inputs: dict[str, Any] = {
        "suite": suite.name, "suite_version": suite.version, "repeats": q.repeats, "prompts": len(suite.prompts),
        "order": [[p.id, p.category] for p in suite.prompts],
        "reasons": st.reasons, "reasoning_allowance": st.extra_tokens or None,
        "mode": qp.mode, "mode_reason": choice.reason if qp.mode == choice.mode else
        "the server refused completion prompts; sent as chat",
        "temperature": q.temperature, "seeds": [SEED_BASE + r for r in range(q.repeats)],
        "context": st.context or None,
        "sandbox": {"layers": st.sandbox_layers, "statement": sandbox_line} if st.sandbox_layers else None,
    }
    if q.judge_url:
        inputs["judge"] = _judge(suite, q, bench.rec, progress, note)
    inputs["wall_s"] = round(time.monotonic() - started, 1)
    bench.rec.merge_extra(quality=inputs)
    quality = quality_summary(bench.rec.store, bench.rec.run_id)
    assert quality is not None
    return quality
