"""``rigbench compare A B``: two servers side by side, interleaved, per context depth.

Both servers run at the same time, each with its own growing conversation (so neither
reloads nor loses its prefix cache), and the requests alternate A B A B at every depth
with the same prompts. A pair (A's and B's request of one repeat at one depth) is
measured back to back, so whatever else the machine is doing weighs on both alike.
A stored run (``run:ID``) is used as it is: its requests were not interleaved, which the
output says. The figures are ``measure.compare``'s (the paired statistics and the verdict
rule ``measure.stats``'s); this module does the I/O.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.probe import unavailable_note
from rigbench.client.stream import Timeouts
from rigbench.errors import UsageError
from rigbench.jobs.agent import AgentLoop, plan_json, session_plan
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording, recorded_run
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import Session, model_info, open_session
from rigbench.jobs.sides import SPEC_FORMS, Side, parse_side, with_model
from rigbench.jobs.summary import software_json
from rigbench.measure.plan import DEFAULT_DEPTHS, fit_context
from rigbench.paths import run_dir
from rigbench.results import CompareResult, CompareSide, Verdict
from rigbench.store import Store, open_store
from rigbench.workload.agent import DEFAULT_TURNS, build_turns
from rigbench.workload.text import probe_text

__all__ = ["SPEC_FORMS", "CompareOptions", "Side", "compare_job", "compare_summary", "parse_side"]

DEFAULT_REPEATS = 5
DEFAULT_GEN_TOKENS = 128
_NEED_AFTER = 48  # the note after the context and the chat template around it


@dataclass
class CompareOptions:
    a: Side
    b: Side
    depths: list[int] | None = None
    repeats: int = DEFAULT_REPEATS
    gen_tokens: int | None = None  # None: the stored side's, else DEFAULT_GEN_TOKENS
    session: str | None = None  # "agent": the scripted session instead of the depth sweep
    session_turns: int | None = None
    timeout_s: float | None = None
    api_key: str | None = None
    db: str | None = None
    command: str = ""
    notes: list[str] = field(default_factory=list)
    power_cmd: str | None = None  # never stored: it may hold a smart plug's password


def compare_job(opts: CompareOptions, progress: Progress | None = None) -> CompareResult:
    store = open_store(opts.db)
    try:
        return _Compare(store, opts, progress or NullProgress()).run()
    finally:
        store.close()


class _Compare:
    def __init__(self, store: Store, opts: CompareOptions, progress: Progress) -> None:
        self.store, self.opts, self.progress = store, opts, progress
        self.sides: tuple[Side, ...] = (opts.a, opts.b)
        self.run_id = 0
        self.stored: dict[str, dict[str, Any]] = {}  # side name -> the stored run it reads
        self._rec: Recording | None = None

    @property
    def rec(self) -> Recording:
        assert self._rec is not None, "the compare is recorded once run() opens it"
        return self._rec

    def note(self, text: str) -> None:
        self.store.add_note(self.run_id, text)

    # -- before anything is recorded -------------------------------------------------
    def _check(self) -> int:
        from rigbench.jobs.run import preflight

        gen: int | None = None
        for side in self.sides:
            if side.kind == "run":
                run = self.store.get_run(side.run_id or 0)
                if run is None:
                    raise UsageError(f"there is no run {side.run_id} in {self.store.where}",
                                     "list runs with rigbench runs")
                if run["kind"] != "run":
                    raise UsageError(f"run {side.run_id} is a {run['kind']} run",
                                     "compare against a run made by rigbench run")
                phase = "session" if self.opts.session else "speed"
                if not any(r["status"] == "ok" for r in self.store.requests(side.run_id or 0, phase=phase)):
                    what = "an agent session" if self.opts.session else "depth-sweep requests"
                    raise UsageError(f"run {side.run_id} holds no {what}", "pick a run that measured them")
                self.stored[side.name] = run
                gen = gen or (run.get("params") or {}).get("gen_tokens")
            elif side.engine is not None:
                preflight(side.engine)
        self.sides = tuple(with_model(side) for side in self.sides)
        self.opts.a, self.opts.b = self.sides
        if self.opts.a.kind == "run" and self.opts.b.kind == "run" and self.opts.session:
            raise UsageError("two stored sessions cannot be paired turn by turn here",
                             "give at least one side that runs now")
        return int(self.opts.gen_tokens or gen or DEFAULT_GEN_TOKENS)

    def _params(self, gen_tokens: int) -> dict[str, Any]:
        return {"a": self.opts.a.to_json(), "b": self.opts.b.to_json(), "depths_requested": self.opts.depths,
                "repeats": self.opts.repeats, "gen_tokens": gen_tokens, "session": self.opts.session,
                "session_turns": self.opts.session_turns, "timeout_s": self.opts.timeout_s, "order": "ABAB"}

    def run(self) -> CompareResult:
        from rigbench.jobs.monitors import MachineLoad
        from rigbench.model.machine import machine_facts

        gen_tokens = self._check()
        self.progress.stage("reading this machine")
        from rigbench.energy.sampler import energy_monitors

        energy = energy_monitors(self.opts.power_cmd) if self.opts.a.live or self.opts.b.live else []
        with recorded_run(self.store, kind="compare", params=self._params(gen_tokens), command=self.opts.command,
                          machine=machine_facts(), measured=_measured, monitors=[MachineLoad(), *energy]) as rec:
            self._rec, self.run_id = rec, rec.run_id
            for n in self.opts.notes:
                self.note(n)
            self._measure(gen_tokens)
        self.progress.stage("done")
        return compare_summary(self.store, self.run_id)

    # -- measuring ---------------------------------------------------------------------
    def _measure(self, gen_tokens: int) -> None:
        timeouts = Timeouts(connect_s=10.0, read_s=self.opts.timeout_s or 300.0)
        extra: dict[str, Any] = {"sides": {}}
        with contextlib.ExitStack() as stack:
            benches: dict[str, Bench] = {}
            for side in self.sides:
                if side.kind == "run":
                    run = self.stored[side.name]
                    extra["sides"][side.name] = {"run_id": side.run_id, "model": run.get("model_facts"),
                                                 "server_facts": run.get("server_facts"),
                                                 "engine_spec": run.get("engine_spec"),
                                                 "command": run.get("command"), "created_at": run.get("created_at")}
                    self.note(f"{side.name.upper()} is stored run {side.run_id} ({run.get('created_at')}): "
                              f"not interleaved; its {'turns' if self.opts.session else 'repeats'} are paired by "
                              "index, so drift between the two times is not cancelled")
                    continue
                assert side.engine is not None
                self.progress.stage(f"starting {side.name.upper()}: {side.text}")
                s = stack.enter_context(open_session(side.engine, run_dir(self.opts.db, self.run_id) / side.name,
                                                     api_key=self.opts.api_key, timeouts=timeouts,
                                                     start_timeout_s=self.opts.timeout_s))
                extra["sides"][side.name] = {"server_facts": s.facts.to_json(),
                                             "model": model_info(s.facts, side.engine)}
                for what in s.facts.unavailable:
                    self.note(f"{side.name.upper()}: {unavailable_note(what)}")
                s.client.on_unavailable = self._learned(side.name, s, extra)
                benches[side.name] = Bench(self.rec, s, name=side.name, timeouts=timeouts,
                                           explicit_timeout=self.opts.timeout_s is not None)
            first = next(iter(extra["sides"].values()))
            if first.get("model"):
                self.store.set_model(self.run_id, first["model"])
            self.rec.merge_extra(**extra)
            self._check_same_model(extra["sides"])
            for name, bench in benches.items():
                self.progress.stage(f"warming up {name.upper()}")
                bench.warm_up()
            if self.opts.session:
                self._session(benches, gen_tokens)
            else:
                self._depths(benches, gen_tokens)

    def _learned(self, name: str, s: Session, extra: dict[str, Any]) -> Callable[[str], None]:
        """A limit found out mid-run reaches the notes and the stored facts when it is learned."""
        def told(what: str) -> None:
            self.note(f"{name.upper()}: {unavailable_note(what)}")
            extra["sides"][name]["server_facts"] = s.facts.to_json()
            self.store.update_run(self.run_id, extra=extra)
        return told

    def _check_same_model(self, sides: Mapping[str, Any]) -> None:
        from rigbench.model.identity import same_model

        urls = [(v.get("server_facts") or {}).get("base_url") for k, v in sides.items() if k in ("a", "b")]
        if len(urls) == 2 and urls[0] and urls[0] == urls[1]:
            self.note(f"A and B are the same server ({urls[0]}): the two conversations share its cache slots")
        models = [v.get("model") or {} for v in sides.values()]
        if len(models) != 2:
            return
        same, how = same_model(models[0], models[1])
        if same is False:
            self.note(f"A and B serve different models ({how}): the comparison is of the models too, "
                      "not only the servers")
        elif same is None:
            self.note(f"whether A and B serve the same model is unknown ({how})")
        elif "name" in how:
            self.note(f"A and B are taken to serve the same model by {how} only")
        elif "parameter count" in how:
            self.note(f"A and B are taken to serve the same model: {how} (different files; a model of the same "
                      "shape with other weights would match too)")

    def _granted(self, benches: Mapping[str, Bench]) -> int | None:
        known = [b.session.facts.granted_context for b in benches.values() if b.session.facts.granted_context]
        return min(known) if known else None

    def _plan_depths(self, benches: Mapping[str, Bench], gen_tokens: int) -> list[int]:
        stored_depths: set[int] | None = None
        for run in self.stored.values():
            got = {int(r["depth"]) for r in self.store.requests(run["id"], phase="speed")
                   if r["status"] == "ok" and r["depth"] is not None}
            stored_depths = got if stored_depths is None else stored_depths & got
        if self.opts.depths is not None:
            wanted = list(self.opts.depths)
        elif stored_depths is not None:
            wanted = sorted(stored_depths)
        else:
            wanted = list(DEFAULT_DEPTHS)
        if stored_depths is not None:
            for d in [d for d in wanted if d not in stored_depths]:
                self.note(f"depth {d:,} skipped: the stored run did not measure it")
            wanted = [d for d in wanted if d in stored_depths]
        depths, skipped = fit_context(wanted, self._granted(benches), _NEED_AFTER + gen_tokens)
        for d, why in skipped:
            self.note(f"depth {d:,} skipped: {why}")
        self.rec.merge_params(planned_depths=depths)
        return depths

    def _depths(self, benches: Mapping[str, Bench], gen_tokens: int) -> None:
        depths = self._plan_depths(benches, gen_tokens)
        if not benches or not depths:
            return
        text = next(iter(benches.values())).context_text()
        cached: dict[str, int | None] = dict.fromkeys(benches)
        self.progress.begin(len(depths) * self.opts.repeats * len(benches), "compare")
        for i, depth in enumerate(depths):
            # one prompt per depth, repeated: a server that cannot roll its cache back
            # part-way (llama.cpp's checkpoints for sliding-window models) still reuses
            # all of it, where a different note per repeat would re-prefill the context
            messages = [{"role": "user", "content": text.text(depth) + probe_text(i)}]
            for rep in range(self.opts.repeats):
                for name, bench in benches.items():  # A then B, every repeat: A B A B
                    self.progress.advance(f"depth {depth:,} · repeat {rep + 1}/{self.opts.repeats} · {name.upper()}")
                    expected = cached[name] if rep == 0 else depth
                    sent = bench.send(messages, phase="compare", where=f"depth {depth:,}", max_tokens=gen_tokens,
                                      seed=rep, depth=depth, rep=rep, role=name, expected_reuse=expected,
                                      grow=rep == 0, keep_text=False, new_tokens=depth - (expected or 0) + _NEED_AFTER,
                                      extra={"step": "grow" if rep == 0 else "probe", "context_method": text.method})
                    bench.cache_notes(sent, depth, first=i == 0)
                    cached[name] = depth if sent.ok else None
        self.progress.end()

    def _session(self, benches: Mapping[str, Bench], gen_tokens: int) -> None:
        if not benches:
            return
        client = next(iter(benches.values())).client
        granted = self._granted(benches)
        turns = int(self.opts.session_turns or DEFAULT_TURNS)
        stored_plan = None
        for run in self.stored.values():  # replay the stored session's own script
            stored_plan = (run.get("params") or {}).get("session_plan")
        plan = session_plan(client, granted, gen_tokens, turns, stored_plan)
        self.rec.merge_params(session_plan=plan_json(plan))
        for n in plan.notes:
            self.note(n)
        script = build_turns(plan)
        loops = {n: AgentLoop(b, script, gen_tokens, granted) for n, b in benches.items()}
        self.progress.begin(len(script) * len(loops), "agent session, A and B in turn")
        for i in range(len(script)):
            if not all(loop.fits() for loop in loops.values()):
                self.note(f"the session stopped before turn {i + 1}: it would not fit {granted or 0:,} tokens")
                break
            for name, loop in loops.items():  # A then B, every turn
                self.progress.advance(f"turn {i + 1}/{len(script)} · {script[i].kind} · {name.upper()}")
                loop.step(phase="compare", role=name)
        self.progress.end()


def _measured(store: Store, run_id: int) -> bool:
    return any(r["phase"] == "compare" for r in store.requests(run_id))


def compare_summary(store: Store, run_id: int) -> CompareResult:
    """A compare run's evidence, recomputed from the database (``to_json()``: the ``--json``
    contract), each side with its own verdict against the two bars (the board's rows)."""
    out = CompareResult.from_json(_compare_json(store, run_id))
    return dataclasses.replace(out, a=_with_verdict(out, "a"), b=_with_verdict(out, "b"))


def _with_verdict(s: CompareResult, name: str) -> CompareSide:
    """A side judged alone: its decode at the working depth (a session: its sustained decode)."""
    from rigbench.measure.points import verdict

    side = s.side(name)
    pts: list[dict[str, Any]] = [{"depth": p.depth, "decode_tok_s": p.side(name, "decode_tok_s")} for p in s.depths]
    sess = (s.sessions or {}).get(name)
    if s.mode == "session":
        pts = [{"depth": sess.context_end or 0, "decode_tok_s": sess.decode_median_tok_s}] if sess else []
    v = verdict(pts, side.native_context, granted_context=side.granted_context)
    return dataclasses.replace(side, verdict=Verdict.from_json(v))


def _compare_json(store: Store, run_id: int) -> dict[str, Any]:
    from rigbench.measure.compare import compare_result
    from rigbench.measure.overrun import overrun_notes

    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != "compare":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not a compare", f"see it with rigbench show {run_id}")
    params = dict(run.get("params") or {})
    session = bool(params.get("session"))
    rows = store.requests(run_id)
    sides = {k: Side.from_json(params[k]) for k in ("a", "b")}
    stored = dict((run.get("extra") or {}).get("sides") or {})

    def rows_of(side: Side) -> list[dict[str, Any]]:
        if side.kind == "run":
            return store.requests(side.run_id or 0, phase="session" if session else "speed")
        return [r for r in rows if r["phase"] == "compare" and r["role"] == side.name]

    result = compare_result(rows_of(sides["a"]), rows_of(sides["b"]), session=session)
    from rigbench.jobs.energy import load_energy
    from rigbench.measure.energy_compare import energy_compare

    here = load_energy(store, run_id)
    energy = energy_compare(rows_of(sides["a"]), load_energy(store, sides["a"].run_id or 0) if sides["a"].kind == "run"
                            else here, rows_of(sides["b"]),
                            load_energy(store, sides["b"].run_id or 0) if sides["b"].kind == "run" else here,
                            session=session)
    out: dict[str, Any] = {
        "compare_id": run_id, "run_id": run_id, "kind": "compare", "status": run["status"],
        "reason": run.get("reason"), "created_at": run["created_at"],
        "a": _side_json(sides["a"], stored.get("a") or {}), "b": _side_json(sides["b"], stored.get("b") or {}),
        "mode": "session" if session else "depth",
        "interleaved": sides["a"].live and sides["b"].live,
        "other_load": (run.get("extra") or {}).get("other_load"),
        **result,
        "energy": energy,
        "params": params, "notes": [*(run.get("notes") or []), *overrun_notes(rows)], "command": run.get("command"),
        "tool_version": run.get("tool_version"), "machine": run.get("machine_facts") or {},
        "requests": {"total": len(rows), "failed": sum(1 for r in rows if r["status"] != "ok")},
    }
    return out


def _side_json(side: Side, stored: Mapping[str, Any]) -> dict[str, Any]:
    facts = stored.get("server_facts") or {}
    model = stored.get("model") or {}
    spec = side.engine.to_json() if side.engine else (stored.get("engine_spec") or {})
    return {
        **side.to_json(),
        "interleaved": side.live,
        "engine_kind": spec.get("kind") or facts.get("kind"),
        "software": software_json(facts),
        "flags": spec.get("flags") or {},
        "server_bin": spec.get("server_bin"),
        "build": facts.get("build"),
        "base_url": facts.get("base_url"),
        "model": model.get("name"),
        "quant": model.get("quant"),
        "native_context": model.get("native_context") or facts.get("n_ctx_train"),
        "granted_context": facts.get("granted_context"),
        "command": stored.get("command"),
    }
