"""Pull what a grader needs out of a free-text answer: code, a JSON value, an "Answer:"
line, numbers. Pure functions."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["answer_line", "extract_code", "extract_json", "parse_number", "words"]

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:\n[ \t]*```|\Z)", re.S)
_CODE_START = re.compile(r"^(def |class |import |from |@|async def )")
_ANSWER = re.compile(r"^[ \t>*_#-]*(?:final answer|answer)[ \t*_]*[:：][ \t]*(.+?)[ \t]*$", re.I | re.M)
_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?")


def _compiles(src: str) -> bool:
    try:
        compile(src, "<answer>", "exec")
    except (SyntaxError, ValueError):
        return False
    return True


def _longest_compiling_prefix(src: str) -> str:
    """The longest run of whole leading lines that compiles (answers cut off by max_tokens,
    or followed by prose, still yield the code that was complete)."""
    lines = src.rstrip().splitlines()
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]).rstrip()
        if candidate and _compiles(candidate):
            return candidate + "\n"
    return ""


def extract_code(answer: str) -> str:
    """The Python code in an answer: the fenced block that defines something (or the
    first), else the text from the first line that starts like code."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(answer)]
    blocks = [(lang, body) for lang, body in blocks if lang in ("", "python", "py", "python3")]
    if blocks:
        defining = [b for _, b in blocks if re.search(r"^\s*(def|class) ", b, re.M)]
        body = max(defining, key=len) if defining else blocks[0][1]
        return _longest_compiling_prefix(body)
    lines = answer.splitlines()
    for i, line in enumerate(lines):
        if _CODE_START.match(line):
            return _longest_compiling_prefix("\n".join(lines[i:]))
    return ""


def extract_json(answer: str) -> Any:
    """The first JSON object or array in an answer (bare, fenced, or inside prose);
    ``None`` when there is none. ``json_only`` checks use ``json.loads`` directly instead."""
    text = answer.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for lang, body in _FENCE.findall(answer):
        if lang.lower() in ("", "json"):
            try:
                return json.loads(body)
            except ValueError:
                continue
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[{\[]", answer):
        try:
            value, _ = decoder.raw_decode(answer, m.start())
        except ValueError:
            continue
        if isinstance(value, (dict, list)):
            return value
    return None


def answer_line(answer: str) -> str | None:
    """The text after the first "Answer:" line (markdown emphasis stripped), if any."""
    m = _ANSWER.search(answer)
    if not m:
        return None
    return m.group(1).strip().strip("*_`$ ").rstrip(".")


def parse_number(text: Any) -> float | None:
    """A number from a JSON value or text: 1,300 / $23.40 / 3/4 / -2.5e3 / "45 minutes"."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        return float(text)
    if not isinstance(text, str):
        return None
    s = text.strip().replace("\u2212", "-")
    try:
        return float(s)
    except ValueError:
        pass
    found = _NUMBER.findall(s)
    if len(found) != 1:
        return None
    tok = found[0].replace(",", "")
    if "/" in tok:
        num, den = tok.split("/", 1)
        return float(num) / float(den) if float(den) else None
    return float(tok)


def words(s: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*", s)
