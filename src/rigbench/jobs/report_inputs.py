"""What ``rigbench report`` renders, assembled from the store: each run's typed result (by its
kind, ``rigbench.kinds``) with a few of the model's answers. report/ renders these; it reads
nothing itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.errors import UsageError
from rigbench.kinds import kind_of
from rigbench.quality.summary import requests_with_scores
from rigbench.results import AnswerSample, ReportEntry
from rigbench.store import Store

__all__ = ["MAX_ANSWERS", "MAX_ANSWER_CHARS", "answer_samples", "report_entries"]

MAX_ANSWERS = 4
MAX_ANSWER_CHARS = 1500


def report_entries(store: Store, run_ids: Sequence[int]) -> list[ReportEntry]:
    """Each run's result by its kind (a compare's for a compare run, a lab's for a lab), the
    report's section for that kind, and a few answers."""
    out: list[ReportEntry] = []
    for rid in run_ids:
        run = store.get_run(rid)
        if run is None:
            raise UsageError(f"there is no run {rid} in {store.where}", "list runs with rigbench runs")
        kind = kind_of(run)
        answers = answer_samples(requests_with_scores(store, rid))  # a quality answer's score from its graded row
        out.append(ReportEntry(kind.summarise(store, rid), tuple(answers), kind.html))
    return out


def answer_samples(rows: Sequence[Mapping[str, Any]]) -> list[AnswerSample]:
    """Up to MAX_ANSWERS answers: the lowest-scored quality answers, then the session's last."""
    quality = [r for r in rows if r.get("phase") == "quality" and r.get("content")]
    quality.sort(key=_score)
    picked: list[AnswerSample] = []
    for r in quality[:MAX_ANSWERS]:
        score = (r.get("extra") or {}).get("score")
        src = f"quality prompt {r.get('role')} · repeat {(r.get('rep') or 0) + 1}"
        if isinstance(score, (int, float)):
            src += f" · score {score:.1f}/5"
        picked.append(AnswerSample(src, _clip(str(r["content"]))))
    session = [r for r in rows if r.get("phase") in ("session", "compare") and r.get("content")]
    if session and len(picked) < MAX_ANSWERS:
        last = max(session, key=lambda r: (r.get("rep") or 0, r.get("seq") or 0))
        who = f" ({str(last.get('role')).upper()})" if last.get("phase") == "compare" else ""
        picked.append(AnswerSample(f"agent session, last turn{who}", _clip(str(last["content"]))))
    return picked


def _score(r: Mapping[str, Any]) -> float:
    score = (r.get("extra") or {}).get("score")
    return float(score) if isinstance(score, (int, float)) else 99.0


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " …"
