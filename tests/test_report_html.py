"""``rigbench report``: one self-contained HTML file, checked as text and in a real
headless Chromium (its DOM and a screenshot, kept as artifacts/report-screenshot.png)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from rigbench.jobs.agent import session_summary
from rigbench.jobs.compare import parse_side
from rigbench.store import Store, open_store
from rigbench.types import EngineSpec, RequestRecord

EVIL = "<script>alert('pwned')</script> & </pre><b>bold?</b>"
ROOT = Path(__file__).resolve().parents[1]


def rec(decode: float, *, ttft_ms: float = 120.0, gen: int = 32, prompt: int = 40, cached: int = 0,
        content: str = "") -> RequestRecord:
    first = int(ttft_ms * 1e6)
    last = first + int((gen - 1) / decode * 1e9)
    return RequestRecord(status="ok", t_sent_ns=0, t_headers_ns=first // 2, t_first_token_ns=first,
                         t_first_content_ns=first, t_last_token_ns=last, t_end_ns=last + 1000, content=content,
                         prompt_tokens=prompt + cached, completion_tokens=gen, cached_tokens=cached,
                         reasoning_tokens=0, finish_reason="length",
                         timings={"prompt_n": prompt, "cache_n": cached, "predicted_n": gen})


MACHINE = {"hostname": "testbox", "cpu": "AMD EPYC", "cores": 2, "ram_bytes": 24 * 2**30}


def _make_store(db: Path) -> tuple[Store, list[int]]:
    s = open_store(db)
    spec = EngineSpec(kind="embedded", flags=(("t", "2"),))
    model = {"name": "Gemma 3 270m", "quant": "Q4_K - Medium", "file_bytes": 253_113_024, "native_context": 32768,
             "path": "/models/gemma.gguf"}
    facts = {"kind": "embedded", "build": "xllamacpp 0.2 (llama.cpp b6500)", "granted_context": 32768,
             "n_ctx_train": 32768, "base_url": "http://127.0.0.1:1/v1"}
    # a depth sweep with a quality pass whose answer tries to inject a script
    r1 = s.create_run(kind="run", spec=spec, params={"gen_tokens": 32}, command="rigbench run -t 2 --depths 0,1k,4k",
                      machine=MACHINE, tool_version="0.1.0")
    s.update_run(r1, server_facts=facts)
    s.set_model(r1, model)
    prev = 0
    for depth in (0, 1024, 4096):
        for rep in range(3):
            grow = rep == 0
            s.add_request(r1, rec(70.0 - depth / 400 + rep * 0.3, prompt=depth - prev + 40 if grow else 30,
                                  cached=prev if grow else depth, ttft_ms=(depth - prev + 40) / 0.4 if grow else 90),
                          phase="speed", depth=depth, rep=rep, role="grow" if grow else "probe",
                          extra={"cache_verified": True if depth else None})
        prev = depth
    s.add_request(r1, rec(60.0, content=EVIL), phase="quality", role="code_fizzbuzz", rep=0,
                  extra={"score": 1.0, "category": "code"})
    s.update_run(r1, extra={"quality": {"score": 3.21, "ci": [2.9, 3.5], "prompts": 28, "repeats": 3,
                                        "categories": {"code": 3.0}}})
    s.finish_run(r1, "complete")
    # an agent session, summarised by the library itself
    r2 = s.create_run(kind="run", spec=spec, params={"session": "agent"}, command="rigbench run --session agent",
                      machine=MACHINE, tool_version="0.1.0")
    s.update_run(r2, server_facts=facts)
    s.set_model(r2, model)
    ctx = 0
    for turn in range(12):
        s.add_request(r2, rec(85.0 - turn * 0.4 - (6 if turn == 8 else 0), prompt=250, cached=ctx,
                              content=EVIL if turn == 11 else "ok"),
                      phase="session", depth=ctx, rep=turn, role="run",
                      extra={"turn_kind": "run", "expected_reuse": ctx or None,
                             "cache_verified": True if ctx else None})
        ctx += 282
    session_summary(s, r2)
    s.finish_run(r2, "complete")
    # a compare of two builds, interleaved
    a, b = parse_side("server:/old/llama-server", "a"), parse_side("server:/new/llama-server", "b")
    r3 = s.create_run(kind="compare", spec=None, params={"a": a.to_json(), "b": b.to_json(), "session": None},
                      command="rigbench compare server:/old/llama-server server:/new/llama-server", machine=MACHINE,
                      tool_version="0.1.0")
    s.update_run(r3, extra={"sides": {k: {"server_facts": {**facts, "build": f"build {k}"}, "model": model}
                                      for k in "ab"}})
    for depth in (0, 4096, 16384):
        for rep in range(4):
            for side, base in (("a", 60.0), ("b", 80.0)):
                s.add_request(r3, rec(base - depth / (300 if side == "b" else 600) + rep * 0.2), phase="compare",
                              depth=depth, rep=rep, role=side, extra={"step": "grow" if rep == 0 else "probe"})
    s.finish_run(r3, "complete")
    return s, [r1, r2, r3]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from rigbench.cli import main

    tmp = tmp_path_factory.mktemp("report")
    db = tmp / "r.db"
    s, ids = _make_store(db)
    s.close()
    out = tmp / "report.html"
    code = main(["report", *map(str, ids), "-o", str(out), "--plots", str(tmp / "plots"), "--db", str(db)])
    assert code == 0
    return out, out.read_text(encoding="utf-8")


def test_the_html_is_self_contained(report: tuple[Path, str]) -> None:
    path, html = report
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html  # no scripts at all, the model's included
    assert not re.search(r'(src|href)="(?!#)', html)  # nothing fetched: no external links, images or fonts
    assert "@import" not in html and "@font-face" not in html
    assert html.count("<svg") == 4 and html.count("<table") >= 8
    plots = sorted(p.name for p in (path.parent / "plots").iterdir())
    assert plots == sorted(f"{n}.{e}" for n in ("decode", "prefill", "session", "ttft") for e in ("png", "svg"))


def test_model_output_is_escaped(report: tuple[Path, str]) -> None:
    _, html = report
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &lt;/pre&gt;&lt;b&gt;bold?&lt;/b&gt;" in html


def test_the_report_says_what_it_must(report: tuple[Path, str]) -> None:
    _, html = report
    for text in ("Leaderboard slice", "Gemma 3 270m", "Q4_K - Medium", "3.21", "32,768",
                 "Speed by context depth", "Agent session", "worst dip", "Compare 3", "b faster",
                 "Sustained floor", "Crossover", "rigbench run -t 2 --depths 0,1k,4k",
                 "rigbench compare server:/old/llama-server server:/new/llama-server",
                 "xllamacpp 0.2 (llama.cpp b6500)", "A: build a | B: build b", "Context check"):
        assert text in html, text


class _DOM(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.pre: list[str] = []
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self._in_pre = self._in_pre or tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre.append(data)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _browser(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        argv = [binary, "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", *args]
        if os.geteuid() == 0:
            argv.insert(2, "--no-sandbox")
        return subprocess.run(argv, capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (Debian: apt-get install chromium)")
def test_it_renders_in_a_real_browser(report: tuple[Path, str]) -> None:
    import matplotlib.image
    import numpy as np

    binary = _chromium()
    assert binary is not None
    path, _ = report
    dom = _browser(binary, "--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _DOM()
    parsed.feed(dom.stdout)
    assert parsed.tags.get("svg") == 4 and parsed.tags.get("table", 0) >= 8
    assert parsed.tags.get("path", 0) > 200  # the plots' lines and glyphs made it into the DOM
    assert parsed.tags.get("script", 0) == 0
    assert any("<script>alert('pwned')</script>" in t for t in parsed.pre)  # shown as text
    shot = ROOT / "artifacts" / "report-screenshot.png"
    shot.parent.mkdir(exist_ok=True)
    shot.unlink(missing_ok=True)
    r = _browser(binary, f"--screenshot={shot}", "--window-size=1280,2000", "--hide-scrollbars", path.as_uri())
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    img = matplotlib.image.imread(shot)
    assert img.shape[:2] == (2000, 1280)
    rgb = img[..., :3].reshape(-1, 3)
    assert float(rgb.std()) > 0.05  # not a single colour
    colours = np.unique((rgb * 255).astype(np.uint8), axis=0)
    assert len(colours) > 50  # text, tables and the plots' lines, not a blank page
    top = img[:1000, :, :3]
    assert float((top.mean(axis=2) < 0.5).mean()) > 0.005  # dark ink (text, axes) on the first screen
