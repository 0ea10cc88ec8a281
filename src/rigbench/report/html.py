"""``rigbench report``: one self-contained HTML file for stored runs and compares.

Inline SVG plots and inline CSS, no scripts, no fonts or anything else fetched: the file
opens the same offline, in a mail attachment or a CI artifact. Every value goes through
jinja2's autoescape, so model output (an answer containing ``<script>``) shows as text, and
through ``report.safe.visible`` first, so its control characters are shown too (``\x1b``).
It renders typed results the caller assembled (``jobs.report_inputs``); nothing here reads
the store or measures, and the template is strict: a field it names that a result lacks is
an error, not an empty cell.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from rigbench.report.board import BoardRow, result_rows, suite_order
from rigbench.report.card import fmt_sig
from rigbench.results import CompareResult, LabResult, LoadResult, ReportEntry, RunResult, TuneResult
from rigbench.units import fmt_disk

__all__ = ["WORKING_DEPTH", "leaderboard_rows", "render_html"]

WORKING_DEPTH = 32768  # the depth the verdict is taken at (measure.points.WORKING_DEPTH; a test keeps them equal)
_CAPTIONS = {
    "decode": "Median decode per depth; the band is the median's 95% bootstrap CI.",
    "prefill": "Prefill of the new part of the context (the first request at each depth).",
    "ttft": "TTFT against the prompt's length; cached context makes later requests start fast.",
    "session": "Decode per turn of the scripted agent session; dotted: the median; ▼ the worst dip; "
               "shaded: the context.",
    "load": "Per load level: the rig's aggregate generated tok/s (solid) and what each stream gets, the median "
            "per-stream decode (dashed); dotted: the per-stream SLO.",
}


def _num(v: Any, nd: int = 1) -> str:
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return "—"
    return f"{v:,.{nd}f}"


def _value(v: Any) -> str:
    """A fact for people: 246,587,904 not 246587904.0; yes/no for booleans."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    return str(v)


_UNITS = (("_depth0", " at depth 0"), ("_gb_s", " GB/s"), ("_tok_s", " tok/s"), ("_ms", " ms"), ("_pct", " %"))


def _label(key: str) -> str:
    for part, unit in _UNITS:
        key = key.replace(part, unit)
    return key.replace("_", " ")


def _cells(r: BoardRow, mixed: bool) -> dict[str, str]:
    quality = _num(r.quality, 2)
    if mixed and r.quality is not None:
        quality += f" ({r.quality_suite or 'suite not recorded'})"
    return {"run": r.label or f"run {r.run_id}", "model": r.model, "quant": r.quant or "—", "quality": quality,
            "decode": _num(r.decode_tok_s) + (" (session)" if r.session and r.decode_tok_s is not None else ""),
            "prefill": _num(r.prefill_tok_s), "ttft": _num(r.ttft_ms, 0),
            "native": f"{r.native_context:,}" if r.native_context else "—",
            "verdict": r.verdict or "?", "verdict_class": r.verdict or ""}


def leaderboard_rows(results: Sequence[RunResult | CompareResult | LabResult]) -> list[dict[str, str]]:
    """The board's rows for the given results (``report.board``'s, in the order given; a
    compare gives one per side), as the HTML words them."""
    rows = result_rows(results)
    mixed = len(suite_order(rows)) > 1
    return [_cells(r, mixed) for r in rows]


def _build(kind: Any, build: Any, server_bin: Any) -> str:
    return " · ".join(str(x) for x in (kind, build, server_bin) if x)


def _provenance(results: Sequence[Any]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for s in results:
        if isinstance(s, LabResult):
            rows.append({"run": f"lab {s.lab_id}", "command": str(s.command or "—"),
                         "tool_version": str(s.tool_version or "?"),
                         "build": _build(s.engine.kind, s.engine.build, s.engine.server_bin),
                         "created_at": str(s.created_at or "")})
        elif isinstance(s, CompareResult):
            builds = " | ".join(f"{k.upper()}: {s.side(k).build or '?'}" for k in ("a", "b"))
            rows.append({"run": f"compare {s.compare_id}", "command": str(s.command or "—"),
                         "tool_version": str(s.tool_version or "?"), "build": builds,
                         "created_at": str(s.created_at or "")})
            for k in ("a", "b"):
                d = s.side(k)
                if not d.interleaved and d.command:
                    rows.append({"run": f"└ {k.upper()} = run {d.run_id}", "command": str(d.command),
                                 "tool_version": "", "build": str(d.build or "?"), "created_at": ""})
        elif isinstance(s, TuneResult):
            rows.append({"run": f"tune {s.campaign_id}", "command": str(s.command or "—"), "tool_version": "",
                         "build": "", "created_at": ""})
        elif isinstance(s, LoadResult):
            rows.append({"run": f"load {s.run_id}", "command": str(s.command or "—"),
                         "tool_version": str(s.tool_version or "?"),
                         "build": " · ".join(_build(v.software, v.version, None) or "?" for v in s.servers),
                         "created_at": str(s.created_at or "")})
        elif isinstance(s, RunResult):
            e = s.engine
            rows.append({"run": f"run {s.run_id}", "command": str(s.command or "—"),
                         "tool_version": str(s.tool_version or "?"), "build": _build(e.kind, e.build, e.server_bin),
                         "created_at": str(s.created_at or "")})
    return rows


def _plots(results: Sequence[Any]) -> list[dict[str, str]]:
    from rigbench.report.plots import PLOTS, figure, plot_series, svg_text

    series = plot_series([r for r in results if isinstance(r, (RunResult, CompareResult, LabResult, LoadResult))])
    out: list[dict[str, str]] = []
    for name in PLOTS:
        if not series[name]:
            continue
        fig = figure(name, series[name])
        svg = re.sub(r"<!--.*?-->", "", svg_text(fig, f"plot-{name}"), flags=re.S)
        out.append({"name": name, "svg": svg, "caption": _CAPTIONS[name]})
    return out


def render_html(entries: Sequence[ReportEntry], *, generated_at: str | None = None) -> str:
    """The report as one HTML string."""
    import jinja2

    from rigbench import __version__
    from rigbench.report.lab import lab_cells

    env = jinja2.Environment(loader=jinja2.PackageLoader("rigbench.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, finalize=_finalize,
                             trim_blocks=True, lstrip_blocks=True)
    results = [e.result for e in entries]
    ids = ", ".join(f"{e.kind if e.kind in ('compare', 'lab', 'tune', 'load') else 'run'} {_run_id(e.result)}"
                    for e in entries)
    shown = [r for r in results if isinstance(r, (RunResult, CompareResult, LabResult))]
    return env.get_template("report.html.j2").render(
        title=ids or "no runs", entries=entries, board=leaderboard_rows(shown),
        provenance=_provenance(results), plots=_plots(results), working_depth=f"{WORKING_DEPTH:,}",
        generated_at=generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        tool_version=__version__, num=_num, disk=fmt_disk, mem=_mem, value=_value, label=_label, lab=lab_cells,
        has_ceiling=lambda s: any(p.pct_of_ceiling is not None for p in s.points),
        has_energy=lambda s: any((p.more.get("energy") or {}).get("j_per_token") is not None for p in s.points),
        sig=fmt_sig,
    )


def _run_id(r: Any) -> Any:
    if isinstance(r, TuneResult):
        return r.campaign_id
    if isinstance(r, LabResult) and r.run_id is None:
        return r.lab_id
    return r.run_id


def _mem(n: Any) -> str:
    """RAM and other memory: binary units (``units``)."""
    from rigbench.units import fmt_bytes

    return fmt_bytes(n, 1) if isinstance(n, (int, float)) and n else "—"


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: a string is made visible (markup the template marked safe, the
    inline SVG, is rigbench's own and passes as it is); autoescape comes after."""
    import markupsafe

    from rigbench.report.safe import visible

    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value
