"""``rigbench export RUN -o run.rigbench.json`` and ``rigbench import FILE``: one run as a file."""

from __future__ import annotations

from pathlib import Path

import typer

from rigbench.cli import app
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, err


@app.command("export", help="Write one run as a self-contained, versioned bundle (raw requests, facts, the command "
                            "that made it, checksums), to post or send; rigbench import reads it back.")
def export_run(
    run_ref: str = typer.Argument(..., metavar="RUN", help="a run id or UUID (see rigbench runs)"),
    output: Path = typer.Option(..., "-o", "--output", help="the file to write, e.g. run.rigbench.json"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> int:
    from rigbench.report.safe import safe_text
    from rigbench.store import open_store
    from rigbench.store.bundle import write_bundle
    from rigbench.store.sync import select_runs

    store = open_store(db)
    try:
        (run_id,) = select_runs(store, [run_ref])
        bundle = write_bundle(store, run_id, output)
    finally:
        store.close()
    err().print(safe_text(f"wrote {output}: run {run_id} ({bundle['run']['uuid']}), "
                          f"{bundle['sizes']['requests']} requests"))
    return 0


@app.command("import", help="Validate a run bundle (format, schema version, sizes, checksums) and store it; "
                            "importing it twice adds nothing.")
def import_run(
    file: Path = typer.Argument(..., metavar="FILE", help="a bundle written by rigbench export"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    from rigbench.errors import StoreError
    from rigbench.report.safe import safe_text
    from rigbench.store import open_store
    from rigbench.store.bundle import load_bundle
    from rigbench.store.sync import write_run

    data = load_bundle(file)  # before the database is touched: a bad file changes nothing
    store = open_store(db)
    try:
        res = write_run(store, data)
    finally:
        store.close()
    if json_out:
        emit_json(res.to_json())
    if res.outcome == "refused":
        raise StoreError(f"run {res.uuid} exists in {store.where} with different content ({res.why})",
                         "nothing was overwritten")
    if not json_out:
        err().print(safe_text(f"{res.outcome}: run {res.uuid} is run {res.dst_id} in {store.where}"
                              + (f" ({res.requests_added} requests)" if res.requests_added else "")))
    return 0
