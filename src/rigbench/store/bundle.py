"""A run as one self-contained, versioned file: ``rigbench export RUN -o run.rigbench.json``
and ``rigbench import FILE``.

The bundle holds everything a card is recomputed from: the run row (its UUID, the command
that made it, parameters, server facts, notes), its machine, model and engine-spec rows (the
facts), every raw request, and the rows of the other tables that hang off the run. Shape::

    {"format": "rigbench-run", "schema_version": 1, "rigbench_version": "...", "exported_at": "...",
     "run": {...}, "machine": {...}|null, "model": {...}|null, "engine_spec": {...}|null,
     "requests": [{...}, ...], "tables": {"tune_trials": [...], ...},
     "sizes": {"requests": N, "tables": {"tune_trials": n}},
     "checksums": {"run": sha256, "machine": ..., "model": ..., "engine_spec": ..., "requests": ...,
                   "tables": ...}}

A file posted on a forum is untrusted: on import its size is bounded, its shape validated
(pydantic), its sizes and the checksum of each section recomputed, and the first thing that
is wrong is named (``requests.3.seq``, ``checksums.requests``). Then it is stored through
the same path as ``pull`` (idempotent by the run's UUID).
"""

from __future__ import annotations

import hashlib
import json
import uuid as uuid_mod
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rigbench.errors import InputError
from rigbench.store.db import RUN_STATUSES, Store, now_iso
from rigbench.store.sync import RunData, read_run

__all__ = ["FORMAT", "MAX_BUNDLE_BYTES", "SCHEMA_VERSION", "bundle_of", "load_bundle", "write_bundle"]

FORMAT = "rigbench-run"
SCHEMA_VERSION = 1
MAX_BUNDLE_BYTES = 256 * 1024 * 1024
MAX_REQUESTS = 200_000
_SECTIONS = ("run", "machine", "model", "engine_spec", "requests", "tables")


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")


class _RunRow(_Row):
    id: int
    uuid: str
    kind: str = Field(min_length=1, max_length=64)
    status: str
    created_at: str = Field(min_length=1, max_length=64)
    command: str | None = Field(default=None, max_length=100_000)

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, v: str) -> str:
        uuid_mod.UUID(v)
        return v

    @field_validator("status")
    @classmethod
    def _status(cls, v: str) -> str:
        if v not in RUN_STATUSES:
            raise ValueError(f"must be one of {', '.join(RUN_STATUSES)}")
        return v


class _KeyedRow(_Row):
    id: int


class _MachineRow(_KeyedRow):
    fingerprint: str = Field(min_length=1, max_length=64)


class _ModelRow(_KeyedRow):
    key: str = Field(min_length=1, max_length=64)


class _SpecRow(_KeyedRow):
    spec_hash: str = Field(min_length=1, max_length=32)
    kind: str


class _RequestRow(_Row):
    id: int
    seq: int = Field(ge=0)
    phase: str = Field(min_length=1, max_length=64)
    status: str = Field(min_length=1, max_length=64)
    depth: int | None = Field(default=None, ge=0)
    t_sent_ns: int | None = None
    t_first_token_ns: int | None = None
    t_last_token_ns: int | None = None
    t_end_ns: int | None = None
    prompt_tokens: int | None = Field(default=None, ge=0)
    completion_tokens: int | None = Field(default=None, ge=0)


class _Sizes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    requests: int = Field(ge=0, le=MAX_REQUESTS)
    tables: dict[str, int]


class _Checksums(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run: str
    machine: str
    model: str
    engine_spec: str
    requests: str
    tables: str


class Bundle(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: Literal["rigbench-run"]
    schema_version: Literal[1]
    rigbench_version: str = Field(max_length=64)
    exported_at: str = Field(max_length=64)
    run: _RunRow
    machine: _MachineRow | None
    model: _ModelRow | None
    engine_spec: _SpecRow | None
    requests: list[_RequestRow] = Field(max_length=MAX_REQUESTS)
    tables: dict[str, list[dict[str, Any]]]
    sizes: _Sizes
    checksums: _Checksums


def bundle_of(store: Store, run_id: int) -> dict[str, Any]:
    """The bundle of a stored run, as a JSON-ready mapping."""
    from rigbench import __version__

    data = read_run(store, run_id)
    if data.run.get("status") not in RUN_STATUSES or data.run.get("status") == "running":
        from rigbench.errors import UsageError

        raise UsageError(f"run {run_id} is still {data.run.get('status')}", "export it once it has ended")
    body: dict[str, Any] = {
        "run": data.run, "machine": data.parents.get("machines"), "model": data.parents.get("models"),
        "engine_spec": data.parents.get("engine_specs"), "requests": data.requests, "tables": data.children,
    }
    body = json.loads(json.dumps(body, default=str))  # exactly what the file will hold
    return {
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "rigbench_version": __version__,
        "exported_at": now_iso(), **body,
        "sizes": {"requests": len(body["requests"]), "tables": {k: len(v) for k, v in body["tables"].items()}},
        "checksums": {k: _digest(body[k]) for k in _SECTIONS},
    }


def write_bundle(store: Store, run_id: int, path: Path) -> dict[str, Any]:
    bundle = bundle_of(store, run_id)
    text = json.dumps(bundle, ensure_ascii=False, indent=1)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise InputError(f"cannot write {exc.filename or path}: {exc.strerror or exc}",
                         "choose a writable place with -o FILE") from None
    return bundle


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(the file)"


def load_bundle(path: Path, *, max_bytes: int = MAX_BUNDLE_BYTES) -> RunData:
    """Read and validate a bundle; any fault is an InputError naming the field that is wrong."""
    hint = "the file is not a rigbench run bundle as exported, or it was edited or damaged"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", "check the path") from None
    if size > max_bytes:
        raise InputError(f"{path} is {size / 2**20:,.0f} MiB, over the {max_bytes / 2**20:,.0f} MiB a bundle may be",
                         hint)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path} is not JSON ({' '.join(str(exc).split())[:120]})", hint) from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the file holds {type(raw).__name__}, not a bundle", hint)
    if raw.get("format") != FORMAT:
        raise InputError(f"{path}: field format is {str(raw.get('format'))[:40]!r}, not {FORMAT!r}", hint)
    if raw.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: field schema_version is {str(raw.get('schema_version'))[:20]!r}; this rigbench "
                         f"reads version {SCHEMA_VERSION}", "export it again, or use the rigbench that made it")
    try:
        b = Bundle.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise InputError(f"{path}: field {_field(tuple(e['loc']))}: {e['msg']}", hint) from None
    if b.sizes.requests != len(raw["requests"]):
        raise InputError(f"{path}: field sizes.requests says {b.sizes.requests}, the file holds "
                         f"{len(raw['requests'])} requests", hint)
    have = {k: len(v) for k, v in raw["tables"].items()}
    if b.sizes.tables != have:
        raise InputError(f"{path}: field sizes.tables says {b.sizes.tables}, the file holds {have}", hint)
    for section in _SECTIONS:
        if _digest(raw[section]) != getattr(b.checksums, section):
            raise InputError(f"{path}: field {section} does not match checksums.{section} (edited or damaged)", hint)
    seqs = [r["seq"] for r in raw["requests"]]
    if len(set(seqs)) != len(seqs):
        raise InputError(f"{path}: field requests: a seq appears twice", hint)
    return RunData(run=raw["run"], parents={"machines": raw["machine"], "models": raw["model"],
                                            "engine_specs": raw["engine_spec"]},
                   requests=raw["requests"], children=raw["tables"])
