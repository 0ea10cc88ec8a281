"""``rigbench advise``: which models load on this machine, with which KV cache, and how fast they can be.

Memory decides what loads; bandwidth decides how fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rigbench.cli import app
from rigbench.cli.common import DB_HELP, JSON_HELP, emit_json, out
from rigbench.cli.inspect import BANDWIDTH_HELP, PREFILL_HELP, fill_for, prefill_samples
from rigbench.errors import UsageError
from rigbench.units import fmt_bytes, fmt_rate, parse_count, parse_memory

if TYPE_CHECKING:
    from rich.console import RenderableType

SUMMARY = "memory decides what loads; bandwidth decides how fast"


def parse_ram(text: str | None) -> tuple[int, str]:
    """Bytes of memory and where the figure came from. ``"512GB"`` is 512 GiB, as memory is sold."""
    if text is None or text.strip().lower() in ("", "auto"):
        import psutil

        return int(psutil.virtual_memory().total), "this host's RAM"
    return parse_memory(text, "--ram"), "given"


@app.command(help="Does each model load here, with which KV cache type, and what decode can it reach? "
                  "Memory decides what loads; bandwidth decides how fast.")
def advise(
    models: Annotated[list[str] | None, typer.Argument(metavar="MODEL.gguf...",
                                                       help="GGUF files (default: the bundled model)")] = None,
    ram: Annotated[str | None, typer.Option("--ram", help="memory the model must fit in: 512GB, 24GB or auto "
                                                          "(this host's RAM; give a GPU's memory by hand)")] = None,
    bandwidth: Annotated[str, typer.Option("--bandwidth", help=BANDWIDTH_HELP)] = "auto",
    ctx: Annotated[str | None, typer.Option("--ctx", help="context each model must hold, e.g. 200000 or 32k "
                                                          "(k = 1024; default: each model's native context)")] = None,
    prefill_tok_s: Annotated[str | None, typer.Option("--prefill-tok-s", help=PREFILL_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    catalog: Annotated[bool, typer.Option(
        "--catalog", help="advise over the bundled catalog of public models instead of files on disk "
                          "(rigbench catalog list)")] = False,
    family: Annotated[str | None, typer.Option(
        "--family", help="with --catalog: only this family (qwen3, llama3, gemma3, gpt-oss, deepseek, glm, "
                         "mistral) or id")] = None,
    quant: Annotated[str | None, typer.Option(
        "--quant", help="with --catalog: quants to show, e.g. Q4_K_M,MLX-4bit, or all "
                        "(default: Q4_K_M,Q8_0,MXFP4_MOE)")] = None,
    catalog_file: Annotated[str | None, typer.Option("--catalog-file", help="with --catalog: your own catalog YAML "
                                                                            "instead of the bundled one")] = None,
    db: Annotated[str | None, typer.Option("--db", help=DB_HELP + " (with --catalog: measured runs shown beside "
                                                             "the ceilings)")] = None,
) -> int:
    if catalog or family or quant or catalog_file:
        if models:
            raise UsageError("--catalog advises over the catalog, not over files",
                             "drop the GGUF paths, or drop --catalog/--family/--quant")
        from rigbench.cli.advise_catalog import advise_catalog

        return advise_catalog(ram=ram, bandwidth=bandwidth, ctx=ctx, json_out=json_out, family=family, quant=quant,
                              catalog_file=catalog_file, db=db)
    if db is not None:
        raise UsageError("--db shows measured runs beside the catalog's ceilings; it has no use with GGUF files",
                         "add --catalog, or drop --db")
    from rigbench.cli.inspect import model_arg
    from rigbench.model.bandwidth import resolve_bandwidth
    from rigbench.model.facts import model_facts
    from rigbench.model.roofline import CACHE_TYPES, MARGIN_BYTES, MARGIN_FRACTION
    from rigbench.model.roofline import advise as plan

    ram_bytes, ram_source = parse_ram(ram)
    n_ctx = parse_count(ctx, "--ctx", minimum=1) if ctx is not None else None
    samples = prefill_samples(prefill_tok_s)
    paths = list(models or []) or [model_arg(None)]
    facts = [model_facts(p, ctx=n_ctx) for p in paths]  # read every header first: bad input fails fast
    bw = resolve_bandwidth(bandwidth)
    results: list[dict[str, Any]] = []
    for f in facts:
        c = n_ctx or f.native_context or 4096
        options, line = plan(f, ram_bytes=ram_bytes, bandwidth_bytes_per_s=bw.bytes_per_s, ctx=c,
                             ctx_cap=f.max_context)
        fill_s, fill = fill_for(f, c, samples)
        results.append({
            "path": f.path, "name": f.name, "architecture": f.architecture, "quant": f.quant,
            "weights_bytes": f.weights_bytes, "active_bytes_per_token": f.active_bytes_per_token,
            "native_context": f.native_context, "max_context": f.max_context, "ctx": c,
            "context_check": f.context_check(c), "options": [o.to_json() for o in options],
            "verdict": line, "notes": list(f.notes) + f.context_notes(c) + ([fill["statement"]] if fill else []),
            "fill_s": fill_s, "fill": fill,
        })
    data = {
        "ram": {"bytes": ram_bytes, "source": ram_source},
        "bandwidth": bw.to_json(),
        "margin": {"fraction": MARGIN_FRACTION, "bytes": MARGIN_BYTES},
        "cache_types": list(CACHE_TYPES),
        "models": results,
        "summary": SUMMARY,
    }
    if json_out:
        emit_json(data)
    else:
        console = out()
        for item in render(data):
            console.print(item)
    return 0


def render(d: dict[str, Any]) -> list[RenderableType]:
    from rich.table import Table

    from rigbench.report.safe import safe_text

    bw = d["bandwidth"]
    head = safe_text(f"{SUMMARY}.\nmemory: {fmt_bytes(d['ram']['bytes'])} ({d['ram']['source']}); bandwidth: "
                f"{bw['gb_s']:,.1f} GB/s ({bw['source']}); margin: {d['margin']['fraction']:.0%} of weights + KV, "
                f"plus {fmt_bytes(d['margin']['bytes'])}")
    items: list[RenderableType] = [head]
    if bw.get("warning"):
        items.append(safe_text(f"note: bandwidth: {bw['warning']}"))
    for m in d["models"]:
        t = Table(title=safe_text(f"{m['name'] or m['architecture']} {m['quant'] or ''}  ({m['path']})"),
                  title_justify="left", caption_justify="left",
                  caption=safe_text(f"{m['verdict']}" + "".join(f"\nnote: {n}" for n in m["notes"])))
        for col in ("KV cache", f"KV at {m['ctx']:,}", "needs", "headroom", "loads", "longest ctx that loads",
                    "ceiling @0", f"ceiling @{m['ctx']:,}"):
            t.add_column(safe_text(col), justify="left" if col in ("KV cache", "loads") else "right")
        for o in m["options"]:
            fit = o["fit"]
            t.add_row(*map(safe_text, (o["cache_type"], fmt_bytes(o["kv_cache_bytes"]), fmt_bytes(fit["needed_bytes"]),
                                       fmt_bytes(fit["headroom_bytes"]), "yes" if fit["fits"] else "no",
                                       f"{o['max_ctx_that_fits']:,}" if o["max_ctx_that_fits"] else "—",
                                       fmt_rate(o["decode_ceiling_tok_s"]),
                                       fmt_rate(o["decode_ceiling_at_ctx_tok_s"]))))
        items.append(t)
    return items
