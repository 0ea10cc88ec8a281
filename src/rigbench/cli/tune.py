"""``rigbench tune``: a tuning campaign over llama.cpp's settings, with a keep/discard journal."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import typer

from rigbench.cli import app
from rigbench.cli import engine_opts as eo
from rigbench.cli.common import DB_HELP, JSON_HELP, RichProgress, emit_json, err, out, sanitized_command

if TYPE_CHECKING:
    from rich.console import Console

    from rigbench.results import TuneResult

_HELP = """Search llama.cpp settings and hand back the winning command.

The space follows --space as separate words in llama.cpp's flag names, e.g.
--space ub=512,1024,2048 b=2048 np=1,4 fa=on,off ctk=f16,q8_0 t=4,8
(also mlock, no-mmap, ngl, c, tb, and server=PATH1,PATH2 for builds). Trial 0 is the
engine's defaults; each trial is kept or discarded against the best so far, with its
hypothesis and evidence; the best few are re-measured side by side with the defaults."""


def split_words(model: str | None, space_first: str | None, extra: list[str]) -> tuple[str | None, list[str]]:
    """MODEL is the one word without '='; every name=values word is a dimension of the space."""
    from rigbench.errors import UsageError

    words = [w for w in [model, *extra] if w is not None]
    plain = [w for w in words if "=" not in w]
    if len(plain) > 1:
        raise UsageError(f"more than one model given ({', '.join(plain)})",
                         "give one MODEL.gguf; dimensions of the space are written name=v1,v2")
    space = ([space_first] if space_first is not None else []) + [w for w in words if "=" in w]
    return (plain[0] if plain else None), [part for w in space for part in w.split()]  # "--space 't=1 ub=2'" too


def parse_budget(text: str | None) -> tuple[int | None, float | None]:
    """``20`` -> 20 trials; ``30m`` / ``90s`` / ``1h`` -> seconds."""
    from rigbench.errors import UsageError
    from rigbench.measure.plan import parse_duration

    if text is None:
        return None, None
    raw = text.strip()
    if raw.isdigit():
        if int(raw) < 1:
            raise UsageError("--budget must allow at least one trial", "for example --budget 12 or --budget 30m")
        return int(raw), None
    return None, parse_duration(raw)


@app.command(context_settings={"allow_extra_args": True}, help=_HELP)
def tune(
    ctx: typer.Context,
    model: str | None = typer.Argument(None, metavar="[MODEL.gguf]", help="GGUF file (default: the bundled model)"),
    server: list[str] | None = typer.Option(
        None, "--server", help="llama-server binary; repeat it to make the build a dimension of the space"),
    space: str | None = typer.Option(None, "--space", help="the search space: name=v1,v2 words (see above)"),
    power_cmd: str | None = eo.POWER_CMD,
    objective: str | None = typer.Option(
        None, "--objective",
        help="decode@32k, prefill@8k, balanced (default; decode at 4k) or energy (tokens per joule at 4k)"),
    budget: str | None = typer.Option(None, "--budget", help="trials (e.g. 20) or time (e.g. 30m) for the search"),
    repeats: int = typer.Option(3, "--repeats", min=2, max=50, help="requests per figure and trial"),
    gen_tokens: int = typer.Option(64, "--gen-tokens", min=8, max=4096, help="tokens generated per decode request"),
    seed: int = typer.Option(0, "--seed", help="seed of the optuna sampler (spaces of more than 12 points)"),
    timeout: float | None = eo.TIMEOUT,
    resume: int | None = typer.Option(None, "--resume", metavar="ID", help="continue an interrupted campaign"),
    export: str | None = typer.Option(None, "--export", help="write a launcher for the winner: sh, systemd, launchd"),
    output: str | None = typer.Option(None, "-o", "--output", help="with --export: the file to write"),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="with --export: the port to serve on"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
) -> int:
    from rigbench.errors import UsageError
    from rigbench.store import open_store
    from rigbench.tune.campaign import TuneOptions, resume_options, tune_job
    from rigbench.tune.export import EXPORT_KINDS
    from rigbench.tune.objective import parse_objective
    from rigbench.tune.space import parse_space

    if export is not None and export not in EXPORT_KINDS:
        raise UsageError(f"unknown --export {export!r}", f"use one of: {', '.join(EXPORT_KINDS)}")
    if output is not None and export is None:
        raise UsageError("-o names the launcher file", "add --export sh|systemd|launchd")
    model, words = split_words(model, space, list(ctx.args))
    servers = list(server or [])
    if resume is not None:
        if words or model or servers or objective or budget:
            raise UsageError("a resumed campaign keeps its own model, servers, space, objective and budget",
                             f"run rigbench tune --resume {resume} alone")
        store = open_store(db)
        try:
            opts = resume_options(store, resume, db)
        finally:
            store.close()
    else:
        if not words:
            raise UsageError("no search space given", "add --space with dimensions, e.g. --space t=4,8 ub=512,2048")
        sp = parse_space(words, servers)
        if servers and model is None and any(s != "embedded" for s in servers):
            from rigbench.engines.bundled import bundled_model_path  # as with the embedded engine

            model = str(bundled_model_path())
        trials, seconds = parse_budget(budget)
        opts = TuneOptions(space=sp, objective=parse_objective(objective), model=model,
                           server=servers[0] if len(servers) == 1 else None, budget_trials=trials, budget_s=seconds,
                           repeats=repeats, seed=seed, timeout_s=timeout, db=db, command=sanitized_command(),
                           gen_tokens=gen_tokens)
    opts.power_cmd = power_cmd
    if opts.objective.kind == "energy" and power_cmd is None:
        _need_power_source()
    with RichProgress() as progress:
        summary = tune_job(opts, progress, resume=resume)
    launcher = _launcher(summary, export, port) if export else None
    if json_out:
        data = summary.to_json()
        if launcher is not None:
            data["export"] = {"kind": export, "text": launcher, "file": output}
        _write(output, launcher, export)
        emit_json(data)
        return 0
    if launcher is not None and output is None:
        _render(summary, to_stderr=True)
        typer.echo(launcher, nl=False)
        return 0
    _render(summary)
    if launcher is not None:
        _write(output, launcher, export)
        from rigbench.report.safe import safe_text

        out().print(safe_text(f"launcher written: {output} ({export})"))
    return 0


def _launcher(summary: TuneResult, kind: str, port: int) -> str:
    from rigbench.errors import UsageError
    from rigbench.tune.export import export_launcher

    win = summary.winner
    if not win:
        raise UsageError(f"campaign {summary.campaign_id} has no winner yet",
                         f"finish it with rigbench tune --resume {summary.campaign_id}")
    imp = summary.improvement or {}
    line = (f"trial {win['trial']} ({win['label']}): prefill {_x(imp.get('prefill'))}, decode "
            f"{_x(imp.get('decode'))} over the defaults")
    return export_launcher(kind, win["argv"], campaign_id=summary.campaign_id, summary=line, port=port)


def _write(path: str | None, text: str | None, kind: str | None) -> None:
    if path is None or text is None:
        return
    from rigbench.errors import UsageError

    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        if kind == "sh":
            os.chmod(path, 0o755)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", "choose a writable path with -o") from None


def _x(v: Any) -> str:
    return f"{v:.2f}x" if isinstance(v, (int, float)) else "n/a"


def _render(summary: TuneResult, *, to_stderr: bool = False, console: Console | None = None) -> None:
    from rigbench.report.tune import tune_card

    (console or (err() if to_stderr else out())).print(tune_card(summary))


def _need_power_source() -> None:
    """--objective energy measures tokens per joule: without a power source it cannot score a trial."""
    from rigbench.energy.detect import detect_sources
    from rigbench.errors import UsageError

    found = detect_sources()
    try:
        if not found.sources:
            raise UsageError(f"--objective energy needs a power source; {found.statement()}",
                             "see docs/energy.md for NVML, RAPL (root) and IOReport, or tune for decode@4k")
    finally:
        found.close()
