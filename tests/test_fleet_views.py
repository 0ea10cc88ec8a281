"""The fleet's views on a real PostgreSQL: runs from two machines (two machine ids, two
labels) and two server builds; board --by machine, history (table, chart, HTML, the change and
its CI), and the filters by label, machine, build and date on board, runs and report. The
pure parts (the change statistic, the machine rows and their sentence) are checked on
synthetic figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rigbench.jobs.fleet import by_machine
from rigbench.measure.history import build_change
from rigbench.report.fleet import machine_board_markdown, machine_board_view
from rigbench.testing.fake_server import FakeServer, Script


def _run(cli: Any, db: str, rate: float, version: str, label: str) -> int:
    with FakeServer(Script(dialect="vllm", version=version, tokens=24, rate_tok_s=rate, models=["gemma"])) as f:
        r = cli("run", "--url", f.base_url, "--depths", "0,128", "--repeats", "3", "--gen-tokens", "24",
                "--no-quality", "--json", "--db", db, "--label", label)
    assert r.code == 0, r.err
    return int(r.json()["run_id"])


def test_board_by_machine_history_and_filters(cli: Any, pg_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RIGBENCH_MACHINE_ID", "machine-a")
    old = _run(cli, pg_url, 150, "0.31.0", "rig-a")
    new = _run(cli, pg_url, 300, "0.32.0", "rig-a")
    monkeypatch.setenv("RIGBENCH_MACHINE_ID", "machine-b")
    other = _run(cli, pg_url, 100, "0.32.0", "rig-b")

    # history: machine A across two builds, the second about twice as fast, with a CI
    h = cli("history", "gemma", "--db", pg_url, "--json")
    assert h.code == 0, h.err
    groups = {g["machine"]: g for g in h.json()}
    assert set(groups) == {"rig-a", "rig-b"}
    a = groups["rig-a"]["runs"]
    assert [r["run_id"] for r in a] == [old, new] and [r["build"] for r in a] == ["vLLM 0.31.0", "vLLM 0.32.0"]
    change = a[1]["change"]
    assert a[0]["change"] is None and change["ci"] is not None and change["verdict"] == "b_faster"
    assert 40 < change["pct"] < 200 and change["ci"][0] > 1.0, change
    text = cli("history", "--db", pg_url, "--machine", "rig-a", "--html", str(tmp_path / "h.html"))
    assert text.code == 0 and "vLLM 0.31.0" in text.out and "█" in text.out and "faster" in text.out
    assert "rig-b" not in text.out
    page = (tmp_path / "h.html").read_text()
    assert "<svg" in page and "<polyline" in page and "vLLM 0.32.0" in page and "<script" not in page

    # board --by machine: the same model on both machines, the fastest first
    b = cli("board", "--by", "machine", "--db", pg_url, "--json")
    assert b.code == 0, b.err
    (g,) = b.json()
    assert g["model"] == "gemma" and [m["machine"] for m in g["machines"]] == ["rig-a", "rig-b"]
    assert g["machines"][0]["run_id"] == new  # each machine's newest run
    assert g["machines"][0]["rel_to_fastest"] == 1.0 and g["machines"][1]["rel_to_fastest"] < 0.6
    table = cli("board", "--by", "machine", "--db", pg_url)
    assert table.code == 0 and "rig-a" in table.out and "% of ceiling" in table.out

    # filters: label, machine, build, date, on board, runs and report
    only_b = cli("board", "--db", pg_url, "--label", "rig-b", "--json").json()
    assert [r["run_id"] for r in only_b] == [other]
    assert [r["run_id"] for r in cli("runs", "--db", pg_url, "--build", "0.31", "--json").json()] == [old]
    assert sorted(r["run_id"] for r in cli("runs", "--db", pg_url, "--machine", "rig-a", "--json").json()) == \
        [old, new]
    assert cli("runs", "--db", pg_url, "--until", "2000-01-01", "--json").json() == []
    assert len(cli("runs", "--db", pg_url, "--since", "1d", "--json").json()) == 3
    rep = cli("report", "--db", pg_url, "--label", "rig-b", "-o", str(tmp_path / "r.html"))
    assert rep.code == 0, rep.err
    assert "1 run(s)" in rep.err
    bad = cli("runs", "--db", pg_url, "--since", "yesterday-ish")
    assert bad.code == 2 and "cannot read the date" in bad.err


def test_build_change_statistics() -> None:
    before = {0: [100.0, 102.0, 98.0, 101.0], 512: [90.0, 91.0, 89.0]}
    after = {0: [133.0, 131.0, 135.0, 134.0], 512: [120.0, 119.0, 121.0], 1024: [80.0]}
    c = build_change(before, after)
    assert c["depths"] == [0, 512] and c["verdict"] == "b_faster"
    assert 30 < c["pct"] < 36 and c["ci"][0] > 1.25 and c["ci"][1] < 1.40
    same = build_change({0: [100.0, 101.0, 99.0]}, {0: [100.5, 99.5, 100.0]})
    assert same["verdict"] == "no_difference" and same["ci"][0] < 1.0 < same["ci"][1]
    one = build_change({0: [100.0]}, {0: [120.0]})
    assert one["pct"] == 20.0 and one["ci"] is None and "fewer than two" in one["ci_method"]
    assert build_change({0: [1.0]}, {256: [2.0]})["ratio"] is None


def _summary(run_id: int, host: str, decode: float, ceiling: float, created: str) -> dict[str, Any]:
    return {"run_id": run_id, "created_at": created, "model": {"name": "Qwen3-30B-A3B", "quant": "Q4_K_M"},
            "engine": {"kind": "llama-server", "build": "b6500"},
            "machine": {"hostname": host, "machine_id": host + "-id", "cpu": f"Apple {host}", "gpus": []},
            "fleet": {"machine_uid": host + "-id", "machine_label": host},
            "verdict": {"at_depth": 0, "decode_tok_s": decode},
            "points": [{"depth": 0, "decode_tok_s": decode, "ceiling_tok_s": ceiling,
                        "pct_of_ceiling": round(decode / ceiling * 100, 1)}],
            "ceiling": {"bandwidth_gb_s": ceiling * 3.0, "bandwidth_source": "vendor figure"}}


def test_machine_rows_and_the_chip_sentence() -> None:
    groups = by_machine([_summary(1, "M3 Max", 45.0, 100.0, "2026-01-01"),
                         _summary(2, "M4 Max", 82.0, 180.0, "2026-01-02"),
                         _summary(3, "M3 Max", 44.0, 100.0, "2025-12-01")])  # older run of M3: not shown
    (g,) = groups
    assert [m["machine"] for m in g["machines"]] == ["M4 Max", "M3 Max"]
    assert [m["run_id"] for m in g["machines"]] == [2, 1]
    assert g["machines"][1]["pct_of_ceiling"] == 45.0 and g["machines"][0]["bandwidth_gb_s"] == 540.0
    from rich.console import Console

    con = Console(width=200, record=True, color_system=None)
    con.print(machine_board_view(groups))
    text = con.export_text()
    assert "M4 Max decodes 1.82x as fast as M3 Max" in text and "the chip (its memory bandwidth) decides" in text
    md = machine_board_markdown(groups)
    assert md.count("\n") == 4 and "| 82.0 @0 |" in md


def test_hostile_names_are_shown_as_text() -> None:
    from rich.console import Console

    from rigbench.report.fleet import history_html, history_view

    evil = "<script>alert(1)</script>[bold red]\x1b[2J|x"
    s1, s2 = _summary(1, evil, 45.0, 100.0, "2026-01-01"), _summary(2, "M4 Max", 82.0, 180.0, "2026-01-02")
    s1["model"]["name"] = s2["model"]["name"] = evil
    groups = by_machine([s1, s2])
    con = Console(width=200, record=True, color_system=None)
    con.print(machine_board_view(groups))
    text = con.export_text()
    assert "\x1b" not in text and "[bold red]" in text  # markup shown, escape made visible
    md = machine_board_markdown(groups)
    assert "\x1b" not in md and md.count("\n") == 4  # the pipe cannot break the table
    hist = [{"machine": evil, "model": evil, "quant": "Q4", "runs": [
        {"run_id": 1, "created_at": "2026-01-01", "build": evil, "decode_tok_s": 10.0, "depth": 0, "change": None},
        {"run_id": 2, "created_at": "2026-01-02", "build": "b2", "decode_tok_s": 12.0, "depth": 0,
         "change": build_change({0: [10.0, 10.1]}, {0: [12.0, 12.1]})}]}]
    page = history_html(hist)
    assert "<script>" not in page and "&lt;script&gt;" in page and "\x1b" not in page
    con.print(history_view(hist))
    assert "\x1b" not in con.export_text()
