"""Shared CLI plumbing: consoles, JSON output, progress rendering, secret-free argv.

Every console here is ``report.safe.safe_console``: a plain string is never markup, and
control characters in whatever is printed are made visible (untrusted text is shown as
text)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from rigbench.report.safe import safe_console, visible

__all__ = ["DB_HELP", "JSON_HELP", "RichProgress", "emit_json", "err", "out", "sanitized_command"]

DB_HELP = "results database file (or SQLAlchemy URL); default: the user data directory"
JSON_HELP = "print JSON for machines instead of the table"
_SECRET_FLAGS = ("--api-key",)


def out() -> Console:
    """stdout; when it is not a terminal (a pipe, a file, CI) use $COLUMNS, or 120 columns, not 80."""
    console = safe_console(soft_wrap=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = safe_console(soft_wrap=False, width=120)
    return console


def err() -> Console:
    return safe_console(stderr=True)


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")
    sys.stdout.flush()


def sanitized_command(argv: list[str] | None = None) -> str:
    """The command line as typed, with secrets replaced (it is stored with the run)."""
    args = list(sys.argv if argv is None else argv)
    clean: list[str] = []
    hide_next = False
    for a in args:
        if hide_next:
            clean.append("***")
            hide_next = False
            continue
        if a in _SECRET_FLAGS:
            clean.append(a)
            hide_next = True
        elif any(a.startswith(f + "=") for f in _SECRET_FLAGS):
            clean.append(a.split("=", 1)[0] + "=***")
        elif "://" in a:  # a database or server URL: never its password
            from rigbench.store.urls import redact

            clean.append(redact(a))
        else:
            clean.append(a)
    if clean:
        clean[0] = "rigbench"
    return " ".join(clean)


class RichProgress:
    """Renders a job's progress on stderr: a spinner for stages, a bar for request loops."""

    def __init__(self, enabled: bool | None = None, console: Console | None = None) -> None:
        self.console = console or err()
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._p: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> RichProgress:
        if self.enabled:
            # a stage's text can name a model or a server: never markup, control characters visible
            self._p = Progress(SpinnerColumn(), TextColumn("{task.description}", markup=False), BarColumn(),
                               MofNCompleteColumn(), TimeElapsedColumn(), console=self.console, transient=True)
            self._p.start()
            self._task = self._p.add_task("starting", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._p is not None:
            self._p.stop()

    def stage(self, text: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=visible(text), total=None, completed=0)

    def begin(self, total: int, text: str) -> None:
        if self._p is not None:
            self._p.update(self._task, description=visible(text), total=total, completed=0)

    def advance(self, text: str | None = None) -> None:
        if self._p is not None:
            if text:
                self._p.update(self._task, description=visible(text))
            task = self._p.tasks[0]
            if task.total is not None and task.completed < task.total:
                self._p.advance(self._task)

    def end(self) -> None:
        if self._p is not None:
            self._p.update(self._task, total=None)
