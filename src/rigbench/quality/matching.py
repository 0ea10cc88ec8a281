"""Extracted values against a suite's expected ones, the way a person reads them. Pure functions.

* **Free text** is normalised (Unicode NFKC, case, punctuation at word edges, possessive
  ``'s``, the articles *a an the*, hyphens and slashes between words, number words *zero* to
  *twelve* as digits, plural/singular and other inflections by the Snowball English stemmer)
  and scored by token overlap with the expected phrase: full credit when every expected word
  (or one of its listed alternatives) is there and the answer adds at most
  ``max(EXTRA_WORDS, n)`` words (n: words in the expected phrase); otherwise the overlap's F1
  (precision and recall) when it reaches ``PARTIAL_F1``, else 0.
* **Alternatives** are data: ``migrate|move|switch`` in an expected phrase accepts any of them
  in that place.
* **Numbers stay strict.** A token with a digit in it (23.40, 09:12, 2025-03-14, A-7731,
  4.2.1) is never stemmed or split (a plain number is written one way: 1,300 = 1300,
  $23.40 = 23.4); every such token of the expected phrase must appear as
  written, and an answer that adds another one (a hedge, a second date) scores 0. Expected
  numbers, booleans and ``null`` are matched by type: a number numerically, a boolean as
  true/false/yes/no, ``null`` only by JSON ``null`` (the string "Not specified" is not null;
  neither is a missing key).
* **Lists** are matched as multisets after normalisation: an item may carry a count (``two
  blue notebooks``, ``2 x blue notebook``, ``blue notebook (x2)``), which stands for that many
  entries; items listed one by one add up; an answer item in the plural with no count (``blue
  notebooks``) stands for as many as are due. A count the answer states must be the expected
  one (numbers stay strict: "three blue notebooks" for two is a wrong item). Enumeration
  prefixes (``1.``, ``Step 2:``, ``-``) are dropped. The order of the items is not graded.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rigbench.quality.answers import parse_number

__all__ = [
    "EXTRA_WORDS",
    "MISSING",
    "PARTIAL_F1",
    "Overlap",
    "get_key",
    "match_list",
    "match_text",
    "match_value",
    "overlap",
    "phrase_equal",
    "tokens",
]

EXTRA_WORDS = 3  # an answer holding the whole expected phrase keeps full credit within max(3, n) extra words
PARTIAL_F1 = 0.5  # below this token-overlap F1 a partly-right phrase earns nothing
MAX_COUNT = 20  # a leading number above this in a list item is part of the item, not a count


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # a key the answer's JSON does not have (not the same as null)

_ARTICLES = frozenset({"a", "an", "the"})
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"))}
_EDGE = ".,;:!?\"'`()[]{}*_<>«»“”‘’…"
_TRUE = ("true", "yes", "y")
_FALSE = ("false", "no", "n")


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


def _has_digit(token: str) -> bool:
    return any(ch.isdigit() for ch in token)


_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")


def _number_token(t: str) -> str:
    """A plain number written one way: 1,300 -> 1300, 23.40 -> 23.4, 007 -> 7 (ids, dates,
    times and versions are not plain numbers and stay as written)."""
    if not _PLAIN_NUMBER.fullmatch(t):
        return t
    sign = "-" if t.startswith("-") else ""
    whole, _, frac = t.lstrip("+-").replace(",", "").partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    return sign + whole + (f".{frac}" if frac else "")


def tokens(text: str) -> list[str]:
    """The words of ``text`` as compared: normalised, articles dropped, stemmed; tokens with a
    digit in them kept whole (case-folded, edge punctuation dropped)."""
    return list(_tokens_short(text) if len(text) <= 512 else _tokens(text))


@lru_cache(maxsize=4096)
def _tokens_short(text: str) -> tuple[str, ...]:  # list items and fields repeat: normalise each once
    return _tokens(text)


def _tokens(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for raw in unicodedata.normalize("NFKC", text).casefold().split():
        t = raw.strip(_EDGE)
        if t.endswith(("'s", "’s")):
            t = t[:-2]
        if not t:
            continue
        if _has_digit(t):
            out.append(_number_token(t.lstrip("$€£")))
            continue
        for part in re.split(r"[-/–—]+", t):
            part = part.strip(_EDGE)
            if part and part not in _ARTICLES:
                out.append(_NUMBER_WORDS.get(part) or _stem(part))
    return tuple(out)


def _slots(expected: str) -> list[list[tuple[str, ...]]]:
    """The expected phrase as places to fill, each with its accepted alternatives (a word
    ``a|b|c``); a word that normalises to several tokens is several places."""
    slots: list[list[tuple[str, ...]]] = []
    for word in unicodedata.normalize("NFKC", expected).split():
        if "|" in word:
            alts = [tuple(tokens(a)) for a in word.split("|")]
            alts = [a for a in alts if a]
            if alts:
                slots.append(alts)
        else:
            slots.extend([(t,)] for t in tokens(word))
    return slots


@dataclass(frozen=True)
class Overlap:
    recall: float  # share of the expected places filled
    precision: float  # share of the answer's tokens that fill one
    extra: int  # answer tokens that fill none
    expected: int  # places in the expected phrase
    strict_miss: bool  # a number, date or id of the expected phrase absent, or another one added

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def overlap(expected: str, actual: str) -> Overlap:
    slots = _slots(expected)
    got = Counter(tokens(actual))
    used: Counter[str] = Counter()
    filled = 0
    strict_miss = False
    for alts in slots:
        for alt in alts:
            need = Counter(alt)
            if all(got[t] - used[t] >= n for t, n in need.items()):
                used += need
                filled += 1
                break
        else:
            strict_miss = strict_miss or any(_has_digit(t) for alt in alts for t in alt)
    if any(_has_digit(t) for alts in slots for alt in alts for t in alt):
        strict_miss = strict_miss or any(_has_digit(t) and got[t] > used[t] for t in got)
    n_got = sum(got.values())
    n_used = sum(used.values())
    return Overlap(recall=filled / len(slots) if slots else 1.0, precision=n_used / n_got if n_got else 0.0,
                   extra=n_got - n_used, expected=len(slots), strict_miss=strict_miss)


def match_text(expected: str, actual: Any) -> float:
    """0..1: 1 for the whole expected phrase within the length limit, the token-overlap F1 when
    it reaches PARTIAL_F1, else 0; 0 whenever a number, date or id of it is wrong."""
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        actual = str(actual)
    if not isinstance(actual, str):
        return 0.0
    if not _slots(expected):
        return 1.0 if not tokens(actual) else 0.0
    o = overlap(expected, actual)
    if o.strict_miss:
        return 0.0
    if o.recall == 1.0 and o.extra <= max(EXTRA_WORDS, o.expected):
        return 1.0
    f1 = o.f1
    return round(f1, 4) if f1 >= PARTIAL_F1 else 0.0


def phrase_equal(expected: str, actual: str) -> bool:
    """The same words after normalisation (alternatives allowed), nothing more or less."""
    if not _slots(expected):
        return not tokens(actual)
    o = overlap(expected, actual)
    return not o.strict_miss and o.recall == 1.0 and o.extra == 0


# -- lists as multisets --------------------------------------------------------------------
_ENUM = re.compile(r"^\s*(?:(?:step|item)\s*)?\d{1,3}\s*[.):]\s+|^\s*[-*•]\s+", re.I)
_COUNT_WORD = "|".join(_NUMBER_WORDS)
_LEAD = re.compile(rf"^\s*(\d{{1,3}}|{_COUNT_WORD})\s*(?:x|×)?\s+(?=\S)", re.I)
_TAIL = re.compile(r"\s*(?:\(\s*(?:x|×)?\s*(\d{1,3})\s*\)|,?\s+(?:x|×)\s*(\d{1,3})|\s+(\d{1,3})\s*(?:x|×))\s*$",
                   re.I)


@dataclass(frozen=True)
class _Item:
    value: Any
    count: int | None  # None: a plural with no count ("blue notebooks")
    stated: bool = False  # the count was written ("two ...", "2 x ...", "... (x2)")


def _item(value: Any) -> _Item:
    if not isinstance(value, str):
        return _Item(value, 1)
    text = _ENUM.sub("", value, count=1)
    m = _LEAD.match(text)
    if m:
        n = int(_NUMBER_WORDS.get(m.group(1).casefold(), m.group(1)))
        if 1 <= n <= MAX_COUNT:
            return _Item(text[m.end():], n, stated=True)
    m = _TAIL.search(text)
    if m and text[: m.start()].strip():
        n = int(next(g for g in m.groups() if g))
        if 1 <= n <= MAX_COUNT:
            return _Item(text[: m.start()], n, stated=True)
    words = text.casefold().split()
    last = words[-1].strip(_EDGE) if words else ""
    plural = (last.endswith("s") and not last.endswith("ss") and not _has_digit(last) and len(last) > 3
              and _stem(last) != last)
    return _Item(text, None if plural else 1)


def _key(value: Any) -> Any:
    return ("text", tuple(tokens(value))) if isinstance(value, str) else ("value", repr(value))


def match_list(expected: Sequence[Any], actual: Sequence[Any]) -> float:
    """The multiset of expected entries against the answer's: matched entries over the larger
    of the two entry counts (so a missing and an extra entry both cost). Each answer item
    goes to the expected item it matches best; a count the answer states must be the
    expected one (a wrong number is wrong), items listed one by one add up."""
    if not expected:
        return 0.0 if actual else 1.0
    groups: dict[Any, tuple[Any, int]] = {}  # expected items with the same words are one group: (value, count)
    for it in map(_item, expected):
        value, n = groups.get(_key(it.value), (it.value, 0))
        groups[_key(it.value)] = (value, n + (it.count or 1))
    want = list(groups.values())
    assigned: list[list[tuple[float, _Item]]] = [[] for _ in want]
    filled = [0] * len(want)  # entries given to each expected item so far
    entries = 0
    for g in map(_item, actual):
        scores = [match_value(w[0], g.value) for w in want]

        def rank(i: int, g: _Item = g, scores: list[float] = scores) -> tuple[float, float, bool]:
            # the best score, then the closest phrase ("black cat" to "black cat", not to "cat"),
            # then an expected item not yet filled
            close = overlap(want[i][0], g.value).f1 if isinstance(want[i][0], str) and isinstance(g.value, str) else 0
            return scores[i], close, filled[i] < want[i][1]

        best = max(range(len(want)), key=rank)
        if scores[best] > 0:
            assigned[best].append((scores[best], g))
            filled[best] += g.count or 1
        else:
            entries += g.count or 1
    matched = 0.0
    for (_, n), items in zip(want, assigned, strict=True):
        units = [s for s, g in items if g.count is not None for _ in range(g.count)]
        open_plural = [s for s, g in items if g.count is None]
        if open_plural:  # "blue notebooks": as many as are due, at least one each
            units += open_plural + [max(open_plural)] * max(0, n - len(units) - len(open_plural))
        entries += len(units)
        if any(g.stated for _, g in items) and len(units) != n:
            continue  # a wrong count: the item is wrong
        matched += sum(sorted(units, reverse=True)[:n])
    total: int = sum(n for _, n in want)
    return matched / max(total, entries)


# -- any value ----------------------------------------------------------------------------
def match_value(expected: Any, actual: Any) -> float:
    """How well one extracted value matches the expected one: 0..1 (lists and objects give a
    share). ``actual`` is ``MISSING`` when the answer lacks the key."""
    if actual is MISSING:
        return 0.0
    if expected is None:
        return 1.0 if actual is None else 0.0
    if isinstance(expected, bool):
        if isinstance(actual, bool):
            return 1.0 if actual is expected else 0.0
        if isinstance(actual, str):
            return 1.0 if actual.strip().casefold() in (_TRUE if expected else _FALSE) else 0.0
        return 0.0
    if isinstance(expected, (int, float)):
        num = parse_number(actual)
        if num is None:
            return 0.0
        return 1.0 if abs(num - float(expected)) <= 1e-6 * max(1.0, abs(float(expected))) else 0.0
    if isinstance(expected, str):
        return match_text(expected, actual)
    if isinstance(expected, list):
        return match_list(expected, actual) if isinstance(actual, list) else 0.0
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return 0.0
        return sum(match_value(v, get_key(actual, k)) for k, v in expected.items()) / max(1, len(expected))
    return 1.0 if expected == actual else 0.0


def get_key(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]``, else the value of a key that differs only in case, else ``MISSING``."""
    if key in obj:
        return obj[key]
    folded = {str(k).casefold(): v for k, v in obj.items()}
    return folded.get(key.casefold(), MISSING)
