"""The one mechanism behind every typed result: a frozen dataclass whose fields are declared in
the order of its JSON object, and whose ``to_json()`` is the ``--json`` contract.

A field's JSON name is its own unless ``key`` says otherwise (``verdict["class"]`` is the
field ``cls``). ``omit_none``: the key is left out when the value is None (today's JSON has it
only sometimes). ``internal``: carried for rendering, never written (a compare side's verdict,
say). ``key_order`` (``order_field()``): the order the keys were read in, so a result read
from a summary's JSON writes its keys back in the same order. Keys a result does not declare
(what a later pass added to a run) are kept, in order, in ``more``, so a new producer key
passes through unchanged instead of being dropped.

``from_json`` reads the same shape back (a stored or golden JSON, a test's fixture): nested
results are built from their declared types; every other value is taken as it is, unconverted,
so ``from_json(x).to_json() == x`` for every JSON a summary writes. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, TypeVar, Union

__all__ = ["JsonObject", "Result", "key", "more_field", "order_field"]

JsonObject = dict[str, Any]  # a JSON object whose keys are facts as some source gave them (machine, params)

R = TypeVar("R", bound="Result")


def key(name: str | None = None, *, default: Any = None, omit_none: bool = False,
        internal: bool = False, factory: Any = dataclasses.MISSING) -> Any:
    """A field with JSON options (see the module's docstring); its default is None unless
    ``default`` or ``factory`` says otherwise."""
    meta = {"key": name, "omit_none": omit_none, "internal": internal}
    if factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def more_field() -> Any:
    """Keys the result does not declare, kept in order (see the module's docstring)."""
    return dataclasses.field(default_factory=dict, metadata={"more": True})


def order_field() -> Any:
    """The JSON's key order when read with ``from_json`` (not compared, not written)."""
    return dataclasses.field(default=(), metadata={"internal": True}, compare=False, repr=False)


def _json_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("key") or f.name)


def _dump(v: Any) -> Any:
    if isinstance(v, Result):
        return v.to_json()
    if isinstance(v, list):
        return [_dump(x) for x in v]
    if isinstance(v, tuple):
        return [_dump(x) for x in v]
    if isinstance(v, dict):
        return {k: _dump(x) for k, x in v.items()}
    return v


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)  # each class's annotations in its own module's names


def _load(tp: Any, v: Any) -> Any:
    """``v`` read as type ``tp``: results, lists and dicts of results are built; all else as is."""
    if v is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            if isinstance(arg, type) and issubclass(arg, Result) and isinstance(v, Mapping):
                return arg.from_json(v)
            if typing.get_origin(arg) in (list, dict) and isinstance(v, (list, dict)):
                return _load(arg, v)
        return v
    if isinstance(tp, type) and issubclass(tp, Result):
        return tp.from_json(v) if isinstance(v, Mapping) else v
    if origin is list and isinstance(v, list):
        (inner,) = typing.get_args(tp) or (Any,)
        return [_load(inner, x) for x in v]
    if origin is dict and isinstance(v, Mapping):
        args = typing.get_args(tp)
        inner = args[1] if len(args) == 2 else Any
        return {k: _load(inner, x) for k, x in v.items()}
    return v


class Result:
    """Base of every typed result (subclasses are ``@dataclass(frozen=True, kw_only=True)``)."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        more: Mapping[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.metadata.get("more"):
                more = getattr(self, f.name)
                continue
            if f.metadata.get("internal"):
                continue
            v = getattr(self, f.name)
            if v is None and f.metadata.get("omit_none"):
                continue
            out[_json_name(f)] = _dump(v)
        for k, v in more.items():
            out.setdefault(k, _dump(v))
        order: tuple[str, ...] = getattr(self, "key_order", ())
        if order:  # read from JSON: written back in the order it was read
            rank = {k: i for i, k in enumerate(order)}
            out = dict(sorted(out.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        return out

    @classmethod
    def from_json(cls: type[R], data: Mapping[str, Any]) -> R:
        hints = _hints(typing.cast(type, cls))
        kwargs: dict[str, Any] = {}
        known: set[str] = set()
        more_name: str | None = None
        for f in dataclasses.fields(cls):
            if f.metadata.get("more"):
                more_name = f.name
                continue
            if f.metadata.get("internal"):
                continue
            name = _json_name(f)
            known.add(name)
            if name in data:
                kwargs[f.name] = _load(hints[f.name], data[name])
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                kwargs[f.name] = None
        if more_name is not None:
            kwargs[more_name] = {k: v for k, v in data.items() if k not in known}
        if "key_order" in cls.__dataclass_fields__:
            kwargs["key_order"] = tuple(data)
        return cls(**kwargs)
