"""The compare command's side grammar: ``http://HOST:PORT/v1[#MODEL]`` (a running server),
``server:PATH[#FLAGS]`` (a llama-server binary), ``run:ID`` (a stored run) or
``embedded[:FLAGS]``, parsed into a ``Side`` (a spec to launch, a URL to attach to, or a
stored run to read)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rigbench.errors import UsageError
from rigbench.types import EngineSpec

__all__ = ["SPEC_FORMS", "Side", "parse_side", "with_model"]

SPEC_FORMS = ("write each side as http://HOST:PORT/v1 (a running server; #MODEL picks a served model), "
              "server:PATH[#FLAGS] (a llama-server binary, e.g. server:build/bin/llama-server#fa=on,ub=2048), "
              "run:ID (a stored run) or embedded:FLAGS (e.g. embedded:t=1,c=8192)")


@dataclass(frozen=True)
class Side:
    name: str  # "a" | "b"
    text: str  # as the user wrote it
    kind: str  # url | server | run | embedded
    engine: EngineSpec | None = None
    run_id: int | None = None

    @property
    def live(self) -> bool:
        return self.kind != "run"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.name.upper(), "text": self.text, "kind": self.kind,
                "engine": self.engine.to_json() if self.engine else None, "run_id": self.run_id}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Side:
        eng = d.get("engine")
        return cls(str(d["name"]), str(d["text"]), str(d["kind"]), EngineSpec.from_json(eng) if eng else None,
                   d.get("run_id"))


def parse_side(text: str, name: str, *, model: str | None = None, flags: Mapping[str, Any] | None = None,
               extra: Sequence[str] = ()) -> Side:
    """``http://...`` | ``server:PATH`` | ``run:ID`` | ``embedded[:FLAGS]`` -> Side. Shared
    llama.cpp flags apply to launched sides; a side's own flags win over them."""
    from rigbench.engines.flags import normalize_flags, parse_flag_string

    raw = (text or "").strip()
    label = name.upper()
    shared = dict(normalize_flags(flags or {}))
    if raw.startswith(("http://", "https://")):
        url, _, served = raw.partition("#")  # http://host:port/v1#MODEL picks a served model
        return Side(name, raw, "url", EngineSpec(kind="url", url=url, model_name=served or None, label=label))
    kind, sep, rest = raw.partition(":")
    kind = kind.lower()
    if kind == "embedded":
        own = dict(parse_flag_string(rest)) if sep else {}
        merged = normalize_flags({**shared, **own})
        return Side(name, raw, "embedded", EngineSpec(kind="embedded", model_path=model, flags=merged, label=label))
    if kind == "server" and rest.strip():
        path, _, own_text = rest.strip().partition("#")  # server:PATH#fa=on,ub=512: this side's own flags
        own = dict(parse_flag_string(own_text)) if own_text else {}
        return Side(name, raw, "server", EngineSpec(kind="llama-server", model_path=model, server_bin=path,
                                                    flags=normalize_flags({**shared, **own}),
                                                    extra_args=tuple(extra), label=label))
    if kind == "run" and rest.strip().isdigit():
        return Side(name, raw, "run", run_id=int(rest.strip()))
    raise UsageError(f"{label} = {raw!r} is not a comparison side", SPEC_FORMS)


def with_model(side: Side) -> Side:
    """A launched llama-server needs a model file: the bundled one unless --model gave one."""
    if side.kind != "server" or side.engine is None or side.engine.model_path:
        return side
    from rigbench.engines.bundled import bundled_model_path

    return dataclasses.replace(side, engine=dataclasses.replace(side.engine, model_path=str(bundled_model_path())))
