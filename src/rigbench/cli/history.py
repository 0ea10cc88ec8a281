"""``rigbench history [MODEL]``: one model on one machine across engine builds and dates."""

from __future__ import annotations

from pathlib import Path

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, err, out


@app.command(help="One model on one machine across engine builds and dates: decode per run, the change from the "
                  "run before with its 95% CI where both have repeats, a chart; --html FILE for a page.")
def history(
    model: str | None = typer.Argument(None, metavar="[MODEL]", help="only models whose name contains this"),
    html: Path | None = typer.Option(None, "--html", metavar="FILE", help="also write a self-contained HTML page"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    from rigbench.errors import InputError
    from rigbench.jobs.fleet import history as build_history
    from rigbench.report.fleet import history_html, history_view
    from rigbench.report.safe import safe_text
    from rigbench.store import open_store

    where = fo.run_filter(label, machine, build, since, until)
    store = open_store(db)
    try:
        groups = build_history(store, model, where)
    finally:
        store.close()
    if html is not None:
        try:
            html.parent.mkdir(parents=True, exist_ok=True)
            html.write_text(history_html(groups), encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {exc.filename or html}: {exc.strerror or exc}",
                             "choose a writable place with --html FILE") from None
        err().print(safe_text(f"wrote {html}"))
    if json_out:
        emit_json(groups)
    elif not groups:
        out().print(safe_text(f"No measured runs in {store.where}" + (" match." if model or where.active else ".")))
    else:
        out().print(history_view(groups))
    return 0
