"""Graded answers (table ``answers``, migration 0010): one row per answer the quality pass
(``kind`` "quality") or a quality gate (``kind`` "gate", ``scope`` "trial:3" or
"arm:q8_0") graded, beside the request it grades (``request_id``).

A row holds what the grade rests on: the prompt, the repeat, the score (0..5), the
grader's detail (what matched, what failed), the judge's rating where a judge ran, and
how the answer was asked (``extra``: mode, seed, temperature, primer ...). The quality
score, its interval and the per-category figures are derived from these rows on read
(``quality.summary``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from rigbench.store.db import Store, now_iso

__all__ = ["add_answer", "list_answers", "set_judge_rating"]

_TABLE = "answers"


def add_answer(store: Store, run_id: int, request_id: int, *, kind: str, prompt_id: str, score: float,
               rep: int | None = None, category: str | None = None, suite: str | None = None,
               suite_version: str | None = None, scope: str | None = None,
               detail: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None) -> int:
    t = store.t[_TABLE]
    with store.tx() as conn:
        res = conn.execute(t.insert().values(
            run_id=run_id, request_id=request_id, kind=kind, scope=scope, suite=suite, suite_version=suite_version,
            prompt_id=prompt_id, category=category, rep=rep, score=float(score),
            detail=dict(detail) if detail is not None else None, extra=dict(extra) if extra is not None else None,
            created_at=now_iso()))
        key = res.inserted_primary_key
        assert key is not None
        return int(key[0])


def set_judge_rating(store: Store, answer_id: int, rating: float | None, judge_request_id: int) -> None:
    """The judge's rating of one answer (None: its reply could not be read)."""
    t = store.t[_TABLE]
    with store.tx() as conn:
        conn.execute(t.update().where(t.c.id == answer_id).values(judge_rating=rating,
                                                                 judge_request_id=judge_request_id))


def list_answers(store: Store, run_id: int, *, kind: str | None = None) -> list[dict[str, Any]]:
    """A run's answers in the order they were asked, each with its request's ``status`` and
    ``seq`` (as ``request_status``, ``request_seq``)."""
    t, req = store.t[_TABLE], store.t["requests"]
    q = (sa.select(t, req.c.status.label("request_status"), req.c.seq.label("request_seq"))
         .select_from(t.join(req, t.c.request_id == req.c.id))
         .where(t.c.run_id == run_id).order_by(req.c.seq, t.c.id))
    if kind is not None:
        q = q.where(t.c.kind == kind)
    with store.tx() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
