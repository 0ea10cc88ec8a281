"""``rigbench board``: the leaderboard across every run in the database."""

from __future__ import annotations

import sys

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, emit_json, out


@app.command(help="The leaderboard across everything measured: quality, decode at the working depth, verdict; "
                  "load runs: best aggregate and knee.")
def board(
    sort: str = typer.Option("quality", "--sort", help="order rows by: quality or decode"),
    fmt: str = typer.Option("table", "--format", help="table, md (paste into a forum post), csv or json"),
    json_out: bool = typer.Option(False, "--json", help="same as --format json"),
    machine: str | None = typer.Option(None, "--machine", help="only machines whose name contains this"),
    engine: str | None = typer.Option(None, "--engine", help="only engines (kind, URL, flags) containing this"),
    model: str | None = typer.Option(None, "--model", help="only models whose name contains this"),
    all_runs: bool = typer.Option(False, "--all-runs", help="every run, not only the newest of each configuration"),
    electricity_price: str | None = typer.Option(
        None, "--electricity-price", help="price every row's J/token alike, e.g. 0.30/kWh (default: each run's own)"),
    api_price: str | None = typer.Option(None, "--api-price", help="an API's price beside it, e.g. 3.00/Mtok"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    by: str | None = typer.Option(None, "--by", help="machine: each model and quant across machines, with each "
                                                     "machine's ceiling and % of it"),
    label: str | None = fo.LABEL, build: str | None = fo.BUILD, since: str | None = fo.SINCE,
    until: str | None = fo.UNTIL,
) -> int:
    from rigbench.energy.prices import price_params
    from rigbench.errors import UsageError
    from rigbench.jobs.load_summary import stored_load_summaries
    from rigbench.jobs.summary import stored_run_summaries
    from rigbench.report.board import board_csv, board_json, board_markdown, board_table, build_board
    from rigbench.results import LoadResult, RunResult
    from rigbench.store import open_store

    if sort not in ("quality", "decode"):
        raise UsageError(f"cannot sort by {sort!r}", "use --sort quality or --sort decode")
    fmt = "json" if json_out else fmt
    if fmt not in ("table", "md", "csv", "json"):
        raise UsageError(f"unknown format {fmt!r}", "use --format table, md, csv or json")
    prices = price_params(electricity_price, api_price, None)
    if by not in (None, "machine"):
        raise UsageError(f"cannot group the board by {by!r}", "use --by machine")
    where = fo.run_filter(label, machine, build, since, until)
    store = open_store(db)
    try:
        fleet: list[RunResult] = []
        if where.active or by:  # the fleet's filters and views (label, machine id, build, dates)
            from rigbench.jobs.fleet import fleet_summaries

            fleet = fleet_summaries(store, where)
            summaries: list[RunResult | LoadResult] = list(fleet)
            machine = None  # matched in the store (hostname, label or machine id)
        else:  # the ranked kinds' runs, and load runs
            summaries = [*stored_run_summaries(store), *stored_load_summaries(store)]
    finally:
        store.close()
    if by == "machine":
        from rigbench.cli.fleet_board import render_by_machine

        return render_by_machine(fleet, fmt, model)
    rows = build_board(summaries, sort=sort, machine=machine, engine=engine, model=model,  # type: ignore[arg-type]
                       all_runs=all_runs, electricity=prices.get("electricity"))
    from rigbench.report.board import api_line

    api = api_line(rows, prices["api"]) if "api" in prices and rows else None
    if fmt == "json":
        emit_json(board_json(rows))
    elif fmt == "md":
        sys.stdout.write(board_markdown(rows) + (f"\n{api}\n" if api else ""))
    elif fmt == "csv":
        sys.stdout.write(board_csv(rows))
    elif not rows:
        from rigbench.report.safe import safe_text

        out().print(safe_text(f"No measured runs in {store.where}" + (
            " match the filters." if machine or engine or model else "; measure one with rigbench run.")))
    else:
        out().print(board_table(rows, sort=sort))  # type: ignore[arg-type]
        if api:
            from rigbench.report.safe import safe_text

            out().print(safe_text(api))
    return 0
