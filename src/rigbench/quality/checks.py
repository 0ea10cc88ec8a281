"""Verifiable constraints for instruction-following prompts, and the value matching of
extraction answers. Pure functions: an answer in, pass/fail (or a 0-1 share) out."""

from __future__ import annotations

import json
import re
from typing import Any

from rigbench.quality.answers import normalize_text, parse_number, words
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


# -- extraction --------------------------------------------------------------------------
_NULLS = (None, "", "null", "none", "n/a", "unknown", "not given", "not provided")
_TRUE = ("true", "yes", "y")
_FALSE = ("false", "no", "n")


def _match_text(expected: str, actual: Any) -> float:
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        actual = str(actual)
    if not isinstance(actual, str):
        return 0.0
    e, a = normalize_text(expected), normalize_text(actual)
    if not e:
        return 1.0 if not a else 0.0
    if e == a:
        return 1.0
    et, at = e.split(), a.split()
    # every expected word present, and not buried in a much longer answer
    if all(t in at for t in et) and len(at) <= len(et) + 3:
        return 1.0
    return 0.0


def match_value(expected: Any, actual: Any) -> float:
    """How well one extracted value matches the expected one: 0..1 (lists give a share)."""
    if expected is None:
        if isinstance(actual, str):
            return 1.0 if actual.strip().casefold() in _NULLS else 0.0
        return 1.0 if actual is None or actual == [] else 0.0
    if isinstance(expected, bool):
        if isinstance(actual, bool):
            return 1.0 if actual is expected else 0.0
        if isinstance(actual, str):
            word = actual.strip().casefold()
            return 1.0 if word in (_TRUE if expected else _FALSE) else 0.0
        return 0.0
    if isinstance(expected, (int, float)):
        num = parse_number(actual)
        if num is None:
            return 0.0
        return 1.0 if abs(num - float(expected)) <= 1e-6 * max(1.0, abs(float(expected))) else 0.0
    if isinstance(expected, str):
        return _match_text(expected, actual)
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return 0.0
        if not expected:
            return 1.0 if not actual else 0.0
        left = list(actual)
        hits = 0
        for e in expected:
            for i, a in enumerate(left):
                if match_value(e, a) == 1.0:
                    hits += 1
                    del left[i]
                    break
        return hits / max(len(expected), len(actual))
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return 0.0
        return sum(match_value(v, get_key(actual, k)) for k, v in expected.items()) / max(1, len(expected))
    return 1.0 if expected == actual else 0.0


def get_key(obj: dict[str, Any], key: str) -> Any:
    if key in obj:
        return obj[key]
    folded = {str(k).casefold(): v for k, v in obj.items()}
    return folded.get(key.casefold())
