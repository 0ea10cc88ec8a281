"""``rigbench run``: the evidence card for one model on one server."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import engine_opts as eo
from rigbench.cli.common import DB_HELP, JSON_HELP, RichProgress, emit_json, out, sanitized_command


def _extra_params(quality_repeats: int, suite: str | None, judge: str | None,
                  session_kind: str | None, bandwidth: str | None) -> dict[str, object]:
    from rigbench.errors import UsageError

    extra: dict[str, object] = {"quality_repeats": quality_repeats}
    if suite:
        from rigbench.quality.suite import load_suite

        load_suite(suite)  # a bad --suite fails now, not after the speed sweep
        extra["suite"] = suite
    if judge:
        extra["judge_url"] = judge
    if bandwidth:
        from rigbench.model.bandwidth import parse_bandwidth
        from rigbench.model.chips import find_chip

        if bandwidth.strip().lower() != "auto" and parse_bandwidth(bandwidth) is None and not find_chip(bandwidth):
            raise UsageError(f"unknown bandwidth or chip {bandwidth!r}",
                             "give GB/s (800, 3.35TB/s), a chip name (\"M3 Ultra\", h100) or auto")
        extra["bandwidth"] = bandwidth
    if session_kind:
        if session_kind != "agent":
            raise UsageError(f"unknown session workload {session_kind!r}", "use --session agent")
        extra["session"] = session_kind
    return extra


@app.command(context_settings={"allow_extra_args": True}, help="Measure a model and print its evidence card.")
def run(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, metavar="[MODEL.gguf]", help="GGUF file (default: the bundled model)"),
    url: str | None = eo.URL,
    model_name: str | None = eo.MODEL_NAME,
    api_key: str | None = eo.API_KEY,
    server: str | None = eo.SERVER,
    depths: str | None = typer.Option(
        None, "--depths", help="context depths, e.g. 0,1024,4k (default 0,1K,4K,16K,32K within budget)"),
    gen_tokens: int = typer.Option(128, "--gen-tokens", min=2, max=65536, help="tokens generated per request"),
    repeats: int = typer.Option(3, "--repeats", min=1, max=100, help="requests per depth"),
    budget: str | None = typer.Option(None, "--budget", help="time budget for the depth sweep, e.g. 300s or 10m"),
    timeout: float | None = eo.TIMEOUT,
    no_quality: bool = typer.Option(False, "--no-quality", help="skip the quality pass"),
    quality_repeats: int = typer.Option(3, "--quality-repeats", min=1, max=20, help="answers per quality prompt"),
    suite: str | None = typer.Option(
        None, "--suite", help="quality suite: a name from 'rigbench suite list' or a YAML file"),
    judge: str | None = typer.Option(None, "--judge", help="OpenAI-compatible URL of an LLM judge (reported apart)"),
    session_kind: str | None = typer.Option(None, "--session", help="workload instead of the depth sweep: agent"),
    bandwidth: str | None = typer.Option(
        None, "--bandwidth", help="for the ceiling: GB/s, a chip name (\"M3 Ultra\", h100) or auto (measure)"),
    power_cmd: str | None = eo.POWER_CMD,
    electricity_price: str | None = typer.Option(
        None, "--electricity-price", help="for the cost statement, e.g. 0.30/kWh"),
    api_price: str | None = typer.Option(None, "--api-price", help="an API's price beside it, e.g. 3.00/Mtok"),
    rig_price: str | None = typer.Option(None, "--rig-price", help="what the rig cost, for the payback, e.g. 2500"),
    resume: int | None = typer.Option(None, "--resume", metavar="RUN", help="finish an incomplete run"),
    label: str | None = typer.Option(None, "--label", envvar="RIGBENCH_LABEL",
                                     help="a name for this rig (rig-a), kept on the run and the machine"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    c: int | None = eo.CTX, ngl: str | None = eo.NGL, fa: str | None = eo.FA,
    b: int | None = eo.BATCH, ub: int | None = eo.UBATCH, np_: int | None = eo.NP,
    t: int | None = eo.THREADS, ctk: str | None = eo.CTK, ctv: str | None = eo.CTV,
    mlock: bool = eo.MLOCK, no_mmap: bool = eo.NO_MMAP,
) -> int:
    from rigbench.energy.prices import price_params
    from rigbench.jobs.run import RunOptions, resume_options, run_job
    from rigbench.jobs.session import api_key_from_env
    from rigbench.measure.plan import parse_depths, parse_duration
    from rigbench.report.card import card
    from rigbench.store import open_store

    key = api_key_from_env(api_key)
    prices = price_params(electricity_price, api_price, rig_price)
    if resume is not None:
        store = open_store(db)
        try:
            opts = resume_options(store, resume, db, key)
        finally:
            store.close()
    else:
        model, extra = eo.split_model_and_extra(model, list(ctx.args))
        spec = eo.build_spec(model=model, url=url, model_name=model_name, server=server, extra=extra,
                             flags=eo.flag_values(c, ngl, fa, b, ub, np_, t, ctk, ctv, mlock, no_mmap))
        opts = RunOptions(
            spec=spec, api_key=key, depths=parse_depths(depths) if depths is not None else None,
            gen_tokens=gen_tokens, repeats=repeats, budget_s=parse_duration(budget) if budget else None,
            quality=not no_quality, timeout_s=timeout, db=db, command=sanitized_command(),
            extra_params={**_extra_params(quality_repeats, suite, judge, session_kind, bandwidth),
                          **({"prices": prices} if prices else {})},
        )
        if label:
            from rigbench.model.machine import check_label

            opts.extra_params["label"] = check_label(label)
    opts.power_cmd = power_cmd
    with RichProgress() as progress:
        summary = run_job(opts, progress, resume=resume)
    if json_out:
        emit_json(summary)
    else:
        out().print(card(summary))
    return 0
