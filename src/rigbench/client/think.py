"""Separate reasoning written inline as ``<think>...</think>`` from the visible answer.

Pure functions. Servers that parse reasoning themselves send it in ``reasoning_content``
(or ``reasoning``) fields; others leave the tags in the content. Three shapes occur:

* ``<think>reasoning</think>answer``: the model opened the block itself;
* ``reasoning</think>answer``: the chat template opened it in the prompt;
* ``<think>reasoning`` with no closing tag: the model never finished thinking, so the
  answer is empty (``unclosed`` is True).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ThinkSplit", "split_think"]

OPEN = "<think>"
CLOSE = "</think>"


@dataclass(frozen=True)
class ThinkSplit:
    reasoning: str
    answer: str
    answer_offset: int | None  # where the visible answer starts in the original text; None: no answer
    unclosed: bool


def split_think(text: str) -> ThinkSplit:
    stripped = text.lstrip()
    lead = len(text) - len(stripped)
    if stripped.startswith(OPEN):
        body_start = lead + len(OPEN)
        close = text.find(CLOSE, body_start)
        if close < 0:
            return ThinkSplit(text[body_start:], "", None, True)
        return _after(text, text[body_start:close], close + len(CLOSE))
    close = text.find(CLOSE)
    if close >= 0 and OPEN not in text[:close]:
        return _after(text, text[:close], close + len(CLOSE))
    return ThinkSplit("", text, _first_visible(text, 0), False)


def _after(text: str, reasoning: str, start: int) -> ThinkSplit:
    answer = text[start:]
    return ThinkSplit(reasoning, answer.strip(), _first_visible(text, start), False)


def _first_visible(text: str, start: int) -> int | None:
    for i in range(start, len(text)):
        if not text[i].isspace():
            return i
    return None
