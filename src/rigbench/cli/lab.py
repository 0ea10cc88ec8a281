"""``rigbench lab``: decoding techniques measured against the baseline, interleaved."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import engine_opts as eo
from rigbench.cli.common import DB_HELP, JSON_HELP, RichProgress, emit_json, out, sanitized_command


@app.command(context_settings={"allow_extra_args": True},
             help="Measure decoding techniques against the baseline: a draft model (--draft), prompt lookup "
                  "(--lookup), KV-cache types (--kv), each interleaved with the baseline on grounded and open work; "
                  "speedups with paired CIs, acceptance, identity checks and a verdict per technique.")
def lab(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, metavar="[MODEL.gguf]", help="GGUF file (default: the bundled model)"),
    draft: str | None = typer.Option(None, "--draft", metavar="DRAFT.gguf", help="draft model for speculation"),
    lookup: bool = typer.Option(False, "--lookup", help="prompt lookup (n-gram speculation)"),
    lookup_types: str | None = typer.Option(
        None, "--lookup-types", help="n-gram kinds for --lookup: ngram-simple (default), ngram-map-k, ngram-mod, "
                                     "ngram-cache, comma-separated"),
    kv: str | None = typer.Option(None, "--kv", help="KV-cache types to try against f16, e.g. q8_0,q4_0"),
    draft_max: str | None = typer.Option(
        None, "--draft-max", help="draft lengths to sweep for every speculative technique (default: 3,8 for a "
                                  "draft model, 16,48 for lookup)"),
    synthetic: str | None = typer.Option(
        None, "--synthetic-acceptance", help="imposed acceptance rates, e.g. 0.2,0.5,0.8: the speedup curve "
                                             "and the overhead where real acceptance means nothing"),
    server: str | None = eo.SERVER,
    depths: str | None = typer.Option(None, "--depths", help="context depths, e.g. 0,4k (default 0)"),
    repeats: int = typer.Option(8, "--repeats", min=2, max=100, help="pairs per technique, kind of work and depth"),
    gen_tokens: int = typer.Option(128, "--gen-tokens", min=8, max=8192, help="tokens generated at most"),
    no_quality: bool = typer.Option(False, "--no-quality", help="skip the quality gate of lossy KV types"),
    timeout: float | None = eo.TIMEOUT,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    c: int | None = eo.CTX, ngl: str | None = eo.NGL, fa: str | None = eo.FA,
    b: int | None = eo.BATCH, ub: int | None = eo.UBATCH, np_: int | None = eo.NP,
    t: int | None = eo.THREADS, ctk: str | None = eo.CTK, ctv: str | None = eo.CTV,
    mlock: bool = eo.MLOCK, no_mmap: bool = eo.NO_MMAP,
) -> int:
    from rigbench.engines.flags import normalize_flags
    from rigbench.errors import UsageError
    from rigbench.lab.job import LabOptions, lab_job
    from rigbench.lab.techniques import parse_acceptances, parse_draft_max, parse_kv, parse_lookup
    from rigbench.measure.plan import parse_depths
    from rigbench.report.lab import lab_card

    model, extra = eo.split_model_and_extra(model, list(ctx.args))
    if extra and not server:
        raise UsageError("arguments after -- go to a launched llama-server", "add --server PATH, or drop them")
    if lookup_types and not lookup:
        raise UsageError("--lookup-types picks the kinds of prompt lookup", "add --lookup")
    flags = dict(normalize_flags(eo.flag_values(c, ngl, fa, b, ub, np_, t, ctk, ctv, mlock, no_mmap)))
    opts = LabOptions(
        model=model, server_bin=server, flags=flags, extra_args=tuple(extra), draft=draft,
        lookup=parse_lookup(lookup_types) if lookup else (), kv=parse_kv(kv), draft_max=parse_draft_max(draft_max),
        synthetic=parse_acceptances(synthetic), depths=parse_depths(depths) if depths is not None else None,
        repeats=repeats, gen_tokens=gen_tokens, quality=not no_quality, timeout_s=timeout, db=db,
        command=sanitized_command(),
    )
    with RichProgress() as progress:
        summary = lab_job(opts, progress)
    if json_out:
        emit_json(summary)
    else:
        out().print(lab_card(summary))
    return 0
