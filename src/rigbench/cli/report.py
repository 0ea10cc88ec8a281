"""``rigbench report RUN...``: one self-contained HTML file (plots inline, no network)."""

from __future__ import annotations

from pathlib import Path

import typer

from rigbench.cli import app
from rigbench.cli import filter_opts as fo
from rigbench.cli.common import DB_HELP, err


@app.command(help="Write one self-contained HTML report of stored runs and compares: the card, the ceiling and "
                  "context check, the curves, the comparison, the leaderboard rows, and the commands and versions.")
def report(
    run_ids: list[int] = typer.Argument(None, metavar="RUN...",
                                        help="run or compare ids (see rigbench runs); or pick them with the filters"),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="the HTML file to write"),
    plots: Path | None = typer.Option(None, "--plots", metavar="DIR", help="also write each plot as PNG and SVG"),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    label: str | None = fo.LABEL, machine: str | None = fo.MACHINE, build: str | None = fo.BUILD,
    since: str | None = fo.SINCE, until: str | None = fo.UNTIL,
) -> int:
    from rigbench.errors import InputError, UsageError
    from rigbench.report.html import collect, render_html
    from rigbench.store import open_store

    where = fo.run_filter(label, machine, build, since, until)
    if not run_ids and not where.active:
        raise UsageError("name the runs to report", "give RUN ids, or pick runs with --label, --machine, --build, "
                                                    "--since or --until")
    store = open_store(db)
    try:
        if not run_ids:
            run_ids = sorted(int(r["id"]) for r in store.list_runs(where=where)
                             if r["status"] in ("complete", "incomplete"))
            if not run_ids:
                raise UsageError(f"no finished runs in {store.where} match the filters", "see rigbench runs")
        elif where.active:
            keep = {int(r["id"]) for r in store.list_runs(where=where)}
            run_ids = [i for i in run_ids if i in keep]
            if not run_ids:
                raise UsageError("none of the runs named match the filters", "see rigbench runs")
        summaries = collect(store, run_ids)
    finally:
        store.close()
    html = render_html(summaries)
    written: list[Path] = []
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(html, encoding="utf-8")
        if plots is not None:
            from rigbench.report.plots import PLOTS, figure, plot_series, save_figure

            series = plot_series(summaries)
            for name in PLOTS:
                if series[name]:
                    written += save_figure(figure(name, series[name]), plots / name)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename or output}: {exc.strerror or exc}",
                         "choose a writable place with -o FILE (and --plots DIR)") from None
    from rigbench.report.safe import safe_text

    err().print(safe_text(f"wrote {output} ({len(html) // 1024} kB, {len(summaries)} run(s))"
                          + (f" and {len(written)} plot files in {plots}" if written else "")))
    return 0
