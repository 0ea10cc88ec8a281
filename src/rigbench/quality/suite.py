"""Quality suites are data: versioned YAML files, validated by these pydantic models.

A suite names its prompts, and each prompt its category and what its grader needs:

* ``code`` / ``repair``: hidden ``tests`` (Python statements run against the answer's
  code in the sandbox); ``repair`` also carries the ``buggy`` code to fix. ``reference``
  is an optional known-good solution (``rigbench suite validate`` does not run it; the
  project's own tests do, for the bundled suite).
* ``reasoning``: the exact ``answer`` (or a list of answers for a multi-part question).
* ``instruction``: verifiable ``checks`` (format, length, forbidden words, JSON only ...).
* ``extraction``: the expected JSON ``fields`` and, optionally, a ``summary`` that must
  mention given facts within a word limit.
* ``long_context``: a ``needle`` sentence planted at ``depth`` (0-1) of a long real text,
  and the ``answer`` that only the needle gives.

A malformed suite raises ``SuiteError`` with one line naming each prompt id and field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rigbench.errors import SuiteError
from rigbench.yamldata import load_mapping

__all__ = [
    "CATEGORIES",
    "Check",
    "CodePrompt",
    "ExtractionPrompt",
    "InstructionPrompt",
    "LongContextPrompt",
    "Prompt",
    "ReasoningPrompt",
    "RepairPrompt",
    "Suite",
    "SuiteInfo",
    "SummarySpec",
    "list_suites",
    "load_suite",
    "load_suite_file",
    "parse_suite",
    "user_suite_dir",
]

CATEGORIES = ("code", "repair", "reasoning", "instruction", "extraction", "long_context")
_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _PromptBase(_Model):
    id: str = Field(pattern=_ID)
    prompt: str = Field(min_length=1)
    max_tokens: int = Field(ge=1, le=65536, description="the answer's token budget (reasoning gets more)")
    judge: str | None = Field(default=None, description="a rubric: --judge rates answers against it, reported apart")
    primer: str | None = Field(default=None, description="completion mode only: how the answer starts")


class CodePrompt(_PromptBase):
    category: Literal["code"]
    tests: list[str] = Field(min_length=1)
    setup: str = ""
    reference: str | None = None


class RepairPrompt(_PromptBase):
    category: Literal["repair"]
    buggy: str = Field(min_length=1)
    tests: list[str] = Field(min_length=1)
    setup: str = ""
    reference: str | None = None


class ReasoningPrompt(_PromptBase):
    category: Literal["reasoning"]
    answer: str | int | float | list[str | int | float]

    @property
    def answers(self) -> list[str]:
        raw = self.answer if isinstance(self.answer, list) else [self.answer]
        return [str(a) for a in raw]


class Check(_Model):
    """One verifiable constraint; exactly one field is set."""

    max_words: int | None = Field(default=None, ge=1)
    min_words: int | None = Field(default=None, ge=1)
    max_chars: int | None = Field(default=None, ge=1)
    lines: int | None = Field(default=None, ge=1, description="exactly this many non-empty lines")
    bullets: int | None = Field(default=None, ge=1, description="exactly this many lines starting with - * or •")
    numbered: int | None = Field(default=None, ge=1, description="exactly this many lines starting with 1. 2. ...")
    sentences: int | None = Field(default=None, ge=1)
    forbidden: list[str] | None = Field(default=None, min_length=1, description="words that must not appear")
    required: list[str] | None = Field(default=None, min_length=1, description="texts that must appear (any case)")
    lowercase: bool | None = None
    uppercase: bool | None = None
    starts_with: str | None = None
    ends_with: str | None = None
    line_starts_with: str | None = Field(default=None, description="every non-empty line starts with this")
    no_chars: str | None = Field(default=None, min_length=1)
    json_only: Literal["object", "array", "any"] | None = Field(default=None, description="the whole answer is JSON")
    json_keys: list[str] | None = Field(default=None, min_length=1, description="the JSON object has exactly these")
    regex: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Check:
        set_fields = [k for k, v in self.__dict__.items() if v is not None]
        if len(set_fields) != 1:
            raise ValueError(f"a check sets exactly one constraint, this one sets {len(set_fields)}"
                             + (f" ({', '.join(set_fields)})" if set_fields else ""))
        if self.regex is not None:
            import re

            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from None
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self.__dict__.items() if v is not None)

    @property
    def value(self) -> Any:
        return getattr(self, self.kind)


class InstructionPrompt(_PromptBase):
    category: Literal["instruction"]
    checks: list[Check] = Field(min_length=1)


class SummarySpec(_Model):
    field: str = Field(min_length=1)
    mentions: list[str] = Field(min_length=1)
    max_words: int | None = Field(default=None, ge=1)


class ExtractionPrompt(_PromptBase):
    category: Literal["extraction"]
    fields: dict[str, Any] = Field(min_length=1)
    summary: SummarySpec | None = None


class LongContextPrompt(_PromptBase):
    category: Literal["long_context"]
    needle: str = Field(min_length=1)
    depth: float = Field(ge=0.0, le=1.0)
    answer: str | int

    @field_validator("needle")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\n" in v.strip():
            raise ValueError("a needle is one line of text")
        return v.strip()


Prompt = Annotated[
    CodePrompt | RepairPrompt | ReasoningPrompt | InstructionPrompt | ExtractionPrompt | LongContextPrompt,
    Field(discriminator="category"),
]


class Suite(_Model):
    name: str = Field(pattern=_ID)
    version: str = Field(min_length=1)
    description: str = ""
    prompts: list[Prompt] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) else v

    @model_validator(mode="after")
    def _unique_ids(self) -> Suite:
        seen: set[str] = set()
        dup = [p.id for p in self.prompts if p.id in seen or seen.add(p.id)]  # type: ignore[func-returns-value]
        if dup:
            raise ValueError(f"prompt ids must be unique: {', '.join(sorted(set(dup)))} repeated")
        return self

    @property
    def categories(self) -> list[str]:
        present = {p.category for p in self.prompts}
        return [c for c in CATEGORIES if c in present]

    def by_category(self) -> Iterator[tuple[str, list[Any]]]:
        for c in self.categories:
            yield c, [p for p in self.prompts if p.category == c]


# -- loading ---------------------------------------------------------------------------
def _describe(errors: list[Any], raw: Any) -> str:
    prompts = raw.get("prompts") if isinstance(raw, dict) else None
    out: list[str] = []
    for e in errors:
        loc = list(e.get("loc") or ())
        msg = str(e.get("msg") or "invalid").replace("Value error, ", "")
        if len(loc) >= 2 and loc[0] == "prompts" and isinstance(loc[1], int):
            i = loc[1]
            item = prompts[i] if isinstance(prompts, list) and i < len(prompts) else None
            pid = item.get("id") if isinstance(item, dict) else None
            who = f"prompt {pid!r}" if pid else f"prompt #{i + 1}"
            rest = [str(x) for x in loc[2:] if str(x) not in CATEGORIES]
            if e.get("type") in ("union_tag_invalid", "union_tag_not_found"):
                rest = ["category"]
                msg = f"must be one of {', '.join(CATEGORIES)}"
            field = ".".join(rest)
            out.append(f"{who}: {('field ' + repr(field) + ': ') if field else ''}{msg}")
        else:
            field = ".".join(str(x) for x in loc)
            out.append(f"{('field ' + repr(field) + ': ') if field else ''}{msg}")
    return "; ".join(dict.fromkeys(out))


def parse_suite(text: str, where: str = "suite") -> Suite:
    raw = load_mapping(text, where, SuiteError, expected="a suite: expected a mapping with name, version and prompts",
                       doc="docs/quality.md")
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        raise SuiteError(f"{where}: {_describe(exc.errors(), raw)}") from None


def user_suite_dir() -> Path:
    from rigbench.paths import data_dir

    return data_dir() / "suites"


@dataclass(frozen=True)
class SuiteInfo:
    name: str
    source: str  # "bundled" or a file path
    text: str


def _bundled() -> list[SuiteInfo]:
    root = files("rigbench.suites")
    out = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            out.append(SuiteInfo(entry.name.rsplit(".", 1)[0], "bundled", entry.read_text(encoding="utf-8")))
    return out


def _user() -> list[SuiteInfo]:
    d = user_suite_dir()
    if not d.is_dir():
        return []
    return [SuiteInfo(p.stem, str(p), p.read_text(encoding="utf-8"))
            for p in sorted(d.iterdir()) if p.suffix in (".yaml", ".yml") and p.is_file()]


def list_suites() -> list[tuple[SuiteInfo, Suite | SuiteError]]:
    """Every suite rigbench can find: bundled ones, then the user's folder."""
    out: list[tuple[SuiteInfo, Suite | SuiteError]] = []
    for info in _bundled() + _user():
        try:
            out.append((info, parse_suite(info.text, info.source if info.source != "bundled" else info.name)))
        except SuiteError as exc:
            out.append((info, exc))
    return out


def load_suite_file(path: str | Path) -> Suite:
    """A suite from a YAML file."""
    p = Path(str(path)).expanduser()
    if not p.is_file():
        raise SuiteError(f"there is no suite file {p}", "give the path of a suite YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read {p}: {exc}", "check the file") from None
    return parse_suite(text, str(p))


def load_suite(ref: str | Path | None = None) -> Suite:
    """A suite by file path, or by name (bundled first, then the user's suites folder)."""
    ref = "default" if ref is None or str(ref) == "" else ref
    path = Path(str(ref)).expanduser()
    if path.suffix in (".yaml", ".yml") or path.is_file() or "/" in str(ref):
        return load_suite_file(path)
    for info in _bundled() + _user():
        if info.name == str(ref):
            return parse_suite(info.text, info.name if info.source == "bundled" else info.source)
    names = [i.name for i in _bundled() + _user()]
    raise SuiteError(f"there is no suite named {str(ref)!r}",
                     f"choose one of: {', '.join(names) or '(none)'}, or give a YAML file (rigbench suite list)")
