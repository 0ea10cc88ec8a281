"""A run's quality figures, derived on read from its stored answers and requests.

The quality pass leaves its inputs in ``runs.extra["quality"]`` (the suite and its prompts
in order, repeats, mode, temperature, seeds, the long-context plan, the reasoning
allowance, the sandbox's layers, the judge's address, the wall time); the figures (score,
intervals, per category, per prompt, failed and retried answers, reasoning tokens, the
speed of the answers, the judge's score) come from the ``answers`` rows and the requests
of phases ``quality`` and ``judge``. The JSON has the keys and order of release 0.1.0.

A run whose ``extra["quality"]`` still holds a score and has no answer rows (nothing a
migration could back-fill) shows that stored aggregate as it is: the one fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.measure.speed import figures
from rigbench.measure.stats import summarize
from rigbench.quality.scoring import Scored, aggregate, bootstrap_mean_ci
from rigbench.store import Store

__all__ = ["JUDGE_NOTE", "graded", "judge_figures", "quality_figures", "quality_summary", "speed_figures"]

JUDGE_NOTE = "an LLM's opinion on open-ended prompts (1-5), reported apart from the machine-graded score"


def graded(answers: Sequence[Mapping[str, Any]], *,
           suite_version: Any = None) -> dict[tuple[str, int], Mapping[str, Any]]:
    """The answer that counts for each (prompt, repeat): the last one asked under the suite's
    version (a resumed pass asks again what failed or was asked another way)."""
    out: dict[tuple[str, int], Mapping[str, Any]] = {}
    for a in answers:
        if a.get("kind", "quality") != "quality":
            continue
        if suite_version is not None and a.get("suite_version") != suite_version:
            continue
        out[(str(a["prompt_id"]), int(a.get("rep") or 0))] = a
    return out


def speed_figures(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The decode speed of the answers (every request of phase ``quality`` that succeeded)."""
    ok = [r for r in rows if r.get("phase", "quality") == "quality" and r["status"] == "ok"]
    figs = [figures(r) for r in ok]
    dec = summarize([f.decode_tok_s for f in figs])
    gen = [f.generated_tokens for f in figs if f.generated_tokens is not None]
    return {"decode_tok_s": round(dec.median, 2) if dec.median is not None else None,
            "decode_ci": [round(x, 2) for x in dec.ci] if dec.ci else None,
            "requests": len(ok), "generated_tokens": sum(gen) if gen else None}


def _reasoning_tokens(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """Reasoning tokens over every quality request; None when some reasoning went uncounted
    (the server gave no count and could not tokenize)."""
    total = 0
    for r in rows:
        n = r.get("reasoning_tokens")
        if n:
            total += int(n)
        elif n is None and r.get("reasoning"):
            return None
    return total


def judge_figures(judge: Mapping[str, Any] | None, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The judge's score from its stored replies (phase ``judge``, ``extra.rating``): the mean
    per prompt, then over prompts, with a bootstrap interval over prompts."""
    if not judge:
        return None
    ratings: dict[str, list[float]] = {}
    failed = 0
    for r in rows:
        rating = (r.get("extra") or {}).get("rating")
        if rating is None:
            failed += 1
        else:
            ratings.setdefault(str(r["role"]), []).append(rating)
    per_prompt = {pid: round(sum(v) / len(v), 3) for pid, v in ratings.items()}
    vals = list(per_prompt.values())
    ci = bootstrap_mean_ci(vals)
    return {"url": judge.get("url"), "model": judge.get("model"),
            "score": round(sum(vals) / len(vals), 3) if vals else None,
            "ci": [round(ci[0], 3), round(ci[1], 3)] if ci else None, "prompts": len(per_prompt),
            "ratings": sum(len(v) for v in ratings.values()), "unreadable": failed, "items": per_prompt,
            "note": JUDGE_NOTE}


def quality_figures(inputs: Mapping[str, Any], answers: Sequence[Mapping[str, Any]],
                    rows: Sequence[Mapping[str, Any]], judge_rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The quality JSON from the pass's inputs, its answers (``store.answers.list_answers``)
    and its requests of phases ``quality`` and ``judge``. Pure."""
    order = {str(pid): str(cat) for pid, cat in inputs.get("order") or []}
    suite = inputs.get("suite")
    counted = graded([a for a in answers if suite is None or a.get("suite") in (None, suite)],
                     suite_version=inputs.get("suite_version"))
    scored = [Scored(pid, str(a.get("category") or order.get(pid, "")), rep, float(a["score"]))
              for (pid, rep), a in counted.items() if pid in order]
    agg = aggregate(scored, order)
    kept = {k: v for k, v in inputs.items() if k not in ("order", "judge", "wall_s")}
    out: dict[str, Any] = {
        "suite": kept.pop("suite", None), "suite_version": kept.pop("suite_version", None),
        "score": agg.score, "ci": agg.ci, "repeats": kept.pop("repeats", None),
        "prompts": kept.pop("prompts", len(order)), "categories": agg.categories,
        "category_ci": agg.category_ci, "reasoning_tokens": _reasoning_tokens(rows),
    }
    for key in ("reasons", "reasoning_allowance", "mode", "mode_reason", "temperature", "seeds", "context"):
        out[key] = kept.pop(key, None)
    out["failed_answers"] = sum(1 for a in counted.values() if a.get("request_status") != "ok")
    out["retried_answers"] = sum(1 for a in counted.values() if (a.get("extra") or {}).get("retried"))
    out["sandbox"] = kept.pop("sandbox", None)
    out["speed"] = speed_figures(rows)
    out["items"] = {pid: item.to_json() for pid, item in agg.items.items()}
    out.update(kept)  # inputs a later version added
    if "judge" in inputs:
        out["judge"] = judge_figures(inputs.get("judge"), judge_rows)
    if "wall_s" in inputs:
        out["wall_s"] = inputs["wall_s"]
    return out


def quality_summary(store: Store, run_id: int, run: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The run's quality figures, or None when no quality pass finished."""
    from rigbench.store.answers import list_answers

    run = run if run is not None else store.get_run(run_id)
    inputs = ((run or {}).get("extra") or {}).get("quality")
    if not isinstance(inputs, dict):
        return None
    answers = list_answers(store, run_id, kind="quality")
    if not answers and "score" in inputs:
        return dict(inputs)  # the fallback: an aggregate stored before answers were rows
    return quality_figures(inputs, answers, store.requests(run_id, phase="quality"),
                           store.requests(run_id, phase="judge"))


def requests_with_scores(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The run's requests, each graded answer's with its score in ``extra["score"]`` (the
    HTML report lists the lowest-scored answers)."""
    from rigbench.store.answers import list_answers

    score = {int(a["request_id"]): float(a["score"]) for a in list_answers(store, run_id)}
    rows = store.requests(run_id)
    for r in rows:
        if int(r["id"]) in score:
            r["extra"] = {**(r.get("extra") or {}), "score": score[int(r["id"])]}
    return rows
