"""Suites are data: the default suite, validation errors that name the prompt and field,
``rigbench suite list`` and ``rigbench suite validate``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rigbench.errors import SuiteError
from rigbench.quality.sandbox import run_tests
from rigbench.quality.suite import CATEGORIES, CodePrompt, RepairPrompt, load_suite, parse_suite

MINI = """
name: mini
version: "2"
prompts:
  - id: add
    category: code
    max_tokens: 64
    prompt: Write add(a, b).
    tests: ["assert add(1, 2) == 3"]
  - id: sum
    category: reasoning
    max_tokens: 32
    prompt: What is 2 + 2?
    answer: 4
"""


def test_default_suite_shape() -> None:
    s = load_suite()
    assert s.name == "default" and s.version
    assert len(s.prompts) >= 26
    assert s.categories == list(CATEGORIES)
    assert all(len(ps) >= 4 for _, ps in s.by_category())
    depths = sorted(p.depth for p in s.prompts if p.category == "long_context")
    assert len(depths) >= 3 and depths[0] <= 0.2 and depths[-1] >= 0.8  # facts at several depths


def test_default_suite_references_pass_and_bugs_fail() -> None:
    """The hidden tests are right: every reference passes all, every buggy version fails some."""
    for p in load_suite().prompts:
        if isinstance(p, (CodePrompt, RepairPrompt)):
            assert p.reference, f"{p.id} has no reference solution"
            ok = run_tests(p.reference, p.tests, setup=p.setup)
            assert ok.passed == ok.total, (p.id, ok.failures, ok.error)
        if isinstance(p, RepairPrompt):
            bad = run_tests(p.buggy, p.tests, setup=p.setup)
            assert bad.passed < bad.total, f"{p.id}: the buggy code passes every test"


def test_default_suite_budget_fits_the_cpu_time_budget() -> None:
    # ~70 tok/s decode on the bundled model: 3 repeats of every answer at its full budget
    # must leave room in the quality pass's ~4 minutes for prefill and grading
    total = sum(p.max_tokens for p in load_suite().prompts)
    assert 3 * total / 70 < 200


def test_needles_are_not_in_the_novel() -> None:
    from rigbench.workload.text import corpus

    text = corpus().casefold()
    for p in load_suite().prompts:
        if p.category == "long_context":
            assert str(p.answer).casefold() not in text, p.id


def _err(text: str) -> str:
    with pytest.raises(SuiteError) as ei:
        parse_suite(text, "my.yaml")
    return ei.value.one_line()


def _mutate(change: Any) -> str:
    raw = yaml.safe_load(MINI)
    change(raw)
    return yaml.safe_dump(raw)


def test_errors_name_the_prompt_id_and_field() -> None:
    msg = _err(_mutate(lambda r: r["prompts"][0].pop("tests")))
    assert "prompt 'add'" in msg and "'tests'" in msg and "required" in msg.lower()
    msg = _err(_mutate(lambda r: r["prompts"][1].update(max_tokens=0)))
    assert "prompt 'sum'" in msg and "'max_tokens'" in msg
    msg = _err(_mutate(lambda r: r["prompts"][1].update(category="poetry")))
    assert "prompt 'sum'" in msg and "'category'" in msg and "long_context" in msg
    msg = _err(_mutate(lambda r: r["prompts"][0].update(tset=["x"])))  # a typo is an error, not ignored
    assert "prompt 'add'" in msg and "'tset'" in msg


def test_several_problems_are_joined_on_one_line() -> None:
    def two(r: dict[str, Any]) -> None:
        r["prompts"][0].pop("tests")
        r["prompts"][1].pop("answer")

    msg = _err(_mutate(two))
    assert "\n" not in msg and "; " in msg
    assert "prompt 'add'" in msg and "prompt 'sum'" in msg


def test_check_and_suite_level_errors() -> None:
    def bad_check(r: dict[str, Any]) -> None:
        r["prompts"].append({"id": "fmt", "category": "instruction", "max_tokens": 9, "prompt": "x",
                             "checks": [{"max_words": 5, "lowercase": True}]})

    msg = _err(_mutate(bad_check))
    assert "prompt 'fmt'" in msg and "checks.0" in msg and "exactly one" in msg
    msg = _err(_mutate(lambda r: r["prompts"].append(dict(r["prompts"][0]))))
    assert "unique" in msg and "add" in msg
    assert "'version'" in _err(_mutate(lambda r: r.pop("version")))
    assert "line 2" in _err("name: x\nversion: a: b\n")
    assert "not a suite" in _err("- just\n- a list\n")


def test_load_by_path_and_unknown_name(tmp_path: Path) -> None:
    f = tmp_path / "mini.yaml"
    f.write_text(MINI)
    s = load_suite(str(f))
    assert (s.name, s.version, len(s.prompts)) == ("mini", "2", 2)
    with pytest.raises(SuiteError, match="no suite named 'nope'"):
        load_suite("nope")
    with pytest.raises(SuiteError, match="no suite file"):
        load_suite(str(tmp_path / "missing.yaml"))


def test_cli_suite_list_json(cli: Any) -> None:
    r = cli("suite", "list", "--json")
    assert r.code == 0
    items = r.json()
    default = next(i for i in items if i["name"] == "default")
    assert set(default) == {"name", "version", "prompts", "categories"}
    assert default["prompts"] >= 26 and default["categories"] == list(CATEGORIES)


def test_cli_suite_list_includes_user_suites(cli: Any, tmp_path: Path) -> None:
    from rigbench.quality.suite import user_suite_dir

    d = user_suite_dir()
    d.mkdir(parents=True, exist_ok=True)
    (d / "mini.yaml").write_text(MINI)
    try:
        items = cli("suite", "list", "--json").json()
        assert {"name": "mini", "version": "2", "prompts": 2, "categories": ["code", "reasoning"]} in items
        assert load_suite("mini").name == "mini"
    finally:
        (d / "mini.yaml").unlink()


def test_cli_suite_validate(cli: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(MINI)
    r = cli("suite", "validate", str(good))
    assert r.code == 0 and "valid" in r.out and "2 prompts" in r.out
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINI.replace("    tests: [\"assert add(1, 2) == 3\"]\n", ""))
    r = cli("suite", "validate", str(bad))
    assert r.code == 2
    assert "prompt 'add'" in r.err and "'tests'" in r.err and len(r.err.strip().splitlines()) == 1
