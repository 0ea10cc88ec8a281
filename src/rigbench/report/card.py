"""The evidence card: a run summary rendered for people (rich renderables, no measuring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import safe_text

__all__ = ["card", "counters_statement", "fmt_bytes", "fmt_num", "fmt_sig"]


def fmt_num(v: float | int | None, nd: int = 1, *, dash: str = "—") -> str:
    if v is None:
        return dash
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and nd == 0):
        return f"{int(v):,}"
    return f"{v:,.{nd}f}"


def fmt_sig(v: float | None, digits: int = 3, *, dash: str = "—") -> str:
    """A figure that spans orders of magnitude (joules per token) to ``digits`` significant digits."""
    return dash if v is None else f"{v:.{digits}g}"


def fmt_bytes(n: int | None) -> str:
    if not n:
        return "—"
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _gap(g: float | None) -> Text:
    if g is None:
        return Text("—", style="dim")
    style = "bold red" if abs(g) > 5 else ""
    return Text(f"{g:+.1f}%", style=style)


def _cache(v: bool | None) -> Text:
    if v is None:
        return Text("n/a", style="dim")
    return Text("yes", style="green") if v else Text("NO", style="bold red")


def _facts_table(s: Mapping[str, Any]) -> Table:
    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    m = s["model"]
    e = s["engine"]
    mach = s.get("machine") or {}
    model_bits = [m.get("name") or "?", m.get("quant") or "quant ?", fmt_bytes(m.get("file_bytes"))]
    t.add_row("Model", safe_text(" · ".join(str(b) for b in model_bits)))
    eng = [e.get("kind") or "?"]
    sw = e.get("software") or {}
    if sw.get("name") and e.get("kind") == "url":
        eng.append(" ".join(str(x) for x in (sw["name"], sw.get("version")) if x))
    if e.get("build"):
        eng.append(str(e["build"]))
    if e.get("backend"):
        eng.append(str(e["backend"]))
    if e.get("devices"):
        eng.append(", ".join(str(d) for d in e["devices"]))
    flags = e.get("flags") or {}
    if flags:
        eng.append(" ".join(f"{k}={v}" for k, v in sorted(flags.items())))
    t.add_row("Engine", safe_text(" · ".join(eng)))
    if e.get("kind") == "url" and e.get("base_url"):
        t.add_row("Server", safe_text(f"{e['base_url']} · model {e.get('served_model') or '?'}"))
    if mach:
        ram = fmt_bytes(mach.get("ram_bytes"))
        gpus = ", ".join(str(g.get("name", "?")) for g in mach.get("gpus") or [])
        t.add_row("Machine", safe_text(" · ".join(str(x) for x in [mach.get("hostname"), mach.get("cpu"),
                                                                   f"{mach.get('cores')} cores", f"{ram} RAM", gpus]
                                                  if x)))
    ctx = s["context"]
    seq = ctx.get("sequence") or []
    t.add_row("Context", safe_text(" → ".join(seq) if seq else ctx["statement"]))
    fill = ctx.get("fill") or {}
    if fill.get("statement") and s.get("points"):
        t.add_row("Fill time", safe_text(fill["statement"]))
    counters = (s.get("server") or {}).get("counters")
    if counters:
        t.add_row("Counters", safe_text(counters_statement(counters)))
    ceiling = s.get("ceiling")
    if ceiling:
        t.add_row("Ceiling", safe_text(ceiling.get("statement", "")))
    energy = s.get("energy") or {}
    if energy.get("statement"):
        t.add_row("Energy", safe_text(energy["statement"]))
    cost = s.get("cost") or {}
    if cost.get("statement"):
        t.add_row("Cost", safe_text(cost["statement"]))
    q = s.get("quality")
    if q and q.get("score") is not None:
        cats = ", ".join(f"{k} {v:.2f}" for k, v in sorted((q.get("categories") or {}).items()) if v is not None)
        ci = q.get("ci")
        ci_s = f" [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else ""
        suite = f" · suite {q['suite']} {q.get('suite_version') or ''}".rstrip() if q.get("suite") else ""
        t.add_row("Quality", safe_text(f"{q['score']:.2f} / 5{ci_s} over {q.get('prompts')} prompts × "
                                       f"{q.get('repeats')}" + suite + (f" · {cats}" if cats else "")))
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


def _points_table(s: Mapping[str, Any]) -> Table:
    t = Table(title="Speed by context depth · tok/s, the server's own figure in brackets",
              title_justify="left", show_lines=False, pad_edge=False)
    t.add_column("Depth", justify="right")
    t.add_column("TTFT ms", justify="right")
    t.add_column("Prefill", justify="right")
    t.add_column("Decode", justify="right")
    t.add_column("95% CI", justify="right", style="dim")
    t.add_column("Gap", justify="right")
    has_ceiling = any(p.get("pct_of_ceiling") is not None for p in s["points"])
    if has_ceiling:
        t.add_column("Ceiling", justify="right")
    has_energy = any((p.get("energy") or {}).get("j_per_token") is not None for p in s["points"])
    if has_energy:
        t.add_column("Watts", justify="right")
        t.add_column("J/tok", justify="right")
        t.add_column("Prefill J/tok", justify="right")
    t.add_column("Gen", justify="right")
    t.add_column("Cache", justify="center")
    for p in s["points"]:
        ci = p.get("decode_ci")
        row: list[RenderableType] = [
            f"{p['depth']:,}",
            fmt_num(p.get("ttft_ms"), 0),
            _pair(p.get("prefill_tok_s"), p.get("prefill_tok_s_server")),
            _pair(p.get("decode_tok_s"), p.get("decode_tok_s_server")),
            f"{ci[0]:,.1f}–{ci[1]:,.1f}" if ci else "—",
            _gap(p.get("decode_gap_pct")),
        ]
        if has_ceiling:
            pct = p.get("pct_of_ceiling")
            row.append("—" if pct is None else f"{pct:.0f}% of {fmt_num(p.get('ceiling_tok_s'), 0)}")
        if has_energy:
            e = p.get("energy") or {}
            row += [fmt_num(e.get("watts")), fmt_sig(e.get("j_per_token")), fmt_sig(e.get("prefill_j_per_token"))]
        gen = fmt_num(p.get("generated_tokens"), 0)
        if p.get("failed"):
            gen += f" ({p['failed']} failed)"
        row += [gen, _cache(p.get("cache_verified"))]
        t.add_row(*(safe_text(c) if isinstance(c, str) else c for c in row))
    return t


def card(s: Mapping[str, Any]) -> RenderableType:
    status = s.get("status", "?")
    style = {"complete": "bold green", "incomplete": "bold yellow", "failed": "bold red"}.get(status, "bold")
    head = Text.assemble(("rigbench run ", "bold"), safe_text(s.get("run_id"), "bold cyan"), " · ",
                         safe_text(status, style))
    if s.get("reason"):
        head.append_text(safe_text(f" · {s['reason']}", "yellow"))
    parts: list[RenderableType] = [head, _facts_table(s)]
    from rigbench.report.terminal import decode_bars, session_curve

    if s.get("points"):
        parts.append(_points_table(s))
        if len(s["points"]) >= 3:
            parts.append(decode_bars([("", [(p["depth"], p.get("decode_tok_s")) for p in s["points"]])]))
    elif not s.get("session"):
        parts.append(Text("No depth was measured.", style="yellow"))
    if s.get("session"):
        parts += [session_curve(s["session"]), safe_text(f"Session: {s['session'].get('statement', '')}")]
    v = s.get("verdict") or {}
    cls = v.get("class", "?")
    cls_style = "bold green" if cls == "interactive" else "bold yellow"
    parts.append(Text.assemble(("Verdict: ", "bold"), safe_text(str(cls).upper(), cls_style),
                               " — ", safe_text(v.get("summary", ""))))
    flags = [f"depth {p['depth']:,}: {f}" for p in s.get("points", []) for f in p.get("flags") or []]
    notes = list(s.get("notes") or []) + list((s.get("context") or {}).get("notes") or []) + flags
    if notes:
        nt = Text("Notes:\n", style="bold")
        for n in notes:
            nt.append_text(safe_text(f"  • {n}\n"))
        parts.append(nt)
    return Group(*parts)
