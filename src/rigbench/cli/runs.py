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
    from rich.table import Table

    from rigbench.kinds import get_kind, runs_of
    from rigbench.report.safe import safe_text
    from rigbench.store import open_store

    if kind is not None:
        get_kind(kind)  # an unknown kind: the kinds there are, not an empty list
    store = open_store(db)
    try:
        where = fo.run_filter(label, machine, build, since, until)
        rows = (runs_of(store, kind, limit=limit, where=where) if kind is not None
                else store.list_runs(limit=limit, where=where))
    finally:
        store.close()
    items = [
        {"run_id": r["id"], "kind": r["kind"], "status": r["status"], "reason": r["reason"],
         "created_at": r["created_at"], "model": r["model"], "quant": r["quant"], "engine": r["engine"],
         "machine": r["hostname"], "uuid": r.get("uuid"), "label": r.get("label")}
        for r in rows
    ]
    if json_out:
        emit_json(items)
        return 0
    t = Table(title=safe_text(f"Runs in {store.where}"), title_justify="left")
    for col in ("Run", "Kind", "Status", "Model", "Engine", "Machine", "Started", "Reason"):
        t.add_column(col)
    for i in items:
        t.add_row(*map(safe_text, (i["run_id"], i["kind"], i["status"], i["model"] or "—", i["engine"] or "—",
                                   i["machine"] or "—", (i["created_at"] or "")[:19].replace("T", " "),
                                   i["reason"] or "")))
    out().print(t)
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
