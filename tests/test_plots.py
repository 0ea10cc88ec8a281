"""Plots (matplotlib Agg, PNG and SVG) and the terminal charts, from summaries."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rigbench.report.plots import PLOTS, figure, plot_series, save_figure, series_of, svg_text
from rigbench.report.terminal import compare_card, decode_bars, session_curve, sparkline
from rigbench.results import CompareResult, LoadResult, RunResult


def run_summary_fixture() -> RunResult:
    return RunResult.from_json(run_summary_json())


def compare_summary_fixture() -> CompareResult:
    return CompareResult.from_json(compare_summary_json())


def run_summary_json() -> dict[str, Any]:
    pts = [{"depth": d, "decode_tok_s": 80.0 - d / 1024, "decode_ci": [78.0 - d / 1024, 82.0 - d / 1024],
            "prefill_tok_s": 400.0 - d / 100, "ttft_ms": 100 + d / 4, "ttft_warm_ms": 60.0, "prompt_tokens": d + 40}
           for d in (0, 1024, 4096, 16384)]
    per = [{"turn": i, "kind": "run", "status": "ok", "depth": i * 300, "prompt_tokens": i * 300 + 200,
            "processed_tokens": 200, "cache_n": i * 300, "ttft_ms": 400.0, "prefill_tok_s": 500.0,
            "decode_tok_s": 85.0 - (7 if i == 5 else 0) - i * 0.2} for i in range(12)]
    return {"kind": "run", "run_id": 3, "model": {"name": "Gemma 3 270m"}, "engine": {"kind": "embedded",
            "flags": {"t": "2"}}, "points": pts,
            "session": {"per_turn": per, "decode_median_tok_s": 83.9, "decode_worst_tok_s": 77.0, "worst_turn": 5}}


def compare_summary_json() -> dict[str, Any]:
    depths = [{"depth": d, "a_decode_tok_s": 60.0 - d / 2048, "b_decode_tok_s": 80.0 - d / 1024,
               "a_decode_ci": [58.0 - d / 2048, 61.0 - d / 2048], "b_decode_ci": [79.0 - d / 1024, 81.5 - d / 1024],
               "a_prefill_tok_s": 300.0, "b_prefill_tok_s": 420.0, "a_ttft_ms": 120.0 + d / 5, "b_ttft_ms": 90 + d / 6,
               "a_prompt_tokens": d + 40, "b_prompt_tokens": d + 40, "ratio": 1.33, "ci": [1.3, 1.36],
               "verdict": "b_faster", "mde_pct": 1.1, "pairs": 5}
              for d in (0, 4096, 16384, 32768)]
    return {"kind": "compare", "compare_id": 9, "run_id": 9, "status": "complete", "mode": "depth",
            "a": {"text": "server:/old/llama-server", "build": "b6000", "interleaved": True},
            "b": {"text": "server:/new/llama-server", "build": "b6500", "interleaved": True},
            "depths": depths, "verdict": "b_faster", "statement": "B decodes faster: 1.330× A",
            "floors": {"a": {"decode_tok_s": 44.0, "depth": 32768}, "b": {"decode_tok_s": 48.0, "depth": 32768}},
            "crossover": None, "notes": ["a note"]}


def load_summary_fixture() -> LoadResult:
    levels = [{"concurrency": c, "aggregate_tok_s": a, "per_stream_decode_tok_s": d}
              for c, a, d in ((1, 60.0, 61.0), (2, 110.0, 56.0), (4, 180.0, 45.0), (8, 210.0, 26.0))]
    return LoadResult.from_json({"kind": "load", "run_id": 9, "status": "complete", "model": {"name": "m"},
                                 "levels": levels, "slo": {"decode_tok_s": 20.0}})


def test_load_series_are_aggregate_and_per_stream_against_concurrency() -> None:
    s = series_of(load_summary_fixture())["load"]
    assert [x.label for x in s] == ["load 9 · m · aggregate", "load 9 · m · per stream"]
    assert s[0].x == [1.0, 2.0, 4.0, 8.0] and s[0].y == [60.0, 110.0, 180.0, 210.0]
    assert s[1].dashed and s[1].slo == 20.0 and s[1].y[-1] == 26.0


def test_series_from_a_run_and_a_compare() -> None:
    run = series_of(run_summary_fixture())
    assert len(run["decode"]) == 1 and run["decode"][0].x == [0, 1024, 4096, 16384]
    assert run["decode"][0].lo == [78.0, 77.0, 74.0, 62.0]
    assert len(run["ttft"]) == 3  # first at depth, repeats, session turns
    assert len(run["session"]) == 1 and len(run["session"][0].context) == 12
    cmp = series_of(compare_summary_fixture())
    assert [s.label for s in cmp["decode"]] == ["A · server:/old/llama-server (b6000)",
                                                "B · server:/new/llama-server (b6500)"]
    long = CompareResult.from_json({**compare_summary_json(),
                                    "a": {"text": "server:/home/me/src/llama.cpp/build/bin/llama-server"}})
    assert series_of(long)["decode"][0].label == "A · server:…/build/bin/llama-server"
    assert cmp["session"] == []
    both = plot_series([compare_summary_fixture(), run_summary_fixture()])
    colors = [s.color for s in both["decode"]]
    assert len(colors) == 3 and len(set(colors)) == 3  # every line its own colour


@pytest.mark.parametrize("name", PLOTS)
def test_figures_render_png_and_svg(name: str, tmp_path: Path) -> None:
    import matplotlib.image

    series = plot_series([compare_summary_fixture(), run_summary_fixture(), load_summary_fixture()])[name]
    assert series
    fig = figure(name, series)
    ax = fig.axes[0]
    assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == len(series)
    if name == "decode":
        assert len(ax.collections) == 3  # a CI band per line
    png, svg = save_figure(fig, tmp_path / name)
    img = matplotlib.image.imread(png)
    assert img.shape[0] > 300 and img.shape[1] > 600
    assert float(img[..., :3].std()) > 0.05  # not a blank canvas
    text = svg.read_text()
    assert text.count("<path") > 20 and "<svg" in text


def test_inline_svg_is_self_contained_and_ids_are_unique_per_figure() -> None:
    figs = [figure(n, plot_series([run_summary_fixture()])[n]) for n in ("decode", "prefill")]
    a, b = svg_text(figs[0], "plot-decode"), svg_text(figs[1], "plot-prefill")
    assert a.startswith("<svg") and "<?xml" not in a and "<!DOCTYPE" not in a
    import re

    ids_a = set(re.findall(r'id="([^"]+)"', a))
    ids_b = set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    refs = set(re.findall(r'href="#([^"]+)"', a)) | set(re.findall(r"url\(#([^)]+)\)", a))
    assert refs <= ids_a  # every reference resolves inside its own figure
    assert "@font-face" not in a and not re.search(r'href="(?!#)', a)  # no fonts, nothing fetched


def test_empty_plot_says_so() -> None:
    fig = figure("decode", [])
    assert any("nothing measured" in t.get_text() for t in fig.axes[0].texts)


def _text(renderable: Any, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None, force_terminal=False, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_sparkline() -> None:
    assert sparkline([0, 7], low=0, high=7) == "▁█"
    assert sparkline([1.0, None, 3.0, 2.0]) == "▁ █▅"
    assert sparkline([5.0, 5.0]) == "▅▅" and sparkline([None]) == " "


def test_decode_bars_golden() -> None:
    text = _text(decode_bars([("", [(0, 80.0), (1024, 40.0), (4096, 20.0)])], width=20))
    assert text.splitlines() == [
        "Decode tok/s by context depth",
        "    0  ████████████████████ 80.0",
        "1,024  ██████████           40.0",
        "4,096  █████                20.0",
    ]


def test_session_curve_text() -> None:
    s = run_summary_fixture().session
    assert s is not None
    text = _text(session_curve(s))
    assert "decode tok/s per turn" in text and "worst dip 77.0 at turn 6" in text
    assert "up to 3,500 tokens" in text


def test_compare_card_text() -> None:
    text = _text(compare_card(compare_summary_fixture()), width=140)
    assert "rigbench compare 9 · complete" in text
    assert "server:/old/llama-server · b6000" in text and "b faster" in text
    assert "Sustained floor: A 44.0 tok/s (depth 32,768) · B 48.0 tok/s (depth 32,768)" in text
    assert "Crossover: none" in text and "Decode tok/s by context depth" in text
    assert "Verdict: b faster — B decodes faster" in text and "a note" in text
