from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rigbench.client.think import split_think


def test_model_opened_block() -> None:
    s = split_think("<think>plan it</think>\n\nThe answer is 4.")
    assert (s.reasoning, s.answer, s.unclosed) == ("plan it", "The answer is 4.", False)
    assert s.answer_offset == len("<think>plan it</think>\n\n")


def test_template_opened_block() -> None:
    s = split_think("thinking...</think>42")
    assert (s.reasoning, s.answer) == ("thinking...", "42")


def test_unclosed_block_means_empty_answer() -> None:
    s = split_think("  <think>still going")
    assert s.unclosed and s.answer == "" and s.answer_offset is None


def test_no_tags() -> None:
    s = split_think("  plain")
    assert (s.reasoning, s.answer, s.answer_offset) == ("", "  plain", 2)


@given(st.text(), st.text())
def test_roundtrip_closed(reason: str, answer: str) -> None:
    reason = reason.replace("</think>", "")
    s = split_think(f"<think>{reason}</think>{answer}")
    assert s.reasoning == reason and s.answer == answer.strip() and not s.unclosed
