"""Where the results database is: a SQLite file, or a PostgreSQL URL for a fleet.

``--db`` takes a file path or a URL; without it ``RIGBENCH_DB`` is used, then the file in
the user data directory. ``postgresql://`` (or ``postgres://``) goes through psycopg 3, the
optional extra ``rigbench[postgres]``.

Passwords: only from the URL, ``PGPASSWORD``/``~/.pgpass`` (libpq reads them itself) or the
environment. rigbench never stores, logs or prints one: what it shows of a URL is
``redact(url)``, the URL with the password (and any ``password=`` query parameter) removed,
and every error text passes through ``scrub`` before it is raised.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rigbench.errors import StoreError

__all__ = ["PG_EXTRA_HINT", "DbTarget", "redact", "resolve", "scrub"]

PG_EXTRA_HINT = "install the PostgreSQL driver with: pip install 'rigbench[postgres]'"
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


class DbTarget:
    """A resolved ``--db``: the SQLAlchemy URL to connect with, what to show, the file if any."""

    def __init__(self, url: str, shown: str, path: Path | None, password: str | None = None) -> None:
        self.url = url
        self.shown = shown
        self.path = path
        self.password = password

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql+psycopg://")


def resolve(db: str | os.PathLike[str] | None) -> DbTarget:
    from rigbench.paths import default_db_path

    text = str(db) if db is not None else (os.environ.get("RIGBENCH_DB") or "").strip()
    if not text:
        path = default_db_path()
        return DbTarget(f"sqlite:///{path}", str(path), path)
    if "://" not in text:
        path = Path(text).expanduser()
        return DbTarget(f"sqlite:///{path}", str(path), path)
    scheme = text.split("://", 1)[0].lower()
    if scheme in _PG_SCHEMES:
        url = "postgresql+psycopg://" + text.split("://", 1)[1]
        password = _password(url)
        return DbTarget(url, redact(text), None, password)
    if scheme.startswith("sqlite"):
        return DbTarget(text, redact(text), None)
    raise StoreError(f"unsupported database URL scheme {scheme!r} in {redact(text)}",
                     "give a file path, or postgresql://user@host/dbname")


def _password(url: str) -> str | None:
    try:
        import sqlalchemy as sa

        return sa.engine.make_url(url).password
    except Exception:  # a malformed URL: the driver says so later, redacted
        return None


_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://)([^@/?#\s]*)@")
_QUERY_PW = re.compile(r"(?i)([?&;]password=)[^&#\s]*")


def redact(url: str) -> str:
    """The URL without its password: ``postgresql://bob:s3cret@host/db`` -> ``postgresql://bob@host/db``."""
    def _user_only(m: re.Match[str]) -> str:
        user = m.group(2).split(":", 1)[0]
        return m.group(1) + (f"{user}@" if user else "")

    return _QUERY_PW.sub(r"\1***", _USERINFO.sub(_user_only, url))


def scrub(text: str, password: str | None) -> str:
    """An error text with any password it might carry removed."""
    if password:
        text = text.replace(password, "***")
    text = _QUERY_PW.sub(r"\1***", text)
    return re.sub(r"(?i)(password\s*=\s*)('[^']*'|\S+)", r"\1***", text)


def check_driver(target: DbTarget) -> None:
    """A PostgreSQL URL without psycopg installed: one line naming the extra."""
    if not target.is_postgres:
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StoreError(f"{target.shown} needs the PostgreSQL driver (psycopg 3), which is not installed",
                         PG_EXTRA_HINT) from None
