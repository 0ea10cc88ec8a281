"""Small pure or local parts of the fleet: URLs without passwords, the machine id, labels,
date filters (no PostgreSQL needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rigbench.cli.common import sanitized_command
from rigbench.errors import StoreError, UsageError
from rigbench.model import machine
from rigbench.store import open_store
from rigbench.store.filters import parse_when
from rigbench.store.urls import redact, resolve, scrub


def test_urls_are_shown_without_passwords() -> None:
    assert redact("postgresql://bob:s3cr3t@db:5432/fleet") == "postgresql://bob@db:5432/fleet"
    assert redact("postgres://:s3cr3t@/fleet?host=/tmp") == "postgres:///fleet?host=/tmp"
    assert redact("postgresql://bob@db/f?sslmode=require&password=s3cr3t") == \
        "postgresql://bob@db/f?sslmode=require&password=***"
    assert "s3cr3t" not in scrub("FATAL: password=s3cr3t for bob (s3cr3t)", "s3cr3t")
    cmd = sanitized_command(["rigbench", "push", "--to", "postgresql://bob:s3cr3t@db/f", "--db=sqlite://u:s3cr3t@/x"])
    assert "s3cr3t" not in cmd and "postgresql://bob@db/f" in cmd
    t = resolve("postgres://bob:s3cr3t@db/f")
    assert t.url.startswith("postgresql+psycopg://") and t.shown == "postgres://bob@db/f" and t.is_postgres
    with pytest.raises(StoreError, match="unsupported database URL scheme 'mysql'"):
        resolve("mysql://bob:s3cr3t@db/f")


def test_machine_id_is_stable_not_the_hostname(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RIGBENCH_MACHINE_ID", raising=False)
    a, b = machine.machine_uid(), machine.machine_uid()
    assert a == b and len(a) == 32 and machine.machine_facts()["hostname"] not in a
    # no OS id: one generated and kept in the user's config dir
    monkeypatch.setattr(machine, "_MACHINE_ID_FILES", (str(tmp_path / "none"),))
    monkeypatch.setattr(machine.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    g1 = machine.machine_uid()
    assert g1 != a and (tmp_path / "cfg" / "rigbench" / "machine-id").read_text().strip() == g1
    assert machine.machine_uid() == g1


def test_labels_from_the_environment_and_bad_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(tmp_path / "x.db")
    try:
        monkeypatch.setenv("RIGBENCH_LABEL", "rig-env")
        rid = store.create_run(kind="compare", spec=None, params={}, command="c", machine={"machine_id": "m"},
                               tool_version="0")
        assert store.get_run(rid)["label"] == "rig-env"  # type: ignore[index]
        monkeypatch.setenv("RIGBENCH_LABEL", "bad\x1b[2J")
        with pytest.raises(UsageError, match="not usable"):
            store.create_run(kind="run", spec=None, params={}, command="c", machine={}, tool_version="0")
    finally:
        store.close()


def test_dates_for_the_filters() -> None:
    assert parse_when("2026-11-30") == "2026-11-30T00:00:00+00:00"
    assert parse_when("2026-11-30", end=True) == "2026-12-01T00:00:00+00:00"
    assert parse_when("2026-11-30T10:00:00+02:00") == "2026-11-30T08:00:00+00:00"
    assert parse_when("7d") is not None and parse_when(None) is None
    with pytest.raises(UsageError, match="cannot read the date"):
        parse_when("last tuesday")
