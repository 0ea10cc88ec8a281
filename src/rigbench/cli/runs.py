"""``rigbench runs`` and ``rigbench show``: what the database holds."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, out


@app.command(help="List runs with their status (complete, incomplete, failed) and reason.")
def runs(
    limit: int = typer.Option(50, "--limit", min=1, help="most recent N runs"),
    kind: str | None = typer.Option(None, "--kind",
                                    help="only runs of this kind (run, session, compare, tune, lab, load)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
) -> int:
    from rigbench.kinds import get_kind, run_rows
    from rigbench.report.runs import runs_table
    from rigbench.store import open_store

    if kind is not None:
        get_kind(kind)  # an unknown kind: the kinds there are, not an empty list
    store = open_store(db)
    try:
        rows = run_rows(store, kind, limit=limit, where=fo.run_filter(label, machine, build, since, until))
    finally:
        store.close()
    if json_out:
        emit_json(rows)
    else:
        out().print(runs_table(rows, store.where))
    return 0


@app.command(help="Show a stored run's card, recomputed from its raw requests.")
def show(
    run_id: int = typer.Argument(..., metavar="RUN"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> int:
    from rigbench.kinds import kind_of
    from rigbench.store import open_store

    store = open_store(db)
    try:
        run = store.get_run(run_id)
        if run is None:
            from rigbench.errors import UsageError

            raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
        kind = kind_of(run)
        result = kind.summarise(store, run_id)
    finally:
        store.close()
    if json_out:
        emit_json(result)
    else:
        kind.card(result, out())
    return 0
