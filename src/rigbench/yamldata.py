"""User-editable YAML data (quality suites, the model catalog): the one place that reads a
file's text into a mapping, so a syntax error or a document of the wrong shape is one line
that names the file, the line and what to fix."""

from __future__ import annotations

from typing import Any

import yaml

from rigbench.errors import InputError

__all__ = ["load_mapping"]


def load_mapping(text: str, where: str, error: type[InputError], *, expected: str, doc: str) -> dict[str, Any]:
    """``text`` parsed as a YAML mapping; otherwise ``error`` saying where and what was expected
    (``expected``: "a suite: expected a mapping with name, version and prompts"; ``doc``: the
    page that describes the format)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{where} is not valid YAML{at}: {problem}", "fix the YAML syntax") from None
    if not isinstance(raw, dict):
        raise error(f"{where} is not {expected}", f"see {doc} for the format")
    return raw
