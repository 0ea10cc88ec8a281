"""Every grader with passing and failing answers; the answer extractors and checks."""

from __future__ import annotations

import pytest

from rigbench.quality.answers import answer_line, extract_code, extract_json, parse_number
from rigbench.quality.checks import check, match_value, sentences
from rigbench.quality.graders import (
    grade,
    grade_code,
    grade_extraction,
    grade_instruction,
    grade_long_context,
    grade_reasoning,
)
from rigbench.quality.suite import (
    Check,
    CodePrompt,
    ExtractionPrompt,
    InstructionPrompt,
    LongContextPrompt,
    ReasoningPrompt,
    RepairPrompt,
)

ADD = CodePrompt(id="add", category="code", prompt="write add", max_tokens=64,
                 tests=["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4",
                        "assert add('a', 'b') == 'ab'"])


# -- code --------------------------------------------------------------------------------
def test_code_all_tests_pass_scores_5() -> None:
    g = grade_code(ADD, "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nEnjoy.")
    assert g.score == 5.0 and g.detail["passed"] == 4


def test_code_partial_credit_is_the_share_of_tests() -> None:
    g = grade_code(ADD, "```python\ndef add(a, b):\n    return int(a) + int(b)\n```")
    assert g.score == pytest.approx(5 * 3 / 4) and g.detail["passed"] == 3


def test_code_wrong_or_missing_scores_0() -> None:
    assert grade_code(ADD, "```python\ndef add(a, b):\n    return a * b\n```").score == pytest.approx(5 * 1 / 4)
    assert grade_code(ADD, "```python\ndef add(a, b):\n    return a - b\n```").score == 0.0
    assert grade_code(ADD, "I would add the numbers.").score == 0.0
    assert grade_code(ADD, "").score == 0.0
    g = grade_code(ADD, "```python\ndef add(a, b)\n    return a + b\n```")  # a syntax error
    assert g.score == 0.0


def test_code_cut_off_answer_keeps_the_complete_code() -> None:
    # an unclosed fence (max_tokens hit), with trailing half-written prose
    g = grade_code(ADD, "```python\ndef add(a, b):\n    return a + b\n\nThis function adds tw")
    assert g.score == 5.0


def test_repair_scores_only_what_the_fix_gained() -> None:
    p = RepairPrompt(id="r", category="repair", prompt="fix", max_tokens=64,
                     buggy="def sq(x):\n    return x * 2\n",
                     tests=["assert sq(2) == 4", "assert sq(3) == 9", "assert sq(0) == 0", "assert sq(-1) == 1"])
    unchanged = grade_code(p, "```python\ndef sq(x):\n    return x * 2\n```")
    assert unchanged.score == 0.0 and unchanged.detail["buggy_passed"] == 2
    assert grade_code(p, "```python\ndef sq(x):\n    return x * x\n```").score == 5.0
    half = grade_code(p, "```python\ndef sq(x):\n    return x * 2 if x != 3 else 9\n```")
    assert half.score == pytest.approx(2.5)


def test_extract_code_prefers_the_defining_block() -> None:
    ans = "Usage:\n```python\nprint(f(1))\n```\nCode:\n```python\ndef f(x):\n    return x\n```"
    assert extract_code(ans).startswith("def f(x):")
    assert extract_code("def f(x):\n    return x\nThat is all.") == "def f(x):\n    return x\n"
    assert extract_code("no code here") == ""


# -- reasoning ---------------------------------------------------------------------------
def _reason(answer: object) -> ReasoningPrompt:
    return ReasoningPrompt(id="r", category="reasoning", prompt="q", max_tokens=64, answer=answer)  # type: ignore[arg-type]


def test_reasoning_exact_answer_line() -> None:
    assert grade_reasoning(_reason(399), "17*23 = 391, 48/6 = 8.\nAnswer: 399").score == 5.0
    assert grade_reasoning(_reason(399), "**Answer:** 399.").score == 5.0
    assert grade_reasoning(_reason(399), "Answer: 1,300").score == 0.0
    assert grade_reasoning(_reason(1300), "Answer: 1,300").score == 5.0
    assert grade_reasoning(_reason("17:25"), "Answer: 17:25").score == 5.0
    assert grade_reasoning(_reason("17:25"), "Answer: 17:35").score == 0.0


def test_reasoning_first_answer_line_counts() -> None:
    assert grade_reasoning(_reason(36), "Answer: 12\nAnswer: 36").score == 0.0


def test_reasoning_without_answer_line_gets_partial_credit_only() -> None:
    g = grade_reasoning(_reason(36), "Bob has 12, so Alice has 36")
    assert g.score == pytest.approx(3.0) and g.detail["answer_line"] is False
    assert grade_reasoning(_reason(36), "Alice has 12 apples").score == 0.0
    assert grade_reasoning(_reason(36), "").score == 0.0


def test_reasoning_multi_part_scores_the_share_right() -> None:
    p = _reason(["Friday", 50])
    assert grade_reasoning(p, "Answer: Friday, $50").score == 5.0
    assert grade_reasoning(p, "Answer: Thursday, 50").score == pytest.approx(2.5)
    assert grade_reasoning(p, "Answer: Monday, 40").score == 0.0


# -- instruction following ---------------------------------------------------------------
def _instr(*checks: dict[str, object]) -> InstructionPrompt:
    return InstructionPrompt(id="i", category="instruction", prompt="q", max_tokens=64,
                             checks=[Check.model_validate(c) for c in checks])


def test_instruction_all_checks_met() -> None:
    p = _instr({"bullets": 3}, {"lines": 3}, {"forbidden": ["simple"]}, {"min_words": 6})
    good = "- name things well\n- keep functions short\n- write tests first"
    g = grade_instruction(p, good)
    assert g.score == 5.0 and all(g.detail["checks"].values())


def test_instruction_partial_and_empty() -> None:
    p = _instr({"bullets": 3}, {"lines": 3}, {"forbidden": ["simple"]}, {"min_words": 6})
    bad = "- keep it simple\n- short functions\n- tests\n- more"
    g = grade_instruction(p, bad)
    assert g.score == pytest.approx(5 * 1 / 4)  # only min_words holds
    assert grade_instruction(p, "").score == 0.0  # an empty answer never "passes" a forbidden word


@pytest.mark.parametrize(("c", "good", "bad"), [
    ({"max_words": 3}, "one two three", "one two three four"),
    ({"min_words": 2}, "one two", "one"),
    ({"max_chars": 5}, "abcde", "abcdef"),
    ({"lines": 2}, "a\n\nb", "a\nb\nc"),
    ({"bullets": 2}, "- a\n* b", "- a\nb"),
    ({"numbered": 2}, "1. a\n2) b", "1. a\n- b"),
    ({"sentences": 1}, "A compiler translates code.", "It reads. It writes."),
    ({"forbidden": ["coffee"]}, "tea is fine", "Coffee is fine"),
    ({"required": ["Bazel"]}, "we use bazel", "we use make"),
    ({"lowercase": True}, "all lower here", "Not lower"),
    ({"uppercase": True}, "ALL CAPS", "Not caps"),
    ({"starts_with": "Yes"}, "Yes, indeed", "No"),
    ({"ends_with": "!"}, "done!", "done."),
    ({"line_starts_with": "Bugs"}, "Bugs a\nBugs b", "Bugs a\nbugs b"),
    ({"no_chars": ","}, "no commas", "a, b"),
    ({"json_only": "object"}, '{"a": 1}', '```json\n{"a": 1}\n```'),
    ({"json_only": "array"}, "[1, 2]", '{"a": 1}'),
    ({"json_keys": ["a", "b"]}, '{"b": 1, "a": 2}', '{"a": 1}'),
    ({"regex": r"\b1991\b"}, "first released in 1991", "in 19910"),
])
def test_each_check_passes_and_fails(c: dict[str, object], good: str, bad: str) -> None:
    chk = Check.model_validate(c)
    assert check(chk, good) is True
    assert check(chk, bad) is False


def test_sentence_count() -> None:
    assert sentences("One. Two! Three?") == 3
    assert sentences("Version 3.5 is out") == 1
    assert sentences("") == 0


# -- extraction --------------------------------------------------------------------------
ORDER = ExtractionPrompt(id="e", category="extraction", prompt="q", max_tokens=64, fields={
    "customer": "Marta Kowalski", "order_id": "A-7731", "items": ["blue notebooks", "fountain pen"],
    "total": 23.40, "express": True, "reporter": None})


def test_extraction_all_facts() -> None:
    ans = ('```json\n{"customer": "Marta Kowalski", "order_id": "A-7731", "items": ["Blue notebooks", '
           '"fountain pen"], "total": "€23.40", "express": "yes", "reporter": null}\n```')
    g = grade_extraction(ORDER, ans)
    assert g.score == 5.0, g.detail


def test_extraction_partial_facts_and_no_json() -> None:
    ans = '{"customer": "Marta", "order_id": "A-7731", "items": ["fountain pen"], "total": 23.4, "express": false}'
    g = grade_extraction(ORDER, ans)
    # customer: 'marta' is half the name (token-overlap F1 2/3); order_id 1; items 1/2; total 1; express 0;
    # reporter: the key is missing, and the prompt asks for an explicit null (0)
    assert g.score == pytest.approx(5 * (2 / 3 + 1 + 0.5 + 1 + 0 + 0) / 6, abs=1e-3)
    assert grade_extraction(ORDER, "The customer is Marta.").score == 0.0
    assert grade_extraction(ORDER, "").score == 0.0


def test_extraction_summary_mentions_and_word_limit() -> None:
    from rigbench.quality.suite import SummarySpec

    p = ExtractionPrompt(id="m", category="extraction", prompt="q", max_tokens=64, fields={"owner": "Priya"},
                         summary=SummarySpec(field="summary", mentions=["Bazel", "Priya"], max_words=10))
    assert grade_extraction(p, '{"owner": "Priya", "summary": "Priya leads the Bazel move."}').score == 5.0
    long = " ".join(["word"] * 20)
    g = grade_extraction(p, f'{{"owner": "Priya", "summary": "Bazel {long}"}}')
    assert g.score == pytest.approx(5 * 2 / 4)  # owner ok, Bazel ok, Priya missing, too long


def test_match_value_types() -> None:
    assert match_value(1300, "1,300 customers") == 1.0
    assert match_value(45, "45 minutes") == 1.0
    assert match_value(45, 44) == 0.0
    assert match_value("payments API", "The payments API") == 1.0
    assert match_value("payments API", "an API for card payments at the gateway service") == 0.0
    assert match_value(False, "no") == 1.0 and match_value(False, True) == 0.0
    assert match_value(None, None) == 1.0 and match_value(None, "Bob") == 0.0
    assert match_value(None, "N/A") == 0.0 and match_value(None, "") == 0.0  # null means JSON null
    assert match_value(["a", "b"], ["b", "a", "c"]) == pytest.approx(2 / 3)


def test_extract_json_and_numbers() -> None:
    assert extract_json('Sure! {"a": 1} done') == {"a": 1}
    assert extract_json("nothing") is None
    assert parse_number("$23.40") == 23.4 and parse_number("3/4") == 0.75 and parse_number("1 or 2") is None
    assert answer_line("work\nFinal answer: 42.") == "42"


# -- long context ------------------------------------------------------------------------
NEEDLE = LongContextPrompt(id="n", category="long_context", prompt="What is the number?", max_tokens=16,
                           needle="The number is 4817.", depth=0.5, answer=4817)


def test_long_context_found_hedged_missing() -> None:
    assert grade_long_context(NEEDLE, "It is 4817.", other_answers=["73"]).score == 5.0
    assert grade_long_context(NEEDLE, "4817 or maybe 73", other_answers=["73"]).score == 1.0
    assert grade_long_context(NEEDLE, "It is 48170.", other_answers=["73"]).score == 0.0
    assert grade_long_context(NEEDLE, "").score == 0.0


def test_grade_dispatches_by_category() -> None:
    assert grade(NEEDLE, "4817").score == 5.0
    assert grade(_reason(2), "Answer: 2").score == 5.0
    with pytest.raises(TypeError):
        grade(object(), "x")
