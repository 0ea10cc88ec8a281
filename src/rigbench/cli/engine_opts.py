"""Options shared by every command that needs a server: the model, the URL, the binary,
and llama.cpp's flags in llama.cpp's own names."""

from __future__ import annotations

from typing import Any

import typer

from rigbench.errors import UsageError
from rigbench.types import EngineSpec

__all__ = ["build_spec", "split_model_and_extra"]

# typer option declarations, reused by commands (run, compare, tune, lab, load)
URL = typer.Option(None, "--url", help="attach to an OpenAI-compatible server at this URL")
MODEL_NAME = typer.Option(None, "--model", help="with --url: which served model")
API_KEY = typer.Option(None, "--api-key", help="bearer token for --url (default: $OPENAI_API_KEY)")
SERVER = typer.Option(None, "--server", help="launch this llama-server binary (flags after -- go to it)")
CTX = typer.Option(None, "-c", "--ctx-size", help="context size (llama.cpp -c)")
NGL = typer.Option(None, "-ngl", "--n-gpu-layers", help="GPU layers (llama.cpp -ngl)")
FA = typer.Option(None, "-fa", "--flash-attn", help="flash attention on|off|auto (llama.cpp -fa)")
BATCH = typer.Option(None, "-b", "--batch-size", help="logical batch (llama.cpp -b)")
UBATCH = typer.Option(None, "-ub", "--ubatch-size", help="micro-batch (llama.cpp -ub)")
NP = typer.Option(None, "-np", "--parallel", help="server slots (llama.cpp -np)")
THREADS = typer.Option(None, "-t", "--threads", help="threads (llama.cpp -t)")
CTK = typer.Option(None, "-ctk", "--cache-type-k", help="KV cache type for K (llama.cpp -ctk)")
CTV = typer.Option(None, "-ctv", "--cache-type-v", help="KV cache type for V (llama.cpp -ctv)")
MLOCK = typer.Option(False, "--mlock", help="lock the model in RAM (llama.cpp --mlock)")
NO_MMAP = typer.Option(False, "--no-mmap", help="do not memory-map the model (llama.cpp --no-mmap)")
# and the measuring commands' own (run, compare, tune, lab, load)
TIMEOUT = typer.Option(None, "--timeout", min=1, help="seconds: server start deadline and longest silence in a stream")
POWER_CMD = typer.Option(None, "--power-cmd", metavar="CMD",
                         help="a command that prints the machine's watts (a smart plug's CLI)")


def split_model_and_extra(model: str | None, extra: list[str]) -> tuple[str | None, list[str]]:
    """After ``--`` the first word lands in MODEL when none was given: give it back."""
    if model is not None and model.startswith("-"):
        return None, [model, *extra]
    return model, list(extra)


def build_spec(*, model: str | None, url: str | None, model_name: str | None, server: str | None,
               extra: list[str], flags: dict[str, Any]) -> EngineSpec:
    from rigbench.engines.flags import normalize_flags

    norm = normalize_flags(flags)
    if url:
        if model:
            raise UsageError("give either a model file or --url, not both",
                             "with --url the server already has its model; pick it with --model NAME")
        if server:
            raise UsageError("give either --server or --url, not both", "--server launches, --url attaches")
        if extra:
            raise UsageError("arguments after -- go to a launched llama-server", "drop them or use --server")
        if norm:
            raise UsageError("llama.cpp flags apply only to servers rigbench launches",
                             "set them on the server you attach to, or use --server")
        return EngineSpec(kind="url", url=url, model_name=model_name)
    if model_name:
        raise UsageError("--model names a model served at --url", "give the GGUF path as MODEL instead")
    if server:
        if not model:  # as with the embedded engine: the bundled model
            from rigbench.engines.bundled import bundled_model_path

            model = str(bundled_model_path())
        return EngineSpec(kind="llama-server", model_path=model, server_bin=server, flags=norm, extra_args=tuple(extra))
    if extra:
        raise UsageError("arguments after -- go to a launched llama-server", "add --server PATH, or drop them")
    return EngineSpec(kind="embedded", model_path=model, flags=norm)


def flag_values(c: Any, ngl: Any, fa: Any, b: Any, ub: Any, np_: Any, t: Any, ctk: Any, ctv: Any,
                mlock: bool, no_mmap: bool) -> dict[str, Any]:
    return {"c": c, "ngl": ngl, "fa": fa, "b": b, "ub": ub, "np": np_, "t": t, "ctk": ctk, "ctv": ctv,
            "mlock": "on" if mlock else None, "no-mmap": "on" if no_mmap else None}
