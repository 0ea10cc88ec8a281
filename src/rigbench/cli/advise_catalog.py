"""``rigbench advise --catalog``: what to run on this machine before downloading anything.

Parse, call ``rigbench.model.catalog_advice``, render. Measured runs come from the results
database (read only if it already exists), this host's runs only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rigbench.cli.advise import SUMMARY, parse_ram
from rigbench.cli.common import emit_json, out
from rigbench.errors import UsageError
from rigbench.units import fmt_bytes, parse_count

if TYPE_CHECKING:
    from rich.console import RenderableType

__all__ = ["advise_catalog", "render_catalog"]

DEFAULT_CTX = 32768


def _quants(text: str | None) -> list[str] | None:
    from rigbench.model.catalog_advice import DEFAULT_QUANTS
    from rigbench.model.quants import QUANTS

    if text is None:
        return list(DEFAULT_QUANTS)
    if text.strip().lower() == "all":
        return None
    by_upper = {q.upper(): q for q in QUANTS}
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in wanted if w.upper() not in by_upper]
    if bad or not wanted:
        raise UsageError(f"--quant {text!r}: unknown quant {', '.join(bad) or '(none)'}",
                         f"use all or a list of {', '.join(QUANTS)}")
    return [by_upper[w.upper()] for w in wanted]


def _measured_runs(db: str | None) -> list[Any]:
    """Board rows of this host's stored runs; none when there is no database yet."""
    import socket

    from rigbench.paths import default_db_path

    if db is None and not default_db_path().exists():
        return []
    from rigbench.jobs.summary import stored_run_summaries
    from rigbench.report.board import build_board
    from rigbench.store import open_store

    store = open_store(db)
    try:
        summaries = stored_run_summaries(store)
    finally:
        store.close()
    return build_board(summaries, sort="decode", machine=socket.gethostname())


def advise_catalog(*, ram: str | None, bandwidth: str, ctx: str | None, json_out: bool, family: str | None,
                   quant: str | None, catalog_file: str | None, db: str | None) -> int:
    from rigbench.model.bandwidth import resolve_bandwidth
    from rigbench.model.catalog import bundled_catalog, load_catalog_file
    from rigbench.model.catalog_advice import answer_in_words, attach_measured, catalog_advice, verdict_line

    ram_bytes, ram_source = parse_ram(ram)
    n_ctx = parse_count(ctx, "--ctx", minimum=1) if ctx is not None else DEFAULT_CTX
    quants = _quants(quant)
    cat = load_catalog_file(catalog_file) if catalog_file else bundled_catalog()
    families = sorted({e.family for e in cat.models})
    bw = resolve_bandwidth(bandwidth)
    options = catalog_advice(cat, ram_bytes=ram_bytes, bandwidth_bytes_per_s=bw.bytes_per_s, ctx=n_ctx,
                             family=family, quants=quants)
    if not options:
        raise UsageError(f"no catalog model matches --family {family!r}" if family else "the catalog offers none of "
                         "those quants", f"families: {', '.join(families)} (rigbench catalog list)")
    options = attach_measured(options, _measured_runs(db))
    rows = [o.to_json() for o in options]
    if json_out:
        emit_json(rows)
        return 0
    words = answer_in_words(options, ram_bytes=ram_bytes, quant="Q4_K_M" if quants is None or "Q4_K_M" in quants
                            else options[0].quant)
    console = out()
    for item in render_catalog(rows, ram_bytes=ram_bytes, ram_source=ram_source, bandwidth=bw.to_json(), ctx=n_ctx,
                               words=words, verdict=verdict_line(options), catalog=catalog_file or "bundled"):
        console.print(item)
    return 0


def _rate(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def _size(n: int | None) -> str:
    """Short sizes for a wide table: 17.3 GiB, 235 MiB, 96 KiB."""
    if n is None:
        return "—"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            v = n / size
            return f"{v:,.1f} {unit}" if v < 100 else f"{v:,.0f} {unit}"
    return f"{n:,} B"


def render_catalog(rows: list[dict[str, Any]], *, ram_bytes: int, ram_source: str, bandwidth: dict[str, Any],
                   ctx: int, words: str, verdict: str, catalog: str) -> list[RenderableType]:
    from rich.table import Table
    from rich.text import Text

    head = Text(f"{SUMMARY}.\nmemory: {fmt_bytes(ram_bytes)} ({ram_source}); bandwidth: {bandwidth['gb_s']:,.1f} GB/s "
                f"({bandwidth['source']}); context asked: {ctx:,} tokens, f16 KV; catalog: {catalog}")
    items: list[RenderableType] = [head]
    if bandwidth.get("warning"):
        items.append(Text(f"note: bandwidth: {bandwidth['warning']}"))
    items.append(Text(words))
    t = Table(title="Catalog models on this machine (ceilings are upper bounds: bandwidth / bytes read per token)",
              title_justify="left", caption_justify="left",
              caption="Read/tok: weights read to decode one token (MoE: active experts only); KV/tok: f16 KV one "
                      "token adds; Loads 'shorter': only with less context (Longest ctx). --json gives each "
                      "row's verdict. Sizes are tensor "
                      "data; a file adds its header (the tokenizer, a few MB). Sources: rigbench catalog list.")
    measured = any(r["measured"] for r in rows)
    at_ctx = f"{ctx // 1024}K" if ctx % 1024 == 0 else f"{ctx:,}"
    ceiling_col = f"Ceiling @0/{at_ctx}"
    cols = ["Model", "Kind", "Quant", "File", "Read/tok", "KV/tok", "Loads", "Longest ctx", ceiling_col,
            *(["Measured"] if measured else [])]
    fixed = ("Kind", "Quant", "File", "Read/tok", "KV/tok", "Longest ctx", ceiling_col)
    for col in cols:
        t.add_column(col, justify="left" if col in ("Model", "Kind", "Quant", "Loads", "Measured") else "right",
                     no_wrap=col in fixed, overflow="fold", min_width=12 if col == "Model" else None)
    for r in rows:
        m = r["measured"]
        at = f" @{m['depth']:,}" if m and m.get("depth") is not None else ""
        meas = "—" if not m else f"{m['decode_tok_s']:,.1f} tok/s{at} (run {m['run_id']})"
        loads = "yes" if r["loads"] else ("no" if r["longest_context"] == 0 else "shorter")
        cells = [r["model"], "MoE" if r["moe"] else "dense", r["quant"], _size(r["file_bytes"]),
                 _size(r["active_bytes_per_token"]), _size(r["kv_bytes_per_token"]), loads,
                 f"{r['longest_context']:,}" if r["longest_context"] else "—",
                 f"{_rate(r['ceiling_tok_s'])}/{_rate(r['ceiling_at_ctx_tok_s'])}",
                 *([meas] if measured else [])]
        t.add_row(*cells)
    items.append(t)
    items.append(Text(verdict))
    return items
