"""``rigbench load``: one recorded run (``jobs.lifecycle``) over one bench per server
(``jobs.bench``): start (or attach to) the servers, warm each up, measure the levels
(``jobs.load``); an error or Ctrl-C leaves the run incomplete with every finished level kept,
and ``--resume`` measures the levels still missing."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from rigbench.client.probe import unavailable_note
from rigbench.client.stream import Timeouts
from rigbench.errors import UsageError
from rigbench.jobs.bench import Bench
from rigbench.jobs.lifecycle import Recording, recorded_run, stored_run_to_resume
from rigbench.jobs.load import LoadPlan, measure_levels
from rigbench.jobs.load_summary import load_summary
from rigbench.jobs.monitors import MachineLoad
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.run import preflight
from rigbench.jobs.session import model_info, open_session
from rigbench.model.machine import machine_facts
from rigbench.paths import run_dir
from rigbench.report.safe import visible
from rigbench.results import LoadResult
from rigbench.store import Store, open_store
from rigbench.types import EngineSpec

__all__ = ["LoadOptions", "load_resume_options", "run_load"]


@dataclass
class LoadOptions:
    specs: list[EngineSpec]  # one launched server, or every --url
    concurrency: list[int]
    depth: int = 512
    gen_tokens: int = 128
    requests: int = 3
    rate: float | None = None
    slo_ttft_ms: float | None = None
    slo_decode_tok_s: float = 20.0
    timeout_s: float | None = None
    api_key: str | None = None
    db: str | None = None
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    power_cmd: str | None = None  # never stored: it may hold a smart plug's password

    def params(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "depth": self.depth, "gen_tokens": self.gen_tokens,
                "requests": self.requests, "rate": self.rate, "slo_ttft_ms": self.slo_ttft_ms,
                "slo_decode_tok_s": self.slo_decode_tok_s, "timeout_s": self.timeout_s,
                "urls": [s.url for s in self.specs if s.kind == "url"]}


def load_resume_options(store: Store, run_id: int, db: str | None, api_key: str | None) -> LoadOptions:
    run = stored_run_to_resume(store, run_id, "load")
    p = dict(run["params"] or {})
    urls = p.get("urls") or []
    name = (run["engine_spec"] or {}).get("model_name")
    specs = ([EngineSpec(kind="url", url=u, model_name=name) for u in urls] if urls
             else [EngineSpec.from_json(run["engine_spec"] or {})])
    return LoadOptions(specs=specs, concurrency=list(p["concurrency"]), depth=int(p["depth"]),
                       gen_tokens=int(p["gen_tokens"]), requests=int(p["requests"]), rate=p.get("rate"),
                       slo_ttft_ms=p.get("slo_ttft_ms"), slo_decode_tok_s=float(p.get("slo_decode_tok_s") or 20.0),
                       timeout_s=p.get("timeout_s"), api_key=api_key, db=db, command=str(run.get("command") or ""))


def run_load(opts: LoadOptions, progress: Progress | None = None, *, resume: int | None = None) -> LoadResult:
    progress = progress or NullProgress()
    store = open_store(opts.db)
    try:
        for spec in opts.specs:
            preflight(spec)
        progress.stage("reading this machine")
        from rigbench.energy.sampler import energy_monitors

        energy = energy_monitors(opts.power_cmd)
        with recorded_run(store, kind="load", spec=opts.specs[0], params=opts.params(), command=opts.command,
                          machine=machine_facts(), resume=resume, monitors=[MachineLoad(), *energy]) as rec:
            _measure(rec, opts, progress)
        progress.stage("done")
        return load_summary(store, rec.run_id)
    finally:
        store.close()


def _measure(rec: Recording, opts: LoadOptions, progress: Progress) -> None:
    timeouts = Timeouts(connect_s=10.0, read_s=opts.timeout_s or 120.0, total_s=None)
    prior = (rec.run().get("extra") or {}).get("load") or {}
    done = {int(k) for k, v in (prior.get("levels") or {}).items() if isinstance(v, dict) and v.get("done")}
    attempt = int(prior.get("attempts") or 0)
    rec.merge_extra(load={**prior, "attempts": attempt + 1})
    several = len(opts.specs) > 1
    with ExitStack() as stack:
        benches: list[Bench] = []
        for i, spec in enumerate(opts.specs):
            progress.stage("starting the engine" if spec.kind != "url" else f"probing server {i + 1}")
            session = stack.enter_context(open_session(spec, run_dir(opts.db, rec.run_id), api_key=opts.api_key,
                                                       timeouts=timeouts, start_timeout_s=opts.timeout_s))
            label = f"server {i + 1} ({visible(spec.url or session.facts.base_url)}) " if several else ""
            bench = Bench(rec, session, name=f"s{i + 1}" if several else None, label=label, timeouts=timeouts,
                          explicit_timeout=opts.timeout_s is not None)
            benches.append(bench)
            if i == 0:
                rec.store.update_run(rec.run_id, server_facts=session.facts.to_json())
                rec.store.set_model(rec.run_id, model_info(session.facts, spec))
            for what in session.facts.unavailable:
                rec.note(label + unavailable_note(what))
        _record_servers(rec, benches)
        _check_fit(benches, opts, rec.note)
        for b in benches:
            progress.stage(f"warming up {b.label}".strip())
            b.warm_up(role="warmup")
        plan = LoadPlan(concurrency=opts.concurrency, depth=opts.depth, gen_tokens=opts.gen_tokens,
                        requests=opts.requests, rate=opts.rate, timeout_s=opts.timeout_s, done=done, attempt=attempt)
        measure_levels(benches, plan, progress)


def _record_servers(rec: Recording, benches: list[Bench]) -> None:
    rows = []
    for b in benches:
        f = b.client.facts
        rows.append({"url": f.base_url, "model": f.model_id, "software": (f.software or {}).get("name"),
                     "version": (f.software or {}).get("version"), "total_slots": f.total_slots,
                     "granted_context": f.granted_context, "devices": list(f.devices or []),
                     "metrics": bool(f.endpoints.get("metrics")), "kind": b.session.spec.kind})
    prior = (rec.run().get("extra") or {}).get("load") or {}
    rec.merge_extra(load={**prior, "servers": rows})


def _check_fit(benches: list[Bench], opts: LoadOptions, note: Any) -> None:
    """A stream's conversation must fit one slot's context; more streams than slots queue
    (llama.cpp defers them), which the card says."""
    need = LoadPlan(opts.concurrency, opts.depth, opts.gen_tokens, opts.requests).context_needed()
    top = max(opts.concurrency)
    per = -(-top // len(benches))
    for b in benches:
        f = b.client.facts
        where = b.label.strip() or f.base_url
        if f.granted_context and need > f.granted_context:
            raise UsageError(f"each stream's conversation reaches about {need:,} tokens, more than the "
                             f"{f.granted_context:,} one slot of {where} holds",
                             "lower --depth, --gen-tokens or --requests, or give the server more context (-c)")
        if f.total_slots and per > f.total_slots:
            note(f"{where} has {f.total_slots} slot{'s' if f.total_slots > 1 else ''}: levels above "
                 f"{f.total_slots * len(benches)} streams queue requests on the server (TTFT includes the wait)")
