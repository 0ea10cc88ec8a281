"""Quick looks in the terminal (rich renderables): decode against depth as bars, the
per-turn session curve as a sparkline, and the compare card. Renders summaries only."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import safe_text
from rigbench.results import CompareDepth, CompareResult, CompareSide, SessionResult

__all__ = ["compare_card", "decode_bars", "session_curve", "sparkline"]

_TICKS = "▁▂▃▄▅▆▇█"
_STYLES = ("cyan", "magenta", "green", "yellow")
_VERDICT_STYLE = {"b_faster": "bold green", "a_faster": "bold yellow", "no_difference": "dim",
                  "mixed": "bold magenta"}


def sparkline(values: Sequence[float | None], *, low: float | None = None, high: float | None = None) -> str:
    """One character per value, scaled between ``low`` and ``high`` (default: the data's
    own range); a missing value is a space."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    lo = min(known) if low is None else low
    hi = max(known) if high is None else high
    span = hi - lo
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span <= 0:
            out.append(_TICKS[len(_TICKS) // 2])
        else:
            k = round((min(max(v, lo), hi) - lo) / span * (len(_TICKS) - 1))
            out.append(_TICKS[k])
    return "".join(out)


def _bar(value: float, top: float, width: int) -> str:
    cells = value / top * width if top > 0 else 0.0
    full = int(cells)
    part = " ▏▎▍▌▋▊▉"[int((cells - full) * 8)]
    return ("█" * full + (part if part != " " else ""))[:width]


def decode_bars(series: Sequence[tuple[str, Sequence[tuple[int, float | None]]]], *, width: int = 36,
                title: str = "Decode tok/s by context depth") -> RenderableType:
    """A compact bar chart: one row per depth and series, bars on one shared scale."""
    top = max((v for _, pts in series for _, v in pts if v is not None), default=0.0)
    depths = sorted({d for _, pts in series for d, _ in pts})
    t = Table.grid(padding=(0, 1))
    t.add_column(justify="right", style="bold")
    t.add_column()
    t.add_column()
    t.add_column(justify="right")
    for d in depths:
        for i, (label, pts) in enumerate(series):
            v = dict(pts).get(d)
            style = _STYLES[i % len(_STYLES)]
            t.add_row(f"{d:,}" if i == 0 else "", safe_text(label, style) if len(series) > 1 else "",
                      Text(_bar(v, top, width) if v is not None else "", style=style),
                      f"{v:,.1f}" if v is not None else "—")
    return Group(safe_text(title, "bold"), t)


def session_curve(session: SessionResult, *, label: str = "") -> RenderableType:
    """The per-turn decode of a session as a sparkline, with its median and worst dip."""
    per = session.per_turn
    dec = [p.decode_tok_s if p.status == "ok" else None for p in per]
    known = [v for v in dec if v is not None]
    head = safe_text(f"Agent session{' ' + label if label else ''} · decode tok/s per turn", "bold")
    if not known:
        return Group(head, Text("no turn produced a decode figure", style="yellow"))
    line = Text(f"{min(known):6.1f} ", style="dim")
    line.append(sparkline(dec, low=0.0), style="cyan")
    line.append(f" {max(known):.1f}", style="dim")
    tail = Text(f"median {session.decode_median_tok_s or 0:.1f} · worst dip "
                f"{session.decode_worst_tok_s or 0:.1f} at turn {(session.worst_turn or 0) + 1}",
                style="")
    ctx = [p.prompt_tokens for p in per]
    ctx_line = Text("  context ", style="dim")
    ctx_line.append(sparkline([float(c) if c is not None else None for c in ctx], low=0.0), style="dim")
    if any(c is not None for c in ctx):
        ctx_line.append(f" up to {max(c for c in ctx if c is not None):,} tokens", style="dim")
    return Group(head, line, ctx_line, tail)


def _num(v: float | None, nd: int = 1) -> str:
    return "—" if v is None else f"{v:,.{nd}f}"


def _verdict(v: str | None) -> Text:
    return safe_text(str(v or "?").replace("_", " "), _VERDICT_STYLE.get(str(v or ""), ""))


def _depth_verdict(p: CompareDepth) -> Text:
    """A depth's verdict; a no-difference with the largest difference its interval allows."""
    t = _verdict(p.verdict)
    if p.verdict == "no_difference" and p.bound_pct is not None:
        t.append(f" ≤{p.bound_pct:.1f}%", "dim")
    return t


def _side_line(s: CompareSide) -> Text:
    bits = [str(s.text)]
    sw = s.software
    if sw.get("name") and s.engine_kind == "url":
        bits.append(" ".join(str(x) for x in (sw["name"], sw.get("version")) if x))
    if s.build:
        bits.append(str(s.build))
    if s.model:
        bits.append(f"{s.model} {s.quant or ''}".strip())
    if s.granted_context:
        bits.append(f"ctx {s.granted_context:,}")
    if not s.interleaved:
        bits.append("stored, not interleaved")
    return safe_text(" · ".join(bits))


def compare_card(s: CompareResult) -> RenderableType:
    """The compare result for people: both sides, a row per depth, the verdict."""
    status = s.status
    style = {"complete": "bold green", "incomplete": "bold yellow", "failed": "bold red"}.get(status, "bold")
    head = Text.assemble(("rigbench compare ", "bold"), safe_text(s.compare_id, "bold cyan"), " · ",
                         safe_text(status, style))
    if s.reason:
        head.append_text(safe_text(f" · {s.reason}", "yellow"))
    sides = Table.grid(padding=(0, 2))
    sides.add_column(style="bold")
    sides.add_column()
    sides.add_row("A", _side_line(s.a))
    sides.add_row("B", _side_line(s.b))
    session = s.mode == "session"
    t = Table(title="Decode and prefill tok/s · B/A with its 95% paired CI" + (" · by turn band" if session else ""),
              title_justify="left", pad_edge=False)
    t.add_column("Turns" if session else "Depth", justify="right")
    if session:
        t.add_column("Context", justify="right")
    for col in ("A decode", "B decode", "B/A", "95% CI", "Verdict", "±MDE", "A prefill", "B prefill"):
        t.add_column(col, justify="right" if col != "Verdict" else "left")
    for p in s.depths:
        ci = p.ci
        turns = p.turns or [0, 0]
        first: list[RenderableType] = ([f"{turns[0]}–{turns[1]}", f"{p.depth:,}"] if session
                                       else [f"{p.depth:,}"])
        cells: list[RenderableType] = [
            *first, _num(p.a_decode_tok_s), _num(p.b_decode_tok_s), _num(p.ratio, 3),
            f"{ci[0]:.3f}–{ci[1]:.3f}" if ci else "—", _depth_verdict(p),
            f"{p.mde_pct:.1f}%" if p.mde_pct is not None else "—",
            _num(p.a_prefill_tok_s), _num(p.b_prefill_tok_s)]
        t.add_row(*(safe_text(c) if isinstance(c, str) else c for c in cells))
    parts: list[RenderableType] = [head, sides, t]
    fl_bits = []
    for k in ("a", "b"):
        f = s.floors.get(k)
        if f is not None and f.decode_tok_s is not None:
            where = (f"turn {f.turn + 1}, context {f.depth or 0:,}" if f.turn is not None
                     else f"depth {f.depth or 0:,}")
            fl_bits.append(f"{k.upper()} {f.decode_tok_s:.1f} tok/s ({where})")
    if fl_bits:
        parts.append(Text.assemble(("Sustained floor: ", "bold"), safe_text(" · ".join(fl_bits))))
    cross = s.crossover
    parts.append(Text.assemble(("Crossover: ", "bold"), safe_text(cross.statement if cross else
                               "none: the lead never changes hands across the measured depths")))
    load = s.other_load
    if load:
        text = f"other processes kept {load['cores_busy']:.2f} of {load['cores']} cores busy meanwhile"
        if load.get("servers_cores_busy") is not None:
            text += (f" (the servers measured, on this machine, used {load['servers_cores_busy']:.2f} more and are "
                     "not counted as other load)")
        parts.append(Text.assemble(("Machine: ", "bold"), safe_text(text)))
    if not session:
        if len(s.depths) >= 3:
            parts.append(decode_bars([("A", [(p.depth, p.a_decode_tok_s) for p in s.depths]),
                                      ("B", [(p.depth, p.b_decode_tok_s) for p in s.depths])]))
    else:
        for k in ("a", "b"):
            ss = (s.sessions or {}).get(k)
            if ss is not None:
                parts.append(session_curve(ss, label=k.upper()))
    parts.append(Text.assemble(("Verdict: ", "bold"), _verdict(s.verdict), " — ", safe_text(s.statement)))
    energy = s.more.get("energy") or {}
    if energy.get("statement"):
        parts.append(Text.assemble(("Energy: ", "bold"), safe_text(energy["statement"])))
    if s.notes:
        nt = Text("Notes:\n", style="bold")
        for n in s.notes:
            nt.append_text(safe_text(f"  • {n}\n"))
        parts.append(nt)
    return Group(*parts)
