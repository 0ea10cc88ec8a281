"""llama.cpp's settings in llama.cpp's own names, mapped in one place.

Users write flags as llama.cpp does (``-c 8192 -ub 512 -fa on``, or ``c=8192,ub=512`` in a
spec string). This module validates them, renders them as ``llama-server`` argv, and maps
them onto xllamacpp's ``CommonParams`` for the embedded engine. Names move between
llama.cpp versions; when one does, this table is the only place to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rigbench.errors import UsageError

__all__ = [
    "CACHE_TYPES",
    "FLAGS",
    "FlagDef",
    "apply_to_params",
    "check_combination",
    "normalize_flags",
    "parse_flag_string",
    "to_argv",
]

CACHE_TYPES = ("f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1")
_ON_OFF = ("on", "off", "auto")


@dataclass(frozen=True)
class FlagDef:
    name: str  # the short name, used as the key everywhere (c, ngl, ub ...)
    argv: str  # how llama-server spells it
    kind: str  # int | int_or_word | choice | bool
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    words: tuple[str, ...] = ()  # for int_or_word: the allowed words
    help: str = ""


FLAGS: dict[str, FlagDef] = {
    f.name: f
    for f in (
        FlagDef("c", "-c", "int", ("ctx-size",), help="context size (0: the model's training context)"),
        FlagDef("ngl", "-ngl", "int_or_word", ("n-gpu-layers", "gpu-layers"), words=("all", "auto"),
                help="layers offloaded to the GPU"),
        FlagDef("fa", "-fa", "choice", ("flash-attn",), choices=_ON_OFF, help="flash attention"),
        FlagDef("b", "-b", "int", ("batch-size",), help="logical batch size"),
        FlagDef("ub", "-ub", "int", ("ubatch-size",), help="physical (micro) batch size"),
        FlagDef("np", "-np", "int", ("parallel",), help="server slots"),
        FlagDef("t", "-t", "int", ("threads",), help="threads for generation"),
        FlagDef("tb", "-tb", "int", ("threads-batch",), help="threads for prompt processing"),
        FlagDef("ctk", "-ctk", "choice", ("cache-type-k",), choices=CACHE_TYPES, help="KV cache type for K"),
        FlagDef("ctv", "-ctv", "choice", ("cache-type-v",), choices=CACHE_TYPES, help="KV cache type for V"),
        FlagDef("mlock", "--mlock", "bool", help="lock the model in RAM"),
        FlagDef("no-mmap", "--no-mmap", "bool", ("no_mmap",), help="read the model instead of mapping it"),
        FlagDef("bs", "-bs", "bool", ("backend-sampling",), help="sample on the backend (GPU) (experimental)"),
    )
}

_ALIASES: dict[str, str] = {}
for _f in FLAGS.values():
    _ALIASES[_f.name] = _f.name
    for _a in _f.aliases:
        _ALIASES[_a] = _f.name

_TRUE = {"1", "true", "on", "yes", ""}
_FALSE = {"0", "false", "off", "no"}


def _norm_value(fd: FlagDef, raw: Any) -> str | None:
    """Return the canonical string, or None for a boolean flag that is off."""
    value = str(raw).strip().lower() if not isinstance(raw, bool) else ("on" if raw else "off")
    if fd.kind == "bool":
        if value in _TRUE:
            return "on"
        if value in _FALSE:
            return None
        raise UsageError(f"flag {fd.name} takes on/off, not {raw!r}", f"write {fd.name}=on or leave it out")
    if fd.kind == "choice":
        if fd.name == "fa" and value in ("1", "true", "enabled"):
            value = "on"
        if fd.name == "fa" and value in ("0", "false", "disabled"):
            value = "off"
        if value not in fd.choices:
            raise UsageError(
                f"flag {fd.name} does not accept {raw!r}", f"use one of: {', '.join(fd.choices)}"
            )
        return value
    if fd.kind == "int_or_word" and value in fd.words:
        return value
    try:
        number = int(value)
    except ValueError:
        extra = f" or {'/'.join(fd.words)}" if fd.words else ""
        raise UsageError(f"flag {fd.name} needs a whole number{extra}, not {raw!r}",
                         f"for example {fd.name}=512") from None
    if number < 0 and not (fd.name in ("ngl",) and number == -1):
        raise UsageError(f"flag {fd.name} cannot be negative ({number})", f"give {fd.name} a value of 0 or more")
    if fd.name in ("b", "ub", "np", "t", "tb") and number == 0:
        raise UsageError(f"flag {fd.name} must be at least 1", f"for example {fd.name}=1")
    return str(number)


def canonical_name(name: str) -> str:
    key = name.strip().lstrip("-")
    if key not in _ALIASES:
        raise UsageError(
            f"unknown llama.cpp flag {name!r}",
            f"known flags: {', '.join(sorted(FLAGS))}; pass anything else to llama-server after --",
        )
    return _ALIASES[key]


def normalize_flags(flags: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, str], ...]:
    """Validate and canonicalise; the result is sorted and hashable (EngineSpec.flags)."""
    items = flags.items() if isinstance(flags, Mapping) else flags
    out: dict[str, str] = {}
    for name, raw in items:
        if raw is None:
            continue
        key = canonical_name(name)
        value = _norm_value(FLAGS[key], raw)
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    check_combination(out)
    return tuple(sorted(out.items()))


def parse_flag_string(text: str) -> tuple[tuple[str, str], ...]:
    """``"t=1,c=8192,ub=512,mlock"`` -> normalized flags."""
    pairs: list[tuple[str, str]] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        pairs.append((name, value if sep else "on"))
    return normalize_flags(pairs)


def check_combination(flags: Mapping[str, str]) -> None:
    """Reject combinations llama.cpp would silently change or refuse."""
    b = flags.get("b")
    ub = flags.get("ub")
    if b is not None and ub is not None and int(b) < int(ub):
        raise UsageError(
            f"batch size b={b} is smaller than the micro-batch ub={ub}",
            "llama.cpp would clamp ub to b; make b at least ub",
        )
    for k in ("ctk", "ctv"):
        v = flags.get(k)
        if k == "ctv" and v not in (None, "f16", "f32", "bf16") and flags.get("fa") == "off":
            raise UsageError(
                f"a quantized V cache ({k}={v}) needs flash attention",
                "use fa=on (or auto), or keep ctv=f16",
            )


def to_argv(flags: Mapping[str, str] | tuple[tuple[str, str], ...]) -> list[str]:
    items = dict(flags)
    argv: list[str] = []
    for key in sorted(items):
        fd = FLAGS[key]
        if fd.kind == "bool":
            argv.append(fd.argv)
        else:
            argv += [fd.argv, items[key]]
    return argv


def apply_to_params(params: Any, flags: Mapping[str, str], xl: Any) -> list[str]:
    """Set xllamacpp ``CommonParams`` from flags. Returns the flags it could not map."""
    unmapped: list[str] = []
    mlock = flags.get("mlock") == "on"
    no_mmap = flags.get("no-mmap") == "on"
    for key, value in flags.items():
        if key == "c":
            params.n_ctx = int(value)
        elif key == "ngl":
            params.n_gpu_layers = {"all": 999, "auto": -1}[value] if value in ("all", "auto") else int(value)
        elif key == "fa":
            params.flash_attn_type = getattr(
                xl.llama_flash_attn_type,
                {"on": "LLAMA_FLASH_ATTN_TYPE_ENABLED", "off": "LLAMA_FLASH_ATTN_TYPE_DISABLED"}.get(
                    value, "LLAMA_FLASH_ATTN_TYPE_AUTO"
                ),
            )
        elif key == "b":
            params.n_batch = int(value)
        elif key == "ub":
            params.n_ubatch = int(value)
        elif key == "np":
            params.n_parallel = int(value)
        elif key == "t":
            params.cpuparams.n_threads = int(value)
            if "tb" not in flags:
                params.cpuparams_batch.n_threads = int(value)
        elif key == "tb":
            params.cpuparams_batch.n_threads = int(value)
        elif key in ("ctk", "ctv"):
            gtype = getattr(xl.ggml_type, f"GGML_TYPE_{value.upper()}", None)
            if gtype is None:
                unmapped.append(f"{key}={value}")
                continue
            setattr(params, "cache_type_k" if key == "ctk" else "cache_type_v", gtype)
        elif key in ("mlock", "no-mmap"):
            continue
        elif key == "bs":
            params.sampling.backend_sampling = value == "on"
        else:
            unmapped.append(f"{key}={value}")
    if mlock or no_mmap:
        mode = {
            (True, False): "LLAMA_LOAD_MODE_MMAP_MLOCK",
            (True, True): "LLAMA_LOAD_MODE_MLOCK",
            (False, True): "LLAMA_LOAD_MODE_NONE",
        }[(mlock, no_mmap)]
        params.load_mode = getattr(xl.llama_load_mode, mode)
    return unmapped
