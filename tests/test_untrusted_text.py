"""Untrusted text is shown as text (issue 22): model ids, answers, server errors, paths and
notes never drive the terminal, a markdown table or the HTML report.

Three layers: ``report.safe`` itself (examples and properties); every renderer fed summaries
whose strings are drawn from markup-like and control-character alphabets (hypothesis: no
exception, no raw ESC, the text shown); and the CLI in a subprocess against the scripted
fake server whose model id and answers carry an unmatched closing tag, ANSI sequences (a
screen clear, an OSC 8 hyperlink) and a script tag.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gguf_factory import llama_like, write_gguf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console, Group
from rich.text import Text

from rigbench.cli.advise import render as advise_render
from rigbench.cli.inspect import render as inspect_render
from rigbench.cli.tune import _render as tune_render
from rigbench.report.board import (
    board_csv,
    board_markdown,
    board_table,
    build_board,
)
from rigbench.report.card import card
from rigbench.report.lab import lab_card
from rigbench.report.load import load_card
from rigbench.report.safe import md_cell, one_line, plot_label, safe_console, safe_text, visible
from rigbench.report.terminal import compare_card
from rigbench.results import AnswerSample, CompareResult, LabResult, LoadResult, ReportEntry, RunResult, TuneResult
from rigbench.testing.fake_server import FakeServer, Script
from rigbench.tune.journal import render_journal

EVIL = "evil[/bold] [red]x[/red] \x1b[2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ <script>alert(1)</script>"
SHOWN = r"evil[/bold] [red]x[/red] \x1b[2J\x1b]8;;http://x\x1b\link\x1b]8;;\x1b\ <script>alert(1)</script>"
# what may not reach a terminal: C0 (but tab, newline), DEL, C1, bidi overrides and isolates
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


# -- report.safe --------------------------------------------------------------------------------
def test_visible_examples() -> None:
    assert visible(EVIL) == SHOWN
    assert visible("a\tb\nc") == "a\tb\nc"  # tab and newline are text
    assert visible("\r\x00\x07\x7f\x85\x9b") == r"\x0d\x00\x07\x7f\x85\x9b"
    assert visible("abc\u202edcba \u2066x\u2069") == r"abc\u202edcba \u2066x\u2069"
    assert visible("lone \ud800 surrogate") == r"lone \ud800 surrogate"
    assert visible("naïve 界 [b]x[/b] <i> $x$ C:\\path") == "naïve 界 [b]x[/b] <i> $x$ C:\\path"
    assert visible(42) == "42" and visible(None) == "None"


def test_safe_text_is_never_markup() -> None:
    t = safe_text("[/bold] [red]x[/red] :smile:", "cyan")
    assert isinstance(t, Text) and t.plain == "[/bold] [red]x[/red] :smile:" and str(t.style) == "cyan"


def test_one_line_and_md_cell() -> None:
    assert one_line("a\n\n b\x1b[2J\tc") == r"a b\x1b[2J c"
    cell = md_cell("a|b\nc [x](http://e) <b>&amp; `q` \\ Q4_K_M")
    assert cell == r"a\|b<br>c \[x\](http://e) \<b\>\&amp; \`q\` \\ Q4\_K\_M".replace(r"Q4\_K\_M", "Q4_K_M")
    assert "\n" not in md_cell(EVIL) and "\x1b" not in md_cell(EVIL)


def test_plot_label_is_never_mathtext() -> None:
    assert plot_label(r"a$\frac{$b") == r"a\$\frac{\$b"
    assert plot_label("_hidden").endswith("_hidden") and not plot_label("_hidden").startswith("_")


def test_safe_console_is_the_backstop_for_a_careless_renderable() -> None:
    """A renderer that forgot (markup in a plain string, ESC inside a Text) still shows text."""
    buf = io.StringIO()
    console = safe_console(file=buf, width=200, color_system=None)
    console.print(EVIL)
    console.print(Text(EVIL))
    out = buf.getvalue()
    assert "\x1b" not in out and out.count("evil[/bold] [red]x[/red]") == 2 and r"\x1b[2J" in out


# -- every renderer, with strings drawn from hostile alphabets ----------------------------------
_PIECES = ["[", "]", "/", "[/", "[/bold]", "[red]", "[/red]", "[link=http://x]", "[bold", ":smile:", "\\", "$",
           "$\\frac{$", "|", "<script>", "</script>", "&amp;", "_", "*", "`", "~", "#", "{", "}", "%", "\n", "\t",
           " ", "\r", "\x00", "\x07", "\x08", "\x1b", "\x1b[2J", "\x1b[31m", "\x1b]8;;http://x\x1b\\", "\x1b]0;t\x07",
           "\x7f", "\x85", "\x9b", "\u202e", "\u2066", "\ud800", "a", "é", "界", "0", "-", "="]
UNTRUSTED = st.lists(st.one_of(st.sampled_from(_PIECES), st.characters(max_codepoint=0x2070)),
                     min_size=0, max_size=12).map("".join)


_OWN = ("kind", "mode")  # rigbench's own words that say which summary this is


def _taint(obj: Any, values: Iterator[str], *, keys: bool = False) -> Any:
    """Every string in a summary replaced by the next drawn string (but the kind of summary);
    the keys of the maps a renderer shows (quality categories, flags) too."""
    if isinstance(obj, str):
        return next(values)
    if isinstance(obj, list):
        return [_taint(v, values) for v in obj]
    if isinstance(obj, dict):
        return {(next(values) if keys else k): v if k in _OWN else _taint(v, values, keys=k in ("categories", "flags"))
                for k, v in obj.items()}
    return obj


def _plain(renderable: Any) -> str:
    """Rendered on a default rich console (markup on): the renderer must be safe by itself."""
    console = Console(file=io.StringIO(), width=160, color_system=None, force_terminal=False, record=True)
    console.print(renderable)
    return console.export_text()


def _coloured(renderable: Any) -> str:
    """Rendered for a colour terminal: only rich's own SGR sequences may carry ESC."""
    buf = io.StringIO()
    Console(file=buf, width=160, color_system="truecolor", force_terminal=True).print(renderable)
    return buf.getvalue()


def _assert_terminal_safe(text: str) -> None:
    rest = re.sub(r"\x1b\[[0-9;]*m", "", text)  # rich's own styles
    assert not FORBIDDEN.search(rest), repr(rest[max(0, FORBIDDEN.search(rest).start() - 20):][:60])  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real run and compare summaries (the CLI's --json) from the fake server, and a lab and a
    tune summary in the shapes their renderers read."""
    db = str(tmp_path_factory.mktemp("sums") / "r.db")
    with FakeServer(Script(tokens=16, rate_tok_s=800, props=True, timings=True)) as fake:
        run = _cli("run", "--url", fake.base_url, "--depths", "0,256,512", "--repeats", "2", "--gen-tokens", "16",
                   "--no-quality", "--json", "--db", db)
        cmp = _cli("compare", fake.base_url, fake.base_url.replace("127.0.0.1", "localhost"), "--depths", "0,256,512",
                   "--repeats", "2", "--gen-tokens", "16", "--json", "--db", db)
        load = _cli("load", "--url", fake.base_url, "--concurrency", "1,2", "--gen-tokens", "16", "--depth", "32",
                    "--requests", "2", "--json", "--db", db)
    assert run.returncode == 0 and cmp.returncode == 0 and load.returncode == 0, run.stderr + cmp.stderr + load.stderr
    run_s = json.loads(run.stdout)
    run_s["reason"] = "the server said no"
    run_s["quality"] = {"score": 3.2, "ci": [3.0, 3.4], "prompts": 28, "repeats": 3,
                        "categories": {"code": 3.0, "reasoning": 3.5}}
    load_s = json.loads(load.stdout)
    load_s["levels"][1]["errors"] = ["HTTP 503: busy"]
    return {"run": run_s, "compare": json.loads(cmp.stdout), "lab": _lab_summary(), "tune": _tune_summary(),
            "load": load_s}


def _lab_summary() -> dict[str, Any]:
    row = {"technique": "Prompt lookup", "target": "m Q4", "arm": "lookup", "work": "grounded", "decode_tok_s": 60.0,
           "speedup": 1.5, "speed_words": "1.50x", "ci": [1.2, 1.8], "acceptance": 0.8, "identity": "identical",
           "verdict": "grounded tasks only"}
    detail = {"arm": "lookup", "work": "grounded", "depth": 1024, "decode_tok_s": 60.0, "baseline_decode_tok_s": 40.0,
              "speedup": 1.5, "ci": [1.2, 1.8], "acceptance": 0.8, "draft_n": 50, "draft_n_accepted": 40,
              "identity": "identical", "identical": True, "pairs": 8}
    return {"lab_id": 7, "status": "incomplete", "reason": "stopped", "target": "m Q4", "engine": {"kind": "embedded",
            "flags": {"t": "2"}}, "machine": {"hostname": "box"}, "repeats": 8, "gen_tokens": 128, "mode": "completion",
            "baseline": {"decode_tok_s": 40.0, "requests": 16, "flags": {"t": "2"}},
            "arms": [{"arm": {"name": "lookup"}, "gate": {"statement": "quality held"}, "identity": "differs"}],
            "table": [{**row, "arm": "baseline", "technique": "Baseline"}, row], "rows": [detail],
            "synthetic": [{"acceptance_target": 0.5, "acceptance": 0.49, "decode_tok_s": 50.0, "speedup": 1.2,
                           "ci": [1.1, 1.3]}],
            "other_load": {"cores": 2, "cores_busy": 0.5}, "notes": ["a note"]}


def _tune_summary() -> dict[str, Any]:
    return {
        "campaign_id": 7, "status": "incomplete", "reason": "interrupted",
        "objective": {"text": "decode@4k", "description": "decode"},
        "workload": {"prefill_tokens": 1024, "gen_tokens": 64, "decode_depth": 4096, "repeats": 3},
        "defaults": {"t": "2", "fa": "auto"}, "machine": {"cores": 2},
        "trials": [{"n": 0, "label": "defaults", "status": "measured", "decision": "keep", "reason": "baseline",
                    "prefill_tok_s": 400.0, "decode_tok_s": 70.0, "score": 1.0, "hypothesis": "h",
                    "evidence": {"prefill": {"median": 400.0, "ci": [390.0, 410.0]}, "decode": {"median": 70.0}}}],
        "winner": {"trial": 0, "label": "defaults", "command": "llama-server -m m.gguf", "why": "w", "note": "n"},
        "improvement": {"prefill": 1.0, "decode": 1.0}, "notes": ["a note"],
    }


@pytest.fixture(scope="module")
def gguf_facts(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from rigbench.model.facts import model_facts

    kv, tensors = llama_like()
    return model_facts(str(write_gguf(tmp_path_factory.mktemp("g") / "m.gguf", "llama", kv, tensors)[0]))


def _renderings(s: dict[str, Any], facts: Any) -> Iterator[tuple[str, Any]]:
    """(name, renderable or text) for every renderer, fed the tainted summaries ``s``."""
    yield "card", card(RunResult.from_json(s["run"]))
    yield "compare card", compare_card(CompareResult.from_json(s["compare"]))
    yield "lab card", lab_card(LabResult.from_json(s["lab"]))
    yield "load card", load_card(LoadResult.from_json(s["load"]))
    rows = build_board([RunResult.from_json({**s["run"], "status": "complete"}),
                        LoadResult.from_json({**s["load"], "status": "complete"})])
    yield "board", board_table(rows)
    yield "board md", board_markdown(rows)
    yield "board csv", board_csv(rows)
    d = facts.to_json(None)
    drawn = s["drawn"]
    d.update(name=drawn[0], path=drawn[-1], architecture=drawn[len(drawn) // 2], notes=list(drawn))
    yield "inspect", inspect_render(facts, d, None)
    advice = {"ram": {"bytes": 2**34, "source": drawn[0]}, "margin": {"fraction": 0.1, "bytes": 2**30},
              "bandwidth": {"gb_s": 100.0, "source": drawn[-1], "warning": drawn[0]},
              "models": [{"name": drawn[0], "architecture": "llama", "quant": drawn[-1], "path": drawn[0], "ctx": 4096,
                          "verdict": drawn[-1], "notes": list(drawn), "options": [
                              {"cache_type": drawn[0], "kv_cache_bytes": 1, "max_ctx_that_fits": 4096,
                               "decode_ceiling_tok_s": 10.0, "decode_ceiling_at_ctx_tok_s": 9.0,
                               "fit": {"needed_bytes": 1, "headroom_bytes": 1, "fits": True}}]}]}
    yield "advise", Group(*advise_render(advice))
    tune = {**s["tune"], "journal": render_journal(s["tune"])}
    buf = io.StringIO()
    tune_render(TuneResult.from_json(tune), console=Console(file=buf, width=160, color_system=None))
    yield "tune", buf.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(drawn=st.lists(UNTRUSTED, min_size=1, max_size=5))
def test_every_renderer_shows_hostile_strings_as_text(summaries: dict[str, Any], gguf_facts: Any,
                                                      drawn: list[str]) -> None:
    values = itertools.cycle(drawn)
    s = {k: _taint(v, values) for k, v in summaries.items()}
    s["drawn"] = drawn
    seen = 0
    for name, r in _renderings(s, gguf_facts):
        if isinstance(r, str):  # md, csv, the tune journal: text already
            assert not FORBIDDEN.search(r), (name, r)
            if name.endswith("md"):  # every row has the header's cells: no | or newline broke it
                table = [line for line in r.splitlines() if line.startswith("|")]
                assert {_md_cells(line) for line in table} == {_md_cells(table[0])}, (name, r)
                # no tag but md_cell's own <br> for a newline (a drawn "<" is written "\\<")
                assert not re.search(r"(?<!\\)<(?!br>)", r.replace("\\\\", "")), (name, r)
            continue
        plain = _plain(r)
        assert not FORBIDDEN.search(plain), (name, plain)
        _assert_terminal_safe(_coloured(r))
        squeezed = "".join(plain.split())
        seen += any(_head(x) and _head(x) in squeezed for x in drawn)
    assert seen or not any(_head(x) for x in drawn)  # the strings are shown, not dropped


def _md_cells(line: str) -> int:
    """Cells in a markdown table row, as GitHub splits it (an escaped ``\\|`` is text)."""
    return len(re.split(r"(?<!\\)\|", line.replace("\\\\", ""))) - 2


def _head(x: str) -> str:
    """The first characters of ``x`` as shown, whitespace (where tables wrap) left out."""
    return "".join(visible(x).split())[:6]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(drawn=st.lists(UNTRUSTED, min_size=1, max_size=3))
def test_html_report_and_plots_show_hostile_strings_as_text(summaries: dict[str, Any], drawn: list[str]) -> None:
    from rigbench.report.html import render_html

    values = itertools.cycle(drawn)
    html = render_html([ReportEntry(RunResult.from_json(_taint(summaries["run"], values)),
                                    (AnswerSample(next(values), next(values)),)),
                        ReportEntry(CompareResult.from_json(_taint(summaries["compare"], values))),
                        ReportEntry(LabResult.from_json(_taint(summaries["lab"], values))),
                        ReportEntry(LoadResult.from_json(_taint(summaries["load"], values)), (), "load"),
                        ReportEntry(TuneResult.from_json({**summaries["tune"], "journal": next(values)}))],
                       generated_at="2026-01-01T00:00:00+00:00")
    assert not FORBIDDEN.search(html) and "<script" not in html.lower()


@settings(max_examples=30, deadline=None)
@given(text=UNTRUSTED)
def test_progress_and_the_error_line(text: str) -> None:
    from rigbench.cli import _say
    from rigbench.cli.common import RichProgress

    buf = io.StringIO()
    with RichProgress(enabled=True, console=Console(file=buf, width=200, color_system="truecolor",
                                                    force_terminal=True)) as progress:
        progress.stage(text)
        progress.begin(3, text)
        progress.advance(text)
        assert progress._p is not None
        assert progress._p.tasks[0].description == visible(text)
        shown = _plain(progress._p.get_renderable())
    assert not FORBIDDEN.search(shown)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        _say(f"error: {text}")
    line = err.getvalue()
    assert line.count("\n") == 1 and not FORBIDDEN.search(line) and line == f"rigbench: {one_line('error: ' + text)}\n"


# -- the CLI, as a user runs it, against a server whose id and answers are hostile ---------------
def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    full.update({"COLUMNS": "400", **(env or {})})
    r = subprocess.run([sys.executable, "-m", "rigbench", *args], capture_output=True, timeout=300, env=full)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8"), r.stderr.decode("utf-8"))


@pytest.fixture(scope="module")
def evil_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Any]]:
    """A run (with its quality pass: the answers carry the string too) and a compare, stored."""
    db = str(tmp_path_factory.mktemp("evil") / "r.db")
    with FakeServer(Script(models=[EVIL], token_text=EVIL + " ", tokens=16, rate_tok_s=800, props=True,
                           timings=True)) as fake:
        run = _cli("run", "--url", fake.base_url, "--depths", "0,256", "--repeats", "2", "--gen-tokens", "16",
                   "--quality-repeats", "1", "--db", db)
        yield db, fake.base_url, run


def _no_escape_and_shown(r: Any, shown: str = SHOWN) -> None:
    assert r.returncode == 0, r.stderr
    both = r.stdout + r.stderr
    assert "\x1b" not in both and not FORBIDDEN.search(both), both
    assert shown in r.stdout, r.stdout


def test_run_shows_the_model_id_as_written(evil_db: tuple[str, str, Any]) -> None:
    _no_escape_and_shown(evil_db[2])
    assert "Traceback" not in evil_db[2].stderr


@pytest.mark.parametrize("args", [("show", "1"), ("runs",), ("board",), ("board", "--all-runs", "--sort", "decode")])
def test_stored_strings_are_shown_as_written(evil_db: tuple[str, str, Any], args: tuple[str, ...]) -> None:
    r = _cli(*args, "--db", evil_db[0])
    if args[0] == "runs":  # the model column folds; each line of it is shown as written
        assert r.returncode == 0 and "\x1b" not in r.stdout + r.stderr and "evil[/bold] [red]x[/red]" in r.stdout
        assert r"\x1b[2J" in r.stdout and "<script>alert(1)</script>" in r.stdout
    else:
        _no_escape_and_shown(r)


def test_board_exports_keep_their_shape(evil_db: tuple[str, str, Any]) -> None:
    md = _cli("board", "--format", "md", "--db", evil_db[0])
    _no_escape_and_shown(md, md_cell(EVIL))
    table = [line for line in md.stdout.splitlines() if line.startswith("|")]
    assert len(table) == 3 and {_md_cells(line) for line in table} == {13}
    assert "<script>" not in md.stdout
    out = _cli("board", "--format", "csv", "--db", evil_db[0])
    assert out.returncode == 0 and "\x1b" not in out.stdout
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 1 and rows[0]["model"] == SHOWN
    js = _cli("board", "--json", "--db", evil_db[0])
    assert js.returncode == 0 and "\x1b" not in js.stdout and json.loads(js.stdout)[0]["model"] == EVIL  # data as is


def test_report_shows_model_and_answers_as_text(evil_db: tuple[str, str, Any], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    r = _cli("report", "1", "-o", str(out), "--db", evil_db[0])
    assert r.returncode == 0 and "\x1b" not in r.stdout + r.stderr, r.stderr
    html = out.read_text(encoding="utf-8")
    assert "\x1b" not in html and "<script" not in html.lower()
    shown = SHOWN.replace("<", "&lt;").replace(">", "&gt;")
    assert html.count(shown) >= 2  # the model, and the answers of the quality pass


def test_a_colour_terminal_gets_only_rigbench_own_escapes(evil_db: tuple[str, str, Any]) -> None:
    """With colour forced (a terminal): the card's styles and the progress display's cursor
    moves are the only escape sequences; the server's clear-screen and hyperlink are shown."""
    with FakeServer(Script(models=[EVIL], token_text=EVIL + " ", tokens=16, rate_tok_s=800)) as fake:
        r = _cli("run", "--url", fake.base_url, "--depths", "0", "--repeats", "1", "--gen-tokens", "16",
                 "--no-quality", "--db", evil_db[0], env={"FORCE_COLOR": "1", "TERM": "xterm-256color"})
    assert r.returncode == 0, r.stderr
    for text in (r.stdout, r.stderr):
        own = re.sub(r"\x1b\[[0-9;]*m|\x1b\[\?25[lh]|\x1b\[2K|\x1b\[\d*[AG]|\r", "", text)
        assert not FORBIDDEN.search(own), repr(own[:400])
    assert "evil[/bold] [red]x[/red]" in re.sub(r"\x1b\[[0-9;]*m", "", r.stdout)
    assert r"\x1b[2J" in r.stdout and "\x1b[2J" not in r.stdout + r.stderr and "\x1b]8" not in r.stdout + r.stderr


def test_errors_carrying_server_text_are_one_visible_line(tmp_path: Path) -> None:
    body = json.dumps({"error": {"message": EVIL}})
    with FakeServer(Script(models=[EVIL, "other"], http_status=500, error_body=body)) as fake:
        choose = _cli("run", "--url", fake.base_url, "--no-quality", "--db", str(tmp_path / "r.db"))
        failed = _cli("run", "--url", fake.base_url, "--model", "other", "--depths", "0", "--repeats", "1",
                      "--no-quality", "--db", str(tmp_path / "r.db"))
    for r, code in ((choose, 2), (failed, 4)):  # a usage error; a run whose warm-up request failed
        lines = r.stderr.strip().splitlines()
        assert r.returncode == code and len(lines) == 1 and lines[0].startswith("rigbench: error:"), r.stderr
        assert "\x1b" not in r.stderr and SHOWN in lines[0]


def test_inspect_and_advise_of_a_path_that_reads_as_markup(tmp_path: Path) -> None:
    folder = tmp_path / "x["
    folder.mkdir()
    kv, tensors = llama_like(extra={"general.name": EVIL})
    path = write_gguf(folder / "bold].gguf", "llama", kv, tensors)[0]
    for args in (("inspect", str(path)), ("inspect", str(path), "--bandwidth", "100"),
                 ("advise", str(path), "--bandwidth", "100", "--ram", "16GB")):
        r = _cli(*args)
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout + r.stderr, r.stdout
        squeezed = "".join(r.stdout.split())  # the title wraps at the table's width
        assert "".join(str(path).split()) in squeezed and "".join(SHOWN.split()) in squeezed, r.stdout
