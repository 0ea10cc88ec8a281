"""Where rigbench keeps things: the results database, run folders, the bundled model."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "data_dir", "default_db_path", "run_dir"]


def data_dir() -> Path:
    env = os.environ.get("RIGBENCH_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("rigbench", appauthor=False))


def cache_dir() -> Path:
    env = os.environ.get("RIGBENCH_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rigbench", appauthor=False))


def default_db_path() -> Path:
    return data_dir() / "rigbench.db"


def run_dir(db_path: Path | str | None, run_id: int | str) -> Path:
    """A run's folder (server logs, artifacts): beside the database it belongs to."""
    base = Path(db_path).expanduser().resolve().parent if db_path and "://" not in str(db_path) else data_dir()
    return base / "runs" / str(run_id)
