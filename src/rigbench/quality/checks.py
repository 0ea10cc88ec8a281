"""Verifiable constraints for instruction-following prompts. Pure functions: an answer in,
pass/fail out. (The value matching of extraction answers is ``quality.matching``; its
``match_value`` and ``get_key`` are re-exported here.)"""

from __future__ import annotations

import json
import re
from typing import Any

from rigbench.quality.answers import words
from rigbench.quality.matching import get_key, match_value
from rigbench.quality.suite import Check

__all__ = ["check", "get_key", "match_value", "non_empty_lines", "sentences"]

_BULLET = re.compile(r"^\s*[-*•]\s+\S")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def non_empty_lines(text: str) -> list[str]:
    return [ln for ln in text.strip().splitlines() if ln.strip()]


def sentences(text: str) -> int:
    """Sentences: runs of . ! ? before a space or the end, plus an unterminated last one."""
    body = text.strip()
    if not body:
        return 0
    return len(_SENTENCE_END.findall(body)) + (0 if body[-1] in ".!?" else 1)


def _has_word(text: str, word: str) -> bool:
    return re.search(r"(?<![A-Za-z0-9])" + re.escape(word) + r"(?![A-Za-z0-9])", text, re.I) is not None


def _json_only(text: str, kind: str) -> bool:
    try:
        value = json.loads(text.strip())
    except ValueError:
        return False
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    return True


def check(c: Check, answer: str) -> bool:
    """Does ``answer`` satisfy the constraint ``c``?"""
    return bool(_check(c.kind, c.value, answer))


def _check(kind: str, v: Any, answer: str) -> Any:
    text = answer.strip()
    lines = non_empty_lines(text)
    if kind == "max_words":
        return len(words(text)) <= v
    if kind == "min_words":
        return len(words(text)) >= v
    if kind == "max_chars":
        return len(text) <= v
    if kind == "lines":
        return len(lines) == v
    if kind == "bullets":
        return sum(1 for ln in lines if _BULLET.match(ln)) == v
    if kind == "numbered":
        return sum(1 for ln in lines if _NUMBERED.match(ln)) == v
    if kind == "sentences":
        return sentences(text) == v
    if kind == "forbidden":
        return not any(_has_word(text, w) for w in v)
    if kind == "required":
        return all(w.casefold() in text.casefold() for w in v)
    if kind == "lowercase":
        return (text == text.lower()) == bool(v) and any(ch.isalpha() for ch in text)
    if kind == "uppercase":
        return (text == text.upper()) == bool(v) and any(ch.isalpha() for ch in text)
    if kind == "starts_with":
        return text.startswith(v)
    if kind == "ends_with":
        return text.endswith(v)
    if kind == "line_starts_with":
        return bool(lines) and all(ln.lstrip().startswith(v) for ln in lines)
    if kind == "no_chars":
        return not any(ch in text for ch in v)
    if kind == "json_only":
        return _json_only(text, v)
    if kind == "json_keys":
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return isinstance(value, dict) and sorted(value) == sorted(v)
    if kind == "regex":
        return re.search(v, text, re.M) is not None
    raise ValueError(f"unknown check {kind!r}")  # unreachable: Check validates its fields
