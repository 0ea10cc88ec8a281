"""``rigbench lab``: each technique interleaved with the baseline, on grounded and open work.

The baseline's server stays up for the whole lab. Each technique arm gets a server of
its own (the baseline's flags plus its change), started next to it, and the requests
alternate baseline, arm, baseline, arm, with the same prompt in each pair, as
``rigbench compare`` does; then the arm's server stops and the next arm starts. Every
request is greedy (temperature 0, top_k 1) and prefills its whole prompt (no prompt
cache), so both servers of a pair compute exactly the same thing, which the identity
check relies on. A lossy KV cache also answers the quality gate's prompts (``tune.gate``).
The figures and verdicts are ``lab.figures`` and ``lab.verdict``'s; this module does the I/O.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.stream import Timeouts
from rigbench.errors import UsageError
from rigbench.jobs.bench import Bench, Sent
from rigbench.jobs.lifecycle import Recording, recorded_run
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import Session, model_info, open_session
from rigbench.lab.techniques import BASELINE, Arm, embedded_speculative, plan_arms, server_args
from rigbench.lab.workload import lab_ask, task_for
from rigbench.paths import run_dir
from rigbench.quality.prompts import Ask, Mode
from rigbench.results import LabResult
from rigbench.store import Store, open_store
from rigbench.types import EngineSpec, RequestRecord

__all__ = ["DEFAULT_DEPTHS", "DEFAULT_GEN_TOKENS", "DEFAULT_REPEATS", "LabOptions", "lab_job"]

DEFAULT_REPEATS = 8  # two rounds of the four tasks per kind of work
DEFAULT_GEN_TOKENS = 128
DEFAULT_DEPTHS = (0,)
_TASK_ALLOWANCE = 512  # the task's own text and the template around it


@dataclass
class LabOptions:
    model: str | None = None  # GGUF (None: the bundled model)
    server_bin: str | None = None  # llama-server; None: the embedded engine
    flags: dict[str, Any] = field(default_factory=dict)  # llama.cpp flags every arm shares
    extra_args: tuple[str, ...] = ()
    draft: str | None = None
    lookup: tuple[str, ...] = ()
    kv: tuple[str, ...] = ()
    draft_max: tuple[int, ...] | None = None
    synthetic: tuple[float, ...] = ()
    depths: list[int] | None = None
    repeats: int = DEFAULT_REPEATS
    gen_tokens: int = DEFAULT_GEN_TOKENS
    quality: bool = True
    timeout_s: float | None = None
    db: str | None = None
    command: str = ""
    notes: list[str] = field(default_factory=list)


def lab_job(opts: LabOptions, progress: Progress | None = None) -> LabResult:
    store = open_store(opts.db)
    try:
        return _Lab(store, opts, progress or NullProgress()).run()
    finally:
        store.close()


class _Lab:
    def __init__(self, store: Store, opts: LabOptions, progress: Progress) -> None:
        self.store, self.opts, self.progress = store, opts, progress
        self.run_id = 0
        self._rec: Recording | None = None
        self.base_spec = self._spec(opts.flags, ())
        self.arms: list[Arm] = []
        self.server_names: dict[str, str] = {}
        self.server_types: tuple[str, ...] = ()
        self.type_values: dict[str, int] = {}
        self.timeouts = Timeouts(connect_s=10.0, read_s=opts.timeout_s or 300.0)
        self.gate: dict[str, Any] = {}

    def _spec(self, flags: dict[str, Any], extra: tuple[str, ...]) -> EngineSpec:
        from rigbench.engines.flags import normalize_flags

        norm = normalize_flags(flags)
        if self.opts.server_bin:
            return EngineSpec(kind="llama-server", model_path=self.opts.model, server_bin=self.opts.server_bin,
                              flags=norm, extra_args=tuple(self.opts.extra_args) + extra)
        return EngineSpec(kind="embedded", model_path=self.opts.model, flags=norm)

    @property
    def rec(self) -> Recording:
        assert self._rec is not None, "the lab is recorded once run() opens it"
        return self._rec

    def note(self, text: str) -> None:
        self.store.add_note(self.run_id, text)

    # -- before anything is recorded ----------------------------------------------------
    def _check(self) -> None:
        from rigbench.engines.modelfile import check_gguf_path
        from rigbench.jobs.run import preflight

        if not (self.opts.draft or self.opts.lookup or self.opts.kv or self.opts.synthetic):
            raise UsageError("no technique to measure",
                             "pass --draft DRAFT.gguf, --lookup, --kv q8_0 or --synthetic-acceptance 0.5")
        if self.opts.server_bin and not self.opts.model:
            from rigbench.engines.bundled import bundled_model_path

            self.opts.model = str(bundled_model_path())
            self.base_spec = self._spec(self.opts.flags, ())
        preflight(self.base_spec)
        if self.opts.draft:
            self.opts.draft = str(check_gguf_path(self.opts.draft).resolve())
        model = self.opts.model or _bundled()
        self.arms = plan_arms(draft=self.opts.draft, lookup=self.opts.lookup, kv=self.opts.kv,
                              draft_max=self.opts.draft_max, synthetic=self.opts.synthetic, model=model)
        if self.opts.server_bin:
            from rigbench.engines.llama_server import server_help
            from rigbench.lab.techniques import help_spec_types, resolve_names

            text = server_help(self.opts.server_bin)
            self.server_names, self.server_types = resolve_names(text), help_spec_types(text)
            for arm in self.arms:
                server_args(arm, self.server_names, self.server_types)  # a name this build lacks fails now
        else:
            import xllamacpp as xl

            from rigbench.lab.techniques import type_values

            self.type_values = type_values(dict(xl.common_speculative_type.__members__))
            for arm in self.arms:
                embedded_speculative(arm, self.type_values)
        if any(a.kv for a in self.arms) and str(self.opts.flags.get("fa") or "").lower() == "off":
            self.opts.notes.append("the KV-cache arms run with -fa on: llama.cpp needs flash attention for a "
                                   "quantized V cache (the baseline keeps -fa off)")

    def _params(self) -> dict[str, Any]:
        return {"arms": [a.to_json() for a in self.arms], "engine": self.base_spec.to_json(),
                "draft": self.opts.draft, "lookup": list(self.opts.lookup), "kv": list(self.opts.kv),
                "draft_max": list(self.opts.draft_max) if self.opts.draft_max else None,
                "synthetic": list(self.opts.synthetic), "depths_requested": self.opts.depths,
                "repeats": self.opts.repeats, "gen_tokens": self.opts.gen_tokens, "quality": self.opts.quality,
                "sampling": {"temperature": 0.0, "top_k": 1, "cache_prompt": False}, "order": "baseline, arm",
                "server_names": self.server_names}

    def run(self) -> LabResult:
        from rigbench.jobs.monitors import MachineLoad
        from rigbench.lab.summary import lab_summary
        from rigbench.model.machine import machine_facts

        self._check()
        self.progress.stage("reading this machine")
        with recorded_run(self.store, kind="lab", spec=self.base_spec, params=self._params(),
                          command=self.opts.command, machine=machine_facts(), measured=_measured,
                          monitors=[MachineLoad(), *_energy()]) as rec:
            self._rec, self.run_id = rec, rec.run_id
            for n in self.opts.notes:
                self.note(n)
            self._measure()
        self.progress.stage("done")
        return lab_summary(self.store, self.run_id)

    def _extra(self, **values: Any) -> None:
        run = self.store.get_run(self.run_id) or {}
        self.store.update_run(self.run_id, extra={**(run.get("extra") or {}), **values})

    # -- measuring -------------------------------------------------------------------------
    def _open(self, stack: contextlib.ExitStack, arm: Arm) -> Bench:
        flags = {**self.opts.flags, **arm.flags}
        if self.opts.server_bin:
            spec = self._spec(flags, tuple(server_args(arm, self.server_names, self.server_types)))
            extra: dict[str, Any] = {}
        else:
            spec = self._spec(flags, ())
            extra = {"speculative": embedded_speculative(arm, self.type_values)} if arm.speculative else {}
        self.progress.stage(f"starting {arm.name}")
        folder = run_dir(self.opts.db, self.run_id) / arm.name.replace(" ", "-")
        session = stack.enter_context(open_session(spec, folder, timeouts=self.timeouts,
                                                   start_timeout_s=self.opts.timeout_s, engine_extra=extra))
        spec_lines = _spec_log_lines(session.facts.log_path)
        self._extra(**{f"arm:{arm.name}": {"server_facts": session.facts.to_json(), "engine": spec.to_json(),
                                           "speculative_log": spec_lines}})
        if arm.speculative and not any("speculative decoding context initialized" in s for s in spec_lines):
            self.note(f"{arm.name}: the server's log does not say speculative decoding started "
                      f"(read {session.facts.log_path})")
        bench = Bench(self.rec, session, name=arm.name, label=f"{arm.name} ", timeouts=self.timeouts,
                      explicit_timeout=self.opts.timeout_s is not None)
        bench.warm_up()
        return bench

    def _measure(self) -> None:
        from rigbench.measure.plan import fit_context
        from rigbench.workload.text import ContextText

        with contextlib.ExitStack() as stack:
            base = self._open(stack, BASELINE)
            self.store.set_model(self.run_id, model_info(base.session.facts, self.base_spec))
            mode = _mode(base.session)
            wanted = list(self.opts.depths) if self.opts.depths is not None else list(DEFAULT_DEPTHS)
            depths, skipped = fit_context(wanted, base.session.facts.granted_context,
                                          _TASK_ALLOWANCE + self.opts.gen_tokens)
            for d, why in skipped:
                self.note(f"depth {d:,} skipped: {why}")
            text = ContextText(base.client)  # lengths only: every request prefills its whole prompt
            background = {d: text.text(d) if d else "" for d in depths}
            run = self.store.get_run(self.run_id) or {}
            self.store.update_run(self.run_id, params={**(run.get("params") or {}), "planned_depths": depths,
                                                       "mode": mode, "context_method": text.method})
            arms = [a for a in self.arms if a.name != "baseline"]
            total = sum(len(depths) * len(a.works) * self.opts.repeats * 2 for a in arms)
            self.progress.begin(total, "lab")
            for arm in arms:
                with contextlib.ExitStack() as arm_stack:
                    bench = self._open(arm_stack, arm)
                    self._pairs(base, bench, arm, depths, background, mode)
                    if arm.lossy and self.opts.quality:
                        self._gate(base, bench, arm)
            self.progress.end()

    def _pairs(self, base: Bench, other: Bench, arm: Arm, depths: list[int], background: dict[int, str],
               mode: Mode) -> None:
        from rigbench.lab.identity import diagnose

        for depth in depths:
            for work in arm.works:
                for rep in range(self.opts.repeats):
                    task = task_for(work, rep)
                    ask = lab_ask(task, mode, background=background[depth], max_tokens=self.opts.gen_tokens)
                    where = f"{arm.name} · {work} · depth {depth:,} · repeat {rep + 1}/{self.opts.repeats}"
                    common = {"technique": arm.technique, "work": work, "task": task.id, "stage": "measure",
                              "draft_n_max": arm.draft_n_max}
                    self.progress.advance(f"{where} · baseline")
                    b = _send(base, ask, rep, where, depth=depth, role="baseline",
                              extra={**common, "technique": "baseline", "pair": arm.name}).record

                    def paired(t: RequestRecord, b: RequestRecord = b, ask: Ask = ask,
                               common: dict[str, Any] = common) -> dict[str, Any]:
                        """What the arm's request says beside its pair: drafts, identity, where they part."""
                        x: dict[str, Any] = {**common, **_draft_counts(t)}
                        if t.ok and b.ok:
                            x["identical"] = t.content == b.content
                            if arm.speculative and arm.synthetic is None:
                                x.update(diagnose(base.client.http, base.client.root, ask, b.content, t.content))
                        return x

                    self.progress.advance(f"{where} · {arm.name}")
                    _send(other, ask, rep, where, depth=depth, role=arm.name, annotate=paired)

    def _gate(self, base: Bench, other: Bench, arm: Arm) -> None:
        from rigbench.tune.gate import grade_subset

        self.progress.stage(f"quality gate: {arm.name}")
        if "baseline" not in self.gate:
            self.gate["baseline"] = grade_subset(base, 0, arm="baseline").to_json()
        self.gate[arm.name] = grade_subset(other, 1, arm=arm.name).to_json()
        # inputs only: the scores are the gate's answers (lab.summary.gate_from)
        self._extra(gate={arm: {"not_run": g.get("not_run"), "suite": g.get("suite")} for arm, g in self.gate.items()})


def _send(bench: Bench, ask: Ask, rep: int, where: str, *, depth: int, role: str,
          extra: dict[str, Any] | None = None,
          annotate: Callable[[RequestRecord], Mapping[str, Any]] | None = None) -> Sent:
    """One greedy request with the whole prompt prefilled (no prompt cache), stored as a lab row."""
    params: dict[str, Any] = {"top_k": 1, "cache_prompt": False}
    if ask.messages is None:
        assert ask.text is not None
        params["stop"] = ask.stop
    return bench.send(ask.messages, prompt=ask.text if ask.messages is None else None, phase="lab", where=where,
                      max_tokens=ask.max_tokens, seed=rep, depth=depth, rep=rep, role=role, scrape=False,
                      extra=extra, annotate=annotate, params=params)


def _draft_counts(rec: RequestRecord) -> dict[str, Any]:
    t = rec.timings or {}
    return {"draft_n": t.get("draft_n"), "draft_n_accepted": t.get("draft_n_accepted")}


def _mode(session: Session) -> Mode:
    from rigbench.quality.prompts import choose_mode

    template: str | None = None
    try:
        r = session.client.http.get(session.client.root + "/props")
        data = r.json() if r.status_code == 200 else None
        template = data.get("chat_template") if isinstance(data, dict) else None
    except Exception:  # a server without /props: chat it is, unless the log says otherwise
        template = None
    return choose_mode(session.facts, template if isinstance(template, str) else None).mode


def _spec_log_lines(log_path: str | None) -> list[str]:
    """llama.cpp's boot-log lines about speculative decoding (what it really set up)."""
    if not log_path:
        return []
    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    keys = ("speculative", "common_specu", "draft model", "synthetic acceptance")
    return [ln.strip()[:240] for ln in lines if any(k in ln for k in keys)][:40]


def _cores() -> int:
    import psutil

    return psutil.cpu_count() or 1


def _bundled() -> str:
    from rigbench.engines.bundled import bundled_model_path

    return str(bundled_model_path())


def _measured(store: Store, run_id: int) -> bool:
    return any(r["phase"] == "lab" for r in store.requests(run_id))


def _energy() -> list[Any]:
    """The energy sampler (sources detected here; none: the lab's notes say so)."""
    from rigbench.energy.sampler import energy_monitors

    return list(energy_monitors())
