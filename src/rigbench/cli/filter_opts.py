"""Options that pick runs by label, machine, engine build and date (board, runs, report,
history, push, pull): declared once, read into a ``store.filters.RunFilter``."""

from __future__ import annotations

import typer

from rigbench.store.filters import RunFilter

__all__ = ["BUILD", "LABEL", "MACHINE", "SINCE", "UNTIL", "run_filter"]

LABEL = typer.Option(None, "--label", help="only runs with this label (on the run or its machine)")
MACHINE = typer.Option(None, "--machine", help="only machines whose name or label contains this, or whose id starts so")
BUILD = typer.Option(None, "--build", help="only engine builds containing this (b6500, a version)")
SINCE = typer.Option(None, "--since", help="only runs from this date on: YYYY-MM-DD, ISO time, or 7d/12h/2w ago")
UNTIL = typer.Option(None, "--until", help="only runs before this date (a bare date includes that day)")


def run_filter(label: str | None, machine: str | None, build: str | None, since: str | None,
               until: str | None) -> RunFilter:
    return RunFilter.from_options(label=label, machine=machine, build=build, since=since, until=until)
