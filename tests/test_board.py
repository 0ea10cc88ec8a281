"""The leaderboard: rows from run summaries, filters, sorting, golden text for the table
and the markdown export, and ``rigbench board`` over a real results database."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rigbench.report.board import board_csv, board_json, board_markdown, board_table, build_board, fmt_tokens
from rigbench.results import RunResult
from rigbench.store import open_store
from rigbench.types import EngineSpec, RequestRecord

GOLDEN = Path(__file__).parent / "golden"


def _summary(run_id: int, name: str, quant: str, quality: float | None, points: list[tuple[int, float, float, float]],
             **kw: Any) -> RunResult:
    return RunResult.from_json(_summary_json(run_id, name, quant, quality, points, **kw))


def _summary_json(run_id: int, name: str, quant: str, quality: float | None,
                  points: list[tuple[int, float, float, float]], *, host: str = "studio", kind: str = "llama-server",
                  flags: dict[str, str] | None = None, native: int = 202752, disk: int = 14_000_000_000,
                  status: str = "complete", ceiling: dict[int, float] | None = None, cls: str = "background",
                  suite: tuple[str, str] | None = None) -> dict[str, Any]:
    pts: list[dict[str, Any]] = [{"depth": d, "decode_tok_s": dec, "prefill_tok_s": pre, "ttft_ms": ttft,
                                  "pct_of_ceiling": (ceiling or {}).get(d)} for d, dec, pre, ttft in points]
    at = max((p for p in pts if p["depth"] <= 32768), key=lambda p: int(p["depth"]))
    return {
        "run_id": run_id, "status": status, "created_at": "2026-04-01T10:00:00+00:00",
        "model": {"name": name, "quant": quant, "file_bytes": disk, "native_context": native, "path": f"/m/{name}"},
        "engine": {"kind": kind, "flags": flags or {}, "base_url": "http://127.0.0.1:8080/v1"},
        "machine": {"hostname": host},
        "points": pts,
        "verdict": {"class": cls, "decode_tok_s": at["decode_tok_s"], "at_depth": at["depth"], "working_depth": 32768},
        **({"quality": {"score": quality, "ci": [quality - 0.2, quality + 0.2],
                        **({"suite": suite[0], "suite_version": suite[1]} if suite else {})}}
           if quality is not None else {}),
    }


def _fleet() -> list[RunResult]:
    return [
        _summary(1, "GLM-4.7-Flash", "Q4_K_M", 2.14, [(0, 70.1, 900.0, 40.0), (32768, 62.3, 610.5, 2900.0)],
                 disk=18_000_000_000, native=131072, flags={"ub": "2048", "fa": "on"}, ceiling={32768: 71.0}),
        _summary(2, "Qwen3.5-122B-A10B", "Q8_0", 4.09, [(0, 25.0, 300.0, 80.0), (16384, 22.9, 210.0, 9100.0)],
                 disk=121_000_000_000, native=262144),
        _summary(3, "gemma-3-270m", "Q4_K - Medium", None, [(0, 160.2, 4100.0, 12.0), (32768, 101.5, 2100.0, 300.0)],
                 host="laptop", kind="embedded", disk=253_000_000, native=32768, cls="background"),
        _summary(4, "SuperGemma4-26B", "MLX 4-bit", 4.41, [(0, 63.3, 500.0, 30.0)], kind="url",
                 disk=14_000_000_000, native=1048576, status="incomplete"),
        _summary(5, "broken", "Q4_0", 3.0, [(0, 10.0, 10.0, 10.0)], status="failed"),
    ]


def _render(renderable: Any) -> str:
    console = Console(width=120, color_system=None, force_terminal=False, record=True)
    console.print(renderable)
    return console.export_text()


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RIGBENCH_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; RIGBENCH_UPDATE_GOLDEN=1 rewrites it after a review"


def test_board_table_golden() -> None:
    _golden("board.txt", _render(board_table(build_board(_fleet()))))


def test_board_markdown_golden() -> None:
    _golden("board.md.txt", board_markdown(build_board(_fleet())))


def test_rows_sorting_and_what_is_left_out() -> None:
    rows = build_board(_fleet())
    assert [r.model for r in rows] == ["SuperGemma4-26B", "Qwen3.5-122B-A10B", "GLM-4.7-Flash", "gemma-3-270m"]
    assert "broken" not in [r.model for r in rows]  # a failed run measured nothing to rank
    by_decode = build_board(_fleet(), sort="decode")
    assert [r.decode_tok_s for r in by_decode] == [101.5, 63.3, 62.3, 22.9]
    qwen = next(r for r in rows if r.model.startswith("Qwen"))
    assert (qwen.depth, qwen.at_working_depth, qwen.prefill_tok_s, qwen.ttft_ms) == (16384, False, 210.0, 9100.0)
    glm = next(r for r in rows if r.model.startswith("GLM"))
    assert glm.at_working_depth and glm.pct_of_ceiling == 71.0 and glm.engine == "llama-server -fa on -ub 2048"


def test_filters_by_machine_engine_model() -> None:
    assert [r.model for r in build_board(_fleet(), machine="LAPTOP")] == ["gemma-3-270m"]
    assert [r.model for r in build_board(_fleet(), engine="ub 2048")] == ["GLM-4.7-Flash"]
    assert [r.model for r in build_board(_fleet(), model="qwen")] == ["Qwen3.5-122B-A10B"]
    assert build_board(_fleet(), machine="nowhere") == []


def test_newest_complete_run_per_configuration() -> None:
    older = _summary(10, "m", "Q4", 1.0, [(0, 50.0, 100.0, 10.0)])
    newer = _summary(11, "m", "Q4", 2.0, [(0, 55.0, 100.0, 10.0)])
    newest_incomplete = _summary(12, "m", "Q4", 3.0, [(0, 60.0, 100.0, 10.0)], status="incomplete")
    tuned = _summary(13, "m", "Q4", 2.5, [(0, 70.0, 100.0, 10.0)], flags={"ub": "2048"})
    rows = build_board([older, newer, newest_incomplete, tuned])
    assert sorted(r.run_id for r in rows) == [11, 13]
    assert len(build_board([older, newer, newest_incomplete, tuned], all_runs=True)) == 4


def test_an_agent_session_is_a_row_of_its_own_with_its_medians() -> None:
    sweep = _summary(20, "m", "Q4", None, [(0, 90.0, 800.0, 20.0)])
    session = RunResult.from_json({
        **_summary_json(21, "m", "Q4", None, [(0, 1.0, 1.0, 1.0)]), "points": [],
        "session": {"decode_median_tok_s": 84.8, "prefill_median_tok_s": 950.0, "ttft_median_ms": 310.0},
        "verdict": {"class": "background", "decode_tok_s": 84.8, "basis": "session", "at_depth": None,
                    "working_depth": 32768}})
    rows = build_board([sweep, session])
    assert sorted(r.run_id for r in rows) == [20, 21]
    row = next(r for r in rows if r.run_id == 21)
    assert row.session and row.decode_tok_s == 84.8 and row.prefill_tok_s == 950.0 and row.ttft_ms == 310.0
    md = board_markdown(rows)
    assert "| 84.8 (session) | 950 | 310 |" in md and "an agent session's medians" in md


def test_csv_and_json_carry_raw_values() -> None:
    rows = build_board(_fleet())
    recs = list(csv.DictReader(io.StringIO(board_csv(rows))))
    assert recs[0]["model"] == "SuperGemma4-26B" and recs[0]["quality"] == "4.41"
    assert recs[0]["quality_ci_low"] == str(4.41 - 0.2) and recs[0]["status"] == "incomplete"
    data = board_json(rows)
    assert json.loads(json.dumps(data))[1]["native_context"] == 262144
    assert data[2]["at_working_depth"] is True and data[1]["at_working_depth"] is False


# -- quality suites: scores of different suite versions are ranked apart -------------------
def _two_versions() -> list[RunResult]:
    return [
        _summary(30, "old-high", "Q4", 4.6, [(0, 50.0, 100.0, 10.0)], suite=("default", "1.0")),
        _summary(31, "new-mid", "Q4", 4.3, [(0, 40.0, 100.0, 10.0)], suite=("default", "1.1")),
        _summary(32, "new-top", "Q8", 4.5, [(0, 30.0, 100.0, 10.0)], suite=("default", "1.1")),
        _summary(33, "old-low", "Q2", 3.9, [(0, 60.0, 100.0, 10.0)], suite=("default", "1.0")),
        _summary(34, "no-quality", "Q4", None, [(0, 99.0, 100.0, 10.0)]),
    ]


def test_suite_versions_are_ranked_apart() -> None:
    rows = build_board(_two_versions())
    # 1.1 (the newest run's suite) first, then 1.0: 4.6 under 1.0 does not outrank 4.5 under 1.1
    assert [r.model for r in rows] == ["new-top", "new-mid", "old-high", "old-low", "no-quality"]
    assert [r.quality_suite for r in rows] == ["default 1.1", "default 1.1", "default 1.0", "default 1.0", None]
    assert [r.model for r in build_board(_two_versions(), sort="decode")][:2] == ["no-quality", "old-low"]


def test_suite_versions_are_marked_in_every_format() -> None:
    rows = build_board(_two_versions())
    md = board_markdown(rows)
    assert "| new-top | Q8 | 4.50¹ |" in md and "| old-high | Q4 | 4.60² |" in md
    assert "suites: ¹ default 1.1, ² default 1.0" in md and "not comparable" in md
    text = _render(board_table(rows))
    assert "4.50¹" in text and "4.60²" in text and "¹ default 1.1" in text
    recs = list(csv.DictReader(io.StringIO(board_csv(rows))))
    assert [x["quality_suite"] for x in recs] == ["default 1.1", "default 1.1", "default 1.0", "default 1.0", ""]
    assert board_json(rows)[2]["quality_suite"] == "default 1.0"


def test_one_suite_is_named_without_marks() -> None:
    rows = build_board([s for s in _two_versions() if s.run_id in (31, 32, 34)])
    md = board_markdown(rows)
    assert "¹" not in md and "| new-top | Q8 | 4.50 |" in md
    assert "Quality: machine-graded, 0-5 (suite default 1.1)." in md


def test_a_score_without_a_recorded_suite_is_its_own_group() -> None:
    rows = build_board([*_two_versions()[:2], _summary(35, "legacy", "Q4", 5.0, [(0, 1.0, 1.0, 1.0)])])
    assert [r.model for r in rows] == ["new-mid", "old-high", "legacy"]
    assert "³ suite not recorded" in board_markdown(rows)


def test_fmt_tokens() -> None:
    assert [fmt_tokens(n) for n in (None, 512, 32768, 202752, 1048576, 1_500_000)] == \
        ["—", "512", "32K", "198K", "1M", "1.4M"]


# -- through the store and the CLI --------------------------------------------------------
def _rec(t0: int, prompt: int, gen: int, ttft_ms: float, decode_tok_s: float) -> RequestRecord:
    first = t0 + int(ttft_ms * 1e6)
    last = first + int((gen - 1) / decode_tok_s * 1e9)
    return RequestRecord(status="ok", t_sent_ns=t0, t_first_token_ns=first, t_first_content_ns=first,
                         t_last_token_ns=last, t_end_ns=last + 1000, prompt_tokens=prompt, completion_tokens=gen,
                         cached_tokens=0, reasoning_tokens=0, finish_reason="length",
                         timings={"prompt_n": prompt, "cache_n": 0, "predicted_n": gen})


def _stored_run(db: Path, *, name: str, host: str, decode: float, quality: float | None,
                suite: tuple[str, str] | None = None) -> int:
    store = open_store(db)
    try:
        spec = EngineSpec(kind="embedded")
        rid = store.create_run(kind="run", spec=spec, params={}, command="test", machine={"hostname": host},
                               tool_version="t")
        store.update_run(rid, server_facts={"kind": "embedded", "granted_context": 32768, "n_ctx_train": 32768})
        store.set_model(rid, {"name": name, "quant": "Q4_K_M", "file_bytes": 253_000_000, "native_context": 32768,
                              "path": f"/m/{name}.gguf"})
        for rep in range(2):
            store.add_request(rid, _rec(10**9 * (rep + 1), 1024, 64, 200.0, decode), phase="speed", depth=1024,
                              rep=rep, role="grow" if rep == 0 else "probe")
        if quality is not None:
            q: dict[str, Any] = {"score": quality, "ci": [quality - 0.5, quality + 0.5]}
            if suite:
                q.update(suite=suite[0], suite_version=suite[1])
            store.update_run(rid, extra={"quality": q})
        store.finish_run(rid, "complete")
        return rid
    finally:
        store.close()


def test_cli_board_over_a_database(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _stored_run(db, name="alpha", host="box1", decode=80.0, quality=1.5)
    _stored_run(db, name="beta", host="box2", decode=120.0, quality=None)
    r = cli("board", "--db", str(db), "--format", "json")
    assert r.code == 0
    rows = r.json()
    assert [x["model"] for x in rows] == ["alpha", "beta"]  # quality first; no quality sorts last
    assert rows[0]["decode_tok_s"] == pytest.approx(80.0, rel=0.01) and rows[0]["depth"] == 1024
    assert rows[0]["at_working_depth"] is False and rows[0]["machine"] == "box1"
    r = cli("board", "--db", str(db), "--sort", "decode", "--format", "md")
    assert r.code == 0 and r.out.splitlines()[2].startswith("| beta |")
    r = cli("board", "--db", str(db), "--machine", "box2", "--format", "csv")
    assert [x["model"] for x in csv.DictReader(io.StringIO(r.out))] == ["beta"]
    r = cli("board", "--db", str(db))
    assert r.code == 0 and "alpha" in r.out and "Leaderboard" in r.out
    r = cli("board", "--db", str(db), "--sort", "speed")
    assert r.code == 2 and "--sort quality" in r.err


def test_cli_board_keeps_suite_versions_apart(cli: Any, tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    _stored_run(db, name="graded-1-0", host="box1", decode=80.0, quality=4.8, suite=("default", "1.0"))
    _stored_run(db, name="graded-1-1", host="box2", decode=70.0, quality=4.2, suite=("default", "1.1"))
    r = cli("board", "--db", str(db), "--format", "json")
    assert r.code == 0
    assert [(x["model"], x["quality_suite"]) for x in r.json()] == [("graded-1-1", "default 1.1"),
                                                                    ("graded-1-0", "default 1.0")]
    r = cli("board", "--db", str(db))
    assert r.code == 0 and "4.20¹" in r.out and "4.80²" in r.out and "default 1.0" in r.out


def test_html_leaderboard_names_the_suite_when_runs_mix_versions() -> None:
    from rigbench.report.html import leaderboard_rows

    mixed = leaderboard_rows(_two_versions())
    assert [r["quality"] for r in mixed[:2]] == ["4.60 (default 1.0)", "4.30 (default 1.1)"]
    assert mixed[4]["quality"] == "—"
    one = leaderboard_rows(_two_versions()[1:3])
    assert [r["quality"] for r in one] == ["4.30", "4.50"]


def test_suite_order_newest_suite_first_then_newest_version() -> None:
    from rigbench.report.board import suite_order

    fleet = [_summary(40, "a", "Q4", 4.0, [(0, 1.0, 1.0, 1.0)], suite=("default", "1.10")),
             _summary(41, "b", "Q4", 4.0, [(0, 1.0, 1.0, 1.0)], suite=("default", "1.9")),
             _summary(42, "c", "Q4", 4.0, [(0, 1.0, 1.0, 1.0)], suite=("mine", "2 beta"))]
    assert suite_order(build_board(fleet)) == ["mine 2 beta", "default 1.10", "default 1.9"]
    assert suite_order(build_board(fleet[:2])) == ["default 1.10", "default 1.9"]  # 1.10 is newer than 1.9
