"""``rigbench push`` and ``rigbench pull``: runs between this machine's database and a shared one."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, err, out


def _copy(src_db: str | None, dst_db: str | None, refs: list[str], where: object, json_out: bool,
          verb: str) -> int:
    from rich.table import Table

    from rigbench.errors import StoreError
    from rigbench.report.safe import safe_text
    from rigbench.store import open_store
    from rigbench.store.sync import copy_run, select_runs

    src = open_store(src_db)
    try:
        dst = open_store(dst_db)
    except BaseException:
        src.close()
        raise
    results = []
    try:
        ids = select_runs(src, refs, where)
        for rid in ids:
            results.append(copy_run(src, rid, dst))
    finally:
        src.close()
        dst.close()
    refused = [r for r in results if r.outcome == "refused"]
    if json_out:
        emit_json({"from": src.where, "to": dst.where, "runs": [r.to_json() for r in results]})
    else:
        t = Table(title=safe_text(f"{verb} {src.where} -> {dst.where}"), title_justify="left")
        for col in ("Run", "UUID", "There", "Outcome", "Requests added"):
            t.add_column(col)
        for r in results:
            t.add_row(*map(safe_text, (r.src_id, r.uuid, r.dst_id if r.dst_id is not None else "—",
                                       r.outcome + (f": {r.why}" if r.why else ""), r.requests_added)))
        out().print(t)
        if not results:
            err().print(safe_text(f"no runs to {verb.lower()} in {src.where}"))
    if refused:
        first = refused[0]
        raise StoreError(f"{len(refused)} run(s) refused: run {first.uuid} exists in {dst.where} with different "
                         f"content ({first.why})",
                         "nothing was overwritten; compare the two with rigbench show, or export one")
    return 0


@app.command(help="Copy local runs, raw requests included, into a shared database (PostgreSQL URL or file), "
                  "idempotently by each run's UUID: pushing twice adds nothing, an interrupted push resumes.")
def push(
    run_refs: list[str] = typer.Argument(None, metavar="[RUN...]", help="run ids or UUIDs (default: every run)"),
    to: str = typer.Option(..., "--to", help="the shared database: postgresql://user@host/db (or a file)"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    return _copy(db, to, list(run_refs or []), fo.run_filter(label, machine, build, since, until), json_out,
                 "Push")


@app.command(help="Copy runs from a shared database into the local one, for offline analysis (same rules as push).")
def pull(
    run_refs: list[str] = typer.Argument(None, metavar="[RUN...]", help="run ids or UUIDs there (default: every run)"),
    src: str = typer.Option(..., "--from", help="the shared database: postgresql://user@host/db (or a file)"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    return _copy(src, db, list(run_refs or []), fo.run_filter(label, machine, build, since, until), json_out,
                 "Pull")
