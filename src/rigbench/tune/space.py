"""A tuning campaign's search space, in llama.cpp's own flag names.

``ub=512,1024,2048 t=4,8 fa=on,off server=/a/llama-server,/b/llama-server``: each word is
one dimension, its values separated by commas. Names and values are validated with
``engines.flags`` (the one table of llama.cpp's flags); ``server`` is the binary itself (or
``embedded``). A configuration is one value per dimension; the campaign's baseline is
the engine's defaults (no flags at all) and is not part of the space.

Ordering: llama.cpp reads every flag of this space when it loads the model, so each
configuration is a restart whatever the order. The order still groups configurations by
server binary, then by the flags that change how the weights are loaded (``ngl``,
``no-mmap``, ``mlock``), then by the other dimensions, so one build's trials run together
while its binary and the model's pages are warm, and a journal reads dimension by dimension.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rigbench.engines.flags import FLAGS, canonical_name, check_combination, normalize_flags
from rigbench.errors import UsageError

__all__ = [
    "EMBEDDED",
    "LOAD_FLAGS",
    "LOSSLESS_CACHE",
    "SERVER",
    "Config",
    "Dimension",
    "Space",
    "combination_problem",
    "parse_space",
]

SERVER = "server"
EMBEDDED = "embedded"
LOAD_FLAGS = ("ngl", "no-mmap", "mlock")  # change how the weights are placed in memory
LOSSLESS_CACHE = ("f16", "f32")  # anything else in ctk/ctv loses precision: gated by quality
_ORDER_FIRST = (SERVER, *LOAD_FLAGS)


@dataclass(frozen=True)
class Config:
    """One point of the space: llama.cpp flags (normalized, sorted) and which server runs them.

    ``server`` None means the campaign's own engine (the embedded engine, or the one
    ``--server``); a path or ``embedded`` when the server is a dimension."""

    flags: tuple[tuple[str, str], ...] = ()
    server: str | None = None

    def flags_dict(self) -> dict[str, str]:
        return dict(self.flags)

    def key(self) -> str:
        body = ",".join(f"{k}={v}" for k, v in self.flags)
        return f"{self.server or ''}|{body}"

    def to_json(self) -> dict[str, str]:
        out = dict(self.flags)
        if self.server is not None:
            out[SERVER] = self.server
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Config:
        server = d.get(SERVER)
        flags = tuple(sorted((str(k), str(v)) for k, v in d.items() if k != SERVER))
        return cls(flags, str(server) if server is not None else None)

    def label(self, servers: Mapping[str, str] | None = None) -> str:
        parts = [f"{k}={v}" for k, v in self.flags]
        if self.server is not None:
            parts.insert(0, f"server={(servers or {}).get(self.server, self.server)}")
        return " ".join(parts) if parts else "defaults"

    @property
    def lossy(self) -> bool:
        """A quantized (or bf16) KV cache: answers may change, so a quality gate applies."""
        d = self.flags_dict()
        return any(d.get(k, "f16") not in LOSSLESS_CACHE for k in ("ctk", "ctv"))


@dataclass(frozen=True)
class Dimension:
    name: str  # a canonical flag name, or "server"
    values: tuple[str, ...]  # canonical values; boolean flags: "on" / "off"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values)}


def combination_problem(flags: Mapping[str, str]) -> str | None:
    """Why llama.cpp would refuse or silently change this combination; None when fine."""
    try:
        check_combination(flags)
    except UsageError as exc:
        return exc.one_line()
    return None


@dataclass(frozen=True)
class Space:
    dims: tuple[Dimension, ...]

    @property
    def size(self) -> int:
        n = 1
        for d in self.dims:
            n *= len(d.values)
        return n

    @property
    def searched_dims(self) -> int:
        """Dimensions with a choice to make (a single value is a fixed setting)."""
        return sum(1 for d in self.dims if len(d.values) > 1)

    def dim(self, name: str) -> Dimension | None:
        return next((d for d in self.dims if d.name == name), None)

    @property
    def servers(self) -> tuple[str, ...]:
        d = self.dim(SERVER)
        return d.values if d else ()

    def max_ubatch(self) -> int | None:
        d = self.dim("ub")
        return max(int(v) for v in d.values) if d else None

    @property
    def lossy(self) -> bool:
        return any(v not in LOSSLESS_CACHE for n in ("ctk", "ctv") for v in (self.dim(n) or Dimension(n, ())).values)

    def config(self, choice: Mapping[str, str]) -> Config:
        """The configuration for one value per dimension (boolean "off" leaves the flag out)."""
        flags: dict[str, str] = {}
        server: str | None = None
        for d in self.dims:
            value = str(choice[d.name])
            if value not in d.values:
                raise UsageError(f"{d.name}={value} is not in the search space", f"use one of {', '.join(d.values)}")
            if d.name == SERVER:
                server = value
            elif not (FLAGS[d.name].kind == "bool" and value == "off"):
                flags[d.name] = value
        return Config(tuple(sorted(flags.items())), server)

    def points(self) -> list[tuple[dict[str, str], Config]]:
        """Every configuration with the choice that made it, in run order (see the module's
        docstring), duplicates removed."""
        ordered = sorted(self.dims, key=lambda d: (_ORDER_FIRST.index(d.name) if d.name in _ORDER_FIRST
                                                   else len(_ORDER_FIRST)))
        seen: set[str] = set()
        out: list[tuple[dict[str, str], Config]] = []
        for combo in itertools.product(*(d.values for d in ordered)):
            choice = {d.name: v for d, v in zip(ordered, combo, strict=True)}
            cfg = self.config(choice)
            if cfg.key() not in seen:
                seen.add(cfg.key())
                out.append((choice, cfg))
        return out

    def configs(self) -> list[Config]:
        return [c for _p, c in self.points()]

    def to_json(self) -> list[dict[str, Any]]:
        return [d.to_json() for d in self.dims]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> Space:
        return cls(tuple(Dimension(str(d["name"]), tuple(str(v) for v in d["values"])) for d in data))


def _server_value(raw: str) -> str:
    if raw.strip().lower() == EMBEDDED:
        return EMBEDDED
    return str(Path(raw.strip()).expanduser())


def _flag_value(name: str, raw: str) -> str:
    norm = dict(normalize_flags([(name, raw)]))
    return norm.get(name, "off")  # a boolean flag switched off leaves nothing behind


def parse_space(words: Iterable[str], servers: Sequence[str] = ()) -> Space:
    """``["ub=512,2048", "t=4,8"]`` (and repeated ``--server`` paths) -> a validated Space."""
    dims: list[Dimension] = []
    seen: set[str] = set()
    for word in words:
        name_raw, sep, values_raw = word.partition("=")
        if not sep or not name_raw.strip():
            raise UsageError(f"{word!r} in --space is not name=v1,v2",
                             "write each dimension as a llama.cpp flag name and its values, e.g. ub=512,2048")
        name = SERVER if name_raw.strip().lstrip("-") == SERVER else canonical_name(name_raw)
        if name in seen:
            raise UsageError(f"{name} appears twice in --space", f"give all of {name}'s values in one word")
        seen.add(name)
        raws = [v.strip() for v in values_raw.split(",")]
        if not any(raws) or any(not v for v in raws):
            raise UsageError(f"{word!r} has an empty value", f"write values like {name}=1,2")
        values: list[str] = []
        for raw in raws:
            value = _server_value(raw) if name == SERVER else _flag_value(name, raw)
            if value not in values:
                values.append(value)
        dims.append(Dimension(name, tuple(values)))
    if len(servers) > 1:
        if SERVER in seen:
            raise UsageError("servers given both with --server and as server= in --space",
                             "list them in one place")
        dims.insert(0, Dimension(SERVER, tuple(dict.fromkeys(_server_value(s) for s in servers))))
    if not dims:
        raise UsageError("the search space is empty", "give dimensions after --space, e.g. --space t=4,8 ub=512,2048")
    return Space(tuple(dims))
