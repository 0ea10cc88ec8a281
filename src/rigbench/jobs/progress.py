"""How a job reports progress without printing: the CLI passes a renderer, tests pass none."""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    def stage(self, text: str) -> None: ...

    def begin(self, total: int, text: str) -> None: ...

    def advance(self, text: str | None = None) -> None: ...

    def end(self) -> None: ...


class NullProgress:
    def stage(self, text: str) -> None:
        pass

    def begin(self, total: int, text: str) -> None:
        pass

    def advance(self, text: str | None = None) -> None:
        pass

    def end(self) -> None:
        pass
