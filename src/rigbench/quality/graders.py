"""Deterministic graders: one answer (reasoning already stripped) -> a score from 0 to 5.

Partial credit everywhere it means something: the share of hidden tests passed (for a
repair, of the tests the buggy code failed), of constraints met, of required facts
extracted, of the parts of a multi-part answer. An
empty answer scores 0 in every category (an empty reply must not "pass" a forbidden-word
or word-limit constraint). Free text is compared word by word after normalisation
(``quality.matching``: case, punctuation, articles, inflections, alternatives listed in the
suite), never by character-level string similarity; numbers, dates, ids, booleans and
null stay exact; code is judged only by running it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rigbench.quality.answers import answer_line, extract_code, extract_json, parse_number, words
from rigbench.quality.checks import check
from rigbench.quality.matching import get_key, match_value, phrase_equal
from rigbench.quality.sandbox import Limits, SandboxResult, run_tests
from rigbench.quality.suite import (
    CodePrompt,
    ExtractionPrompt,
    InstructionPrompt,
    LongContextPrompt,
    ReasoningPrompt,
    RepairPrompt,
)

__all__ = [
    "MAX_SCORE",
    "Grade",
    "grade",
    "grade_code",
    "grade_extraction",
    "grade_instruction",
    "grade_long_context",
    "grade_reasoning",
]

MAX_SCORE = 5.0


@dataclass(frozen=True)
class Grade:
    score: float  # 0..5
    detail: dict[str, Any] = field(default_factory=dict)
    sandbox: SandboxResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), **self.detail}


def _scaled(share: float) -> float:
    return round(MAX_SCORE * max(0.0, min(1.0, share)), 4)


def _empty() -> Grade:
    return Grade(0.0, {"why": "empty answer"})


# -- code and repair ---------------------------------------------------------------------
@lru_cache(maxsize=64)
def _baseline_share(buggy: str, tests: tuple[str, ...], setup: str) -> float:
    """The share of tests the code to repair passes as given (run once per prompt)."""
    return run_tests(buggy, tests, setup=setup).share


def grade_code(p: CodePrompt | RepairPrompt, answer: str, *, limits: Limits = Limits()) -> Grade:
    """The share of hidden tests passed. For a repair, only what the fix gained counts: the
    buggy code as given scores 0, a fix that passes every test 5."""
    if not answer.strip():
        return _empty()
    code = extract_code(answer)
    if not code.strip():
        return Grade(0.0, {"why": "no Python code found in the answer", "tests": len(p.tests)})
    res = run_tests(code, p.tests, setup=p.setup, limits=limits)
    detail: dict[str, Any] = {"passed": res.passed, "tests": res.total, "outcome": res.outcome}
    share = res.share
    if isinstance(p, RepairPrompt):
        base = _baseline_share(p.buggy, tuple(p.tests), p.setup)
        detail["buggy_passed"] = round(base * res.total)
        share = (share - base) / (1.0 - base) if base < 1.0 else 0.0
    if res.error:
        detail["error"] = res.error
    if res.failures:
        detail["failures"] = res.failures[:3]
    return Grade(_scaled(share), detail, res)


# -- reasoning ---------------------------------------------------------------------------
def _same(expected: str, got: str) -> bool:
    e_num = parse_number(expected)
    if e_num is not None and re.fullmatch(r"[-+]?[\d.,/]+", expected.strip()):
        g_num = parse_number(got)
        return g_num is not None and abs(g_num - e_num) <= 1e-6 * max(1.0, abs(e_num))
    return phrase_equal(expected, got)


def _parts(text: str, n: int) -> list[str]:
    if n == 1:
        return [text]
    parts = [x.strip() for x in re.split(r"[;,]\s*|\s+and\s+", text) if x.strip()]
    return parts


def grade_reasoning(p: ReasoningPrompt, answer: str) -> Grade:
    """Full credit for the exact value on the first "Answer:" line; 3/5 when there is no such
    line but the answer's last line ends with the right value; multi-part answers score the
    share of parts right."""
    if not answer.strip():
        return _empty()
    expected = p.answers
    line = answer_line(answer)
    weight = 1.0
    if line is None:
        last = answer.strip().splitlines()[-1]
        line = last
        weight = 0.6
        if len(expected) == 1:  # take the last value-like token of the last line
            toks = re.findall(r"\d{1,2}:\d{2}|[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?|[A-Za-z][\w-]*", last)
            line = toks[-1] if toks else last
    got = _parts(line, len(expected))
    if len(expected) == 1:
        right = [_same(expected[0], got[0]) if got else False]
    else:
        right = [i < len(got) and _same(e, got[i]) for i, e in enumerate(expected)]
    share = sum(right) / len(expected)
    return Grade(_scaled(share * weight), {"expected": expected, "got": got[: len(expected) + 2],
                                          "answer_line": weight == 1.0, "right": right})


# -- instruction following ---------------------------------------------------------------
def grade_instruction(p: InstructionPrompt, answer: str) -> Grade:
    if not answer.strip():
        return _empty()
    results = {f"{c.kind}={c.value!r}": check(c, answer) for c in p.checks}
    share = sum(results.values()) / len(results)
    return Grade(_scaled(share), {"checks": results})


# -- extraction and summaries ------------------------------------------------------------
def grade_extraction(p: ExtractionPrompt, answer: str) -> Grade:
    if not answer.strip():
        return _empty()
    obj = extract_json(answer)
    if not isinstance(obj, dict):
        return Grade(0.0, {"why": "no JSON object in the answer"})
    items: dict[str, float] = {}
    for key, expected in p.fields.items():
        actual = get_key(obj, key)
        items[key] = round(match_value(expected, actual), 4)
    if p.summary is not None:
        text = get_key(obj, p.summary.field)
        text = text if isinstance(text, str) else ""
        for m in p.summary.mentions:
            said = any(alt.strip() and alt.strip().casefold() in text.casefold() for alt in m.split("|"))
            items[f"{p.summary.field} mentions {m}"] = 1.0 if said else 0.0
        if p.summary.max_words is not None:
            n, limit = len(words(text)), p.summary.max_words
            items[f"{p.summary.field} within {limit} words"] = 1.0 if 0 < n <= limit else 0.0
    share = sum(items.values()) / len(items)
    return Grade(_scaled(share), {"fields": items})


# -- long context ------------------------------------------------------------------------
def _contains(text: str, value: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])", text, re.I) is not None


def grade_long_context(p: LongContextPrompt, answer: str, *, other_answers: Sequence[str] = ()) -> Grade:
    """5 when the answer gives the planted value and no other needle's value; 1 when it
    hedges with other planted values too; 0 when the value is missing."""
    if not answer.strip():
        return _empty()
    value = str(p.answer)
    found = _contains(answer, value)
    hedged = [o for o in other_answers if o != value and _contains(answer, o)]
    score = 0.0 if not found else (1.0 if hedged else MAX_SCORE)
    return Grade(score, {"expected": value, "found": found, "other_needles": hedged})


def grade(p: Any, answer: str, *, other_answers: Sequence[str] = (), limits: Limits = Limits()) -> Grade:
    """Grade one answer to one prompt of any category."""
    if isinstance(p, (CodePrompt, RepairPrompt)):
        return grade_code(p, answer, limits=limits)
    if isinstance(p, ReasoningPrompt):
        return grade_reasoning(p, answer)
    if isinstance(p, InstructionPrompt):
        return grade_instruction(p, answer)
    if isinstance(p, ExtractionPrompt):
        return grade_extraction(p, answer)
    if isinstance(p, LongContextPrompt):
        return grade_long_context(p, answer, other_answers=other_answers)
    raise TypeError(f"no grader for {type(p).__name__}")
