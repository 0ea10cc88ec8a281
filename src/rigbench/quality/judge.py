"""``--judge URL``: an LLM-as-judge opinion on open-ended answers, kept apart.

Prompts that carry a ``judge`` rubric get each answer rated 1-5 by a model behind an
OpenAI-compatible URL. The judge's server is attached (probed, never launched) and measured
like any other: through a bench of its own inside the run being judged (``open_judge``),
each reply stored as it ends (phase ``judge``) with the rating read from it. The result is
reported beside the quality score, never mixed into it: the /5 score stays machine-graded
and reproducible.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigbench.client.stream import Timeouts
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording
from rigbench.jobs.session import Session, open_session
from rigbench.types import EngineSpec, RequestRecord

__all__ = ["Judge", "Rating", "judge_prompt", "judge_session", "open_judge", "parse_rating"]

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
    request_id: int  # the stored reply


class Judge:
    """The judge model behind its bench; ``rate`` asks for one rating."""

    def __init__(self, bench: Bench, *, max_tokens: int = 1024) -> None:
        self.bench, self.max_tokens = bench, max_tokens
        self.url = bench.client.api_base
        self.model = bench.client.model

    def rate(self, task: str, answer: str, rubric: str, *, role: str, rep: int, answer_id: int) -> Rating:
        """One rating at temperature 0, stored as it ends with the rating it gives (None: unreadable)."""

        def rated(rec: RequestRecord) -> dict[str, Any]:
            return {"rating": parse_rating(rec.content) if rec.ok else None, "judge_url": self.url,
                    "judge_model": self.model, "answer_id": answer_id}

        sent = self.bench.send([{"role": "user", "content": judge_prompt(task, answer, rubric)}], phase="judge",
                               where=f"judging {role}", max_tokens=self.max_tokens, seed=0, rep=rep, role=role,
                               scrape=False, exact=False, params={"temperature": 0.0}, annotate=rated, guard=False)
        return Rating(sent.extra["rating"], sent.record, sent.request_id)


_TIMEOUTS = Timeouts(read_s=300.0)  # a judge model may think a while before it rates


@contextmanager
def judge_session(url: str, *, api_key: str | None, model: str | None) -> Iterator[Session]:
    """The judge's server at ``url``, attached: probed, never launched or stopped (so no
    server log is written: the folder ``open_session`` asks for is never used)."""
    spec = EngineSpec(kind="url", url=url, model_name=model)
    with open_session(spec, Path(tempfile.gettempdir()), api_key=api_key, timeouts=_TIMEOUTS) as session:
        yield session


@contextmanager
def open_judge(rec: Recording, url: str, *, api_key: str | None = None, model: str | None = None) -> Iterator[Judge]:
    """The judge, as a bench of the run ``rec`` on the server at ``url``."""
    with judge_session(url, api_key=api_key, model=model) as session:
        yield Judge(Bench(rec, session, name="judge", label="judge ", timeouts=_TIMEOUTS))
