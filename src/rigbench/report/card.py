"""The evidence card: a run summary rendered for people (rich renderables, no measuring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import safe_text
from rigbench.results import RunResult
from rigbench.units import fmt_bytes, fmt_disk, fmt_num

__all__ = ["card", "counters_statement", "fmt_bytes", "fmt_disk", "fmt_num", "fmt_sig"]


def fmt_sig(v: float | None, digits: int = 3, *, dash: str = "—") -> str:
    """A figure that spans orders of magnitude (joules per token) to ``digits`` significant digits."""
    return dash if v is None else f"{v:.{digits}g}"


def _gap(g: float | None) -> Text:
    if g is None:
        return Text("—", style="dim")
    style = "bold red" if abs(g) > 5 else ""
    return Text(f"{g:+.1f}%", style=style)


def _cache(v: bool | None) -> Text:
    if v is None:
        return Text("n/a", style="dim")
    return Text("yes", style="green") if v else Text("NO", style="bold red")


def _facts_table(s: RunResult) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    m, e, mach = s.model, s.engine, s.machine
    model_bits = [m.name or "?", m.quant or "quant ?", fmt_disk(m.file_bytes)]
    t.add_row("Model", safe_text(" · ".join(str(b) for b in model_bits)))
    eng = [e.kind or "?"]
    sw = e.software
    if sw.get("name") and e.kind == "url":
        eng.append(" ".join(str(x) for x in (sw["name"], sw.get("version")) if x))
    if e.build:
        eng.append(str(e.build))
    if e.backend:
        eng.append(str(e.backend))
    if e.devices:
        eng.append(", ".join(str(d) for d in e.devices))
    if e.flags:
        eng.append(" ".join(f"{k}={v}" for k, v in sorted(e.flags.items())))
    t.add_row("Engine", safe_text(" · ".join(eng)))
    if e.kind == "url" and e.base_url:
        t.add_row("Server", safe_text(f"{e.base_url} · model {e.served_model or '?'}"))
    if mach:
        ram = fmt_bytes(mach.get("ram_bytes"), 1) if mach.get("ram_bytes") else "—"
        gpus = ", ".join(str(g.get("name", "?")) for g in mach.get("gpus") or [])
        t.add_row("Machine", safe_text(" · ".join(str(x) for x in [mach.get("hostname"), mach.get("cpu"),
                                                                   f"{mach.get('cores')} cores", f"{ram} RAM", gpus]
                                                  if x)))
    ctx = s.context
    t.add_row("Context", safe_text(" → ".join(ctx.sequence) if ctx.sequence else ctx.statement))
    if ctx.fill is not None and ctx.fill.statement and s.points:
        t.add_row("Fill time", safe_text(ctx.fill.statement))
    counters = s.server.get("counters")
    if counters:
        t.add_row("Counters", safe_text(counters_statement(counters)))
    if s.ceiling is not None:
        t.add_row("Ceiling", safe_text(s.ceiling.statement))
    energy = s.more.get("energy") or {}
    if energy.get("statement"):
        t.add_row("Energy", safe_text(energy["statement"]))
    cost = s.more.get("cost") or {}
    if cost.get("statement"):
        t.add_row("Cost", safe_text(cost["statement"]))
    q = s.quality
    if q is not None and q.score is not None:
        cats = ", ".join(f"{k} {v:.2f}" for k, v in sorted(q.categories.items()) if v is not None)
        ci_s = f" [{q.ci[0]:.2f}–{q.ci[1]:.2f}]" if q.ci else ""
        suite = f" · suite {q.suite} {q.suite_version or ''}".rstrip() if q.suite else ""
        t.add_row("Quality", safe_text(f"{q.score:.2f} / 5{ci_s} over {q.prompts} prompts × "
                                       f"{q.repeats}" + suite + (f" · {cats}" if cats else "")))
    return t


def counters_statement(c: Mapping[str, Any]) -> str:
    """The server's own token totals (its /metrics) beside the client's, in words."""
    srv, cli = c.get("server") or {}, c.get("client") or {}
    bits = []
    for key, word in (("generation_tokens", "generated"), ("prompt_tokens", "prompt")):
        if key in srv:
            bits.append(f"{word} {srv[key]:,} (usage said {cli.get(key, 0):,})")
    if "prefix_cache_hits" in srv:
        q = srv.get("prefix_cache_queries")
        bits.append(f"prefix-cache hits {srv['prefix_cache_hits']:,}" + (f" of {q:,} looked up" if q else ""))
    return f"/metrics over {c.get('requests')} requests: " + (", ".join(bits) if bits else "no token counters")


def _pair(client: float | None, server: float | None) -> str:
    text = fmt_num(client)
    if server is not None:
        text += f" ({fmt_num(server)})"
    return text


def _points_table(s: RunResult) -> Table:
    t = Table(title="Speed by context depth · tok/s, the server's own figure in brackets",
              title_justify="left", show_lines=False, pad_edge=False)
    t.add_column("Depth", justify="right")
    t.add_column("TTFT ms", justify="right")
    t.add_column("Prefill", justify="right")
    t.add_column("Decode", justify="right")
    t.add_column("95% CI", justify="right", style="dim")
    t.add_column("Gap", justify="right")
    has_ceiling = any(p.pct_of_ceiling is not None for p in s.points)
    if has_ceiling:
        t.add_column("Ceiling", justify="right")
    has_energy = any((p.more.get("energy") or {}).get("j_per_token") is not None for p in s.points)
    if has_energy:
        t.add_column("Watts", justify="right")
        t.add_column("J/tok", justify="right")
        t.add_column("Prefill J/tok", justify="right")
    t.add_column("Gen", justify="right")
    t.add_column("Cache", justify="center")
    for p in s.points:
        ci = p.decode_ci
        row: list[RenderableType] = [
            f"{p.depth:,}",
            fmt_num(p.ttft_ms, 0),
            _pair(p.prefill_tok_s, p.prefill_tok_s_server),
            _pair(p.decode_tok_s, p.decode_tok_s_server),
            f"{ci[0]:,.1f}–{ci[1]:,.1f}" if ci else "—",
            _gap(p.decode_gap_pct),
        ]
        if has_ceiling:
            pct = p.pct_of_ceiling
            row.append("—" if pct is None else f"{pct:.0f}% of {fmt_num(p.ceiling_tok_s, 0)}")
        if has_energy:
            e = p.more.get("energy") or {}
            row += [fmt_num(e.get("watts")), fmt_sig(e.get("j_per_token")), fmt_sig(e.get("prefill_j_per_token"))]
        gen = fmt_num(p.generated_tokens, 0)
        if p.failed:
            gen += f" ({p.failed} failed)"
        row += [gen, _cache(p.cache_verified)]
        t.add_row(*(safe_text(c) if isinstance(c, str) else c for c in row))
    return t


def card(s: RunResult) -> RenderableType:
    """A run's evidence card."""
    status = s.status
    style = {"complete": "bold green", "incomplete": "bold yellow", "failed": "bold red"}.get(status, "bold")
    head = Text.assemble(("rigbench run ", "bold"), safe_text(s.run_id, "bold cyan"), " · ",
                         safe_text(status, style))
    if s.reason:
        head.append_text(safe_text(f" · {s.reason}", "yellow"))
    parts: list[RenderableType] = [head, _facts_table(s)]
    from rigbench.report.terminal import decode_bars, session_curve

    if s.points:
        parts.append(_points_table(s))
        if len(s.points) >= 3:
            parts.append(decode_bars([("", [(p.depth, p.decode_tok_s) for p in s.points])]))
    elif s.session is None:
        parts.append(Text("No depth was measured.", style="yellow"))
    if s.session is not None:
        parts += [session_curve(s.session), safe_text(f"Session: {s.session.statement}")]
    v = s.verdict
    cls = v.cls if v is not None else "?"
    cls_style = "bold green" if cls == "interactive" else "bold yellow"
    parts.append(Text.assemble(("Verdict: ", "bold"), safe_text(str(cls).upper(), cls_style),
                               " — ", safe_text(v.summary if v is not None else "")))
    flags = [f"depth {p.depth:,}: {f}" for p in s.points for f in p.flags]
    notes = [*s.notes, *s.context.notes, *flags]
    if notes:
        nt = Text("Notes:\n", style="bold")
        for n in notes:
            nt.append_text(safe_text(f"  • {n}\n"))
        parts.append(nt)
    return Group(*parts)
