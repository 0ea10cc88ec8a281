"""compare's side specs and its command-line errors (no engine needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rigbench.errors import UsageError
from rigbench.jobs.compare import Side, parse_side


def test_side_forms() -> None:
    url = parse_side("http://127.0.0.1:8080/v1", "a")
    assert url.kind == "url" and url.engine is not None and url.engine.url == "http://127.0.0.1:8080/v1"
    named = parse_side("http://127.0.0.1:1234/v1#qwen3-8b", "a")
    assert named.engine is not None and named.engine.model_name == "qwen3-8b"
    assert named.engine.url == "http://127.0.0.1:1234/v1" and url.engine.model_name is None
    srv = parse_side("server:/opt/llama/bin/llama-server", "b", model="m.gguf", flags={"c": 4096}, extra=["--jinja"])
    assert srv.kind == "server" and srv.engine is not None
    assert srv.engine.server_bin == "/opt/llama/bin/llama-server" and srv.engine.model_path == "m.gguf"
    assert srv.engine.flags_dict() == {"c": "4096"} and srv.engine.extra_args == ("--jinja",)
    run = parse_side("run:12", "a")
    assert run.kind == "run" and run.run_id == 12 and run.engine is None and not run.live
    emb = parse_side("embedded:t=1,c=8192,ub=512", "b", flags={"c": 4096, "fa": "on"})
    assert emb.engine is not None and emb.engine.kind == "embedded"
    assert emb.engine.flags_dict() == {"t": "1", "c": "8192", "ub": "512", "fa": "on"}  # the side's own flags win
    assert parse_side("embedded", "a").engine == parse_side("embedded:", "a").engine
    assert Side.from_json(emb.to_json()) == emb


@pytest.mark.parametrize("bad", ["", "llama", "server:", "run:x", "run:", "ftp://host", "compare:3"])
def test_bad_sides_name_the_valid_forms(bad: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_side(bad, "a")
    line = exc.value.one_line()
    assert "http://" in line and "server:PATH" in line and "run:ID" in line and "embedded:" in line


def test_bad_flag_in_an_embedded_side() -> None:
    with pytest.raises(UsageError, match=r"unknown llama\.cpp flag"):
        parse_side("embedded:threads_x=2", "a")


def _one_line(r: Any) -> str:
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.err, r.err
    return str(lines[0])


def test_cli_spec_error_is_one_line(cli: Any, tmp_path: Path) -> None:
    r = cli("compare", "embedded:t=1", "nonsense", "--db", str(tmp_path / "r.db"))
    assert r.code == 2
    line = _one_line(r)
    assert "B = 'nonsense' is not a comparison side" in line and "run:ID" in line


def test_cli_missing_stored_run(cli: Any, tmp_path: Path) -> None:
    r = cli("compare", "run:41", "embedded", "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "there is no run 41" in _one_line(r)


def test_cli_option_errors(cli: Any, tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    assert "--session agent" in _one_line(cli("compare", "embedded", "embedded", "--turns", "4", "--db", db))
    assert "use --session agent" in _one_line(cli("compare", "embedded", "embedded", "--session", "chat", "--db", db))
    assert "neither side launches" in _one_line(cli("compare", "run:1", "http://127.0.0.1:9/v1", "--model", "m.gguf",
                                                    "--db", db))
    r = cli("compare", "embedded", "embedded", "--depths", "0,abc", "--db", db)
    assert r.code == 2 and "not a token count" in _one_line(r)


def test_cli_unreachable_url_fails_cleanly(cli: Any, tmp_path: Path) -> None:
    from rigbench.engines.base import free_port
    from rigbench.store import open_store

    db = tmp_path / "r.db"
    port = free_port()
    r = cli("compare", f"http://127.0.0.1:{port}/v1", f"http://127.0.0.1:{port}/v1", "--db", str(db))
    assert r.code == 3 and "nothing is listening" in _one_line(r)
    s = open_store(db)
    runs = s.list_runs(kind="compare")
    s.close()
    assert runs[0]["status"] == "failed" and "nothing is listening" in runs[0]["reason"]


def test_report_of_a_missing_run(cli: Any, tmp_path: Path) -> None:
    r = cli("report", "7", "-o", str(tmp_path / "r.html"), "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "there is no run 7" in _one_line(r)
    assert not (tmp_path / "r.html").exists()


def test_a_launched_server_without_model_gets_the_bundled_one() -> None:
    from rigbench.jobs.sides import with_model as _with_model

    side = _with_model(parse_side("server:/opt/llama-server", "a"))
    assert side.engine is not None and str(side.engine.model_path).endswith(".gguf")
    given = parse_side("server:/opt/llama-server", "a", model="/m/x.gguf")
    assert _with_model(given) == given and _with_model(parse_side("run:3", "b")).engine is None
