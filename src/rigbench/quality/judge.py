"""``--judge URL``: an LLM-as-judge opinion on open-ended answers, kept apart.

Prompts that carry a ``judge`` rubric get each answer rated 1-5 by a model behind an
OpenAI-compatible URL, through rigbench's own client. The result is reported beside the
quality score, never mixed into it: the /5 score stays machine-graded and reproducible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from rigbench.client.probe import ServerClient
from rigbench.client.stream import Timeouts
from rigbench.types import RequestRecord, ServerFacts

__all__ = ["Judge", "judge_prompt", "parse_rating"]

_RATING = re.compile(r"(?:score|rating)\s*[:=]?\s*\**\s*([1-5])(?:\s*/\s*5)?\b", re.I)

_TEMPLATE = """You are grading one answer written by an AI assistant.

Task given to the assistant:
<task>
{task}
</task>

The assistant's answer:
<answer>
{answer}
</answer>

Criterion: {rubric}

Rate the answer against the criterion from 1 (useless) to 5 (excellent). Reply with one
short sentence of justification, then a last line of the form "Score: N"."""


def judge_prompt(task: str, answer: str, rubric: str) -> str:
    return _TEMPLATE.format(task=task.strip(), answer=answer.strip() or "(empty)", rubric=rubric.strip())


def parse_rating(text: str) -> int | None:
    """The judge's 1-5 rating from its reply ("Score: 4"; the last one counts)."""
    found = _RATING.findall(text)
    if found:
        return int(found[-1])
    bare = text.strip()
    return int(bare) if bare in ("1", "2", "3", "4", "5") else None


@dataclass
class Rating:
    score: int | None
    record: RequestRecord


class Judge:
    """A connection to the judge model; ``rate`` asks for one rating."""

    def __init__(self, url: str, *, api_key: str | None = None, model: str | None = None,
                 max_tokens: int = 1024) -> None:
        facts = ServerFacts(base_url=url, kind="url")
        self.client = ServerClient(facts, api_key=api_key, timeouts=Timeouts(read_s=300.0))
        self.max_tokens = max_tokens
        try:
            self.client.probe(model)
        except BaseException:
            self.client.close()
            raise
        self.url = self.client.api_base
        self.model = self.client.model

    def rate(self, task: str, answer: str, rubric: str) -> Rating:
        rec = self.client.chat([{"role": "user", "content": judge_prompt(task, answer, rubric)}],
                               max_tokens=self.max_tokens, temperature=0.0, seed=0)
        return Rating(parse_rating(rec.content) if rec.ok else None, rec)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
