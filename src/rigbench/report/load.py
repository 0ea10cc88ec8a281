"""The load card (rich renderables): the servers, one row per concurrency level, a chart of
aggregate and per-stream decode against concurrency, and the answer in words. Renders a
``results.LoadResult`` only; every server-given text goes through ``report.safe``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rigbench.report.safe import safe_text
from rigbench.report.terminal import _bar
from rigbench.results import LoadLevel, LoadResult, LoadServer

__all__ = ["load_card", "load_chart"]


def _num(v: Any, nd: int = 1) -> str:
    return "—" if not isinstance(v, (int, float)) or isinstance(v, bool) else f"{v:,.{nd}f}"


def load_chart(levels: Sequence[LoadLevel], *, slo_decode: float | None = None, width: int = 30) -> RenderableType:
    """Two bars per level on their own scales: aggregate tok/s (the rig's throughput) and
    median per-stream decode (what each agent gets), the SLO marked on the second."""
    t = Table.grid(padding=(0, 1))
    t.add_column(justify="right", style="bold")
    for _ in range(4):
        t.add_column()
    agg_top = max((lv.aggregate_tok_s for lv in levels if lv.aggregate_tok_s is not None), default=0.0)
    dec_top = max((lv.per_stream_decode_tok_s for lv in levels if lv.per_stream_decode_tok_s is not None),
                  default=0.0)
    dec_top = max(dec_top, slo_decode or 0.0)
    t.add_row("streams", Text("aggregate tok/s", style="cyan"), "", Text("per-stream decode tok/s", style="green"), "")
    for lv in levels:
        agg = lv.aggregate_tok_s
        dec = lv.per_stream_decode_tok_s
        meets = slo_decode is not None and dec is not None and dec >= slo_decode
        dstyle = "green" if meets or slo_decode is None else "yellow"
        t.add_row(f"{lv.concurrency}", Text(_bar(agg, agg_top, width) if agg is not None else "", style="cyan"),
                  _num(agg), Text(_bar(dec, dec_top, width) if dec is not None else "", style=dstyle), _num(dec))
    parts: list[RenderableType] = [Text("Throughput and per-stream decode against concurrency", style="bold"), t]
    if slo_decode:
        parts.append(Text(f"per-stream bars in yellow fall short of {slo_decode:g} tok/s", style="dim"))
    return Group(*parts)


def _server_line(sv: LoadServer) -> str:
    bits = [str(sv.url or "?")]
    if sv.software:
        bits.append(" ".join(str(x) for x in (sv.software, sv.version) if x))
    if sv.total_slots:
        bits.append(f"{sv.total_slots} slot{'s' if sv.total_slots != 1 else ''}")
    if sv.granted_context:
        bits.append(f"ctx {sv.granted_context:,}/slot")
    if sv.devices:
        bits.append(", ".join(str(d) for d in sv.devices))
    if not sv.metrics:
        bits.append("no /metrics")
    return " · ".join(bits)


def _flags(s: LoadResult) -> list[str]:
    flags = []
    for lv in s.levels:
        if lv.token_gap_flagged and lv.token_gap_pct is not None:
            flags.append(f"{lv.concurrency} streams: the client's token total differs from the server's "
                         f"/metrics by {lv.token_gap_pct:+.1f}% (over 5%)")
        for e in lv.errors:
            flags.append(f"{lv.concurrency} streams failed: {e}")
        waited = lv.server.get("requests_waiting_peak")
        if waited:
            flags.append(f"{lv.concurrency} streams: up to {waited:g} requests waited for a slot on the server")
    if s.levels_missing:
        flags.append("levels not measured: " + ", ".join(str(c) for c in s.levels_missing))
    return flags


def load_card(s: LoadResult) -> RenderableType:
    style = {"complete": "bold green", "incomplete": "bold yellow", "failed": "bold red"}.get(s.status, "bold")
    head = Text.assemble(("rigbench load ", "bold"), (f"run {s.run_id}", "bold cyan"), " · ",
                         safe_text(s.status, style))
    if s.model.name:
        head.append_text(safe_text(f" · {s.model.name} {s.model.quant or ''}".rstrip()))
    if s.reason:
        head.append_text(safe_text(f" · {s.reason}", "yellow"))
    parts: list[RenderableType] = [head]
    if s.servers:
        st = Table.grid(padding=(0, 2))
        st.add_column(style="bold")
        st.add_column()
        for i, sv in enumerate(s.servers):
            st.add_row(f"server {i + 1}" if len(s.servers) > 1 else "server", safe_text(_server_line(sv)))
        parts.append(st)
    w = s.workload
    how = f"Poisson arrivals at {w.rate:g} req/s" if w.rate else "closed loop (next request as the last ends)"
    parts.append(safe_text(f"each stream: its own conversation at depth {w.depth or 0:,}, "
                           f"{w.requests} requests of {w.gen_tokens} tokens, {how}", "dim"))
    t = Table(title="Per level · ok and failed requests apart · figures from the stored requests",
              title_justify="left", pad_edge=False)
    for col in ("Streams", "ok", "failed", "Aggregate tok/s", "Per-stream decode", "p10", "TTFT p50 ms",
                "TTFT p95 ms", "Goodput req/s", "SLO share", "Server tokens"):
        t.add_column(col, justify="right")
    for lv in s.levels:
        gap_text = Text("—" if lv.server_tokens is None else f"{lv.server_tokens:,}")
        if lv.token_gap_pct is not None:
            gap_text.append(f" ({lv.token_gap_pct:+.1f}%)", "bold yellow" if lv.token_gap_flagged else "dim")
        t.add_row(str(lv.concurrency), str(lv.requests_ok),
                  Text(str(lv.requests_failed), style="bold red" if lv.requests_failed else ""),
                  _num(lv.aggregate_tok_s), _num(lv.per_stream_decode_tok_s), _num(lv.per_stream_decode_p10_tok_s),
                  _num(lv.ttft_ms_p50, 0), _num(lv.ttft_ms_p95, 0), _num(lv.goodput_rps, 2),
                  "—" if lv.slo_share is None else f"{lv.slo_share * 100:.0f}%", gap_text)
    parts.append(t)
    if s.levels:
        parts.append(load_chart(s.levels, slo_decode=s.slo.decode_tok_s))
    parts.append(Text.assemble(("Answer: ", "bold"), safe_text(s.knee.statement or "")))
    notes = _flags(s) + list(s.notes)
    if notes:
        nt = Text("Notes:\n", style="bold")
        for n in notes:
            nt.append_text(safe_text(f"  • {n}\n"))
        parts.append(nt)
    return Group(*parts)
