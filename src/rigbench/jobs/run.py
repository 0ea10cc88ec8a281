"""The main job: ``rigbench run``. Start (or attach to) a server, probe it, sweep depths,
store every request as it ends, and leave the run ``complete`` or ``incomplete`` with a
reason. ``resume`` finishes an incomplete run without repeating finished points."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rigbench.client.probe import unavailable_note
from rigbench.client.stream import Timeouts
from rigbench.errors import RequestError
from rigbench.jobs.bench import PROBE_TOKENS, Bench
from rigbench.jobs.ceiling import ceiling_basis
from rigbench.jobs.lifecycle import Recording, recorded_run, stored_run_to_resume
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import merge_gguf_facts, model_info, open_session
from rigbench.jobs.summary import run_summary
from rigbench.jobs.sweep import SweepPlan, run_sweep
from rigbench.measure.plan import DEFAULT_DEPTHS, fit_context
from rigbench.model.machine import machine_facts
from rigbench.paths import run_dir
from rigbench.results import RunResult
from rigbench.store import Store, open_store
from rigbench.types import EngineSpec

__all__ = ["RunOptions", "resume_options", "run_job"]

_CORE_PARAMS = ("depths_requested", "gen_tokens", "repeats", "budget_s", "quality", "timeout_s")
PROBE_ALLOWANCE = PROBE_TOKENS


@dataclass
class RunOptions:
    spec: EngineSpec
    api_key: str | None = None
    depths: list[int] | None = None  # None: the default list, limited by context and budget
    gen_tokens: int = 128
    repeats: int = 3
    budget_s: float | None = None
    quality: bool = True
    timeout_s: float | None = None
    db: str | None = None
    command: str = ""
    extra_params: dict[str, Any] = field(default_factory=dict)
    power_cmd: str | None = None  # never stored: it may hold a smart plug's password
    energy_idle_s: float = 3.0  # the idle baseline once the server is up (0: none)
    energy: bool = True

    def params(self) -> dict[str, Any]:
        return {
            "depths_requested": self.depths,
            "gen_tokens": self.gen_tokens,
            "repeats": self.repeats,
            "budget_s": self.budget_s,
            "quality": self.quality,
            "timeout_s": self.timeout_s,
            **self.extra_params,
        }


def _default_budget(quality: bool) -> float:
    """The whole default ``rigbench run`` stays within 10 minutes on a 2-core machine:
    the sweep gets what the engine start and the quality pass leave."""
    return 240.0 if quality else 480.0


def _timeouts(opts: RunOptions) -> Timeouts:
    """``--timeout`` is the longest silence allowed in a stream; by default the sweep
    scales it with each request's work (see ``jobs.sweep.request_timeouts``)."""
    return Timeouts(connect_s=10.0, read_s=opts.timeout_s or 120.0, total_s=None)


def resume_options(store: Store, run_id: int, db: str | None, api_key: str | None) -> RunOptions:
    run = stored_run_to_resume(store, run_id, "run")
    params = dict(run["params"] or {})
    spec = EngineSpec.from_json(run["engine_spec"] or {})
    return RunOptions(spec=spec, api_key=api_key, depths=params.get("depths_requested"),
                      gen_tokens=int(params.get("gen_tokens") or 128), repeats=int(params.get("repeats") or 3),
                      budget_s=params.get("budget_s"), quality=bool(params.get("quality", True)),
                      timeout_s=params.get("timeout_s"), db=db,
                      extra_params={k: v for k, v in params.items() if k not in _CORE_PARAMS})


def run_job(opts: RunOptions, progress: Progress | None = None, *, resume: int | None = None) -> RunResult:
    progress = progress or NullProgress()
    store = open_store(opts.db)
    try:
        return _run(store, opts, progress, resume)
    finally:
        store.close()


def _run(store: Store, opts: RunOptions, progress: Progress, resume: int | None) -> RunResult:
    preflight(opts.spec)
    progress.stage("reading this machine")
    machine = machine_facts()
    from rigbench.energy.sampler import energy_monitors

    monitors = energy_monitors(opts.power_cmd, idle_s=opts.energy_idle_s) if opts.energy else []
    with recorded_run(store, kind="run", spec=opts.spec, params=opts.params(), command=opts.command,
                      machine=machine, resume=resume, monitors=monitors) as rec:
        _measure(rec, opts, machine, progress)
    progress.stage("done")
    return run_summary(store, rec.run_id)


def _measure(rec: Recording, opts: RunOptions, machine: dict[str, Any], progress: Progress) -> None:
    store, run_id, note = rec.store, rec.run_id, rec.note
    timeouts = _timeouts(opts)
    progress.stage("starting the engine" if opts.spec.kind != "url" else "probing the server")
    with open_session(opts.spec, run_dir(opts.db, run_id), api_key=opts.api_key, timeouts=timeouts,
                      start_timeout_s=opts.timeout_s) as session:
        store.update_run(run_id, server_facts=session.facts.to_json())
        info = model_info(session.facts, opts.spec)
        progress.stage("reading the model's header and the memory bandwidth")
        basis, gguf, ceiling_notes = ceiling_basis(session.facts, opts.spec, machine,
                                                   opts.extra_params.get("bandwidth"))
        if gguf:
            info = merge_gguf_facts(info, gguf)
        store.set_model(run_id, info)
        if basis:
            rec.merge_extra(ceiling=basis)
        for text in ceiling_notes:
            note(text)
        for what in session.facts.unavailable:
            note(unavailable_note(what))

        def learned(what: str) -> None:  # found out mid-run: in the notes and the facts when learned
            note(unavailable_note(what))
            store.update_run(run_id, server_facts=session.facts.to_json())

        session.client.on_unavailable = learned
        bench = Bench(rec, session, timeouts=timeouts, explicit_timeout=opts.timeout_s is not None)
        progress.stage("warming up")
        bench.warm_up(role="warmup")
        failed: list[str] = []
        if opts.extra_params.get("session") == "agent":
            from rigbench.jobs.agent import run_agent_session

            run_agent_session(bench, progress=progress, opts=opts)
        else:
            plan = _plan(store, run_id, opts, session.facts.granted_context, note)
            failed = run_sweep(bench, plan, progress)
        if opts.quality:
            _quality_pass(bench, opts, progress)
        if failed:
            raise RequestError(f"{len(failed)} speed request{'s' if len(failed) > 1 else ''} failed "
                               f"({failed[0]}); the card shows the rest",
                               "measure the missing points with --resume once the server is healthy")


def preflight(spec: EngineSpec) -> None:
    """Check local files before a run is recorded: a typo should not leave a failed run behind."""
    from rigbench.engines.modelfile import check_gguf_path

    if spec.model_path:
        check_gguf_path(spec.model_path)
    if spec.kind == "llama-server":
        from rigbench.engines.llama_server import LlamaServerEngine

        LlamaServerEngine(spec, log_dir=run_dir(None, "preflight")).check_binary()


def _plan(store: Store, run_id: int, opts: RunOptions, granted: int | None, note: Any) -> SweepPlan:
    run = store.get_run(run_id) or {}
    params = dict(run.get("params") or {})
    explicit = opts.depths is not None
    if "planned_depths" in params:
        depths = list(params["planned_depths"])
    else:
        wanted = list(opts.depths) if opts.depths is not None else list(DEFAULT_DEPTHS)
        depths, skipped = fit_context(wanted, granted, PROBE_ALLOWANCE + opts.gen_tokens)
        for d, why in skipped:
            note(f"depth {d:,} skipped: {why}")
        params["planned_depths"] = depths
        store.update_run(run_id, params=params)
    budget = opts.budget_s if opts.budget_s is not None else (None if explicit else _default_budget(opts.quality))
    done = {
        (int(r["depth"]), int(r["rep"]))
        for r in store.requests(run_id, phase="speed")
        if r["status"] == "ok" and r["depth"] is not None and r["rep"] is not None
    }
    return SweepPlan(depths=depths, repeats=opts.repeats, gen_tokens=opts.gen_tokens, budget_s=budget, done=done)


def _quality_pass(bench: Bench, opts: RunOptions, progress: Progress) -> None:
    from rigbench.quality.runner import run_quality

    run_quality(bench, progress=progress, note=bench.rec.note, opts=opts)
