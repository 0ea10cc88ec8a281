"""``rigbench load``: start (or attach to) the servers, warm each up, measure the levels
(``jobs/load.py``), and leave the run complete, or incomplete with what was measured kept;
``--resume`` measures the levels still missing."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from rigbench import __version__
from rigbench.client.probe import unavailable_note
from rigbench.client.stream import Timeouts
from rigbench.errors import Interrupted, RigbenchError, StoreError, UsageError
from rigbench.jobs.load import LoadPlan, LoadServer, measure_levels
from rigbench.jobs.load_summary import load_summary
from rigbench.jobs.progress import NullProgress, Progress
from rigbench.jobs.session import model_info, open_session
from rigbench.model.machine import machine_facts
from rigbench.paths import run_dir
from rigbench.report.safe import visible
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

    def params(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "depth": self.depth, "gen_tokens": self.gen_tokens,
                "requests": self.requests, "rate": self.rate, "slo_ttft_ms": self.slo_ttft_ms,
                "slo_decode_tok_s": self.slo_decode_tok_s, "timeout_s": self.timeout_s,
                "urls": [s.url for s in self.specs if s.kind == "url"]}


def load_resume_options(store: Store, run_id: int, db: str | None, api_key: str | None) -> LoadOptions:
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != "load":
        raise UsageError(f"run {run_id} is a {run['kind']} run", "resume it with its own command")
    if run["status"] == "complete":
        raise UsageError(f"run {run_id} is already complete", f"see it with rigbench show {run_id}")
    p = dict(run["params"] or {})
    urls = p.get("urls") or []
    specs = ([EngineSpec(kind="url", url=u, model_name=(run["engine_spec"] or {}).get("model_name")) for u in urls]
             if urls else [EngineSpec.from_json(run["engine_spec"] or {})])
    return LoadOptions(specs=specs, concurrency=list(p["concurrency"]), depth=int(p["depth"]),
                       gen_tokens=int(p["gen_tokens"]), requests=int(p["requests"]), rate=p.get("rate"),
                       slo_ttft_ms=p.get("slo_ttft_ms"), slo_decode_tok_s=float(p.get("slo_decode_tok_s") or 20.0),
                       timeout_s=p.get("timeout_s"), api_key=api_key, db=db, command=str(run.get("command") or ""))


def run_load(opts: LoadOptions, progress: Progress | None = None, *, resume: int | None = None) -> dict[str, Any]:
    progress = progress or NullProgress()
    store = open_store(opts.db)
    try:
        return _run(store, opts, progress, resume)
    finally:
        store.close()


def _merge_extra(store: Store, run_id: int, update: Any) -> None:
    run = store.get_run(run_id) or {}
    extra = dict(run.get("extra") or {})
    update(extra)
    store.update_run(run_id, extra=extra)


def _run(store: Store, opts: LoadOptions, progress: Progress, resume: int | None) -> dict[str, Any]:
    from rigbench.jobs.run import preflight

    for spec in opts.specs:
        preflight(spec)
    machine = machine_facts()
    if resume is not None:
        run_id = resume
        store.update_run(run_id, status="running", reason=None)
    else:
        run_id = store.create_run(kind="load", spec=opts.specs[0], params=opts.params(), command=opts.command,
                                  machine=machine, tool_version=__version__)

    def note(text: str) -> None:
        store.add_note(run_id, text)

    def merge_level(n: int, info: dict[str, Any]) -> None:
        def upd(extra: dict[str, Any]) -> None:
            load = dict(extra.get("load") or {})
            levels = dict(load.get("levels") or {})
            levels[str(n)] = info
            load["levels"] = levels
            extra["load"] = load
        _merge_extra(store, run_id, upd)

    timeouts = Timeouts(connect_s=10.0, read_s=opts.timeout_s or 120.0, total_s=None)
    run = store.get_run(run_id) or {}
    prior = ((run.get("extra") or {}).get("load") or {})
    done = {int(k) for k, v in (prior.get("levels") or {}).items() if isinstance(v, dict) and v.get("done")}
    attempt = int(prior.get("attempts") or 0)
    _merge_extra(store, run_id, lambda e: e.__setitem__("load", {**(e.get("load") or {}), "attempts": attempt + 1}))
    try:
        with ExitStack() as stack:
            servers: list[LoadServer] = []
            for i, spec in enumerate(opts.specs):
                progress.stage("starting the engine" if spec.kind != "url" else f"probing server {i + 1}")
                session = stack.enter_context(open_session(spec, run_dir(opts.db, run_id), api_key=opts.api_key,
                                                           timeouts=timeouts, start_timeout_s=opts.timeout_s))
                name = visible(spec.url or session.facts.base_url)
                servers.append(LoadServer(session.client, session.server_alive, name))
                if i == 0:
                    store.update_run(run_id, server_facts=session.facts.to_json())
                    store.set_model(run_id, model_info(session.facts, spec))
                for what in session.facts.unavailable:
                    note(unavailable_note(what) + (f" ({name})" if len(opts.specs) > 1 else ""))
            _record_servers(store, run_id, servers)
            _check_fit(servers, opts, note)
            for s in servers:
                progress.stage(f"warming up {s.name}")
                warm = s.client.chat([{"role": "user", "content": "Say hello."}], max_tokens=8, timeouts=timeouts)
                store.add_request(run_id, warm, phase="warmup", role="warmup")
                if not warm.ok:
                    raise RigbenchError(f"the warm-up request to {s.name} failed: {warm.error}",
                                        "check that the server can answer a chat completion")
            plan = LoadPlan(concurrency=opts.concurrency, depth=opts.depth, gen_tokens=opts.gen_tokens,
                            requests=opts.requests, rate=opts.rate, timeout_s=opts.timeout_s, done=done,
                            attempt=attempt)
            measure_levels(servers, store, run_id, plan, progress, timeouts=timeouts, note=note,
                           merge_level=merge_level)
        store.finish_run(run_id, "complete")
    except KeyboardInterrupt:
        _mark(store, run_id, "incomplete", "interrupted (Ctrl-C)")
        raise Interrupted(f"interrupted; run {run_id} keeps the levels measured",
                          f"finish it with rigbench load --resume {run_id}") from None
    except RigbenchError as exc:
        try:
            measured = bool(store.requests(run_id))
        except StoreError:
            measured = True
        _mark(store, run_id, "incomplete" if measured else "failed", exc.one_line())
        if measured and "--resume" not in (exc.hint or ""):
            exc.hint = f"{exc.hint + '; ' if exc.hint else ''}run {run_id} keeps what was measured " \
                       f"(rigbench load --resume {run_id})"
        raise
    progress.stage("done")
    return load_summary(store, run_id)


def _record_servers(store: Store, run_id: int, servers: list[LoadServer]) -> None:
    rows = []
    for s in servers:
        f = s.client.facts
        rows.append({"url": s.name, "model": f.model_id, "software": (f.software or {}).get("name"),
                     "version": (f.software or {}).get("version"), "total_slots": f.total_slots,
                     "granted_context": f.granted_context, "devices": list(f.devices or []),
                     "metrics": bool(f.endpoints.get("metrics"))})
    _merge_extra(store, run_id, lambda e: e.__setitem__("load", {**(e.get("load") or {}), "servers": rows}))


def _check_fit(servers: list[LoadServer], opts: LoadOptions, note: Any) -> None:
    """A stream's conversation must fit one slot's context; more streams than slots queue
    (llama.cpp defers them), which the card says."""
    plan = LoadPlan(opts.concurrency, opts.depth, opts.gen_tokens, opts.requests)
    need = plan.context_needed()
    for s in servers:
        granted = s.client.facts.granted_context
        if granted and need > granted:
            raise UsageError(f"each stream's conversation reaches about {need:,} tokens, more than the "
                             f"{granted:,} one slot of {s.name} holds",
                             "lower --depth, --gen-tokens or --requests, or give the server more context (-c)")
        slots = s.client.facts.total_slots
        top = max(opts.concurrency)
        per = -(-top // len(servers))
        if slots and per > slots:
            note(f"{s.name} has {slots} slot{'s' if slots > 1 else ''}: levels above {slots * len(servers)} "
                 "streams queue requests on the server (TTFT includes the wait)")


def _mark(store: Store, run_id: int, status: str, reason: str) -> None:
    try:
        store.finish_run(run_id, status, reason)
    except StoreError:
        pass
