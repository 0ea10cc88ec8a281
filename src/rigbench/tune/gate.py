"""The quality gate for lossy changes (a quantized KV cache: ``ctk``/``ctv`` other than f16).

A lossy trial is kept only if its answers are about as good as the baseline's on a small
subset of the quality suite: the first prompts of the machine-graded categories that need
no sandbox (reasoning, instruction, extraction), asked once each at temperature 0 with a
fixed seed on the baseline and on the trial, through the server's bench (``jobs.bench``),
graded by ``rigbench.quality.graders.grade``.
The gate passes when the trial's mean score is no more than ``TOLERANCE`` below the
baseline's (on the 0-5 scale). Built from the quality package's public pieces
(``load_suite``, ``choose_mode``, ``build_ask``, ``grade``), with the quality pass's
choice of prompts: chat messages, or plain completions for a model without a chat
template of its own (graded on the primer plus the answer, as the quality pass does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rigbench.jobs.bench import Bench

__all__ = ["PER_CATEGORY", "TOLERANCE", "GateScores", "gate_verdict", "grade_subset"]

PER_CATEGORY = 2
TOLERANCE = 0.5  # points of 5
_CATEGORIES = ("reasoning", "instruction", "extraction")
_SEED = 1000


@dataclass
class GateScores:
    scores: dict[str, float] = field(default_factory=dict)  # prompt id -> 0..5
    not_run: str | None = None  # why the gate could not run
    suite: str | None = None

    @property
    def mean(self) -> float | None:
        return sum(self.scores.values()) / len(self.scores) if self.scores else None

    def to_json(self) -> dict[str, Any]:
        return {"scores": self.scores, "mean": self.mean, "not_run": self.not_run, "suite": self.suite}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> GateScores | None:
        if not d:
            return None
        return cls(dict(d.get("scores") or {}), d.get("not_run"), d.get("suite"))


def grade_subset(bench: Bench, trial: int, *, arm: str | None = None) -> GateScores:
    """Ask and grade the gate's prompts on a running server, through its bench (each request
    stored as it ends; a failed one scores 0, so the failure guard is off, as the gate always
    had it); every graded answer is a row (``answers``, kind "gate"). A tuning trial's
    requests are phase ``tune``, role ``trial{N}:quality:{prompt}``, answers scoped
    ``trial:N``; a lab arm's (``arm``) are phase ``lab``, role the arm, answers scoped
    ``arm:NAME``."""
    from rigbench.errors import RigbenchError
    from rigbench.quality.graders import Grade, grade
    from rigbench.quality.prompts import build_ask, choose_mode
    from rigbench.quality.suite import load_suite
    from rigbench.store.answers import add_answer

    try:
        suite = load_suite(None)
    except RigbenchError as exc:
        return GateScores(not_run=f"the quality suite could not be loaded ({exc.one_line()})")
    mode = choose_mode(bench.session.facts, None).mode
    out = GateScores(suite=f"{suite.name} v{suite.version} ({mode} prompts)")
    for category in _CATEGORIES:
        for p in [q for q in suite.prompts if q.category == category][:PER_CATEGORY]:
            ask = build_ask(p, mode)
            role = f"trial{trial}:quality:{p.id}"
            extra: dict[str, Any] = {"trial": trial, "stage": "quality", "prompt": p.id, "mode": mode}
            if arm is not None:
                extra["gate_role"] = role
            params: dict[str, Any] = {"temperature": 0.0}
            if ask.messages is None:
                params["stop"] = ask.stop
            sent = bench.send(ask.messages, prompt=ask.text if ask.messages is None else None,
                              phase="tune" if arm is None else "lab", role=role if arm is None else arm,
                              where=f"the quality gate's prompt {p.id}", max_tokens=ask.max_tokens, seed=_SEED,
                              scrape=False, exact=False, params=params, extra=extra, guard=False)
            rec = sent.record
            g = grade(p, ask.primer + rec.content) if rec.ok else Grade(0.0, {"why": f"request failed: {rec.error}"})
            add_answer(bench.rec.store, bench.rec.run_id, sent.request_id, kind="gate",
                       scope=f"trial:{trial}" if arm is None else f"arm:{arm}", prompt_id=p.id, rep=0,
                       category=p.category, score=g.score, suite=suite.name, suite_version=suite.version,
                       detail=g.to_json(), extra={"mode": mode, "trial": trial})
            out.scores[p.id] = float(g.score)
    if not out.scores:
        return GateScores(not_run="the quality suite has no reasoning, instruction or extraction prompts")
    return out


def gate_verdict(base: GateScores | None, trial: GateScores | None) -> tuple[bool | None, str]:
    """(passed, statement). ``passed`` is None when the gate did not run (the statement says why)."""
    if trial is None or base is None:
        return None, "quality gate not run: the baseline's answers were not graded"
    if trial.not_run or base.not_run:
        return None, f"quality gate not run: {trial.not_run or base.not_run}"
    common = sorted(set(base.scores) & set(trial.scores))
    if not common:
        return None, "quality gate not run: no prompt was graded on both"
    b = sum(base.scores[k] for k in common) / len(common)
    t = sum(trial.scores[k] for k in common) / len(common)
    worse = [k for k in common if trial.scores[k] < base.scores[k]]
    passed = t >= b - TOLERANCE
    detail = f"{t:.2f} vs the baseline's {b:.2f} of 5 on {len(common)} prompts at temperature 0"
    if worse:
        detail += f" (worse on {', '.join(worse)})"
    return passed, f"quality gate {'passed' if passed else 'failed'}: {detail}; allowed drop {TOLERANCE}"
