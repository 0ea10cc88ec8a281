"""Named schema migrations, applied in order, each once, each in its own transaction.

Each migration defines the tables it creates with its own MetaData (a frozen copy), so a
later change to ``schema.py`` never rewrites history. Only generic SQL types are used,
so the same migrations run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

import sqlalchemy as sa

__all__ = ["MIGRATIONS", "applied_migrations", "migrate"]


def _m0001_initial(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "machines", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
        sa.Column("hostname", sa.Text),
        sa.Column("facts", sa.JSON),
        sa.Column("created_at", sa.Text),
    )
    sa.Table(
        "models", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text),
        sa.Column("path", sa.Text),
        sa.Column("quant", sa.Text),
        sa.Column("file_bytes", sa.BigInteger),
        sa.Column("native_context", sa.Integer),
        sa.Column("facts", sa.JSON),
        sa.Column("created_at", sa.Text),
    )
    sa.Table(
        "engine_specs", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("spec_hash", sa.String(32), nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Text),
    )
    sa.Table(
        "runs", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text),
        sa.Column("finished_at", sa.Text),
        sa.Column("tool_version", sa.Text),
        sa.Column("command", sa.Text),
        sa.Column("engine_spec_id", sa.Integer, sa.ForeignKey("engine_specs.id")),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id")),
        sa.Column("machine_id", sa.Integer, sa.ForeignKey("machines.id")),
        sa.Column("params", sa.JSON),
        sa.Column("server_facts", sa.JSON),
        sa.Column("notes", sa.JSON),
        sa.Column("extra", sa.JSON),
    )
    sa.Table(
        "requests", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("phase", sa.Text, nullable=False),
        sa.Column("depth", sa.Integer),
        sa.Column("rep", sa.Integer),
        sa.Column("role", sa.Text),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("http_status", sa.Integer),
        sa.Column("t_sent_ns", sa.BigInteger),
        sa.Column("t_headers_ns", sa.BigInteger),
        sa.Column("t_first_token_ns", sa.BigInteger),
        sa.Column("t_first_content_ns", sa.BigInteger),
        sa.Column("t_last_token_ns", sa.BigInteger),
        sa.Column("t_end_ns", sa.BigInteger),
        sa.Column("prompt_tokens", sa.Integer),
        sa.Column("completion_tokens", sa.Integer),
        sa.Column("cached_tokens", sa.Integer),
        sa.Column("reasoning_tokens", sa.Integer),
        sa.Column("finish_reason", sa.Text),
        sa.Column("usage", sa.JSON),
        sa.Column("timings", sa.JSON),
        sa.Column("chunk_ns", sa.JSON),
        sa.Column("n_events", sa.Integer),
        sa.Column("content", sa.Text),
        sa.Column("reasoning", sa.Text),
        sa.Column("extra", sa.JSON),
        sa.Column("created_at", sa.Text),
    )
    sa.Table(
        "measurements", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("metric", sa.Text, nullable=False),
        sa.Column("depth", sa.Integer),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("unit", sa.Text),
        sa.Column("ci_lo", sa.Float),
        sa.Column("ci_hi", sa.Float),
        sa.Column("n", sa.Integer),
        sa.Column("extra", sa.JSON),
    )
    md.create_all(conn)


def _m0002_tune_trials(conn: sa.Connection) -> None:
    """Tuning campaigns (runs of kind "tune"): one row per trial, its decision and evidence."""
    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.Integer, primary_key=True))  # for the foreign key only
    sa.Table(
        "tune_trials", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("config_key", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("hypothesis", sa.Text),
        sa.Column("decision", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("figures", sa.JSON),
        sa.Column("evidence", sa.JSON),
        sa.Column("log_tail", sa.Text),
        sa.Column("extra", sa.JSON),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text),
        sa.UniqueConstraint("run_id", "n", name="uq_tune_trials_run_n"),
    )
    md.tables["tune_trials"].create(conn)


def _m0010_answers(conn: sa.Connection) -> None:
    """Graded answers as raw rows (table ``answers``): one per answer the quality pass or a
    quality gate graded, with the request it grades, the grader's detail and the judge's
    rating. The quality figures are derived from these rows on read; release 0.1.0 kept
    the score in ``requests.extra`` and the aggregate in ``runs.extra["quality"]``, so the
    rows are back-filled from the former and the latter keeps only the pass's inputs."""
    from rigbench.store.backfill import backfill_answers

    md = sa.MetaData()
    sa.Table("runs", md, sa.Column("id", sa.Integer, primary_key=True))  # for the foreign keys only
    sa.Table("requests", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "answers", md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
        sa.Column("request_id", sa.Integer, sa.ForeignKey("requests.id"), nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),  # "quality" (the quality pass) | "gate" (a quality gate)
        sa.Column("scope", sa.Text),  # whose answer in a gate: "trial:3" (tune), "arm:q8_0" (lab)
        sa.Column("suite", sa.Text),
        sa.Column("suite_version", sa.Text),
        sa.Column("prompt_id", sa.Text, nullable=False),
        sa.Column("category", sa.Text),
        sa.Column("rep", sa.Integer),
        sa.Column("score", sa.Float, nullable=False),  # 0..5
        sa.Column("detail", sa.JSON),  # the grader's word: what matched, what failed
        sa.Column("judge_rating", sa.Float),  # 1..5 where a judge ran and its reply could be read
        sa.Column("judge_request_id", sa.Integer, sa.ForeignKey("requests.id")),
        sa.Column("extra", sa.JSON),  # how it was asked: mode, seed, temperature, primer, retried ...
        sa.Column("created_at", sa.Text),
    )
    md.tables["answers"].create(conn)
    backfill_answers(conn)


def _m0011_drop_measurements(conn: sa.Connection) -> None:
    """Drop ``measurements``: nothing ever wrote it. Every figure is derived on read from the
    raw rows (``requests``, ``answers``, ``tune_trials``), so a table of derived values could
    only drift from them."""
    md = sa.MetaData()
    t = sa.Table("measurements", md, sa.Column("id", sa.Integer, primary_key=True))
    t.drop(conn, checkfirst=True)


def _m0012_derived_out_of_run_extra(conn: sa.Connection) -> None:
    """``runs.extra`` keeps inputs only (plans, options, facts learned): the session
    summary, the lab table, the lab quality gates' scores and the tune final's figures
    that release 0.1.0 froze there are derived from the stored requests and answers on
    read, and are taken out (``store.backfill.strip_derived_extra``)."""
    from rigbench.store.backfill import strip_derived_extra

    strip_derived_extra(conn)


def _add_column(conn: sa.Connection, table: str, column: str, sql_type: str) -> None:
    """ALTER TABLE ... ADD COLUMN: the same statement on SQLite and PostgreSQL."""
    conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))


def _m0020_run_uuid(conn: sa.Connection) -> None:
    """A global run id (UUID) on every run, back-filled: what push, pull, export and import
    recognise a run by across databases."""
    import uuid

    _add_column(conn, "runs", "uuid", "VARCHAR(36)")
    ids = [int(r[0]) for r in conn.execute(sa.text("SELECT id FROM runs WHERE uuid IS NULL"))]
    for rid in ids:
        conn.execute(sa.text("UPDATE runs SET uuid = :u WHERE id = :i"), {"u": str(uuid.uuid4()), "i": rid})
    conn.execute(sa.text("CREATE UNIQUE INDEX ix_runs_uuid ON runs (uuid)"))


def _m0021_machine_identity(conn: sa.Connection) -> None:
    """A stable machine id (not the hostname) and a user label on machines, the label on runs,
    and the indexes the fleet's filters and views use."""
    _add_column(conn, "machines", "uid", "VARCHAR(64)")
    _add_column(conn, "machines", "label", "TEXT")
    _add_column(conn, "runs", "label", "TEXT")
    conn.execute(sa.text("CREATE INDEX ix_machines_uid ON machines (uid)"))
    conn.execute(sa.text("CREATE INDEX ix_runs_label ON runs (label)"))
    conn.execute(sa.text("CREATE INDEX ix_runs_machine_id ON runs (machine_id)"))
    conn.execute(sa.text("CREATE INDEX ix_runs_kind_status ON runs (kind, status)"))
    conn.execute(sa.text("CREATE INDEX ix_runs_created_at ON runs (created_at)"))


MIGRATIONS: list[tuple[str, Callable[[sa.Connection], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_tune_trials", _m0002_tune_trials),
    ("0010_answers", _m0010_answers),
    ("0011_drop_measurements", _m0011_drop_measurements),
    ("0012_derived_out_of_run_extra", _m0012_derived_out_of_run_extra),
    ("0020_run_uuid", _m0020_run_uuid),
    ("0021_machine_identity", _m0021_machine_identity),
]


def _ensure_table(conn: sa.Connection) -> sa.Table:
    md = sa.MetaData()
    t = sa.Table(
        "schema_migrations", md,
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("applied_at", sa.Text, nullable=False),
    )
    md.create_all(conn)
    return t


def applied_migrations(conn: sa.Connection) -> list[str]:
    t = _ensure_table(conn)
    return [r[0] for r in conn.execute(sa.select(t.c.name).order_by(t.c.name))]


_PG_LOCK_KEY = 0x726967626E6368  # "rigbnch": one key for rigbench's migrations


def migrate(engine: sa.Engine, attempts: int = 5) -> list[str]:
    """Apply what is missing; returns the names applied now.

    Two rigbench processes may open a new database at the same moment: the loser of a
    race on CREATE TABLE sees "already exists" once the winner commits, and simply
    starts over (by then the winner has recorded what it applied). On PostgreSQL the
    migrations run under an advisory lock, so a second process simply waits."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock:
            lock.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            try:
                return _migrate_once(engine)
            finally:
                lock.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                lock.commit()
    for attempt in range(attempts):
        try:
            return _migrate_once(engine)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as exc:
            if "already exists" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    return []


def _migrate_once(engine: sa.Engine) -> list[str]:
    done_now: list[str] = []
    with engine.begin() as conn:
        table = _ensure_table(conn)
    for name, fn in MIGRATIONS:
        try:
            with engine.begin() as conn:
                have = {r[0] for r in conn.execute(sa.select(table.c.name))}
                if name in have:
                    continue
                fn(conn)
                conn.execute(table.insert().values(name=name, applied_at=datetime.now(timezone.utc).isoformat()))
                done_now.append(name)
        except (sa.exc.IntegrityError, sa.exc.OperationalError, sa.exc.ProgrammingError):
            # another rigbench process applied it at the same moment: fine if it is recorded now
            with engine.connect() as conn:
                if name not in {r[0] for r in conn.execute(sa.select(table.c.name))}:
                    raise
    return done_now
