from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rigbench.cli import main


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's own results database; keep the model cache shared."""
    monkeypatch.setenv("RIGBENCH_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


class CLIResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    def run(*args: str) -> CLIResult:
        code = main(list(args))
        cap = capsys.readouterr()
        return CLIResult(code, cap.out, cap.err)

    return run


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real embedded engine (the bundled model) shared by the tests that attach to it."""
    from rigbench.engines.embedded import EmbeddedEngine
    from rigbench.engines.flags import normalize_flags
    from rigbench.types import EngineSpec

    eng = EmbeddedEngine(EngineSpec(kind="embedded", flags=normalize_flags({"c": 4096})),
                         tmp_path_factory.mktemp("embedded-logs"))
    facts = eng.start()
    try:
        yield facts
    finally:
        eng.stop()


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not os.environ.get("RIGBENCH_LLAMA_SERVER"):
        skip = pytest.mark.skip(reason="set RIGBENCH_LLAMA_SERVER=/path/to/llama-server to run")
        for item in items:
            if "llama_server" in item.keywords:
                item.add_marker(skip)


def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "results.db")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """One real PostgreSQL server for the whole session (tests/pgserver.py)."""
    from pgserver import start_or_skip

    server = start_or_skip()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: Any) -> str:
    """A fresh database on the session's PostgreSQL server, as a URL that carries a password."""
    return str(pg_server.url(pg_server.new_database()))
