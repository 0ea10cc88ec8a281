"""One recorded-run lifecycle, shared by every command that measures.

    with recorded_run(store, kind="run", spec=spec, params=params, command=cmd) as rec:
        ... measure, storing each request as it ends (rec.store, rec.run_id, rec.note) ...

The run row is created before anything is started (``resume=ID`` reopens a stored one);
leaving the block normally marks it ``complete``. A ``RigbenchError`` marks it
``incomplete`` when something was measured, else ``failed``, with the error's one line as
the reason, and the error leaves carrying what was kept and the command that goes on from
it (``exc.kept``, data, rendered by the CLI after the hint). Ctrl-C marks it
``incomplete`` and becomes ``errors.Interrupted``. A database error while marking never
masks the error that ended the run (the run then stays ``running`` and ``--resume``
still finishes it).

Monitors (the machine-load sampler, energy samplers) run for the lifetime of the block:
started once the run row exists, stopped on every way out, before the run is marked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from rigbench import __version__
from rigbench.errors import Interrupted, RigbenchError, StoreError
from rigbench.store import Store
from rigbench.types import EngineSpec

__all__ = ["LIVES", "Life", "Monitor", "Recording", "recorded_run", "stored_run_to_resume"]


@dataclass(frozen=True)
class Life:
    """How a kind of run names itself and what goes on from one that stopped early."""

    noun: str  # "run", "compare", "campaign", "lab"
    go_on: str  # the command that goes on from a stopped run, {id} filled in
    go_on_verb: str  # "finish it with", "see it with", "continue it with"
    kept: str = "what was measured"  # what a stopped run keeps
    a_noun: str = ""  # "a run", "a tuning campaign"

    def next_step(self, run_id: int) -> str:
        return f"{self.go_on_verb} {self.go_on.format(id=run_id)}"

    def kept_line(self, run_id: int) -> str:
        return f"{self.noun} {run_id} keeps {self.kept} ({self.go_on.format(id=run_id)})"


# the write half of the run-kind registry (rigbench.kinds holds the read half)
LIVES: dict[str, Life] = {
    "run": Life("run", "rigbench run --resume {id}", "finish it with", a_noun="a run made by rigbench run"),
    "compare": Life("compare", "rigbench report {id}", "see it with", a_noun="a compare"),
    "tune": Life("campaign", "rigbench tune --resume {id}", "continue it with", "every trial measured so far",
                 a_noun="a tuning campaign"),
    "lab": Life("lab", "rigbench show {id}", "see it with", a_noun="a lab"),
    "load": Life("load run", "rigbench load --resume {id}", "finish it with", "every level measured",
                 a_noun="a load run"),
}


def stored_run_to_resume(store: Store, run_id: int, kind: str, *, allow_complete: bool = False) -> dict[str, Any]:
    """The stored run ``--resume RUN`` names, checked: it exists, it is of ``kind`` (else
    the command that goes on from the kind it is), and it is not complete."""
    from rigbench.errors import UsageError

    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no {LIVES[kind].noun} {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != kind:
        life = LIVES.get(run["kind"])
        raise UsageError(f"run {run_id} is a {run['kind']} run, not {LIVES[kind].a_noun}",
                         life.next_step(run_id) if life else f"the kinds that resume: {', '.join(sorted(LIVES))}")
    if run["status"] == "complete" and not allow_complete:
        raise UsageError(f"run {run_id} is already complete", f"see it with rigbench show {run_id}")
    return run


class Monitor(Protocol):
    """Something sampled beside the measuring: started after the run row exists, always stopped."""

    def start(self, rec: Recording) -> None: ...

    def stop(self, rec: Recording) -> None: ...


class _Watching(Protocol):
    def server_started(self, rec: Recording, session: Any) -> None: ...


@dataclass
class Recording:
    """The open run: where requests, notes and inputs go."""

    store: Store
    run_id: int
    kind: str
    monitors: list[Monitor] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.store.add_note(self.run_id, text)

    def run(self) -> dict[str, Any]:
        return self.store.get_run(self.run_id) or {}

    def server_started(self, session: Any) -> None:
        """Tell the monitors that care (``server_started(rec, session)``) of a server being
        measured: the machine-load sampler counts one on this machine as measured, not other load."""
        for m in self.monitors:
            hook: _Watching | None = m if hasattr(m, "server_started") else None  # type: ignore[assignment]
            if hook is not None:
                hook.server_started(self, session)

    def merge_extra(self, **values: Any) -> None:
        """Add keys to the run's ``extra`` (inputs and facts learned, never figures)."""
        if values:
            self.store.update_run(self.run_id, extra={**(self.run().get("extra") or {}), **values})

    def merge_params(self, **values: Any) -> None:
        if values:
            self.store.update_run(self.run_id, params={**(self.run().get("params") or {}), **values})


def _any_request(store: Store, run_id: int) -> bool:
    return bool(store.requests(run_id))


@contextmanager
def recorded_run(store: Store, *, kind: str, spec: EngineSpec | None = None, params: dict[str, Any] | None = None,
                 command: str = "", machine: dict[str, Any] | None = None, resume: int | None = None,
                 measured: Callable[[Store, int], bool] = _any_request,
                 monitors: Sequence[Monitor] = ()) -> Iterator[Recording]:
    """Create (or reopen) a run, yield it, and mark how it ended (see the module's docstring)."""
    life = LIVES[kind]
    if resume is not None:
        run_id = resume
        store.update_run(run_id, status="running", reason=None)
    else:
        run_id = store.create_run(kind=kind, spec=spec, params=params or {}, command=command,
                                  machine=machine or {}, tool_version=__version__)
    rec = Recording(store, run_id, kind, list(monitors))
    started: list[Monitor] = []
    try:
        for m in rec.monitors:
            m.start(rec)
            started.append(m)
        yield rec
        _stop(rec, started)
        store.finish_run(run_id, "complete")
    except KeyboardInterrupt:
        _stop(rec, started, quiet=True)
        _mark(store, run_id, "incomplete", "interrupted (Ctrl-C)")
        raise Interrupted(f"interrupted; {life.noun} {run_id} keeps {life.kept}", life.next_step(run_id)) from None
    except RigbenchError as exc:
        _stop(rec, started, quiet=True)
        try:
            kept = measured(store, run_id)
        except StoreError:
            kept = True  # the database failed: what was committed before is still there
        _mark(store, run_id, "incomplete" if kept else "failed", exc.one_line())
        if kept and not isinstance(exc, Interrupted):
            exc.kept = life.kept_line(run_id)
        raise


def _stop(rec: Recording, started: list[Monitor], *, quiet: bool = False) -> None:
    """Stop every started monitor; on the way out of an error, a monitor's own failure
    must not replace the error that ended the run."""
    for m in reversed(started):
        try:
            m.stop(rec)
        except (RigbenchError, OSError):
            if not quiet:
                raise
    started.clear()


def _mark(store: Store, run_id: int, status: str, reason: str) -> None:
    """Record how a run ended; when the database itself is what failed (disk full), the
    run stays 'running' in the store, and --resume still finishes it."""
    try:
        store.finish_run(run_id, status, reason)
    except StoreError:
        pass
