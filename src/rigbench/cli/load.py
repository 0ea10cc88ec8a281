"""``rigbench load``: how many agents one rig feeds, and its throughput for background work."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import engine_opts as eo
from rigbench.cli.common import DB_HELP, JSON_HELP, RichProgress, emit_json, out, sanitized_command


@app.command(context_settings={"allow_extra_args": True},
             help="Run N streams at once per level and say how many agents the rig feeds at a usable speed.")
def load(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, metavar="[MODEL.gguf]", help="GGUF file (default: the bundled model)"),
    url: list[str] | None = typer.Option(
        None, "--url", help="attach to this server; repeat it to spread streams round-robin over replicas"),
    model_name: str | None = eo.MODEL_NAME,
    api_key: str | None = eo.API_KEY,
    server: str | None = eo.SERVER,
    concurrency: str = typer.Option("1,2,4,8", "--concurrency", help="streams at once, one level each: 1,2,4,8"),
    depth: int = typer.Option(512, "--depth", min=0, max=10_000_000, help="context tokens each stream starts at"),
    gen_tokens: int = typer.Option(128, "--gen-tokens", min=2, max=65536, help="tokens generated per request"),
    requests: int = typer.Option(3, "--requests", min=1, max=10_000, help="requests per stream at each level"),
    rate: float | None = typer.Option(
        None, "--rate", help="open loop: Poisson arrivals, requests per second (default: closed loop)"),
    slo_ttft_ms: float | None = typer.Option(None, "--slo-ttft-ms", help="TTFT a request must meet, in ms"),
    slo_decode: float = typer.Option(20.0, "--slo-decode-tok-s", help="per-stream decode a request must meet"),
    timeout: float | None = eo.TIMEOUT,
    resume: int | None = typer.Option(None, "--resume", metavar="RUN", help="measure the levels still missing"),
    power_cmd: str | None = eo.POWER_CMD,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    c: int | None = eo.CTX, ngl: str | None = eo.NGL, fa: str | None = eo.FA,
    b: int | None = eo.BATCH, ub: int | None = eo.UBATCH, np_: int | None = eo.NP,
    t: int | None = eo.THREADS, ctk: str | None = eo.CTK, ctv: str | None = eo.CTV,
    mlock: bool = eo.MLOCK, no_mmap: bool = eo.NO_MMAP,
) -> int:
    from rigbench.errors import UsageError
    from rigbench.jobs.load import parse_concurrency
    from rigbench.jobs.load_job import LoadOptions, load_resume_options, run_load
    from rigbench.jobs.session import api_key_from_env
    from rigbench.report.load import load_card
    from rigbench.store import open_store

    key = api_key_from_env(api_key)
    if resume is not None:
        store = open_store(db)
        try:
            opts = load_resume_options(store, resume, db, key)
        finally:
            store.close()
    else:
        levels = parse_concurrency(concurrency)
        if slo_decode < 0:
            raise UsageError(f"--slo-decode-tok-s cannot be negative ({slo_decode:g})", "e.g. --slo-decode-tok-s 20")
        if slo_ttft_ms is not None and slo_ttft_ms <= 0:
            raise UsageError(f"--slo-ttft-ms must be positive ({slo_ttft_ms:g})", "e.g. --slo-ttft-ms 2000")
        if rate is not None and rate <= 0:
            raise UsageError(f"--rate must be a positive number of requests per second ({rate:g})", "e.g. --rate 2")
        model, extra = eo.split_model_and_extra(model, list(ctx.args))
        flags = eo.flag_values(c, ngl, fa, b, ub, np_, t, ctk, ctv, mlock, no_mmap)
        urls = list(url or [])
        if len(set(urls)) != len(urls):
            raise UsageError("the same --url is given twice", "give each server once")
        if urls:
            specs = [eo.build_spec(model=model, url=u, model_name=model_name, server=server, extra=extra, flags=flags)
                     for u in urls]
        else:
            specs = [eo.build_spec(model=model, url=None, model_name=model_name, server=server, extra=extra,
                                   flags=flags)]
        opts = LoadOptions(specs=specs, concurrency=levels, depth=depth, gen_tokens=gen_tokens, requests=requests,
                           rate=rate, slo_ttft_ms=slo_ttft_ms, slo_decode_tok_s=slo_decode, timeout_s=timeout,
                           api_key=key, db=db, command=sanitized_command())
    opts.power_cmd = power_cmd
    with RichProgress() as progress:
        summary = run_load(opts, progress, resume=resume)
    if json_out:
        emit_json(summary)
    else:
        out().print(load_card(summary))
    return 0
