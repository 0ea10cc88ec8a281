"""export / import: a run as one versioned, checksummed file; round trips with identical
figures (SQLite -> file -> SQLite and PostgreSQL); a malformed or edited bundle is refused
naming the field that is wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rigbench.errors import InputError
from rigbench.store import open_store
from rigbench.store.bundle import _digest, load_bundle
from rigbench.testing.fake_server import FakeServer, Script


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One measured run (the fake server) and its bundle, shared by this module's tests."""
    from rigbench.cli import main

    tmp = tmp_path_factory.mktemp("bundle")
    db = tmp / "a.db"
    with FakeServer(Script(tokens=8, rate_tok_s=3000)) as fake:
        assert main(["run", "--url", fake.base_url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "8",
                     "--no-quality", "--db", str(db), "--label", "rig-a"]) == 0
    out = tmp / "run.rigbench.json"
    assert main(["export", "1", "-o", str(out), "--db", str(db)]) == 0
    return db, out


def _resign(b: dict[str, Any]) -> None:
    for k in ("run", "machine", "model", "engine_spec", "requests", "tables"):
        b["checksums"][k] = _digest(b[k])


def test_round_trip_has_identical_figures(cli: Any, exported: tuple[Path, Path], tmp_path: Path,
                                          pg_url: str) -> None:
    db, out = exported
    bundle = json.loads(out.read_text())
    assert bundle["format"] == "rigbench-run" and bundle["schema_version"] == 1
    store = open_store(db)
    assert bundle["run"]["command"] == store.get_run(1)["command"] and bundle["sizes"]["requests"] >= 5
    store.close()
    assert bundle["machine"]["facts"]["cores"] and bundle["run"]["label"] == "rig-a"
    original = cli("show", "1", "--json", "--db", str(db)).json()
    for target in (str(tmp_path / "b.db"), pg_url):
        i = cli("import", str(out), "--db", target, "--json")
        assert i.code == 0, i.err
        assert i.json()["outcome"] == "copied"
        again = cli("import", str(out), "--db", target, "--json")
        assert again.json()["outcome"] == "already there"
        copy = cli("show", str(i.json()["destination_run_id"]), "--json", "--db", target).json()
        for key in ("points", "verdict", "created_at", "status", "context", "notes"):
            assert copy[key] == original[key], key
    store = open_store(pg_url)
    assert len(store.list_runs()) == 1
    store.close()


@pytest.mark.parametrize(("edit", "field"), [
    (lambda b: b["requests"][1].__setitem__("t_last_token_ns", 1), "field requests does not match checksums"),
    (lambda b: b["run"].__setitem__("command", "rigbench run --faster"), "field run does not match"),
    (lambda b: b["requests"][3].__setitem__("seq", "x"), "field requests.3.seq"),
    (lambda b: b.__setitem__("schema_version", 2), "field schema_version"),
    (lambda b: b["sizes"].__setitem__("requests", 3), "field sizes.requests"),
    (lambda b: b["run"].__setitem__("uuid", "not-a-uuid"), "field run.uuid"),
    (lambda b: b.pop("checksums"), "field checksums"),
    (lambda b: b.__setitem__("format", "something"), "field format"),
])
def test_edited_or_malformed_bundles_are_refused(exported: tuple[Path, Path], tmp_path: Path, cli: Any,
                                                 edit: Any, field: str) -> None:
    _, out = exported
    b = json.loads(out.read_text())
    edit(b)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(b))
    with pytest.raises(InputError, match=field.replace(".", r"\.")):
        load_bundle(bad)
    r = cli("import", str(bad), "--db", str(tmp_path / "c.db"))
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and field in r.err
    assert not (tmp_path / "c.db").exists()  # a bad file changes nothing


def test_bounds_and_hostile_tables(exported: tuple[Path, Path], tmp_path: Path, cli: Any) -> None:
    _, out = exported
    with pytest.raises(InputError, match="over the"):
        load_bundle(out, max_bytes=1000)
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    with pytest.raises(InputError, match="is not JSON"):
        load_bundle(junk)
    # a re-signed bundle that names core tables among its run's tables: they are not touched
    b = json.loads(out.read_text())
    b["tables"] = {"requests": [], "runs": [{"id": 1}], "schema_migrations": []}
    b["sizes"]["tables"] = {"requests": 0, "runs": 1, "schema_migrations": 0}
    _resign(b)
    sneaky = tmp_path / "sneaky.json"
    sneaky.write_text(json.dumps(b))
    target = tmp_path / "d.db"
    r = cli("import", str(sneaky), "--db", str(target), "--json")
    assert r.code == 0, r.err
    store = open_store(target)
    assert len(store.requests(r.json()["destination_run_id"])) == b["sizes"]["requests"]
    store.close()
