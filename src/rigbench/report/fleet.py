"""Rendering the fleet's views (no measuring): ``board --by machine`` and ``history``, as a
terminal table, markdown, and (history) a self-contained HTML page with an inline SVG chart.
Every name, label, build and hostname is untrusted text: cells go through ``report.safe``,
the HTML through jinja2's autoescape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import md_cell, safe_text, visible

__all__ = ["history_html", "history_view", "machine_board_markdown", "machine_board_view"]


def _n(v: Any, nd: int = 1) -> str:
    return "—" if v is None else f"{float(v):,.{nd}f}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{float(v):.0f}%"


def _at(depth: Any) -> str:
    return "" if depth is None else f" @{int(depth):,}"


def _story(g: Mapping[str, Any]) -> str | None:
    """The sentence under a model's rows: how far apart the machines are, and whether their
    ceilings (memory bandwidth: the chip) explain it."""
    rows = [r for r in g["machines"] if r.get("decode_tok_s")]
    if len(rows) < 2:
        return None
    fast, slow = rows[0], rows[-1]
    text = (f"{visible(fast['machine'])} decodes {fast['decode_tok_s'] / slow['decode_tok_s']:.2f}x as fast as "
            f"{visible(slow['machine'])}")
    if fast.get("ceiling_tok_s") and slow.get("ceiling_tok_s"):
        text += (f"; their ceilings differ {fast['ceiling_tok_s'] / slow['ceiling_tok_s']:.2f}x "
                 f"({_pct(fast.get('pct_of_ceiling'))} and {_pct(slow.get('pct_of_ceiling'))} of them reached)")
        if fast.get("pct_of_ceiling") and slow.get("pct_of_ceiling"):
            gap = abs(float(fast["pct_of_ceiling"]) - float(slow["pct_of_ceiling"]))
            text += (": the chip (its memory bandwidth) decides how fast it runs" if gap < 15 else
                     ": more than the bandwidth differs (compute, the engine, the build)")
    return text


def machine_board_view(groups: Sequence[Mapping[str, Any]]) -> RenderableType:
    """One table; each model+quant a section headed by its name, one row per machine."""
    t = Table(title=safe_text("Across machines: each model and quant, each machine's newest run"),
              title_justify="left", box=box.SIMPLE_HEAD)
    numeric = ("GB/s", "Decode tok/s", "Ceiling", "% of ceiling", "vs fastest", "Run")
    for col in ("Machine", "Chip", *numeric[:5], "Build", "Run"):
        t.add_column(col, justify="right" if col in numeric else "left", overflow="fold")
    notes: list[RenderableType] = []
    for g in groups:
        t.add_row(safe_text(f"{visible(g['model'])} {visible(g['quant'])}", "bold"), *[""] * 8)
        for r in g["machines"]:
            t.add_row(*map(safe_text, (
                r["machine"], r["chip"], _n(r.get("bandwidth_gb_s"), 0),
                _n(r.get("decode_tok_s")) + _at(r.get("depth")),
                _n(r.get("ceiling_tok_s")), _pct(r.get("pct_of_ceiling")),
                "—" if r.get("rel_to_fastest") is None else f"{r['rel_to_fastest']:.2f}x",
                r.get("engine_build") or "—", r.get("run_id"))))
        story = _story(g)
        if story:
            notes.append(safe_text(f"{visible(g['model'])} {visible(g['quant'])}: {story}.", "dim"))
    return Group(t, *notes)


def machine_board_markdown(groups: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| Model | Quant | Machine | Chip | GB/s | Decode tok/s | Ceiling tok/s | % of ceiling | Build |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for g in groups:
        for r in g["machines"]:
            lines.append("| " + " | ".join(md_cell(x) for x in (
                g["model"], g["quant"], r["machine"], r["chip"], _n(r.get("bandwidth_gb_s"), 0),
                _n(r.get("decode_tok_s")) + _at(r.get("depth")), _n(r.get("ceiling_tok_s")),
                _pct(r.get("pct_of_ceiling")), r.get("engine_build") or "—")) + " |")
    return "\n".join(lines) + "\n"


def _change_text(c: Mapping[str, Any] | None) -> str:
    if not c or c.get("pct") is None:
        return "—" if not c else "no common depth"
    text = f"{c['pct']:+.1f}%"
    if c.get("ci"):
        lo, hi = c["ci"]
        text += f" [{(lo - 1) * 100:+.1f}, {(hi - 1) * 100:+.1f}]"
        text += {"b_faster": " faster", "a_faster": " slower", "no_difference": " no difference"}.get(
            str(c.get("verdict")), "")
    else:
        text += " (no CI: one repeat)"
    return text


def _bar(value: float, top: float, width: int = 30) -> str:
    cells = value / top * width if top > 0 else 0.0
    full = int(cells)
    part = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)]
    return ("█" * full + (part if part != " " else ""))[:width]


def history_view(groups: Sequence[Mapping[str, Any]]) -> RenderableType:
    parts: list[RenderableType] = []
    for g in groups:
        title = f"{visible(g['model'])} {visible(g['quant'])} on {visible(g['machine'])}"
        t = Table(title=safe_text(title), title_justify="left", box=box.SIMPLE_HEAD)
        for col in ("Date", "Build", "Decode tok/s", "", "Change from the run before (95% CI)", "Run"):
            t.add_column(col, justify="right" if col in ("Decode tok/s", "Run") else "left")
        top = max((float(r["decode_tok_s"]) for r in g["runs"] if r.get("decode_tok_s")), default=0.0)
        for r in g["runs"]:
            d = r.get("decode_tok_s")
            t.add_row(safe_text(str(r.get("created_at") or "")[:16].replace("T", " ")), safe_text(r["build"]),
                      safe_text(_n(d) + _at(r.get("depth"))), Text(_bar(float(d), top) if d else "", style="cyan"),
                      safe_text(_change_text(r.get("change"))), safe_text(r["run_id"]))
        parts.append(t)
    return Group(*parts)


_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>rigbench history</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
td,th{padding:.2em .6em;border-bottom:1px solid #ddd;text-align:left}td.n{text-align:right}
svg{border:1px solid #eee;margin:.5em 0}</style></head><body>
<h1>History: one model on one machine across engine builds</h1>
{% for g in groups %}
<h2>{{ g.model }} {{ g.quant }} on {{ g.machine }}</h2>
<svg width="{{ g.w }}" height="{{ g.h }}" viewBox="0 0 {{ g.w }} {{ g.h }}" role="img">
<title>decode tok/s by run</title>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{{ g.poly }}"/>
{% for p in g.pts %}<circle cx="{{ p.x }}" cy="{{ p.y }}" r="4" fill="#1f77b4"><title>{{ p.label }}</title></circle>
<text x="{{ p.x }}" y="{{ g.h - 6 }}" font-size="10" text-anchor="middle">{{ p.short }}</text>
<text x="{{ p.x }}" y="{{ p.y - 8 }}" font-size="10" text-anchor="middle">{{ p.value }}</text>{% endfor %}
</svg>
<table><tr><th>Date</th><th>Build</th><th>Decode tok/s</th><th>Depth</th><th>Change (95% CI)</th><th>Run</th></tr>
{% for r in g.rows %}<tr><td>{{ r.date }}</td><td>{{ r.build }}</td><td class="n">{{ r.decode }}</td>
<td class="n">{{ r.depth }}</td><td>{{ r.change }}</td><td class="n">{{ r.run }}</td></tr>{% endfor %}
</table>
{% endfor %}
</body></html>
"""


def history_html(groups: Sequence[Mapping[str, Any]]) -> str:
    """One self-contained page (no scripts, no network): a chart and a table per group."""
    from jinja2 import Environment

    env = Environment(autoescape=True)
    out = []
    for g in groups:
        runs = list(g["runs"])
        w, h, pad = max(320, 90 * len(runs)), 220, 40
        vals = [float(r["decode_tok_s"]) if r.get("decode_tok_s") else None for r in runs]
        top = max((v for v in vals if v is not None), default=1.0) * 1.15
        pts = []
        for i, (r, v) in enumerate(zip(runs, vals, strict=True)):
            if v is None:
                continue
            x = pad + (i * (w - 2 * pad) / max(1, len(runs) - 1) if len(runs) > 1 else (w - 2 * pad) / 2)
            y = h - pad - v / top * (h - 2 * pad)
            pts.append({"x": round(x, 1), "y": round(y, 1), "value": f"{v:,.1f}",
                        "short": visible(r["build"])[:14], "label": visible(f"{r['build']}: {v:,.1f} tok/s")})
        out.append({
            "model": visible(g["model"]), "quant": visible(g["quant"]), "machine": visible(g["machine"]),
            "w": w, "h": h, "pts": pts, "poly": " ".join(f"{p['x']},{p['y']}" for p in pts),
            "rows": [{"date": visible(str(r.get("created_at") or "")[:16].replace("T", " ")),
                      "build": visible(r["build"]), "decode": _n(r.get("decode_tok_s")),
                      "depth": "—" if r.get("depth") is None else f"{int(r['depth']):,}",
                      "change": _change_text(r.get("change")), "run": r["run_id"]} for r in runs],
        })
    return env.from_string(_HTML).render(groups=out)
