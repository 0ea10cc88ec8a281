"""The registry of run kinds: what each kind of stored run is and how it is shown.

Every run in the database has a ``kind`` (run, session, compare, tune, lab, load). A kind
registers how it is summarised (``summarise(store, run_id)`` -> its typed result, recomputed
from the stored rows), rendered for a terminal (``card(result, console)``), which section of the
HTML report shows it (``html``), whether the leaderboard ranks it (``ranked``) and how an
interrupted one is resumed (``resume``: filled in by the lifecycle, None until then). ``show``,
``runs``, ``report`` and ``board`` dispatch through here; a kind the registry does not know is a
one-line ``UsageError`` that lists the kinds it does.

The summarisers and cards are imported when called, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rigbench.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from rigbench.results import AnyResult, RunRow
    from rigbench.store import Store

__all__ = ["RunKind", "get_kind", "kind_names", "kind_of", "ranked_results", "register", "run_rows", "runs_of",
           "summarise"]


@dataclass(frozen=True)
class RunKind:
    name: str
    summarise: Callable[[Store, int], AnyResult]
    card: Callable[[Any, Console], None]
    html: str  # the report template's section for it: run | compare | lab | tune
    ranked: bool = False  # the leaderboard ranks its runs
    resume: Callable[..., Any] | None = None  # set by the lifecycle (jobs/lifecycle.py)
    help: str = ""
    stored_as: str = ""  # the runs.kind it is stored under, when not its own name (a session: "run")
    select: Callable[[Mapping[str, Any]], bool] | None = None  # which of those runs, by their params

    @property
    def stored_kind(self) -> str:
        return self.stored_as or self.name

    def holds(self, run: Mapping[str, Any]) -> bool:
        """Whether a stored run (a row of ``get_run`` / ``list_runs``) is of this kind."""
        if run.get("kind") != self.stored_kind:
            return False
        return self.select is None or self.select(run.get("params") or {})


_KINDS: dict[str, RunKind] = {}


def register(kind: RunKind) -> RunKind:
    """Add (or replace: the lifecycle sets ``resume`` this way) a kind."""
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> list[str]:
    return list(_KINDS)


def get_kind(name: str) -> RunKind:
    found = _KINDS.get(name)
    if found is None:
        raise UsageError(f"unknown run kind {name!r}", f"the kinds are: {', '.join(kind_names())}")
    return found


def kind_of(run: Mapping[str, Any]) -> RunKind:
    """The kind of a stored run (a row of ``Store.get_run`` / ``list_runs``): the most
    particular kind that holds it (an agent session before a run)."""
    held = [k for k in _KINDS.values() if k.holds(run)]
    if not held:
        return get_kind(str(run.get("kind")))  # a miss: one line listing the kinds
    return next((k for k in held if k.select is not None), held[0])


def runs_of(store: Store, name: str, *, limit: int | None = None, where: Any = None) -> list[dict[str, Any]]:
    """The stored runs ``rigbench runs --kind NAME`` lists (newest first; ``where``: the
    fleet filters, ``store.RunFilter``)."""
    kind = get_kind(name)
    rows = store.list_runs(kind=kind.stored_kind, limit=None if kind.select else limit, where=where)
    rows = [r for r in rows if kind.holds(r)]
    return rows[:limit] if limit else rows


def run_rows(store: Store, name: str | None = None, *, limit: int | None = None, where: Any = None) -> list[RunRow]:
    """``rigbench runs``: the stored runs (of kind ``name``, when given), newest first, each as a
    typed row."""
    from rigbench.results import RunRow

    if name is not None:
        get_kind(name)  # an unknown kind: the kinds there are, not an empty list
    rows = runs_of(store, name, limit=limit, where=where) if name is not None else \
        store.list_runs(limit=limit, where=where)
    return [RunRow.of_stored(r) for r in rows]


def summarise(store: Store, run_id: int) -> AnyResult:
    """Any stored run's typed result, by its kind."""
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    return kind_of(run).summarise(store, run_id)


def ranked_results(store: Store) -> list[AnyResult]:
    """Every run of a ranked kind that measured something (complete or incomplete), newest
    first, each once: what the leaderboard ranks."""
    out: list[AnyResult] = []
    seen: set[int] = set()
    for kind in _KINDS.values():
        if not kind.ranked:
            continue
        for r in store.list_runs(kind=kind.stored_kind):
            if kind.holds(r) and r["status"] in ("complete", "incomplete") and int(r["id"]) not in seen:
                seen.add(int(r["id"]))
                out.append(kind.summarise(store, int(r["id"])))
    return out


# -- the built-in kinds -------------------------------------------------------------------------
def _run_summary(store: Store, run_id: int) -> AnyResult:
    from rigbench.jobs.summary import run_summary

    return run_summary(store, run_id)


def _run_card(result: Any, console: Console) -> None:
    from rigbench.report.card import card

    console.print(card(result))


def _compare_summary(store: Store, run_id: int) -> AnyResult:
    from rigbench.jobs.compare import compare_summary

    return compare_summary(store, run_id)


def _compare_card(result: Any, console: Console) -> None:
    from rigbench.report.terminal import compare_card

    console.print(compare_card(result))


def _lab_summary(store: Store, run_id: int) -> AnyResult:
    from rigbench.lab.summary import lab_summary

    return lab_summary(store, run_id)


def _lab_card(result: Any, console: Console) -> None:
    from rigbench.report.lab import lab_card

    console.print(lab_card(result))


def _tune_summary(store: Store, run_id: int) -> AnyResult:
    from rigbench.tune.result import tune_summary

    return tune_summary(store, run_id)


def _tune_card(result: Any, console: Console) -> None:
    from rigbench.report.tune import tune_card

    console.print(tune_card(result))


register(RunKind("run", _run_summary, _run_card, "run", ranked=True, help="a depth sweep (rigbench run)"))
register(RunKind("session", _run_summary, _run_card, "run", ranked=True,
                 help="an agent session (rigbench run --session agent)", stored_as="run",
                 select=lambda params: params.get("session") == "agent"))
register(RunKind("compare", _compare_summary, _compare_card, "compare", help="two servers, interleaved"))
register(RunKind("tune", _tune_summary, _tune_card, "tune", help="a tuning campaign"))
register(RunKind("lab", _lab_summary, _lab_card, "lab", help="decoding techniques against a baseline"))


def _load_summary(store: Store, run_id: int) -> AnyResult:
    from rigbench.jobs.load_summary import load_summary

    return load_summary(store, run_id)


def _load_card(result: Any, console: Console) -> None:
    from rigbench.report.load import load_card

    console.print(load_card(result))


register(RunKind("load", _load_summary, _load_card, "load", help="many streams at once (rigbench load)"))
