"""``rigbench tune``: a campaign over llama.cpp settings, kept or discarded with evidence.

Trial 0 is always the engine's defaults (no flags). Then the search: every configuration
of a small space (``EXHAUSTIVE_MAX`` or fewer), in the space's run order; optuna's TPE for
a larger one, its study kept in the same database as the results (study name
``rigbench-tune-<campaign id>``). Each trial is checked before launch (a combination
llama.cpp would refuse, a cache that cannot fit in memory: ``rejected``), started fresh
(llama.cpp reads every flag of the space at load), measured (``trial.py``), and kept or
discarded against the incumbent (``journal.py``); a server that does not start is
``failed`` with its log tail, never scored. The best few are re-measured side by side with
the defaults (``final.py``) before the winner is declared.

A campaign is a run of kind "tune": every request is in ``requests``, every trial and
decision in ``tune_trials``. Ctrl-C or an error leaves it ``incomplete`` with the reason;
``rigbench tune --resume ID`` measures only what is missing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigbench.client.stream import Timeouts
from rigbench.errors import EngineError, EngineStartError, RequestError, UsageError
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording, recorded_run, stored_run_to_resume
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import Session, model_info, open_session
from rigbench.measure.stats import summarize
from rigbench.model.machine import machine_facts
from rigbench.paths import run_dir
from rigbench.results import TuneResult
from rigbench.store import Store, open_store
from rigbench.store.trials import add_trial, list_trials, update_trial
from rigbench.tune.final import Entrant, remeasure
from rigbench.tune.fit import MemoryCheck, concurrent_fit
from rigbench.tune.gate import GateScores, gate_verdict, grade_subset
from rigbench.tune.journal import (
    change_list,
    decide,
    effective_defaults,
    figure_summary,
    hypothesis,
    restart_statement,
)
from rigbench.tune.objective import DEFAULT_GEN_TOKENS, Objective, Workload, plan_workload, rep_scores, trial_score
from rigbench.tune.result import server_labels, tune_summary
from rigbench.tune.space import EMBEDDED, SERVER, Config, Space, combination_problem
from rigbench.tune.trial import TrialFigures, TrialSchedule, load_average, log_tail, measure_trial
from rigbench.types import EngineSpec

__all__ = ["DEFAULT_BUDGET", "EXHAUSTIVE_MAX", "TuneOptions", "resume_options", "startup_trials", "tpe_sampler",
           "tune_job"]

EXHAUSTIVE_MAX = 12
DEFAULT_BUDGET = 12  # trials after the baseline, when the space is searched
FINALISTS = 3
_DUP_LIMIT = 8


@dataclass
class TuneOptions:
    space: Space
    objective: Objective
    model: str | None = None
    server: str | None = None  # the one --server; None: the embedded engine (unless the space has servers)
    budget_trials: int | None = None
    budget_s: float | None = None
    repeats: int = 3
    seed: int = 0
    timeout_s: float | None = None
    db: str | None = None
    command: str = ""
    finalists: int = FINALISTS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    power_cmd: str | None = None  # never stored: it may hold a smart plug's password

    def params(self) -> dict[str, Any]:
        return {"space": self.space.to_json(), "objective": self.objective.to_json(), "model": self.model,
                "server": self.server, "budget_trials": self.budget_trials, "budget_s": self.budget_s,
                "repeats": self.repeats, "seed": self.seed, "timeout_s": self.timeout_s,
                "finalists": self.finalists, "gen_tokens": self.gen_tokens}

    @classmethod
    def from_params(cls, p: dict[str, Any], *, db: str | None, command: str = "") -> TuneOptions:
        obj = p["objective"]
        return cls(space=Space.from_json(p["space"]), objective=Objective(str(obj["kind"]), int(obj["depth"])),
                   model=p.get("model"), server=p.get("server"), budget_trials=p.get("budget_trials"),
                   budget_s=p.get("budget_s"), repeats=int(p.get("repeats") or 3), seed=int(p.get("seed") or 0),
                   timeout_s=p.get("timeout_s"), db=db, command=command,
                   finalists=int(p.get("finalists") or FINALISTS),
                   gen_tokens=int(p.get("gen_tokens") or DEFAULT_GEN_TOKENS))


@dataclass
class _Trial:
    n: int
    config: Config
    status: str
    figures: TrialFigures = field(default_factory=TrialFigures)
    score: float | None = None
    decision: str | None = None
    gate: GateScores | None = None
    gate_passed: bool | None = None  # False: a lossy change failed its quality gate; it never wins


def startup_trials(n_dims: int) -> int:
    """Random trials before TPE models the space: few, since every trial is a server start."""
    return min(10, max(3, n_dims + 1))


def tpe_sampler(seed: int, n_dims: int) -> Any:
    """The campaign's sampler (``bench/tune_search.py`` replays searches with the same one)."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the library never prints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials(n_dims), multivariate=True)


def resume_options(store: Store, run_id: int, db: str | None) -> TuneOptions:
    run = stored_run_to_resume(store, run_id, "tune", allow_complete=True)
    return TuneOptions.from_params(dict(run["params"] or {}), db=db, command=str(run.get("command") or ""))


def tune_job(opts: TuneOptions, progress: Progress | None = None, *, resume: int | None = None) -> TuneResult:
    store = open_store(opts.db)
    try:
        if resume is not None:
            run = store.get_run(resume)
            if run is not None and run["status"] == "complete":
                return tune_summary(store, resume)
        return _Campaign(store, opts, progress or NullProgress(), resume).run()
    finally:
        store.close()


def _preflight(opts: TuneOptions) -> None:
    from rigbench.engines.llama_server import LlamaServerEngine
    from rigbench.engines.modelfile import check_gguf_path

    if opts.model:
        check_gguf_path(opts.model)
    servers = [s for s in (*opts.space.servers, opts.server) if s and s != EMBEDDED]
    if servers and not opts.model:
        raise UsageError("llama-server needs a model file", "rigbench tune MODEL.gguf --server PATH --space ...")
    for s in servers:
        LlamaServerEngine(EngineSpec(kind="llama-server", model_path=opts.model, server_bin=s),
                          log_dir=run_dir(None, "preflight")).check_binary()


class _Campaign:
    def __init__(self, store: Store, opts: TuneOptions, progress: Progress, resume: int | None) -> None:
        self.store, self.opts, self.progress, self.resume = store, opts, progress, resume
        self.trials: dict[int, _Trial] = {}
        self.incumbent = 0
        self.workload: Workload | None = None
        self.defaults: dict[str, str] = {}
        self.last_launched: tuple[int, Config] | None = None
        self.labels = server_labels(opts.space.servers)
        self.started = time.monotonic()
        self.run_id = 0
        self._rec: Recording | None = None
        self.model = opts.model
        self.memory: MemoryCheck | None = None
        self.cores: int | None = None

    # -- bookkeeping --------------------------------------------------------------------------
    @property
    def rec(self) -> Recording:
        assert self._rec is not None, "the campaign is recorded once run() opens it"
        return self._rec

    def note(self, text: str) -> None:
        self.store.add_note(self.run_id, text)

    def _schedule(self, session: Session, n: int) -> TrialSchedule:
        """Trial ``n``'s schedule over the one bench of the server that runs it."""
        assert self.workload is not None
        return TrialSchedule(Bench(self.rec, session, timeouts=self._timeouts(),
                                   explicit_timeout=self.opts.timeout_s is not None), n, self.workload)

    @property
    def base_config(self) -> Config:
        servers = self.opts.space.servers
        return Config((), servers[0] if servers else None)

    def _spec(self, cfg: Config) -> EngineSpec:
        server = cfg.server if cfg.server is not None else self.opts.server
        if server is None or server == EMBEDDED:
            return EngineSpec(kind="embedded", model_path=self.model, flags=cfg.flags)
        return EngineSpec(kind="llama-server", model_path=self.model, server_bin=server, flags=cfg.flags)

    def _timeouts(self) -> Timeouts:
        return Timeouts(connect_s=10.0, read_s=self.opts.timeout_s or 120.0, total_s=None)

    def _log_dir(self) -> Path:
        return run_dir(self.opts.db, self.run_id)

    def _tune_extra(self, **values: Any) -> None:
        run = self.store.get_run(self.run_id) or {}
        extra = dict(run.get("extra") or {})
        extra["tune"] = {**(extra.get("tune") or {}), **values}
        self.store.update_run(self.run_id, extra=extra)

    def _full(self, cfg: Config) -> dict[str, str]:
        d = cfg.flags_dict()
        server = cfg.server if cfg.server is not None else (self.opts.server or EMBEDDED)
        d[SERVER] = server
        return d

    def _defaults_full(self) -> dict[str, str]:
        return {**self.defaults, SERVER: self.base_config.server or self.opts.server or EMBEDDED}

    def _load_seen(self, before: float | None) -> list[float] | None:
        """The load average around a trial; a machine busier than its cores gets a campaign note."""
        after = load_average()
        if before is None or after is None:
            return None
        if self.cores and max(before, after) > self.cores + 0.5:
            self.note(f"other processes kept this machine busy (load average above {self.cores} on {self.cores} "
                      "cores during some trials): settings that need every core, such as one thread per core, "
                      "suffer most; compare the load lines in the journal, and re-run on a quiet machine before "
                      "trusting a thread count")
        return [round(before, 2), round(after, 2)]

    def _med(self, n: int) -> tuple[float | None, float | None]:
        f = self.trials[n].figures
        return summarize(f.prefill).median, summarize(f.objective_decode(self.opts.objective.kind)).median

    def _energy(self, figs: dict[int, TrialFigures], stage: str) -> None:
        """The energy objective's tokens per joule for the trials just measured."""
        if self.opts.objective.kind != "energy":
            return
        from rigbench.tune.energy import fill_energy

        if not fill_energy(self.store, self.run_id, figs, stage=stage):
            for f in figs.values():
                f.errors.append("no energy reading covers its decode requests")

    # -- the run --------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        _preflight(self.opts)
        self.progress.stage("reading this machine")
        machine = machine_facts()
        self.cores = machine.get("cores")
        if self.model is None and not any(s != EMBEDDED for s in (*self.opts.space.servers, self.opts.server) if s):
            from rigbench.engines.bundled import bundled_model_path

            self.model = str(bundled_model_path())
        self.memory = MemoryCheck(self.model)
        from rigbench.energy.sampler import energy_monitors

        with recorded_run(self.store, kind="tune", spec=self._spec(self.base_config), params=self.opts.params(),
                          command=self.opts.command, machine=machine, resume=self.resume,
                          monitors=energy_monitors(self.opts.power_cmd),
                          measured=lambda _s, _r: any(t.status == "measured" for t in self.trials.values())) as rec:
            self._rec, self.run_id = rec, rec.run_id
            if self.resume is not None:
                self._load()
            self._baseline()
            self._search()
            self._final()
        self.progress.stage("done")
        return tune_summary(self.store, self.run_id)

    def _load(self) -> None:
        run = self.store.get_run(self.run_id) or {}
        tune = (run.get("extra") or {}).get("tune") or {}
        params = run.get("params") or {}
        if params.get("workload"):
            self.workload = Workload.from_json(params["workload"])
        self.defaults = dict(tune.get("defaults") or {})
        for row in list_trials(self.store, self.run_id):
            extra = row.get("extra") or {}
            t = _Trial(int(row["n"]), Config.from_json(row["config"]), str(row["status"]),
                       TrialFigures.from_json(row.get("figures") or {}), extra.get("score"), row.get("decision"),
                       GateScores.from_json(extra.get("gate")), extra.get("gate_passed"))
            self.trials[t.n] = t
            if t.decision == "keep":
                self.incumbent = t.n  # decisions replay in order: the last kept is the incumbent
        self.note(f"resumed: {sum(t.status != 'running' for t in self.trials.values())} trials already recorded")

    # -- trial 0 --------------------------------------------------------------------------------
    def _baseline(self) -> None:
        t0 = self.trials.get(0)
        if t0 is not None and t0.status == "measured":
            return
        cfg = self.base_config
        add_trial(self.store, self.run_id, 0, config=cfg.to_json(), config_key=cfg.key(), status="running",
                  extra={"label": "defaults"})
        self.progress.stage("trial 0: starting the engine with its defaults")
        load0 = load_average()
        try:
            with open_session(self._spec(cfg), self._log_dir(), timeouts=self._timeouts(),
                              start_timeout_s=self.opts.timeout_s) as session:
                self.last_launched = (0, cfg)
                facts = session.facts
                self.store.update_run(self.run_id, server_facts=facts.to_json())
                self.store.set_model(self.run_id, model_info(facts, session.spec))
                self.defaults = effective_defaults(facts.log_facts, log_tail(facts.log_path, 10_000))
                self._tune_extra(defaults=self.defaults, model_path=facts.model_path or self.model)
                if self.workload is None:
                    self.workload = plan_workload(self.opts.objective, self.opts.space.max_ubatch(),
                                                  facts.granted_context, self.opts.repeats, self.opts.gen_tokens)
                    run = self.store.get_run(self.run_id) or {}
                    self.store.update_run(self.run_id, params={**(run.get("params") or {}),
                                                               "workload": self.workload.to_json()})
                    for text in self.workload.notes:
                        self.note(text)
                bench = self._schedule(session, 0)
                bench.prepare()
                figs = measure_trial(bench, lambda s: self.progress.stage(f"trial 0 (defaults): {s}"))
                self._energy({0: figs}, "search")
                load = self._load_seen(load0)
                gate = grade_subset(bench.bench, 0) if self.opts.space.lossy else None
        except EngineStartError as exc:
            update_trial(self.store, self.run_id, 0, status="failed", decision="discard", log_tail=exc.log_tail,
                         reason=f"failed to start: {exc.one_line()}")
            raise EngineStartError(f"the default configuration did not start: {exc.message}", exc.hint,
                                   log_tail=exc.log_tail) from None
        if summarize(figs.prefill).median is None or summarize(figs.objective_decode(
                self.opts.objective.kind)).median is None:
            update_trial(self.store, self.run_id, 0, status="failed", decision="discard",
                         reason=f"no request succeeded: {'; '.join(figs.errors[:2])}")
            raise RequestError(f"the default configuration could not be measured ({'; '.join(figs.errors[:1])})",
                               "read the server's log")
        t = _Trial(0, cfg, "measured", figs, 1.0, "keep", gate)
        self.trials[0] = t
        evidence = {"prefill": figure_summary(figs.prefill), "decode": figure_summary(figs.decode)}
        update_trial(self.store, self.run_id, 0, status="measured", decision="keep", figures=figs.to_json(),
                     evidence=evidence, hypothesis="the engine's defaults: the reference every trial is compared with",
                     reason="baseline: no flags at all; what a default launch gives",
                     extra={"label": "defaults", "score": 1.0, "gate": gate.to_json() if gate else None,
                            "restart": "a fresh server", "notes": figs.notes, "load": load})

    # -- one trial -----------------------------------------------------------------------------
    def _trial(self, n: int, cfg: Config, optuna_number: int | None = None) -> _Trial:
        assert self.workload is not None and self.memory is not None
        inc = self.trials[self.incumbent]
        defaults = self._defaults_full()
        hyp = hypothesis(change_list(self._full(inc.config), self._full(cfg), defaults), cores=self.cores,
                         servers=self.labels)
        prev = self.last_launched
        restart = restart_statement(change_list(self._full(prev[1]), self._full(cfg), defaults) if prev else [],
                                    prev[0] if prev else None)
        label = cfg.label(self.labels)
        extra: dict[str, Any] = {"label": label, "restart": restart, "optuna_trial": optuna_number,
                                 "incumbent": self.incumbent}
        base: dict[str, Any] = {"config": cfg.to_json(), "config_key": cfg.key(), "hypothesis": hyp}

        def record(status: str, reason: str, *, log: str | None = None, **more: Any) -> _Trial:
            add_trial(self.store, self.run_id, n, status=status, decision="discard", reason=reason, log_tail=log,
                      extra={**extra, **more}, **base)
            t = _Trial(n, cfg, status, decision="discard")
            self.trials[n] = t
            return t

        problem = combination_problem(cfg.flags_dict())
        if problem is None:
            problem = self.memory.problem(cfg.flags_dict())
        if problem is not None:
            return record("rejected", f"rejected before launch: {problem}", restart=None)
        add_trial(self.store, self.run_id, n, status="running", extra=extra, **base)
        self.progress.stage(f"trial {n}: starting {label}")
        load0 = load_average()
        log_path: str | None = None
        try:
            with open_session(self._spec(cfg), self._log_dir(), timeouts=self._timeouts(),
                              start_timeout_s=self.opts.timeout_s) as session:
                self.last_launched = (n, cfg)
                log_path = session.facts.log_path
                unfit = self.workload.fits(session.facts.granted_context)
                if unfit is not None:
                    return record("rejected", f"rejected after launch: {unfit}")
                bench = self._schedule(session, n)
                bench.prepare()
                figs = measure_trial(bench, lambda s: self.progress.stage(f"trial {n} ({label}): {s}"))
                self._energy({n: figs}, "search")
                extra["load"] = self._load_seen(load0)
                gate = grade_subset(bench.bench, n) if cfg.lossy else None
        except EngineStartError as exc:
            return record("failed", f"failed to start: {exc.one_line()}", log=exc.log_tail or log_tail(log_path))
        except (EngineError, RequestError) as exc:
            return record("failed", f"failed while measured: {exc.one_line()}", log=log_tail(log_path))
        bp, bd = self._med(0)
        kind = self.opts.objective.kind
        if summarize(figs.prefill).median is None or summarize(figs.objective_decode(kind)).median is None:
            return record("failed", f"no request succeeded: {'; '.join(figs.errors[:2])}", log=log_tail(log_path))
        gate_v = gate_verdict(self.trials[0].gate, gate) if cfg.lossy else None
        d = decide(objective=self.opts.objective.text,
                   trial_scores=rep_scores(kind, figs.prefill, figs.objective_decode(kind), bp, bd),
                   incumbent_scores=rep_scores(kind, inc.figures.prefill, inc.figures.objective_decode(kind), bp, bd),
                   trial_prefill=figs.prefill, trial_decode=figs.decode, incumbent_prefill=inc.figures.prefill,
                   incumbent_decode=inc.figures.decode, incumbent=self.incumbent, gate=gate_v)
        s = trial_score(kind, figs.prefill, figs.objective_decode(kind), bp, bd)
        t = _Trial(n, cfg, "measured", figs, s, d.decision, gate, gate_v[0] if gate_v else None)
        self.trials[n] = t
        update_trial(self.store, self.run_id, n, status="measured", decision=d.decision, reason=d.reason,
                     figures=figs.to_json(), evidence=d.evidence,
                     extra={**extra, "score": s, "gate": gate.to_json() if gate else None,
                            "gate_passed": gate_v[0] if gate_v else None, "notes": figs.notes})
        if d.decision == "keep":
            self.incumbent = n
        return t

    # -- the search ----------------------------------------------------------------------------
    def _budget_left(self) -> bool:
        done = sum(1 for t in self.trials.values() if t.n > 0 and t.status in ("measured", "failed"))
        limit = self.opts.budget_trials
        if limit is None and self.opts.budget_s is None and self.opts.space.size > EXHAUSTIVE_MAX:
            limit = DEFAULT_BUDGET
        if limit is not None and done >= limit:
            return False
        return not (self.opts.budget_s is not None and time.monotonic() - self.started >= self.opts.budget_s)

    def _next_n(self) -> int:
        return max(self.trials) + 1 if self.trials else 1

    def _search(self) -> None:
        points = self.opts.space.points()
        base_key = self.base_config.key()
        if any(c.key() == base_key for _p, c in points):
            self.note("one configuration of the space is the defaults themselves: trial 0 stands for it")
        candidates = [(p, c) for p, c in points if c.key() != base_key]
        running = {t.config.key(): t.n for t in self.trials.values() if t.status == "running" and t.n > 0}
        if len(candidates) <= EXHAUSTIVE_MAX:
            self._tune_extra(search=f"exhaustive: all {len(candidates)} configurations, in run order")
            done = {t.config.key() for t in self.trials.values() if t.status != "running"}
            for _p, cfg in candidates:
                if cfg.key() in done:
                    continue
                if not self._budget_left():
                    self.note(f"the budget ended the search before {cfg.label(self.labels)}")
                    break
                self._trial(running.pop(cfg.key(), 0) or self._next_n(), cfg)
            return
        self._optuna(candidates, running)

    def _storage_url(self) -> str:
        return self.store.engine.url.render_as_string(hide_password=False)

    def _optuna(self, candidates: list[tuple[dict[str, str], Config]], running: dict[str, int]) -> None:
        import optuna
        from optuna.distributions import BaseDistribution, CategoricalDistribution
        from optuna.trial import TrialState

        startup = startup_trials(self.opts.space.searched_dims)
        self._tune_extra(search=f"optuna TPE (seed {self.opts.seed}, {startup} random start-up trials) over "
                                f"{len(candidates)} configurations; study rigbench-tune-{self.run_id} in this "
                                "database")
        sampler = tpe_sampler(self.opts.seed, self.opts.space.searched_dims)
        study = optuna.create_study(study_name=f"rigbench-tune-{self.run_id}",
                                    storage=optuna.storages.RDBStorage(url=self._storage_url()),
                                    sampler=sampler, direction="maximize", load_if_exists=True)
        for ft in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(ft.number, state=TrialState.FAIL)
        params_of = {c.key(): p for p, c in candidates}
        for key in running:
            study.enqueue_trial(params_of[key])
        dists: dict[str, BaseDistribution] = {d.name: CategoricalDistribution(list(d.values))
                                              for d in self.opts.space.dims}
        by_key = {t.config.key(): t for t in self.trials.values() if t.status != "running"}
        dupes = 0
        while self._budget_left():
            ot = study.ask(dists)
            cfg = self.opts.space.config({k: str(v) for k, v in ot.params.items()})
            known = self.trials[0] if cfg.key() == self.base_config.key() else by_key.get(cfg.key())
            if known is not None:
                if known.score is not None:
                    study.tell(ot, known.score)
                else:
                    study.tell(ot, state=TrialState.FAIL)
                dupes += 1
                if dupes >= _DUP_LIMIT:
                    nxt = next((p for p, c in candidates if c.key() not in by_key), None)
                    if nxt is None:
                        self.note("every configuration of the space has been tried")
                        return
                    self.note("TPE kept proposing configurations already measured: the next untried one "
                              "in run order was queued")
                    study.enqueue_trial(nxt)
                    dupes = 0
                continue
            dupes = 0
            n = running.pop(cfg.key(), 0) or self._next_n()
            ot.set_user_attr("rigbench_trial", n)
            t = self._trial(n, cfg, optuna_number=ot.number)
            by_key[cfg.key()] = t
            if t.status == "measured" and t.score is not None:
                study.tell(ot, t.score)
            else:
                study.tell(ot, state=TrialState.FAIL)

    # -- the final -----------------------------------------------------------------------------
    def _final(self) -> None:
        from rigbench.measure.stats import paired

        assert self.workload is not None and self.memory is not None
        kind = self.opts.objective.kind
        bp, bd = self._med(0)
        ok = [t for t in self.trials.values() if t.n > 0 and t.status == "measured" and t.score is not None
              and t.gate_passed is not False]
        ok.sort(key=lambda t: -(t.score or 0.0))
        if not ok:
            self._tune_extra(final={"statement": "no trial besides the defaults was measured: the defaults stand",
                                    "participants": []}, winner_trial=0)
            return
        best = ok[0]
        best_scores = rep_scores(kind, best.figures.prefill, best.figures.objective_decode(kind), bp, bd)
        finalists = [best]
        for t in ok[1:]:
            if len(finalists) >= self.opts.finalists:
                break
            vs = paired(best_scores, rep_scores(kind, t.figures.prefill, t.figures.objective_decode(kind), bp, bd))
            if vs.verdict == "a_faster":
                continue  # clearly slower than the best already: not worth a re-measure
            finalists.append(t)
        entrants = [*finalists, self.trials[0]]
        labels = {t.n: (t.config.label(self.labels) if t.n else "defaults") for t in entrants}
        together, how = concurrent_fit(self.memory, [t.config.flags_dict() for t in entrants])
        how = f"{self.workload.repeats} rounds, {how}"
        self.progress.stage("final: re-measuring the best side by side with the defaults")
        remeasure([Entrant(t.n, labels[t.n], self._spec(t.config)) for t in entrants], rec=self.rec,
                  workload=self.workload, log_dir=self._log_dir(),
                  timeouts=self._timeouts(), start_timeout_s=self.opts.timeout_s,
                  explicit_timeout=self.opts.timeout_s is not None, together=together,
                  advance=self.progress.stage)
        # inputs only: the participants, the statement and the winner are recomputed from the
        # final's requests on read (tune.result, through tune.final.pick_winner)
        self._tune_extra(final={"entrants": [[t.n, labels[t.n]] for t in entrants], "how": how,
                                "excluded": [t.n for t in ok[1:] if t not in finalists], "search_best": best.n})

