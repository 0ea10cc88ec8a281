"""The command line: thin. Each command parses, calls the library, renders.

Errors become one line that says what to do; ``--debug`` (anywhere on the line) shows
the traceback instead.
"""

from __future__ import annotations

import sys
import traceback

import typer

from rigbench.errors import RigbenchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="rigbench",
    help="Evidence, not impressions: measure, grade, tune and compare LLMs on your own machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEBUG = False


def _register() -> None:
    from rigbench.cli import advise as _advise  # noqa: F401
    from rigbench.cli import board as _board  # noqa: F401
    from rigbench.cli import catalog as _catalog  # noqa: F401
    from rigbench.cli import compare as _compare  # noqa: F401
    from rigbench.cli import fleet as _fleet  # noqa: F401
    from rigbench.cli import history as _history  # noqa: F401
    from rigbench.cli import inspect as _inspect  # noqa: F401
    from rigbench.cli import lab as _lab  # noqa: F401
    from rigbench.cli import report as _report  # noqa: F401
    from rigbench.cli import run as _run  # noqa: F401
    from rigbench.cli import runs as _runs  # noqa: F401
    from rigbench.cli import share as _share  # noqa: F401
    from rigbench.cli import suite as _suite  # noqa: F401
    from rigbench.cli import tune as _tune  # noqa: F401


_register()


def _say(line: str) -> None:
    from rigbench.report.safe import one_line  # error texts can carry a server's or a file's words

    sys.stderr.write(f"rigbench: {one_line(line)}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    global DEBUG
    args = list(sys.argv[1:] if argv is None else argv)
    DEBUG = "--debug" in args
    if DEBUG:
        args.remove("--debug")
    try:
        rv = app(args=args, prog_name="rigbench", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except RigbenchError as exc:
        if DEBUG:
            traceback.print_exc()
        _say(f"error: {exc.one_line()}")
        return exc.exit_code
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:  # click usage errors (typer vendors click; match by shape)
        if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
            if DEBUG:
                traceback.print_exc()
            cmd = getattr(getattr(exc, "ctx", None), "command_path", "rigbench")
            _say(f"error: {' '.join(str(exc.format_message()).split())} (see '{cmd} --help')")
            return int(getattr(exc, "exit_code", 2) or 2)
        if type(exc).__name__ == "Abort":
            _say("aborted")
            return 1
        if DEBUG:
            traceback.print_exc()
        else:
            _say(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:200]} "
                 "(run again with --debug for the traceback, and please report it)")
        return 70
