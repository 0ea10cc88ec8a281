"""``rigbench inspect``: a GGUF's facts, its KV cache, its decode ceiling, the context check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from rigbench.cli import app
from rigbench.cli.common import JSON_HELP, emit_json, out
from rigbench.units import fmt_bytes, fmt_count, fmt_file, fmt_rate, parse_count

if TYPE_CHECKING:
    from rich.table import Table

    from rigbench.model.bandwidth import Bandwidth
    from rigbench.model.facts import ModelFacts

CTX_HELP = ("context to size the KV cache for and to check, e.g. 200000, 32k, 1M (k = 1024; "
            "default: the native context)")
PREFILL_HELP = ("prefill tok/s measured on this model, optionally at a prompt length: 185, or 185@2k,86@5460 "
                "(two or more: the attention term is fitted): projects the time to fill the native window, the "
                "granted one and 1,000,000 tokens")
BANDWIDTH_HELP = "memory bandwidth for the decode ceiling: GB/s (800, 3.35TB/s), a chip (\"M3 Ultra\", h100) or auto"


def model_arg(model: str | None) -> str:
    if model:
        return model
    from rigbench.engines.bundled import bundled_model_path

    return str(bundled_model_path())


@app.command(help="Facts from a GGUF header: parameters, bytes read per token, KV cache, context, decode ceiling.")
def inspect(
    model: Annotated[str | None, typer.Argument(metavar="[MODEL.gguf]",
                                                help="GGUF file (default: the bundled model)")] = None,
    ctx: Annotated[str | None, typer.Option("--ctx", help=CTX_HELP)] = None,
    cache_type: Annotated[str, typer.Option("--cache-type", help="KV cache type: f16, q8_0 or q4_0")] = "f16",
    bandwidth: Annotated[str | None, typer.Option("--bandwidth", help=BANDWIDTH_HELP)] = None,
    prefill_tok_s: Annotated[str | None, typer.Option("--prefill-tok-s", help=PREFILL_HELP)] = None,
    json_out: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> int:
    from rigbench.model.facts import model_facts

    n_ctx = parse_count(ctx, "--ctx", minimum=1) if ctx is not None else None
    samples = prefill_samples(prefill_tok_s)
    facts = model_facts(model_arg(model), ctx=n_ctx, cache_type=cache_type)
    bw = None
    if bandwidth is not None:
        from rigbench.model.bandwidth import resolve_bandwidth

        bw = resolve_bandwidth(bandwidth)
    data = facts.to_json(bw)
    data["fill_s"], data["fill"] = fill_for(facts, data["ctx"], samples)
    if data["fill"]:
        data["notes"].append(data["fill"]["statement"])
    if bw is None:
        data["notes"].append("no --bandwidth given: pass --bandwidth auto, a chip name or GB/s for the decode ceiling")
    else:
        data["notes"] += [f"bandwidth: {x}" for x in (bw.warning, bw.note) if x]
    if json_out:
        emit_json(data)
    else:
        out().print(render(facts, data, bw))
    return 0


def prefill_samples(text: str | None) -> list[Any] | None:
    """``--prefill-tok-s`` parsed (bad input fails before any file is read)."""
    if text is None:
        return None
    from rigbench.measure.fill import samples_from_rates

    return samples_from_rates(text)


def fill_for(facts: ModelFacts, ctx: int, samples: list[Any] | None) -> tuple[dict[str, Any] | None,
                                                                              dict[str, Any] | None]:
    """The fill-time projection a run makes, from rates given by hand: to the native window, the
    window llama-server would grant one slot at ``ctx``, and 1,000,000 tokens. None without rates."""
    if samples is None:
        return None, None
    from rigbench.measure.fill import ONE_MILLION, fill_projection, fit_fill

    fit = fit_fill(samples, min_samples=1)
    return fill_projection(fit, {"native": facts.native_context, "granted": facts.granted_at(ctx),
                                 "1m": ONE_MILLION}, basis="given")


def render(facts: ModelFacts, d: dict[str, Any], bw: Bandwidth | None) -> Table:
    """The facts as a two-column table, notes in the caption."""
    from rich.table import Table

    from rigbench.report.safe import safe_text

    # the name, the path and the notes are the file's words: shown as text (a folder "x[" is not markup)
    t = Table(title=safe_text(f"{d['name'] or d['architecture']}  ({d['path']})"), title_justify="left",
              show_header=False, caption_justify="left",
              caption=safe_text("\n".join(f"note: {n}" for n in d["notes"])) if d["notes"] else None)
    t.add_column("fact", style="bold")
    t.add_column("value")

    def section(name: str) -> None:
        t.add_row(safe_text(name, "cyan"), "", end_section=False)

    def row(fact: str, value: object) -> None:
        t.add_row(safe_text(fact), safe_text(value))

    section("model")
    row("architecture", d["architecture"])
    row("quant", f"{d['quant'] or '—'}  ({d['bits_per_weight']:.2f} bits per weight used)")
    shards = f" in {len(d['shards'])} shards" if d["shards"] else ""
    row("file", f"{fmt_file(d['file_bytes'])}{shards}  (weights {fmt_bytes(d['weights_bytes'])})")
    row("parameters", f"{fmt_count(d['params_total'])} total, {fmt_count(d['params_active'])} read per token")
    if d["experts"]:
        row("experts", f"{d['experts_used']} of {d['experts']} per token")
    row("read per token", f"{fmt_bytes(d['active_bytes_per_token'])} of weights")
    section("attention")
    row("layers", str(d["layers"]))
    row("heads", f"{_heads(d['heads'])} query, {_heads(d['kv_heads'])} KV  ({d['attention']})")
    if d["attention"] == "mla":
        row("KV latent", f"{d['head_dim']} per layer (kv_lora_rank + rope dims), V is a view of it")
    elif d["head_dim"]:
        row("head dims", f"K {d['head_dim']}, V {d['head_dim_v']}")
    if d["sliding_window"]:
        swa = sum(1 for la in facts.kv_layers if la.window)
        row("sliding window", f"{d['sliding_window']:,} tokens on {swa} of {len(facts.kv_layers)} KV layers")
    section(f"KV cache ({d['cache_type']})")
    by = d["kv_bytes_per_token_by_kind"]
    per = fmt_bytes(d["kv_bytes_per_token"])
    if by["swa"]:
        per += f"  (global {fmt_bytes(by['global'])}, sliding {fmt_bytes(by['swa'])} up to the window)"
    row("per token", per)
    if d["recurrent_state_bytes"]:
        row("recurrent state", f"{fmt_bytes(d['recurrent_state_bytes'])} per sequence, constant")
    parts = ", ".join(f"{p['kind']} {p['cells']:,} cells x {p['layers']} layers = {fmt_bytes(p['bytes'])}"
                      for p in d["kv_cache"] if p["kind"] != "recurrent")
    row(f"at {d['ctx']:,} tokens", f"{fmt_bytes(d['kv_cache_bytes'])}" + (f"  ({parts})" if parts else ""))
    section("context")
    chk = d["context_check"]
    row("native (trained)", f"{d['native_context']:,}" if d["native_context"] else "—")
    if d["context_length"] and d["native_context"] and d["context_length"] != d["native_context"]:
        row("context_length", f"{d['context_length']:,}  (llama.cpp's n_ctx_train: it caps a slot there, "
                                    "not at the trained window)")
    rope = d["rope_scaling"] or "none declared"
    if d["rope_scaling_factor"]:
        rope += f" x{d['rope_scaling_factor']:g}"
        if d["rope_original_context"]:
            rope += f" from {d['rope_original_context']:,}"
    row("max (declared scaling)", f"{d['max_context']:,}  (rope scaling: {rope})" if d["max_context"] else "—")
    row(f"check at {chk['requested']:,}", chk["status"])
    row(f"slot at -c {d['ctx']:,}", f"{d['granted_context']:,}  (what llama-server grants one slot)")
    if d.get("fill"):
        from rigbench.measure.fill import fmt_duration

        section("time to fill (prefill)")
        ranges = d["fill"]["range_s"]
        for key, label in (("native", "native window"), ("granted", "granted window"), ("1m", "1,000,000 tokens")):
            n = d["fill"]["targets"].get(key)
            if d["fill_s"].get(key) is None or not n:
                continue
            r = ranges.get(key)
            span = f"  ({fmt_duration(r[0])}–{fmt_duration(r[1])})" if r else ""
            row(label if key == "1m" else f"{label} {n:,}", fmt_duration(d["fill_s"][key]) + span)
    section("ceiling")
    if bw is None:
        row("bandwidth", "— (pass --bandwidth)")
    else:
        row("bandwidth", f"{bw.gb_s:,.1f} GB/s  ({bw.source})")
        row("decode ceiling", f"{fmt_rate(d['decode_ceiling_tok_s'])} at depth 0, "
                                    f"{fmt_rate(d['decode_ceiling_at_ctx_tok_s'])} at {d['ctx']:,}")
    return t


def _heads(v: Any) -> str:
    if isinstance(v, list):
        return f"{min(v)}-{max(v)} (per layer)"
    return "—" if v is None else str(v)
