"""The load card (rich renderables): the servers, one row per concurrency level, a chart of
aggregate and per-stream decode against concurrency, and the answer in words. Renders a
``load_summary`` only; every server-given text goes through ``report.safe``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import safe_text
from rigbench.report.terminal import _bar

__all__ = ["load_card", "load_chart"]


def _num(v: Any, nd: int = 1) -> str:
    return "—" if not isinstance(v, (int, float)) or isinstance(v, bool) else f"{v:,.{nd}f}"


def load_chart(levels: Sequence[Mapping[str, Any]], *, slo_decode: float | None = None,
               width: int = 30) -> RenderableType:
    """Two bars per level on their own scales: aggregate tok/s (the rig's throughput) and
    median per-stream decode (what each agent gets), the SLO marked on the second."""
    t = Table.grid(padding=(0, 1))
    t.add_column(justify="right", style="bold")
    for _ in range(4):
        t.add_column()
    agg_top = max((lv["aggregate_tok_s"] for lv in levels if isinstance(lv.get("aggregate_tok_s"), (int, float))),
                  default=0.0)
    dec_top = max((lv["per_stream_decode_tok_s"] for lv in levels
                   if isinstance(lv.get("per_stream_decode_tok_s"), (int, float))), default=0.0)
    dec_top = max(dec_top, slo_decode or 0.0)
    t.add_row("streams", Text("aggregate tok/s", style="cyan"), "", Text("per-stream decode tok/s", style="green"), "")
    for lv in levels:
        agg = lv.get("aggregate_tok_s")
        dec = lv.get("per_stream_decode_tok_s")
        meets = slo_decode is not None and isinstance(dec, (int, float)) and dec >= slo_decode
        dstyle = "green" if meets or slo_decode is None else "yellow"
        t.add_row(f"{lv['concurrency']}",
                  Text(_bar(agg, agg_top, width) if isinstance(agg, (int, float)) else "", style="cyan"),
                  _num(agg), Text(_bar(dec, dec_top, width) if isinstance(dec, (int, float)) else "", style=dstyle),
                  _num(dec))
    parts: list[RenderableType] = [Text("Throughput and per-stream decode against concurrency", style="bold"), t]
    if slo_decode:
        parts.append(Text(f"per-stream bars in yellow fall short of {slo_decode:g} tok/s", style="dim"))
    return Group(*parts)


def load_card(s: Mapping[str, Any]) -> RenderableType:
    status = s.get("status", "?")
    style = {"complete": "bold green", "incomplete": "bold yellow", "failed": "bold red"}.get(str(status), "bold")
    head = Text.assemble(("rigbench load ", "bold"), (f"run {s.get('run_id')}", "bold cyan"), " · ",
                         safe_text(status, style))
    model = s.get("model") or {}
    if model.get("name"):
        head.append_text(safe_text(f" · {model['name']} {model.get('quant') or ''}".rstrip()))
    if s.get("reason"):
        head.append_text(safe_text(f" · {s['reason']}", "yellow"))
    parts: list[RenderableType] = [head]
    servers = s.get("servers") or []
    if servers:
        st = Table.grid(padding=(0, 2))
        st.add_column(style="bold")
        st.add_column()
        for i, sv in enumerate(servers):
            bits = [str(sv.get("url") or "?")]
            if sv.get("software"):
                bits.append(" ".join(str(x) for x in (sv["software"], sv.get("version")) if x))
            if sv.get("total_slots"):
                bits.append(f"{sv['total_slots']} slot{'s' if sv['total_slots'] != 1 else ''}")
            if sv.get("granted_context"):
                bits.append(f"ctx {sv['granted_context']:,}/slot")
            if sv.get("devices"):
                bits.append(", ".join(str(d) for d in sv["devices"]))
            if not sv.get("metrics"):
                bits.append("no /metrics")
            st.add_row(f"server {i + 1}" if len(servers) > 1 else "server", safe_text(" · ".join(bits)))
        parts.append(st)
    w = s.get("workload") or {}
    how = (f"Poisson arrivals at {w['rate']:g} req/s" if w.get("rate")
           else "closed loop (next request as the last ends)")
    parts.append(safe_text(f"each stream: its own conversation at depth {w.get('depth') or 0:,}, "
                           f"{w.get('requests')} requests of {w.get('gen_tokens')} tokens, {how}", "dim"))
    slo = s.get("slo") or {}
    t = Table(title="Per level · ok and failed requests apart · figures from the stored requests",
              title_justify="left", pad_edge=False)
    for col in ("Streams", "ok", "failed", "Aggregate tok/s", "Per-stream decode", "p10", "TTFT p50 ms",
                "TTFT p95 ms", "Goodput req/s", "SLO share", "Server tokens"):
        t.add_column(col, justify="right")
    for lv in s.get("levels") or []:
        gap = lv.get("token_gap_pct")
        server_tok = "—" if lv.get("server_tokens") is None else f"{lv['server_tokens']:,}"
        gap_text = Text(server_tok)
        if gap is not None:
            gap_text.append(f" ({gap:+.1f}%)", "bold yellow" if lv.get("token_gap_flagged") else "dim")
        share = lv.get("slo_share")
        t.add_row(str(lv["concurrency"]), str(lv["requests_ok"]),
                  Text(str(lv["requests_failed"]), style="bold red" if lv["requests_failed"] else ""),
                  _num(lv.get("aggregate_tok_s")), _num(lv.get("per_stream_decode_tok_s")),
                  _num(lv.get("per_stream_decode_p10_tok_s")), _num(lv.get("ttft_ms_p50"), 0),
                  _num(lv.get("ttft_ms_p95"), 0), _num(lv.get("goodput_rps"), 2),
                  "—" if share is None else f"{share * 100:.0f}%", gap_text)
    parts.append(t)
    levels = s.get("levels") or []
    if levels:
        parts.append(load_chart(levels, slo_decode=slo.get("decode_tok_s")))
    knee = s.get("knee") or {}
    parts.append(Text.assemble(("Answer: ", "bold"), safe_text(knee.get("statement") or "")))
    flags = []
    for lv in levels:
        if lv.get("token_gap_flagged"):
            flags.append(f"{lv['concurrency']} streams: the client's token total differs from the server's "
                         f"/metrics by {lv['token_gap_pct']:+.1f}% (over 5%)")
        for e in lv.get("errors") or []:
            flags.append(f"{lv['concurrency']} streams failed: {e}")
        peak = lv.get("server") or {}
        if peak.get("requests_waiting_peak"):
            flags.append(f"{lv['concurrency']} streams: up to {peak['requests_waiting_peak']:g} requests waited "
                         "for a slot on the server")
    if s.get("levels_missing"):
        flags.append("levels not measured: " + ", ".join(str(c) for c in s["levels_missing"]))
    notes = flags + list(s.get("notes") or [])
    if notes:
        nt = Text("Notes:\n", style="bold")
        for n in notes:
            nt.append_text(safe_text(f"  • {n}\n"))
        parts.append(nt)
    return Group(*parts)
