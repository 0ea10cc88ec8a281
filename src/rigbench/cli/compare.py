"""``rigbench compare A B``: two builds, configurations or servers, interleaved, per depth."""

from __future__ import annotations

import typer

from rigbench.cli import app
from rigbench.cli import engine_opts as eo
from rigbench.cli.common import DB_HELP, JSON_HELP, RichProgress, emit_json, out, sanitized_command

_SIDE_HELP = ("http://HOST:PORT/v1[#MODEL] | server:PATH (llama-server) | run:ID (stored run) | "
              "embedded:t=1,c=8192")


@app.command(context_settings={"allow_extra_args": True},
             help="Compare A and B side by side (requests interleaved A B A B, same prompts) per context depth: "
                  "decode and prefill of each, B/A with a 95% paired CI, and a verdict. "
                  f"Each side is {_SIDE_HELP}.")
def compare(
    ctx: typer.Context,
    a: str = typer.Argument(..., metavar="A", help=_SIDE_HELP),
    b: str = typer.Argument(..., metavar="B", help=_SIDE_HELP),
    depths: str | None = typer.Option(
        None, "--depths", help="context depths, e.g. 0,1024,4k (default 0,1K,4K,16K,32K within context)"),
    repeats: int = typer.Option(5, "--repeats", min=1, max=100, help="request pairs per depth"),
    gen_tokens: int | None = typer.Option(
        None, "--gen-tokens", min=2, max=65536, help="tokens generated per request (default 128)"),
    model: str | None = typer.Option(
        None, "--model", metavar="MODEL.gguf", help="GGUF for launched sides (default: the bundled model)"),
    session_kind: str | None = typer.Option(None, "--session", help="workload instead of the depth sweep: agent"),
    turns: int | None = typer.Option(None, "--turns", min=2, max=200, help="with --session agent: turns (30)"),
    api_key: str | None = eo.API_KEY,
    timeout: float | None = eo.TIMEOUT,
    power_cmd: str | None = eo.POWER_CMD,
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
    db: str | None = typer.Option(None, "--db", help=DB_HELP),
    c: int | None = eo.CTX, ngl: str | None = eo.NGL, fa: str | None = eo.FA,
    b_: int | None = eo.BATCH, ub: int | None = eo.UBATCH, np_: int | None = eo.NP,
    t: int | None = eo.THREADS, ctk: str | None = eo.CTK, ctv: str | None = eo.CTV,
    mlock: bool = eo.MLOCK, no_mmap: bool = eo.NO_MMAP,
) -> int:
    from rigbench.errors import UsageError
    from rigbench.jobs.compare import CompareOptions, compare_job, parse_side
    from rigbench.jobs.session import api_key_from_env
    from rigbench.measure.plan import parse_depths
    from rigbench.report.terminal import compare_card

    if session_kind is not None and session_kind != "agent":
        raise UsageError(f"unknown session workload {session_kind!r}", "use --session agent")
    if turns is not None and session_kind is None:
        raise UsageError("--turns sets the length of an agent session", "add --session agent")
    flags = eo.flag_values(c, ngl, fa, b_, ub, np_, t, ctk, ctv, mlock, no_mmap)
    extra = list(ctx.args)
    side_a = parse_side(a, "a", model=model, flags=flags, extra=extra)
    side_b = parse_side(b, "b", model=model, flags=flags, extra=extra)
    sides = (side_a, side_b)
    notes = []
    if any(v is not None for v in flags.values()) and any(s.kind in ("url", "run") for s in sides):
        notes.append("the shared llama.cpp flags apply only to the sides rigbench launches")
    if extra and not any(s.kind == "server" for s in sides):
        raise UsageError("arguments after -- go to a launched llama-server", "use a server:PATH side, or drop them")
    if model and not any(s.kind in ("server", "embedded") for s in sides):
        raise UsageError("--model is the GGUF for sides rigbench launches", "neither side launches a server")
    opts = CompareOptions(
        a=side_a, b=side_b, depths=parse_depths(depths) if depths is not None else None, repeats=repeats,
        gen_tokens=gen_tokens, session=session_kind, session_turns=turns, timeout_s=timeout,
        api_key=api_key_from_env(api_key), db=db, command=sanitized_command(), notes=notes, power_cmd=power_cmd,
    )
    with RichProgress() as progress:
        summary = compare_job(opts, progress)
    if json_out:
        emit_json(summary)
    else:
        out().print(compare_card(summary))
    return 0
