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
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rigbench import __version__
from rigbench.client.probe import unavailable_note
from rigbench.client.stream import Timeouts
from rigbench.errors import Interrupted, RigbenchError, UsageError
from rigbench.jobs.agent import AgentLoop, FailureGuard, plan_json, session_plan
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import Session, model_info, open_session
from rigbench.jobs.summary import software_json
from rigbench.jobs.sweep import observed_chat, reuse_extra, warm_note
from rigbench.measure.plan import DEFAULT_DEPTHS, fit_context
from rigbench.paths import run_dir
from rigbench.results import CompareResult, CompareSide, Verdict
from rigbench.store import Store, open_store
from rigbench.types import EngineSpec
from rigbench.workload.agent import DEFAULT_TURNS, build_turns
from rigbench.workload.text import ContextText, probe_text

__all__ = ["SPEC_FORMS", "CompareOptions", "OtherLoad", "Side", "compare_job", "compare_summary", "parse_side"]

SPEC_FORMS = ("write each side as http://HOST:PORT/v1 (a running server; #MODEL picks a served model), "
              "server:PATH[#FLAGS] (a llama-server binary, e.g. server:build/bin/llama-server#fa=on,ub=2048), "
              "run:ID (a stored run) or embedded:FLAGS (e.g. embedded:t=1,c=8192)")
DEFAULT_REPEATS = 5
DEFAULT_GEN_TOKENS = 128
_NEED_AFTER = 48  # the note after the context and the chat template around it


@dataclass(frozen=True)
class Side:
    name: str  # "a" | "b"
    text: str  # as the user wrote it
    kind: str  # url | server | run | embedded
    engine: EngineSpec | None = None
    run_id: int | None = None

    @property
    def live(self) -> bool:
        return self.kind != "run"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.name.upper(), "text": self.text, "kind": self.kind,
                "engine": self.engine.to_json() if self.engine else None, "run_id": self.run_id}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Side:
        eng = d.get("engine")
        return cls(str(d["name"]), str(d["text"]), str(d["kind"]), EngineSpec.from_json(eng) if eng else None,
                   d.get("run_id"))


def parse_side(text: str, name: str, *, model: str | None = None, flags: Mapping[str, Any] | None = None,
               extra: Sequence[str] = ()) -> Side:
    """``http://...`` | ``server:PATH`` | ``run:ID`` | ``embedded[:FLAGS]`` -> Side. Shared
    llama.cpp flags apply to launched sides; a side's own flags win over them."""
    from rigbench.engines.flags import normalize_flags, parse_flag_string

    raw = (text or "").strip()
    label = name.upper()
    shared = dict(normalize_flags(flags or {}))
    if raw.startswith(("http://", "https://")):
        url, _, served = raw.partition("#")  # http://host:port/v1#MODEL picks a served model
        return Side(name, raw, "url", EngineSpec(kind="url", url=url, model_name=served or None, label=label))
    kind, sep, rest = raw.partition(":")
    kind = kind.lower()
    if kind == "embedded":
        own = dict(parse_flag_string(rest)) if sep else {}
        merged = normalize_flags({**shared, **own})
        return Side(name, raw, "embedded", EngineSpec(kind="embedded", model_path=model, flags=merged, label=label))
    if kind == "server" and rest.strip():
        path, _, own_text = rest.strip().partition("#")  # server:PATH#fa=on,ub=512: this side's own flags
        own = dict(parse_flag_string(own_text)) if own_text else {}
        return Side(name, raw, "server", EngineSpec(kind="llama-server", model_path=model, server_bin=path,
                                                    flags=normalize_flags({**shared, **own}),
                                                    extra_args=tuple(extra), label=label))
    if kind == "run" and rest.strip().isdigit():
        return Side(name, raw, "run", run_id=int(rest.strip()))
    raise UsageError(f"{label} = {raw!r} is not a comparison side", SPEC_FORMS)


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
        self.load = OtherLoad()

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
        self.sides = tuple(_with_model(side) for side in self.sides)
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
        from rigbench.model.machine import machine_facts

        gen_tokens = self._check()
        self.progress.stage("reading this machine")
        self.run_id = self.store.create_run(kind="compare", spec=None, params=self._params(gen_tokens),
                                            command=self.opts.command, machine=machine_facts(),
                                            tool_version=__version__)
        for n in self.opts.notes:
            self.note(n)
        load = self.load = OtherLoad()
        try:
            with load:
                self._measure(gen_tokens)
            self._record_load(load)
            self.store.finish_run(self.run_id, "complete")
        except KeyboardInterrupt:
            self.store.finish_run(self.run_id, "incomplete", "interrupted (Ctrl-C)")
            raise Interrupted(f"interrupted; compare {self.run_id} keeps what was measured",
                              f"see it with rigbench report {self.run_id}") from None
        except RigbenchError as exc:
            measured = any(r["phase"] == "compare" for r in self.store.requests(self.run_id))
            self.store.finish_run(self.run_id, "incomplete" if measured else "failed", exc.one_line())
            if measured:
                exc.hint = f"{exc.hint + '; ' if exc.hint else ''}compare {self.run_id} keeps what was measured " \
                           f"(rigbench report {self.run_id})"
            raise
        self.progress.stage("done")
        return compare_summary(self.store, self.run_id)

    def _record_load(self, load: OtherLoad) -> None:
        import psutil

        cores = psutil.cpu_count() or 1
        busy = round(load.cores_busy(), 2)
        run = self.store.get_run(self.run_id) or {}
        servers = load.server_cores_busy()
        other: dict[str, Any] = {"cores_busy": busy, "cores": cores}
        if load.server_roots:
            other["excluded_server_pids"] = sorted(load.server_roots)
            other["servers_cores_busy"] = round(servers, 2) if servers is not None else None
        self.store.update_run(self.run_id, extra={**(run.get("extra") or {}), "other_load": other})
        if busy > 0.25 * cores:
            self.note(f"other processes kept {busy:.2f} of {cores} cores busy while this compare ran: a side with "
                      "more threads than free cores suffers most, so the verdict holds for a machine this busy")

    # -- measuring ---------------------------------------------------------------------
    def _measure(self, gen_tokens: int) -> None:
        timeouts = Timeouts(connect_s=10.0, read_s=self.opts.timeout_s or 300.0)
        extra: dict[str, Any] = {"sides": {}}
        with contextlib.ExitStack() as stack:
            sessions: dict[str, Session] = {}
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
                sessions[side.name] = s
                extra["sides"][side.name] = {"server_facts": s.facts.to_json(),
                                             "model": model_info(s.facts, side.engine)}
                for what in s.facts.unavailable:
                    self.note(f"{side.name.upper()}: {unavailable_note(what)}")
                s.client.on_unavailable = self._learned(side.name, s, extra)
                if side.kind == "url":  # a server on this machine is measured, not other load
                    self.load.watch(s.facts.base_url)
            first = next(iter(extra["sides"].values()))
            if first.get("model"):
                self.store.set_model(self.run_id, first["model"])
            self.store.update_run(self.run_id, extra=extra)
            self._check_same_model(extra["sides"])
            for name, s in sessions.items():
                self.progress.stage(f"warming up {name.upper()}")
                warm = s.client.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, timeouts=timeouts)
                self.store.add_request(self.run_id, warm, phase="warmup", role=name)
                if not warm.ok:
                    raise RigbenchError(f"the warm-up request to {name.upper()} failed: {warm.error}",
                                        "check that the server can answer a chat completion")
            if self.opts.session:
                self._session(sessions, gen_tokens, timeouts)
            else:
                self._depths(sessions, gen_tokens, timeouts)

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

    def _granted(self, sessions: Mapping[str, Session]) -> int | None:
        known = [s.facts.granted_context for s in sessions.values() if s.facts.granted_context]
        return min(known) if known else None

    def _plan_depths(self, sessions: Mapping[str, Session], gen_tokens: int) -> list[int]:
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
        depths, skipped = fit_context(wanted, self._granted(sessions), _NEED_AFTER + gen_tokens)
        for d, why in skipped:
            self.note(f"depth {d:,} skipped: {why}")
        params = dict((self.store.get_run(self.run_id) or {}).get("params") or {})
        params["planned_depths"] = depths
        self.store.update_run(self.run_id, params=params)
        return depths

    def _depths(self, sessions: Mapping[str, Session], gen_tokens: int, timeouts: Timeouts) -> None:
        depths = self._plan_depths(sessions, gen_tokens)
        if not sessions or not depths:
            return
        client = next(iter(sessions.values())).client
        text = ContextText(client)
        if text.method == "calibrated":
            cpt = text.calibrate(lambda s: client.chat([{"role": "user", "content": s}], max_tokens=1).prompt_tokens)
            self.note(f"no /tokenize: context lengths calibrated ({cpt:.2f} characters per token)")
        guards = {n: FailureGuard(s, f"{n.upper()} ") for n, s in sessions.items()}
        cached: dict[str, int | None] = dict.fromkeys(sessions)
        self.progress.begin(len(depths) * self.opts.repeats * len(sessions), "compare")
        for i, depth in enumerate(depths):
            # one prompt per depth, repeated: a server that cannot roll its cache back
            # part-way (llama.cpp's checkpoints for sliding-window models) still reuses
            # all of it, where a different note per repeat would re-prefill the context
            messages = [{"role": "user", "content": text.text(depth) + probe_text(i)}]
            for rep in range(self.opts.repeats):
                for name, s in sessions.items():  # A then B, every repeat: A B A B
                    self.progress.advance(f"depth {depth:,} · repeat {rep + 1}/{self.opts.repeats} · {name.upper()}")
                    expected = cached[name] if rep == 0 else depth
                    rec, delta, slack = observed_chat(s.client, messages, max_tokens=gen_tokens, seed=rep,
                                                      timeouts=timeouts)
                    extra = reuse_extra(rec, delta, expected, slack, grow=rep == 0)
                    self.store.add_request(self.run_id, rec, phase="compare", depth=depth, rep=rep, role=name,
                                           keep_text=False,
                                           extra={"step": "grow" if rep == 0 else "probe", **extra,
                                                  "context_method": text.method})
                    if extra["cache_verified"] is False:
                        self.note(f"{name.upper()} at depth {depth:,}: the server re-prefilled the context "
                                  f"(cache_n {extra['server_cache_n']}, about {expected:,} expected)")
                    if extra["warm_cache_tokens"]:
                        self.note(warm_note(f"{name.upper()}: ", depth, extra["warm_cache_tokens"], rec,
                                            first=i == 0))
                    cached[name] = depth if rec.ok else None
                    guards[name].check(rec, f"depth {depth:,}")
        self.progress.end()

    def _session(self, sessions: Mapping[str, Session], gen_tokens: int, timeouts: Timeouts) -> None:
        if not sessions:
            return
        client = next(iter(sessions.values())).client
        granted = self._granted(sessions)
        turns = int(self.opts.session_turns or DEFAULT_TURNS)
        stored_plan = None
        for run in self.stored.values():  # replay the stored session's own script
            stored_plan = (run.get("params") or {}).get("session_plan")
        plan = session_plan(client, granted, gen_tokens, turns, stored_plan)
        params = dict((self.store.get_run(self.run_id) or {}).get("params") or {})
        params["session_plan"] = plan_json(plan)
        self.store.update_run(self.run_id, params=params)
        for n in plan.notes:
            self.note(n)
        script = build_turns(plan)
        loops = {n: AgentLoop(s.client, script, gen_tokens, timeouts, granted) for n, s in sessions.items()}
        guards = {n: FailureGuard(s, f"{n.upper()} ") for n, s in sessions.items()}
        self.progress.begin(len(script) * len(loops), "agent session, A and B in turn")
        for i in range(len(script)):
            if not all(loop.fits() for loop in loops.values()):
                self.note(f"the session stopped before turn {i + 1}: it would not fit {granted or 0:,} tokens")
                break
            for name, loop in loops.items():  # A then B, every turn
                self.progress.advance(f"turn {i + 1}/{len(script)} · {script[i].kind} · {name.upper()}")
                rec, turn, depth, extra = loop.step()
                self.store.add_request(self.run_id, rec, phase="compare", depth=depth, rep=turn.index, role=name,
                                       extra=extra)
                guards[name].check(rec, f"session turn {i + 1}")
        self.progress.end()


class OtherLoad:
    """CPU-seconds used by processes outside this one's tree while the block runs (sampled
    each second): a compare on a busy machine says so, since configurations with more
    threads than free cores suffer most. Servers being measured that run on this machine
    (found by the process that listens on their port, with its children) are not other
    load: their CPU time is kept apart."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.server_first: dict[int, float] = {}
        self.server_last: dict[int, float] = {}
        self.server_roots: set[int] = set()
        self.interval_s = interval_s
        self.wall_s = 0.0
        self._t0 = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="rigbench-load", daemon=True)

    def watch(self, base_url: str | None) -> list[int]:
        """Count the server at ``base_url`` as measured, not as other load, when it listens on
        this machine; returns the process ids found."""
        from rigbench.model.machine import local_listener_pids

        pids = local_listener_pids(base_url)
        with self._lock:
            self.server_roots |= set(pids)
            for pid in pids:  # its time so far is not this compare's load
                self.first.pop(pid, None)
                self.last.pop(pid, None)
        return pids

    def _servers(self) -> set[int]:
        import psutil

        out: set[int] = set()
        for pid in self.server_roots:
            try:
                proc = psutil.Process(pid)
                out |= {pid} | {c.pid for c in proc.children(recursive=True)}
            except psutil.Error:
                continue
        return out

    def _sample(self) -> None:
        import psutil

        me = psutil.Process(os.getpid())
        try:
            ours = {me.pid} | {c.pid for c in me.children(recursive=True)}
        except psutil.Error:
            return
        with self._lock:
            servers = self._servers()
            for p in psutil.process_iter():
                if p.pid in ours:
                    continue
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                first, last = (self.server_first, self.server_last) if p.pid in servers else (self.first, self.last)
                first.setdefault(p.pid, t.user + t.system)
                last[p.pid] = t.user + t.system

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __enter__(self) -> OtherLoad:
        self._t0 = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self.wall_s = time.monotonic() - self._t0

    def cores_busy(self) -> float:
        """Cores the other processes kept busy on average."""
        used = sum(self.last[p] - self.first[p] for p in self.last if p not in self.server_last)
        return used / self.wall_s if self.wall_s > 0 else 0.0

    def server_cores_busy(self) -> float | None:
        """Cores the measured servers on this machine (attached by URL) kept busy; None when
        none was found."""
        if not self.server_last:
            return None
        used = sum(self.server_last[p] - self.server_first[p] for p in self.server_last)
        return used / self.wall_s if self.wall_s > 0 else 0.0


def _with_model(side: Side) -> Side:
    """A launched llama-server needs a model file: the bundled one unless --model gave one."""
    if side.kind != "server" or side.engine is None or side.engine.model_path:
        return side
    from rigbench.engines.bundled import bundled_model_path

    return dataclasses.replace(side, engine=dataclasses.replace(side.engine, model_path=str(bundled_model_path())))


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
    out: dict[str, Any] = {
        "compare_id": run_id, "run_id": run_id, "kind": "compare", "status": run["status"],
        "reason": run.get("reason"), "created_at": run["created_at"],
        "a": _side_json(sides["a"], stored.get("a") or {}), "b": _side_json(sides["b"], stored.get("b") or {}),
        "mode": "session" if session else "depth",
        "interleaved": sides["a"].live and sides["b"].live,
        "other_load": (run.get("extra") or {}).get("other_load"),
        **result,
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
