"""The model catalog: public model shapes as versioned YAML data, validated by pydantic.

Each entry holds the numbers the model's own published config gives (``config.json`` on
Hugging Face, or the GGUF header of a published file), the URL they came from (``source``)
and where that copy was read (``checked_in``). An entry without a source does not
validate. ``rigbench.model.shapes`` turns an entry and a quant into the same ``ModelFacts``
a GGUF header gives, so file size, bytes per token and KV bytes are computed by the same
code as for a file on disk.

Public: ``CatalogEntry``, ``Catalog``, ``parse_catalog(text, where)``, ``load_catalog_file``,
``bundled_catalog()``. A malformed file raises ``CatalogError`` naming each entry id and field.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rigbench.errors import CatalogError
from rigbench.model.quants import QUANTS
from rigbench.yamldata import load_mapping

__all__ = [
    "ARCHS",
    "MLA",
    "Catalog",
    "CatalogEntry",
    "Experts",
    "LinearAttention",
    "RopeScaling",
    "SlidingWindow",
    "bundled_catalog",
    "load_catalog_file",
    "parse_catalog",
]

ARCHS = ("llama", "qwen3", "qwen3moe", "qwen35moe", "gemma3", "gpt-oss", "deepseek2", "glm-dsa")
_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_MAX_FILE_BYTES = 1 << 20
# Bounds on what a catalog file may declare, so a hostile or mistyped entry cannot make the
# arithmetic allocate or loop without end (the largest real values are far below these).
_MAX_LAYERS, _MAX_WIDTH, _MAX_HEADS, _MAX_EXPERTS = 1024, 1 << 20, 4096, 4096
_MAX_VOCAB, _MAX_CONTEXT = 1 << 24, 1 << 27


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Experts(_Model):
    count: int = Field(ge=2, le=_MAX_EXPERTS, description="routed experts per MoE layer")
    used: int = Field(ge=1, le=_MAX_EXPERTS, description="routed experts active per token")
    ffn: int = Field(ge=1, le=_MAX_WIDTH, description="one expert's intermediate size")
    shared: int = Field(default=0, ge=0, description="shared experts, always active")
    shared_ffn: int | None = Field(default=None, ge=1, description="shared expert intermediate size (default: ffn)")
    dense_layers: int = Field(default=0, ge=0, description="leading dense layers (first_k_dense_replace)")

    @model_validator(mode="after")
    def _used_le_count(self) -> Experts:
        if self.used > self.count:
            raise ValueError(f"used ({self.used}) is more than count ({self.count})")
        return self


class MLA(_Model):
    q_lora_rank: int = Field(ge=1)
    kv_lora_rank: int = Field(ge=1)
    qk_nope_head_dim: int = Field(ge=1)
    qk_rope_head_dim: int = Field(ge=1)
    v_head_dim: int = Field(ge=1)


class LinearAttention(_Model):
    """Gated DeltaNet layers (Qwen3-Next / Qwen3.5): every ``interval``-th layer is full attention."""

    interval: int = Field(ge=2, description="full_attention_interval")
    conv_kernel: int = Field(ge=1, description="linear_conv_kernel_dim")
    key_head_dim: int = Field(ge=1)
    key_heads: int = Field(ge=1)
    value_head_dim: int = Field(ge=1)
    value_heads: int = Field(ge=1)


class SlidingWindow(_Model):
    window: int = Field(ge=1)
    pattern: int = Field(ge=2, description="every Nth layer is global, the others slide (llama.cpp's pattern)")


class RopeScaling(_Model):
    type: Literal["yarn", "linear", "llama3"]
    factor: float = Field(gt=0)
    original_context: int | None = Field(default=None, ge=1)


class CatalogEntry(_Model):
    id: str = Field(pattern=_ID)
    name: str = Field(min_length=1)
    family: str = Field(pattern=_ID)
    arch: str = Field(description="llama.cpp's architecture name for the GGUF: " + ", ".join(ARCHS))
    source: str = Field(pattern=r"^https://", description="where the numbers come from: config.json or a GGUF")
    checked_in: str = Field(min_length=1, description="the copy that was read, when it is not the source itself")
    layers: int = Field(ge=1, le=_MAX_LAYERS)
    hidden: int = Field(ge=1, le=_MAX_WIDTH)
    heads: int = Field(ge=1, le=_MAX_HEADS)
    kv_heads: int = Field(ge=1, le=_MAX_HEADS)
    head_dim: int | None = Field(default=None, ge=1, description="attention head size (not used with mla)")
    ffn: int | None = Field(default=None, ge=1, description="dense intermediate size (leading dense layers for MoE)")
    vocab: int = Field(ge=1, le=_MAX_VOCAB, description="token embedding rows in the GGUF")
    context: int = Field(ge=1, le=_MAX_CONTEXT, description="max_position_embeddings / {arch}.context_length")
    tied_embeddings: bool
    attention_bias: bool = False
    attn_output_gate: bool = Field(default=False, description="full attention's q projection also carries a gate")
    linear_attention: LinearAttention | None = None
    experts: Experts | None = None
    mla: MLA | None = None
    sliding_window: SlidingWindow | None = None
    rope_scaling: RopeScaling | None = None
    nextn_layers: int = Field(default=0, ge=0, le=16, description="MTP/NextN layers the GGUF keeps")
    quants: list[str] | None = Field(default=None, description="schemes to offer (default: all that apply)")
    match: list[str] = Field(default_factory=list, description="names a measured run of this model may carry")
    notes: list[str] = Field(default_factory=list)

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, v: str) -> str:
        if v not in ARCHS:
            raise ValueError(f"must be one of {', '.join(ARCHS)}")
        return v

    @field_validator("quants")
    @classmethod
    def _known_quants(cls, v: list[str] | None) -> list[str] | None:
        bad = [q for q in v or [] if q not in QUANTS]
        if bad:
            raise ValueError(f"unknown quant {', '.join(bad)}: use {', '.join(QUANTS)}")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> CatalogEntry:
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) is not a multiple of kv_heads ({self.kv_heads})")
        if self.arch == "qwen35moe" and self.linear_attention is None:
            raise ValueError("arch qwen35moe needs linear_attention")
        if self.arch in ("qwen3moe", "qwen35moe", "gpt-oss", "deepseek2", "glm-dsa") and self.experts is None:
            raise ValueError(f"arch {self.arch} needs experts")
        if self.ffn is None and (self.experts is None or self.experts.dense_layers):
            raise ValueError("ffn is required (only an MoE entry without dense layers can leave it out)")
        if self.mla is None and self.head_dim is None:
            raise ValueError("head_dim is required (only an mla entry can leave it out)")
        if self.arch in ("deepseek2", "glm-dsa") and self.mla is None:
            raise ValueError(f"arch {self.arch} needs mla")
        if self.arch in ("gemma3", "gpt-oss") and self.sliding_window is None:
            raise ValueError(f"arch {self.arch} needs sliding_window")
        return self

    @property
    def is_moe(self) -> bool:
        return self.experts is not None

    def offered_quants(self) -> list[str]:
        if self.quants is not None:
            return list(self.quants)
        return [q for q in QUANTS if q != "MXFP4_MOE" or self.is_moe]


class Catalog(_Model):
    name: str = Field(pattern=_ID)
    version: str = Field(min_length=1)
    description: str = ""
    models: list[CatalogEntry] = Field(min_length=1, max_length=1000)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        seen: set[str] = set()
        dup = sorted({m.id for m in self.models if m.id in seen or seen.add(m.id)})  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"model ids must be unique: {', '.join(dup)} repeated")
        return self


def _describe(errors: list[Any], raw: Any) -> str:
    models = raw.get("models") if isinstance(raw, dict) else None
    out: list[str] = []
    for e in errors:
        loc = list(e.get("loc") or ())
        msg = str(e.get("msg") or "invalid").replace("Value error, ", "")
        if e.get("type") == "missing" and loc:
            msg = "is required"
        if len(loc) >= 2 and loc[0] == "models" and isinstance(loc[1], int):
            i = loc[1]
            item = models[i] if isinstance(models, list) and i < len(models) else None
            mid = item.get("id") if isinstance(item, dict) else None
            who = f"model {mid!r}" if mid else f"model #{i + 1}"
            field = ".".join(str(x) for x in loc[2:])
            out.append(f"{who}: {('field ' + repr(field) + ' ') if field else ''}{msg}")
        else:
            field = ".".join(str(x) for x in loc)
            out.append(f"{('field ' + repr(field) + ' ') if field else ''}{msg}")
    return "; ".join(dict.fromkeys(out))


def parse_catalog(text: str, where: str = "catalog") -> Catalog:
    """A catalog from YAML text. Raises CatalogError with one line naming each entry and field."""
    raw = load_mapping(text, where, CatalogError, doc="docs/catalog.md",
                       expected="a catalog: expected a mapping with name, version and models")
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise CatalogError(f"{where}: {_describe(exc.errors(), raw)}", "see docs/catalog.md for the fields") from None


def load_catalog_file(path: str | Path) -> Catalog:
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise CatalogError(f"there is no catalog file {p}", "give the path of a catalog YAML file")
    try:
        if p.stat().st_size > _MAX_FILE_BYTES:
            raise CatalogError(f"{p} is larger than {_MAX_FILE_BYTES // 2**20} MiB", "a catalog is a small YAML file")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read {p}: {exc}", "check the file") from None
    return parse_catalog(text, str(p))


@lru_cache(maxsize=1)
def bundled_catalog() -> Catalog:
    """The catalog shipped in the package (``rigbench/catalogs/models.yaml``)."""
    text = files("rigbench.catalogs").joinpath("models.yaml").read_text(encoding="utf-8")
    return parse_catalog(text, "the bundled catalog")
