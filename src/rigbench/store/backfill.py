"""The data moves of the named migrations 0010 and 0012: from what release 0.1.0 stored to
raw rows plus inputs.

Frozen like the migrations themselves: the tables are declared here with the columns
these moves read, and nothing from the rest of rigbench is imported, so a later change
elsewhere never rewrites what an old database becomes.

What 0.1.0 stored (``git show 61b533d:src/rigbench/quality/runner.py``):

- each graded answer as a request (phase ``quality``, role = prompt id, rep) whose
  ``extra`` held ``category``, ``score``, ``grade`` (the grader's detail), ``suite``,
  ``suite_version``, ``mode``, ``temperature``, ``seed``, ``primer``, ``retried`` ...;
  an answer asked again held ``superseded`` and no score;
- each judge reply as a request (phase ``judge``, role = prompt id, rep) with
  ``extra.rating``, in the order of the answers it rated;
- the quality gates' answers as requests of the tune (phase ``tune``, role
  ``trial{n}:quality:{prompt}``) or the lab (phase ``lab``, role = arm, ``extra.stage``
  ``quality``), ``extra.score`` beside;
- the aggregate in ``runs.extra["quality"]``, the session's figures in
  ``runs.extra["session"]``, the lab's table in ``runs.extra["table"]`` and its gates'
  scores in ``runs.extra["gate"]``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

__all__ = ["QUALITY_DERIVED", "backfill_answers", "quality_inputs", "strip_derived_extra", "tune_inputs"]

# what runs.extra["quality"] held that the answers and requests give on read
QUALITY_DERIVED = ("score", "ci", "categories", "category_ci", "reasoning_tokens", "failed_answers",
                   "retried_answers", "speed", "items")
_ANSWER_EXTRA = ("mode", "temperature", "seed", "max_tokens", "primer", "retried", "reasoning_tokens_source",
                 "context_tokens", "needle_depth")
_TUNE_GATE = re.compile(r"^trial(\d+):quality:")


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    md = sa.MetaData()
    runs = sa.Table("runs", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("kind", sa.Text),
                    sa.Column("extra", sa.JSON))
    requests = sa.Table("requests", md, sa.Column("id", sa.Integer, primary_key=True),
                        sa.Column("run_id", sa.Integer), sa.Column("seq", sa.Integer), sa.Column("phase", sa.Text),
                        sa.Column("role", sa.Text), sa.Column("rep", sa.Integer), sa.Column("status", sa.Text),
                        sa.Column("extra", sa.JSON))
    answers = sa.Table("answers", md, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("run_id", sa.Integer), sa.Column("request_id", sa.Integer), sa.Column("kind", sa.Text),
                       sa.Column("scope", sa.Text), sa.Column("suite", sa.Text), sa.Column("suite_version", sa.Text),
                       sa.Column("prompt_id", sa.Text), sa.Column("category", sa.Text), sa.Column("rep", sa.Integer),
                       sa.Column("score", sa.Float), sa.Column("detail", sa.JSON), sa.Column("judge_rating", sa.Float),
                       sa.Column("judge_request_id", sa.Integer), sa.Column("extra", sa.JSON),
                       sa.Column("created_at", sa.Text))
    return runs, requests, answers


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _gate_answer(r: Any, x: dict[str, Any]) -> dict[str, Any] | None:
    """A quality gate's answer from a tune or lab request, else None."""
    if x.get("stage") != "quality" or _num(x.get("score")) is None:
        return None
    if r.phase == "tune":
        m = _TUNE_GATE.match(str(r.role or ""))
        trial = x.get("trial") if isinstance(x.get("trial"), int) else (int(m.group(1)) if m else None)
        if trial is None:
            return None
        scope = f"trial:{trial}"
    elif r.phase == "lab":
        scope = f"arm:{r.role}"
    else:
        return None
    prompt = x.get("prompt") or str(r.role or "").rsplit(":", 1)[-1]
    return {"kind": "gate", "scope": scope, "suite": None, "suite_version": None, "prompt_id": str(prompt),
            "category": None, "rep": 0, "score": float(x["score"]), "detail": None,
            "extra": {"mode": x.get("mode"), **({"trial": x["trial"]} if "trial" in x else {})}}


def backfill_answers(conn: sa.Connection) -> None:
    """Migration 0010: an ``answers`` row per graded answer of a 0.1.0 database, the judge's
    ratings on them, and ``runs.extra["quality"]`` cut down to the pass's inputs."""
    runs, requests, answers = _tables()
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    q = (sa.select(requests.c.id, requests.c.run_id, requests.c.seq, requests.c.phase, requests.c.role,
                   requests.c.rep, requests.c.extra)
         .where(requests.c.phase.in_(("quality", "judge", "tune", "lab")))
         .order_by(requests.c.run_id, requests.c.seq))
    rows: list[dict[str, Any]] = []
    judged: dict[int, list[Any]] = defaultdict(list)
    filled: set[int] = set()
    for r in conn.execute(q):
        x = r.extra if isinstance(r.extra, dict) else {}
        if r.phase == "judge":
            judged[r.run_id].append(r)
            continue
        if r.phase != "quality":
            gate = _gate_answer(r, x)
            if gate is not None:
                rows.append({"run_id": r.run_id, "request_id": r.id, **gate, "created_at": now})
            continue
        if "superseded" in x or _num(x.get("score")) is None or r.role is None:
            continue  # asked again, or never graded: evidence, not an answer
        rows.append({
            "run_id": r.run_id, "request_id": r.id, "kind": "quality", "scope": None, "suite": x.get("suite"),
            "suite_version": x.get("suite_version"), "prompt_id": str(r.role), "category": x.get("category"),
            "rep": r.rep, "score": float(x["score"]), "detail": x.get("grade"),
            "extra": {k: x.get(k) for k in _ANSWER_EXTRA if k in x}, "created_at": now,
        })
        filled.add(r.run_id)
    # the judge rated the run's answers in their stored order and stored a reply for each:
    # the k-th reply for (prompt, rep) goes with the k-th answer for it
    by_key: dict[tuple[int, str, int | None], list[dict[str, Any]]] = defaultdict(list)
    for a in rows:
        if a["kind"] == "quality":
            by_key[(a["run_id"], a["prompt_id"], a["rep"])].append(a)
    for run_id, replies in judged.items():
        for j in replies:
            queue = by_key.get((run_id, str(j.role), j.rep))
            if not queue:
                continue  # a reply to an answer that was asked again: its figure stays in the judge's rows
            a = queue.pop(0)
            x = j.extra if isinstance(j.extra, dict) else {}
            a["judge_rating"], a["judge_request_id"] = _num(x.get("rating")), j.id
    if rows:
        conn.execute(answers.insert(), [{"judge_rating": None, "judge_request_id": None, **a} for a in rows])
    for run_id in sorted(filled):
        row = conn.execute(sa.select(runs.c.extra).where(runs.c.id == run_id)).first()
        extra = dict(row[0]) if row and isinstance(row[0], dict) else {}
        quality = extra.get("quality")
        if not isinstance(quality, dict):
            continue  # the pass never finished: its answers are kept, no aggregate was shown
        extra["quality"] = quality_inputs(quality)
        conn.execute(runs.update().where(runs.c.id == run_id).values(extra=extra))


def quality_inputs(quality: dict[str, Any]) -> dict[str, Any]:
    """A 0.1.0 ``extra["quality"]`` less what the rows give: the suite's prompts in order
    (from ``items``) and the judge's address are kept as inputs."""
    raw = quality.get("items")
    items: dict[str, Any] = raw if isinstance(raw, dict) else {}
    out = {k: v for k, v in quality.items() if k not in QUALITY_DERIVED and k != "judge"}
    out["order"] = [[pid, (v or {}).get("category")] for pid, v in items.items()]
    if "judge" in quality:
        j = quality["judge"]
        out["judge"] = {"url": j.get("url"), "model": j.get("model")} if isinstance(j, dict) else None
    return out


def strip_derived_extra(conn: sa.Connection) -> None:
    """Migration 0012: what 0.1.0 froze into ``runs.extra`` that the rows give on read: the
    session's figures (where its turns are stored), the lab's table, the lab gates'
    scores (where their answers are stored; why a gate did not run and the suite it used
    stay) and the tune final's figures (``tune_inputs``)."""
    runs, requests, answers = _tables()
    for run_id, kind, extra in conn.execute(sa.select(runs.c.id, runs.c.kind, runs.c.extra)).all():
        if not isinstance(extra, dict):
            continue
        new = dict(extra)
        if kind == "run" and isinstance(new.get("session"), dict):
            turns = conn.execute(sa.select(sa.func.count()).select_from(requests).where(
                requests.c.run_id == run_id, requests.c.phase == "session")).scalar_one()
            if turns:
                del new["session"]
        if kind == "lab":
            new.pop("table", None)
            gate = new.get("gate")
            if isinstance(gate, dict):
                have = {str(s) for (s,) in conn.execute(sa.select(answers.c.scope).distinct().where(
                    answers.c.run_id == run_id, answers.c.kind == "gate"))}
                new["gate"] = {arm: ({k: v for k, v in g.items() if k in ("not_run", "suite")}
                                     if isinstance(g, dict) and f"arm:{arm}" in have else g)
                               for arm, g in gate.items()}
        if kind == "tune" and isinstance(new.get("tune"), dict):
            new["tune"] = tune_inputs(new["tune"])
        if new != extra:
            conn.execute(runs.update().where(runs.c.id == run_id).values(extra=new))


def tune_inputs(tune: dict[str, Any]) -> dict[str, Any]:
    """A 0.1.0 ``extra["tune"]`` whose final re-measured someone: the final's participants,
    statement and winner give way to its inputs (entrants with their labels, how it ran,
    who was left out, the winner as stored for when no one could be re-measured), which
    ``tune.result`` recomputes them from. A final with no participant stays as stored."""
    final = tune.get("final")
    if not isinstance(final, dict) or not final.get("participants") or "entrants" in final:
        return tune
    entrants = [[p.get("n"), p.get("label")] for p in final["participants"] if isinstance(p, dict)]
    out = {k: v for k, v in tune.items() if k != "winner_trial"}
    out["final"] = {"entrants": entrants, "how": final.get("how"), "excluded": final.get("excluded") or [],
                    "search_best": tune.get("winner_trial")}
    return out
