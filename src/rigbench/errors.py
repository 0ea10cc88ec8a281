"""rigbench's one error tree.

Every error a user can cause or meet is one of these; the CLI turns each into a single
line that says what to do (``--debug`` shows the traceback). Anything else escaping is a
bug in rigbench.

    RigbenchError                   base: .hint says what to do, .kept what a recorded run kept and
                                    the command that goes on from it (set by jobs.lifecycle, data,
                                    never edited into the hint), .exit_code for the CLI
    ├── UsageError                  bad arguments: a malformed depth list, spec string, flag
    ├── InputError                  a file rigbench reads is missing, unreadable or malformed
    │   ├── GGUFError               not a GGUF, truncated header, missing shard
    │   ├── SuiteError              a quality suite YAML that fails validation
    │   └── CatalogError            a model catalog YAML that fails validation
    ├── EngineError                 a server could not be started, reached or kept alive
    │   ├── EngineStartError        binary missing, crashed at boot, health deadline passed
    │   ├── PortInUseError          the port a server needs is taken
    │   └── NotCompatibleError      the URL answers, but not as an OpenAI-compatible server
    ├── RequestError                one request failed (HTTP status, in-stream error, stall, bad SSE)
    │   ├── StreamTimeout           the server stopped sending within the read timeout
    │   └── EventTooLarge           one SSE event outgrew the parser's bound (16 MiB) without ending
    ├── StoreError                  the results database cannot be opened or written
    └── Interrupted                 Ctrl-C: what was measured is kept, the run is incomplete
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "EngineError",
    "EngineStartError",
    "EventTooLarge",
    "GGUFError",
    "InputError",
    "Interrupted",
    "NotCompatibleError",
    "PortInUseError",
    "RequestError",
    "RigbenchError",
    "StoreError",
    "StreamTimeout",
    "SuiteError",
    "UsageError",
]


class RigbenchError(Exception):
    """Base of every error rigbench raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.kept: str | None = None  # "run 7 keeps what was measured (rigbench run --resume 7)"

    def one_line(self) -> str:
        """The message and what to do about it, on one line."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text}: {' '.join(self.hint.split())}"
        if self.kept:
            text = f"{text}{';' if self.hint else ':'} {' '.join(self.kept.split())}"
        return text


class UsageError(RigbenchError):
    exit_code = 2


class InputError(RigbenchError):
    exit_code = 2


class GGUFError(InputError):
    pass


class SuiteError(InputError):
    pass


class CatalogError(InputError):
    pass


class EngineError(RigbenchError):
    exit_code = 3


class EngineStartError(EngineError):
    def __init__(self, message: str, hint: str | None = None, log_tail: str = "") -> None:
        super().__init__(message, hint)
        self.log_tail = log_tail


class PortInUseError(EngineError):
    pass


class NotCompatibleError(EngineError):
    pass


class RequestError(RigbenchError):
    exit_code = 4


class StreamTimeout(RequestError):
    pass


class EventTooLarge(RequestError):
    pass


class StoreError(RigbenchError):
    exit_code = 5


class Interrupted(RigbenchError):
    exit_code = 130
