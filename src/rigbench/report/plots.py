"""Plots (matplotlib, Agg; PNG and SVG) of run and compare summaries: decode against
depth with CI bands, prefill against depth, TTFT against prompt length, and the
per-turn session curve. Reads summaries only; measures nothing.

matplotlib is imported inside the functions that draw, so importing this module is cheap.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rigbench.report.safe import plot_label
from rigbench.results import CompareResult, CompareSide, LabResult, LoadResult, RunResult, SessionResult

__all__ = ["PLOTS", "Series", "figure", "plot_series", "save_figure", "series_of", "svg_text"]

PLOTS = ("decode", "prefill", "ttft", "session", "load")
_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_TITLES = {
    "decode": ("Decode by context depth", "context depth (tokens)", "decode tok/s"),
    "prefill": ("Prefill by context depth", "context depth (tokens)", "prefill tok/s (new part of the context)"),
    "ttft": ("Time to first token by prompt length", "prompt tokens", "TTFT (ms)"),
    "session": ("Agent session: decode per turn", "turn", "decode tok/s"),
    "load": ("Throughput and per-stream decode by concurrency", "streams at once", "tok/s"),
}


@dataclass
class Series:
    label: str
    x: list[float]
    y: list[float | None]
    lo: list[float | None] | None = None  # CI band
    hi: list[float | None] | None = None
    dashed: bool = False
    markers_only: bool = False
    context: list[float | None] = field(default_factory=list)  # session: context tokens per turn
    color: str | None = None
    slo: float | None = None  # load: the per-stream SLO, drawn as a dotted line


def _run_label(s: RunResult) -> str:
    flags = " ".join(f"{k}={v}" for k, v in sorted(s.engine.flags.items()))
    bits = [f"run {s.run_id}", str(s.model.name or "?"), str(s.engine.kind or "")]
    if flags:
        bits.append(flags)
    return " · ".join(b for b in bits if b)


def _side_label(d: CompareSide, name: str) -> str:
    spec = str(d.text)
    kind, sep, path = spec.partition(":")
    if kind == "server" and sep and path.count("/") > 3:  # a long binary path: its last parts say enough
        spec = "server:…/" + "/".join(path.rstrip("/").split("/")[-3:])
    text = f"{name.upper()} · {spec}"
    if d.build and kind == "server":
        text += f" ({d.build})"
    return text if d.interleaved else text + " (stored)"


def _ci(ci: Sequence[float | None] | None, i: int) -> float | None:
    return float(ci[i]) if ci is not None and len(ci) == 2 and ci[i] is not None else None  # type: ignore[arg-type]


def series_of(summary: RunResult | CompareResult | LoadResult, color_base: int = 0) -> dict[str, list[Series]]:
    """The plottable series of one run or compare, by plot name."""
    out: dict[str, list[Series]] = {k: [] for k in PLOTS}
    colors = iter(_PALETTE[(color_base + i) % len(_PALETTE)] for i in range(8))
    if isinstance(summary, CompareResult):
        pts = summary.depths
        session = summary.mode == "session"
        for name in ("a", "b"):
            color = next(colors)
            label = _side_label(summary.side(name), name)
            if not session and pts:
                xs = [float(p.depth) for p in pts]
                cis = [p.side(name, "decode_ci") for p in pts]
                out["decode"].append(Series(label, xs, [p.side(name, "decode_tok_s") for p in pts],
                                            [_ci(c, 0) for c in cis], [_ci(c, 1) for c in cis], color=color))
                out["prefill"].append(Series(label, xs, [p.side(name, "prefill_tok_s") for p in pts], color=color))
                tt = [(p.side(name, "prompt_tokens"), p.side(name, "ttft_ms")) for p in pts]
                tt = [(x, y) for x, y in tt if x is not None and y is not None]
                out["ttft"].append(Series(label, [float(x) for x, _ in tt], [y for _, y in tt], color=color))
            ss = (summary.sessions or {}).get(name)
            if ss is not None:
                _session_series(out, ss, label, color)
        return out
    if isinstance(summary, LoadResult):
        color = next(colors)
        levels = summary.levels
        label = f"load {summary.run_id}" + (f" · {summary.model.name}" if summary.model.name else "")
        xs = [float(lv.concurrency) for lv in levels]
        out["load"].append(Series(label + " · aggregate", xs, [lv.aggregate_tok_s for lv in levels], color=color))
        out["load"].append(Series(label + " · per stream", xs, [lv.per_stream_decode_tok_s for lv in levels],
                                  dashed=True, color=color, slo=summary.slo.decode_tok_s))
        return out
    color = next(colors)
    label = _run_label(summary)
    if summary.points:
        run_pts = summary.points
        xs = [float(p.depth) for p in run_pts]
        out["decode"].append(Series(label, xs, [p.decode_tok_s for p in run_pts],
                                    [_ci(p.decode_ci, 0) for p in run_pts],
                                    [_ci(p.decode_ci, 1) for p in run_pts], color=color))
        out["prefill"].append(Series(label, xs, [p.prefill_tok_s for p in run_pts], color=color))
        grow = [(p.prompt_tokens, p.ttft_ms) for p in run_pts if p.prompt_tokens is not None and p.ttft_ms is not None]
        out["ttft"].append(Series(label + " · first at depth", [float(x) for x, _ in grow], [y for _, y in grow],
                                  color=color))
        warm = [(p.prompt_tokens, p.ttft_warm_ms) for p in run_pts
                if p.prompt_tokens is not None and p.ttft_warm_ms is not None]
        if warm:
            out["ttft"].append(Series(label + " · repeats (context cached)", [float(x) for x, _ in warm],
                                      [y for _, y in warm], dashed=True, color=color))
    if summary.session is not None and summary.session.per_turn:
        _session_series(out, summary.session, label, color)
    return out


def _session_series(out: dict[str, list[Series]], ss: SessionResult, label: str, color: str) -> None:
    per = ss.ok_turns
    out["session"].append(Series(label, [float(p.turn + 1) for p in per], [p.decode_tok_s for p in per],
                                 context=[p.prompt_tokens for p in per], color=color))
    tt = [(p.prompt_tokens, p.ttft_ms) for p in per if p.prompt_tokens is not None and p.ttft_ms is not None]
    out["ttft"].append(Series(label + " · session turns (history cached)", [float(x) for x, _ in tt],
                              [y for _, y in tt], markers_only=True, color=color))


def _nan(v: Sequence[float | None]) -> list[float]:
    return [float("nan") if x is None else float(x) for x in v]


def figure(name: str, series: Sequence[Series], *, width: float = 8.0, height: float = 4.2) -> Any:
    """A matplotlib Figure for one plot (no pyplot: no global state, the Agg canvas)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    title, xlabel, ylabel = _TITLES[name]
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=12)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for i, s in enumerate(series):
        color = s.color or _PALETTE[i % len(_PALETTE)]
        if s.markers_only:
            ax.plot(s.x, _nan(s.y), "o", ms=4, alpha=0.7, color=color, label=plot_label(s.label))
            continue
        ax.plot(s.x, _nan(s.y), "--" if s.dashed else "-", marker="o", ms=4, lw=1.8, color=color,
                label=plot_label(s.label))
        if s.lo is not None and s.hi is not None:
            lo = [a if a is not None else b for a, b in zip(s.lo, s.y, strict=False)]
            hi = [a if a is not None else b for a, b in zip(s.hi, s.y, strict=False)]
            ax.fill_between(s.x, _nan(lo), _nan(hi), color=color, alpha=0.18, linewidth=0)
        if name == "session":
            _mark_session(ax, s, color)
        if s.slo:
            ax.axhline(s.slo, color=color, ls=":", lw=1.0, alpha=0.8)
    if name == "load":
        ax.set_xscale("log", base=2)
        xs = sorted({x for s in series for x in s.x})
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{x:g}" for x in xs])
    if name == "session":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if name == "session" and any(s.context for s in series):
        ax2 = ax.twinx()
        longest = max(series, key=lambda s: len(s.context))
        ax2.fill_between(longest.x, _nan(longest.context), step="mid", color="#999999", alpha=0.12, linewidth=0)
        ax2.set_ylabel("context tokens (shaded)", color="#777777")
        ax2.tick_params(axis="y", colors="#777777")
        ax2.set_ylim(bottom=0)
        ax.set_zorder(ax2.get_zorder() + 1)
        ax.patch.set_visible(False)
    ax.set_ylim(bottom=0)
    if name in ("decode", "prefill", "ttft"):
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: _tokens(v)))
        depths = sorted({x for s in series for x in s.x})
        if name != "ttft" and 2 <= len(depths) <= 8:
            ax.set_xticks(_spread(depths, ax.get_xlim()[1]))
    if series:
        ax.legend(loc="best", fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "nothing measured", ha="center", va="center", transform=ax.transAxes, color="#888888")
    return fig


def _tokens(v: float) -> str:
    """Token counts on an axis: 512, 1K, 4K, 32K, 1.5K; 10,000 where K would not be exact."""
    if v >= 1024 and v % 512 == 0:
        return f"{v / 1024:g}K"
    return f"{v:,.0f}"


def _spread(ticks: list[float], top: float) -> list[float]:
    """Drop ticks that would print on top of each other (closer than 6% of the axis),
    always keeping the first (the origin) and the last (the deepest)."""
    gap = 0.06 * top
    kept: list[float] = []
    for t in ticks:
        if not kept or t - kept[-1] >= gap:
            kept.append(t)
    if ticks and kept[-1] != ticks[-1]:
        if len(kept) > 1 and ticks[-1] - kept[-1] < gap:
            kept.pop()
        kept.append(ticks[-1])
    return kept


def _mark_session(ax: Any, s: Series, color: str) -> None:
    known = [(x, y) for x, y in zip(s.x, s.y, strict=False) if y is not None]
    if not known:
        return
    ys = sorted(y for _, y in known)
    mid = len(ys) // 2
    median = ys[mid] if len(ys) % 2 else (ys[mid - 1] + ys[mid]) / 2
    ax.axhline(median, color=color, ls=":", lw=1.0, alpha=0.8)
    wx, wy = min(known, key=lambda p: p[1])
    ax.plot([wx], [wy], "v", ms=8, color=color)
    ax.annotate(f"worst {wy:.1f}", (wx, wy), textcoords="offset points", xytext=(6, -12), fontsize=8, color=color)


def plot_series(summaries: Sequence[RunResult | CompareResult | LabResult | LoadResult]
                ) -> dict[str, list[Series]]:
    """All series of several summaries, gathered by plot, with distinct colours."""
    out: dict[str, list[Series]] = {k: [] for k in PLOTS}
    base = 0
    for s in summaries:
        if isinstance(s, LabResult):
            continue  # a lab has its tables, not curves
        got = series_of(s, color_base=base)
        base += 2 if isinstance(s, CompareResult) else 1
        for k in PLOTS:
            out[k] += got[k]
    return out


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """A label in a script the font lacks (a model named in CJK) draws boxes; matplotlib would
    also warn on stderr once per glyph, and the library never prints."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        yield


def save_figure(fig: Any, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg; returns both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    with _quiet_glyphs():
        fig.savefig(paths[0], format="png", dpi=110)
        fig.savefig(paths[1], format="svg", metadata={"Date": None})
    return paths


def svg_text(fig: Any, salt: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: glyphs as paths (no font
    files), ids salted per figure so several plots can share one page."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}), _quiet_glyphs():
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # glyph ids (e.g. "DejaVuSans-30") repeat across figures with the same shapes; prefix
    # every id and its references so each inline SVG is self-contained
    prefix = re.sub(r"[^A-Za-z0-9_-]", "", salt) or "f"
    text = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}-{m.group(2)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    return text
