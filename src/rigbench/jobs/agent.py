"""``rigbench run --session agent``: the scripted coding loop of ``workload.agent`` against
one server, every turn stored as it ends; the session's figures are recomputed from the
stored turns on read (``session_summary``), the plan kept in the run's params.

Each turn sends the whole conversation so far (the model's own answers included) plus
the turn's new message, as an agent does; the server's prefix cache should then prefill
only the new part. That reuse is read from the server's counters (``timings.cache_n``,
``usage.cached_tokens``) and checked against the previous turn's prompt, never assumed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.probe import ServerClient
from rigbench.jobs.bench import Bench, Sent
from rigbench.jobs.progress import Progress
from rigbench.measure.compare import session_figures
from rigbench.store import Store
from rigbench.workload.agent import DEFAULT_TURNS, SessionPlan, Turn, build_turns, plan_session

__all__ = ["AgentLoop", "calibrate_chars_per_token", "run_agent_session", "session_plan", "session_summary"]

_FAILED_ANSWER = "(the request for this turn failed)"
_CONTEXT_MARGIN = 32


def calibrate_chars_per_token(client: ServerClient) -> float:
    """Characters per token of the session's own text, counted by the server's tokenizer."""
    if not client.can_tokenize:
        return 3.5
    sample = build_turns(plan_session(32768, 64, turns=8))
    text = "\n\n".join(t.message for t in sample)
    n = client.count_tokens(text)
    return max(1.5, min(8.0, len(text) / n)) if n else 3.5


def session_plan(client: ServerClient, granted: int | None, gen_tokens: int, turns: int,
                 stored: Mapping[str, Any] | None = None) -> SessionPlan:
    """The plan stored with the run (a resumed session keeps it), else a fresh one."""
    if stored:
        return SessionPlan(int(stored["turns"]), int(stored["tool_tokens"]), float(stored["chars_per_token"]),
                           int(stored.get("est_total_tokens") or 0), tuple(stored.get("notes") or ()))
    return plan_session(granted, gen_tokens, turns=turns, chars_per_token=calibrate_chars_per_token(client))


def plan_json(plan: SessionPlan) -> dict[str, Any]:
    return {"turns": plan.turns, "tool_tokens": plan.tool_tokens, "chars_per_token": round(plan.chars_per_token, 3),
            "est_total_tokens": plan.est_total_tokens, "notes": list(plan.notes)}


@dataclass
class AgentLoop:
    """One side's conversation, a schedule over one bench: turn by turn, the history growing
    with the model's answers."""

    bench: Bench
    turns: list[Turn]
    gen_tokens: int
    granted: int | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    next_turn: int = 0
    context: int = 0  # tokens in the conversation so far (prompt + answer of the last turn)
    last_prompt: int | None = None  # prompt tokens of the last good turn: what the cache should hold

    def restore(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rebuild the history from stored turns (a resumed session), up to the first gap."""
        by_turn = {int(r["rep"]): r for r in rows if r.get("rep") is not None}
        while self.next_turn in by_turn and by_turn[self.next_turn].get("status") == "ok":
            r = by_turn[self.next_turn]
            self.messages += [{"role": "user", "content": self.turns[self.next_turn].message},
                              {"role": "assistant", "content": r.get("content") or _FAILED_ANSWER}]
            self.context = int(r.get("prompt_tokens") or 0) + int(r.get("completion_tokens") or 0)
            self.last_prompt = None  # the server's cache no longer holds it
            self.next_turn += 1

    @property
    def finished(self) -> bool:
        return self.next_turn >= len(self.turns)

    def fits(self) -> bool:
        """Whether the next turn fits the granted context."""
        if self.granted is None or self.finished:
            return True
        need = self.context + self.turns[self.next_turn].est_tokens + self.gen_tokens + _CONTEXT_MARGIN
        return need <= self.granted

    def step(self, *, phase: str, role: str | None = None) -> tuple[Sent, Turn]:
        """Send the next turn through the bench (stored with ``phase`` and ``role``, the
        turn's kind when no role is given; the depth is the context at the turn's start)."""
        turn = self.turns[self.next_turn]
        depth = self.context
        expected = self.last_prompt
        messages = [*self.messages, {"role": "user", "content": turn.message}]
        new = turn.est_tokens + self.gen_tokens if expected is not None else depth + turn.est_tokens
        sent = self.bench.send(messages, phase=phase, where=f"session turn {turn.index + 1}",
                               max_tokens=self.gen_tokens, seed=turn.index, depth=depth, rep=turn.index,
                               role=role or turn.kind, expected_reuse=expected, new_tokens=new,
                               extra={"turn_kind": turn.kind, "message_tokens_est": turn.est_tokens})
        rec = sent.record
        answer = (rec.content or rec.reasoning or "") if rec.ok else _FAILED_ANSWER
        self.messages = [*messages, {"role": "assistant", "content": answer or "(empty answer)"}]
        if rec.ok and rec.prompt_tokens is not None:
            self.context = rec.prompt_tokens + (rec.generated_tokens() or 0)
            self.last_prompt = rec.prompt_tokens
        else:
            self.context += turn.est_tokens + self.gen_tokens
            self.last_prompt = None
        self.next_turn += 1
        return sent, turn


def run_agent_session(bench: Bench, *, progress: Progress, opts: Any) -> dict[str, Any]:
    """Run the scripted session on ``bench``'s server and store every turn; returns the
    session's figures, derived from the stored turns."""
    rec, session = bench.rec, bench.session
    store, run_id, note = rec.store, rec.run_id, rec.note
    params = dict(getattr(opts, "extra_params", None) or {})
    run_params = dict(rec.run().get("params") or {})
    plan = session_plan(session.client, session.facts.granted_context, opts.gen_tokens,
                        int(params.get("session_turns") or DEFAULT_TURNS), run_params.get("session_plan"))
    if "session_plan" not in run_params:
        rec.merge_params(session_plan=plan_json(plan))
        for n in plan.notes:
            note(n)
    loop = AgentLoop(bench, build_turns(plan), opts.gen_tokens, session.facts.granted_context)
    loop.restore(store.requests(run_id, phase="session"))
    if loop.next_turn:
        note(f"the session resumed at turn {loop.next_turn + 1}; the server re-prefilled the history once")
    progress.begin(len(loop.turns) - loop.next_turn, "agent session")
    while not loop.finished:
        if not loop.fits():
            note(f"the session stopped before turn {loop.next_turn + 1}: it would not fit the "
                 f"{loop.granted:,} tokens of context the server grants")
            break
        progress.advance(f"agent session · turn {loop.next_turn + 1}/{len(loop.turns)} "
                         f"· {loop.turns[loop.next_turn].kind}")
        sent, turn = loop.step(phase="session")
        if sent.extra.get("cache_verified") is False:
            note(f"session turn {turn.index + 1}: the server re-prefilled the conversation (cache_n "
                 f"{sent.extra.get('server_cache_n')} where about {sent.extra['expected_reuse']:,} tokens could be "
                 "reused)")
    progress.end()
    summary = session_summary(store, run_id, plan=plan)
    return summary or {"workload": "agent", "plan": plan_json(plan)}


def session_summary(store: Store, run_id: int, *, plan: SessionPlan | None = None,
                    run: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The session's figures, recomputed from its stored turns (None when no turn is
    stored); the plan is the one stored with the run (``params["session_plan"]``)."""
    rows = store.requests(run_id, phase="session")
    if not rows:
        return None
    summary = {"workload": "agent", **session_figures(rows)}
    if plan is None:
        run = run if run is not None else store.get_run(run_id)
        stored = ((run or {}).get("params") or {}).get("session_plan")
        if stored:
            summary["plan"] = stored
    else:
        summary["plan"] = plan_json(plan)
    return summary
