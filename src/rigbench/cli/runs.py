"""``rigbench runs`` and ``rigbench show``: what the database holds."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, out


@app.command(help="List runs with their status (complete, incomplete, failed) and reason.")
def runs(
    limit: int = typer.Option(50, "--limit", min=1, help="most recent N runs"),
    kind: str | None = typer.Option(None, "--kind", help="only runs of this kind (run, compare, tune, lab)"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
) -> int:
    from rich.table import Table

    from rigbench.report.safe import safe_text
    from rigbench.store import open_store

    store = open_store(db)
    try:
        rows = store.list_runs(limit=limit, kind=kind, where=fo.run_filter(label, machine, build, since, until))
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
    from rigbench.jobs.summary import run_summary
    from rigbench.report.card import card
    from rigbench.store import open_store

    store = open_store(db)
    try:
        run = store.get_run(run_id)
        if run is not None and run["kind"] == "compare":
            from rigbench.jobs.compare import compare_summary
            from rigbench.report.terminal import compare_card

            summary = compare_summary(store, run_id)
            render = compare_card
        elif run is not None and run["kind"] == "lab":
            from rigbench.lab.card import lab_card
            from rigbench.lab.summary import lab_summary

            summary = lab_summary(store, run_id)
            render = lab_card
        elif run is not None and run["kind"] == "tune":
            from rigbench.tune.result import tune_summary

            summary = tune_summary(store, run_id)
            render = None
        else:
            summary = run_summary(store, run_id)
            render = card
    finally:
        store.close()
    if json_out:
        emit_json(summary)
    elif render is None:  # a tuning campaign renders its journal itself
        from rigbench.cli.tune import _render

        _render(summary)
    else:
        out().print(render(summary))
    return 0
