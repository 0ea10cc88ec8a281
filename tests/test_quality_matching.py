"""Right answers in other words keep their marks; wrong ones still lose them (issue 21).

Graded against the real default suite's prompts: the four answers of the issue, the
fields that must stay strict (numbers, dates, ids, booleans, explicit null), and every
grader with right answers phrased differently as well as wrong ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rigbench.quality.graders import grade, grade_extraction
from rigbench.quality.matching import EXTRA_WORDS, MISSING, match_list, match_text, match_value, tokens
from rigbench.quality.suite import ExtractionPrompt, load_suite, parse_suite

SUITE = load_suite()
P: dict[str, Any] = {p.id: p for p in SUITE.prompts}

RIGHT: dict[str, dict[str, Any]] = {  # every field right, in the suite's own words
    "extract-incident": {"service": "payments API", "started": "09:12", "duration_minutes": 45,
                         "customers_affected": 1300, "root_cause": "expired TLS certificate"},
    "extract-bug-report": {"app_version": "4.2.1", "os": "Windows 11", "crash": False,
                           "steps": ["open the settings page", "switch to the dark theme", "press Save"],
                           "reporter": None},
    "extract-order": {"customer": "Marta Kowalski", "order_id": "A-7731",
                      "items": ["blue notebook", "blue notebook", "fountain pen"], "total": 23.40, "express": True},
    "extract-meeting-summary": {"decision": "migrate the build system to Bazel", "owner": "Priya",
                                "deadline": "2025-03-14",
                                "summary": "The team moves the build to Bazel; Priya leads it."},
}


def _grade(pid: str, **change: Any) -> tuple[float, dict[str, float]]:
    obj = {**RIGHT[pid], **change}
    g = grade_extraction(P[pid], json.dumps(obj))
    return g.score, g.detail["fields"]


def test_the_suite_is_version_1_1() -> None:
    assert (SUITE.name, SUITE.version) == ("default", "1.1")


def test_right_answers_in_the_suites_words_score_5() -> None:
    for pid in RIGHT:
        score, fields = _grade(pid)
        assert score == 5.0, (pid, fields)


# -- the four answers of issue 21, each 5/5 on its field ----------------------------------
@pytest.mark.parametrize(("pid", "key", "answer"), [
    ("extract-incident", "root_cause", "An expired TLS certificate on the gateway"),
    ("extract-bug-report", "steps", ["Open settings page", "Switch to dark theme", "Press Save"]),
    ("extract-order", "items", ["blue notebook", "blue notebook", "fountain pen"]),
    ("extract-meeting-summary", "decision", "Move the build system to Bazel"),
])
def test_the_issues_four_answers_keep_their_marks(pid: str, key: str, answer: Any) -> None:
    score, fields = _grade(pid, **{key: answer})
    assert fields[key] == 1.0 and score == 5.0, fields


def test_the_four_answers_together_make_the_extraction_category_5() -> None:
    from rigbench.quality.scoring import Scored, aggregate

    answers = {"extract-incident": {"root_cause": "An expired TLS certificate on the gateway"},
               "extract-bug-report": {"steps": ["Open settings page", "Switch to dark theme", "Press Save"]},
               "extract-order": {"items": ["blue notebook", "blue notebook", "fountain pen"]},
               "extract-meeting-summary": {"decision": "Move the build system to Bazel"}}
    scored = [Scored(pid, "extraction", 0, _grade(pid, **ch)[0]) for pid, ch in answers.items()]
    agg = aggregate(scored, {pid: "extraction" for pid in answers})
    assert agg.categories == {"extraction": 5.0}  # it read 4.21 with the word-for-word grader


# -- more right answers in other words -----------------------------------------------------
@pytest.mark.parametrize(("pid", "key", "answer"), [
    ("extract-incident", "root_cause", "TLS certificate expired"),
    ("extract-incident", "root_cause", "the gateway's TLS certificate had expired"),
    ("extract-incident", "service", "The Payment API"),
    ("extract-incident", "started", "09:12 "),
    ("extract-incident", "customers_affected", "about 1,300"),
    ("extract-incident", "duration_minutes", "45 minutes"),
    ("extract-bug-report", "steps", ["1. Open the settings page.", "2. Switch to the dark theme.", "3. Press Save."]),
    ("extract-bug-report", "steps", ["Step 1: opened settings page", "Step 2: switched to dark theme",
                                     "Step 3: pressed save"]),
    ("extract-bug-report", "os", "windows 11"),
    ("extract-bug-report", "app_version", "version 4.2.1"),
    ("extract-bug-report", "crash", "no"),
    ("extract-order", "items", ["two blue notebooks", "one fountain pen"]),
    ("extract-order", "items", ["2 x Blue Notebook", "Fountain pen"]),
    ("extract-order", "items", ["blue notebook (x2)", "fountain pen"]),
    ("extract-order", "items", ["Fountain pen", "Blue notebooks"]),
    ("extract-order", "customer", "marta kowalski"),
    ("extract-order", "total", "€23.40"),
    ("extract-order", "express", "yes"),
    ("extract-meeting-summary", "decision", "Switch the build system over to Bazel"),
    ("extract-meeting-summary", "decision", "Migrating the build system to Bazel"),
    ("extract-meeting-summary", "decision", "The team chose to migrate the build system to Bazel."),
])
def test_right_answers_in_other_words(pid: str, key: str, answer: Any) -> None:
    score, fields = _grade(pid, **{key: answer})
    assert fields[key] == 1.0 and score == 5.0, fields


# -- wrong answers still lose marks ---------------------------------------------------------
@pytest.mark.parametrize(("pid", "key", "answer", "most"), [
    ("extract-incident", "root_cause", "a network outage", 0.0),
    ("extract-incident", "root_cause", "a database failure in the payments API", 0.0),
    ("extract-incident", "root_cause", "expired certificate", 0.8),  # part of it: partial credit (F1)
    ("extract-incident", "root_cause", "At 09:12 the payments API began rejecting card transactions because of an "
                                       "expired TLS certificate on the gateway", 0.0),  # the source, not an answer
    ("extract-incident", "service", "card transactions", 0.0),
    ("extract-bug-report", "steps", ["open the settings page", "press Save"], 0.67),
    ("extract-bug-report", "steps", ["open the settings page", "switch to the light theme", "press Save"], 0.92),
    ("extract-bug-report", "steps", ["reinstall the app"], 0.0),
    ("extract-order", "items", ["blue notebook", "fountain pen"], 0.67),  # one notebook, not two
    ("extract-order", "items", ["three blue notebooks", "fountain pen"], 0.25),  # a wrong count: that item is wrong
    ("extract-order", "items", ["red notebooks", "fountain pen"], 0.67),
    ("extract-order", "items", ["blue notebooks", "fountain pen", "pencil"], 0.75),
    ("extract-order", "customer", "Kowalski Ltd", 0.5),
    ("extract-meeting-summary", "decision", "keep patching the old Makefiles", 0.0),
    ("extract-meeting-summary", "decision", "migrate the build system to Make", 0.8),
    ("extract-meeting-summary", "owner", "Luis", 0.0),
])
def test_wrong_answers_lose_marks(pid: str, key: str, answer: Any, most: float) -> None:
    score, fields = _grade(pid, **{key: answer})
    assert fields[key] < 1.0 and score < 5.0, fields
    assert fields[key] <= most + 0.01, fields


# -- what stays strict ---------------------------------------------------------------------
@pytest.mark.parametrize(("pid", "key", "answer"), [
    ("extract-order", "total", 23.41),
    ("extract-order", "total", "23.40 or 24"),
    ("extract-order", "order_id", "A-7732"),
    ("extract-order", "order_id", "A7731"),
    ("extract-order", "order_id", "7731"),
    ("extract-order", "order_id", "A-7731 or A-7713"),
    ("extract-order", "express", "maybe"),
    ("extract-order", "express", False),
    ("extract-incident", "started", "9:12"),
    ("extract-incident", "started", "09:57"),
    ("extract-incident", "started", "09:12 to 09:57"),
    ("extract-incident", "customers_affected", 1200),
    ("extract-incident", "duration_minutes", "45 to 50"),
    ("extract-bug-report", "app_version", "4.2"),
    ("extract-bug-report", "app_version", "4.2.1 or 4.2.2"),
    ("extract-bug-report", "os", "Windows 10"),
    ("extract-bug-report", "crash", True),
    ("extract-bug-report", "reporter", "Not specified"),
    ("extract-bug-report", "reporter", "N/A"),
    ("extract-bug-report", "reporter", "unknown"),
    ("extract-bug-report", "reporter", ""),
    ("extract-bug-report", "reporter", "null"),
    ("extract-meeting-summary", "deadline", "2025-03-15"),
    ("extract-meeting-summary", "deadline", "March 14, 2025"),
    ("extract-meeting-summary", "deadline", "14/03/2025"),
])
def test_numbers_dates_ids_booleans_and_null_stay_strict(pid: str, key: str, answer: Any) -> None:
    score, fields = _grade(pid, **{key: answer})
    assert fields[key] == 0.0 and score < 5.0, fields


def test_an_explicit_null_needs_the_key() -> None:
    obj = {k: v for k, v in RIGHT["extract-bug-report"].items() if k != "reporter"}
    g = grade_extraction(P["extract-bug-report"], json.dumps(obj))
    assert g.detail["fields"]["reporter"] == 0.0 and g.score == 4.0
    assert match_value(None, MISSING) == 0.0 and match_value(None, None) == 1.0


# -- the rules themselves ------------------------------------------------------------------
def test_tokens_normalise_case_punctuation_articles_and_inflections() -> None:
    assert tokens("The Blue Notebooks!") == tokens("a blue notebook") == ["blue", "notebook"]
    assert tokens("Priya's migration") == tokens("priya migrating")
    assert tokens("payments-API") == tokens("payment api")
    assert tokens("two pens") == ["2", "pen"]
    assert tokens("A-7731, 4.2.1; 2025-03-14.") == ["a-7731", "4.2.1", "2025-03-14"]  # never stemmed or split


def test_containment_within_the_stated_length_limit() -> None:
    expected = "expired TLS certificate"  # 3 words: up to max(3, 3) extra words keep full credit
    assert EXTRA_WORDS == 3
    assert match_text(expected, "an expired TLS certificate on the payments gateway") == 1.0  # 3 extra
    long = "an expired TLS certificate on the payments gateway in the main region"  # 6 extra
    assert 0.0 < match_text(expected, long) < 1.0
    assert match_text("Priya", "Priya Sharma, the lead engineer") == 1.0  # 1 word: 3 extra at most
    assert match_text("Priya", "Priya Sharma, the lead build engineer") < 1.0


def test_alternatives_are_data() -> None:
    assert match_text("migrate|move|switch the build to Bazel", "switch the build to Bazel") == 1.0
    assert match_text("migrate the build to Bazel", "switch the build to Bazel") < 1.0  # not listed: not accepted
    suite = parse_suite("""
name: alt
version: "1"
prompts:
  - id: e
    category: extraction
    max_tokens: 16
    prompt: x
    fields: {colour: "crimson|red", pets: [three cats]}
    summary: {field: note, mentions: ["Bazel|Blaze"]}
""")
    p = suite.prompts[0]
    assert isinstance(p, ExtractionPrompt)
    assert grade(p, '{"colour": "Red", "pets": ["cat", "cat", "cat"], "note": "uses Blaze"}').score == 5.0
    wrong = grade(p, '{"colour": "blue", "pets": ["3 cats"], "note": "uses Make"}')
    assert wrong.score == pytest.approx(5 / 3, abs=1e-3)


def test_lists_are_multisets_with_counts() -> None:
    assert match_list(["two blue notebooks", "fountain pen"], ["blue notebook", "blue notebook", "fountain pen"]) == 1
    assert match_list(["blue notebook", "blue notebook"], ["2 blue notebooks"]) == 1.0
    assert match_list(["two blue notebooks"], ["blue notebook"]) == 0.5  # listed one by one: one of two
    assert match_list(["two blue notebooks"], ["one blue notebook"]) == 0.0  # a stated count must be right
    assert match_list(["open the page"], ["open the page", "Open page"]) == 0.5  # a repeat is an extra entry
    assert match_list(["fountain pen"], ["fountain pens", "pencil"]) == 0.5  # a plural stands for one here
    assert match_list(["10 minutes"], ["10 minutes"]) == 1.0 and match_list(["10 minutes"], ["11 minutes"]) == 0
    assert match_list([], []) == 1.0 and match_list([], ["x"]) == 0.0


# -- every grader: right answers in other words, and wrong ones -----------------------------
@pytest.mark.parametrize(("pid", "right", "wrong"), [
    ("reason-arithmetic", "17*23 = 391, 48/6 = 8.\n**Answer:** 399.", "Answer: 391"),
    ("reason-train-time", "14:35 plus 2:50 is 17:25.\nFinal answer: 17:25", "Answer: 16:25"),
    ("reason-apples", "Bob has 12, Alice 36.\nAnswer: 36 apples", "Answer: 12"),
    ("reason-weekday-discount", "Answer: friday, $50.00", "Answer: Thursday, $48"),
    ("long-lighthouse", "The keeper's secret number was 4817.", "It was 4871."),
    ("long-ship-colour", "HELIOTROPE", "It was painted lavender."),
    ("instr-primes-list", "1. 2\n2. 3\n3. 5\n4. 7\n5. 11", "1. 2\n2. 3\n3. 5\n4. 7\n5. 9"),
    ("instr-lowercase-sentence", "a compiler turns source code into machine instructions.",
     "A compiler, put simply, Translates Code."),
    ("instr-three-lines", "Bugs hide in edge cases\nBugs fear good tests\nBugs lose to patient readers!",
     "Bugs love coffee\nbugs hide\nBugs win."),
])
def test_graders_with_other_words_and_wrong_answers(pid: str, right: str, wrong: str) -> None:
    p = P[pid]
    others = [str(q.answer) for q in SUITE.prompts if q.category == "long_context"]
    assert grade(p, right, other_answers=others).score == 5.0
    assert grade(p, wrong, other_answers=others).score < 5.0


def test_code_graders_judge_behaviour_not_wording() -> None:
    p, r = P["code-palindrome"], P["repair-count-vowels"]
    other_words = ("```python\ndef is_palindrome(s: str) -> bool:\n    chars = ''.join(ch for ch in s.casefold()"
                   " if ch.isalnum())\n    return chars == ''.join(reversed(chars))\n```")
    assert grade(p, other_words).score == 5.0
    assert grade(p, "```python\ndef is_palindrome(s):\n    return s == s[::-1]\n```").score < 5.0
    fixed = "def count_vowels(text):\n    return len([c for c in text.lower() if c in 'aeiou'])\n"
    assert grade(r, fixed).score == 5.0
    assert grade(r, r.buggy).score == 0.0


def test_the_docs_example_suite_is_valid_and_grades_as_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "quality.md").read_text(encoding="utf-8")
    block = doc.split("## Writing a suite", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    who = {p.id: p for p in parse_suite(block, "docs/quality.md").prompts}["who"]
    right = '{"name": "Ada", "age": "36", "job": "an analyst", "pets": ["cat", "cat"], "spouse": null}'
    assert grade(who, right).score == 5.0
    wrong = '{"name": "Ada", "age": 35, "job": "teacher", "pets": ["two cats"], "spouse": "not given"}'
    assert grade(who, wrong).score == pytest.approx(5 * 2 / 5)


def test_the_documented_limits_of_token_overlap() -> None:
    """docs/quality.md quotes these figures: a wrong key word keeps partial credit."""
    decision = P["extract-meeting-summary"].fields["decision"]
    assert match_text(decision, "migrate the build system to Make") == 0.8
    assert match_text(decision, "adopt Bazel as the build tool") == 0.0
    steps = P["extract-bug-report"].fields["steps"]
    assert match_list(steps, ["open the settings page", "switch to the light theme", "press Save"]) == \
        pytest.approx(0.9167, abs=1e-4)


# -- properties: any answer is graded in 0..1 without an exception; a value matches itself ---
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

WORDS = ["blue", "notebooks", "notebook", "the", "a", "two", "2", "x", "A-7731", "09:12", "cats", "cat", "black",
         "Press", "Save", "(x2)", "1.", "migrate|move", "null", "", "-", "4.2.1", "one"]
phrase = st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), phrase, st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["a", "B", "c"]), inner,
                                                                         max_size=3)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(json_value, json_value)
def test_any_value_against_any_expected_scores_0_to_1(expected: Any, actual: Any) -> None:
    assert 0.0 <= match_value(expected, actual) <= 1.0


@settings(max_examples=300, deadline=None)
@given(st.lists(phrase.filter(lambda t: "|" not in t), min_size=1, max_size=4))
def test_a_list_of_phrases_matches_itself(items: list[str]) -> None:
    assert all(match_text(t, t) == 1.0 for t in items)
    assert match_list(items, items) == 1.0, items


def test_a_huge_answer_is_graded_quickly() -> None:
    import time

    t0 = time.monotonic()
    big = ["blue notebook"] * 5000 + ["word " * 2000]
    assert match_list(P["extract-order"].fields["items"], big) < 0.01
    assert match_text("expired TLS certificate", "expired TLS certificate " * 20000) < 1.0
    assert time.monotonic() - t0 < 10


def test_plain_numbers_in_text_are_compared_by_value_and_strictly() -> None:
    assert match_text("1,300 customers", "1300 customers") == 1.0
    assert match_text("23.40 euros", "$23.4 euros") == 1.0
    assert match_text("1,300 customers", "1,200 customers") == 0.0
    assert match_text("09:12", "9:12") == 0.0 and match_text("A-007", "A-7") == 0.0  # not plain numbers
