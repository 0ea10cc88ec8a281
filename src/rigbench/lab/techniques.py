"""The techniques the lab measures, and how llama.cpp spells them, mapped in one place.

A technique run is an *arm*: the baseline's server plus one change. Speculative arms
(a draft model, or n-gram lookup in the prompt) set llama.cpp's speculative parameters;
a KV-cache arm sets ``-ctk``/``-ctv`` (with flash attention, which a quantized V cache
needs); a synthetic arm imposes an acceptance rate (``--spec-synth-rates``) to measure
the mechanics' overhead and the speedup curve where real acceptance means nothing.

Each speculative setting is a *concept* (``draft_n_max``, ``ngram-simple.size_m`` ...)
rendered either as ``llama-server`` argv, with the names the binary's own ``--help``
lists (they moved between llama.cpp versions: ``--draft-max`` became
``--spec-draft-n-max``), or as dotted attribute paths of xllamacpp's
``CommonParams.speculative`` for the embedded engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rigbench.errors import UsageError

__all__ = [
    "BASELINE",
    "DEFAULT_SWEEPS",
    "KV_TYPES",
    "LOOKUP_TYPES",
    "Arm",
    "HelpOption",
    "arm_settings",
    "embedded_speculative",
    "help_options",
    "help_spec_types",
    "parse_acceptances",
    "parse_draft_max",
    "parse_kv",
    "parse_lookup",
    "plan_arms",
    "resolve_names",
    "server_args",
    "synth_rates",
    "type_values",
]

LOOKUP_TYPES = ("ngram-simple", "ngram-map-k", "ngram-map-k4v", "ngram-mod", "ngram-cache")
KV_TYPES = ("bf16", "q8_0", "q5_1", "q5_0", "iq4_nl", "q4_1", "q4_0")  # f16 is the baseline's
# a small sweep of draft lengths per technique: llama.cpp's default and one more
DEFAULT_SWEEPS: dict[str, tuple[int, ...]] = {
    "draft-simple": (3, 8), "ngram-simple": (16, 48), "ngram-map-k": (16, 48), "ngram-map-k4v": (16, 48),
    "ngram-mod": (16, 64), "ngram-cache": (0,),  # ngram-cache has no length setting
}
_NGRAM_MOD_N_MIN = 48  # llama.cpp's default minimum for ngram-mod, capped at n_max
# llama.cpp's default lookup key for ngram-simple; it drafts nothing when the draft (size_m) is
# shorter than the key (common_ngram_simple_draft: copy_max < n_draft_min), so a shorter draft
# length shortens the key with it
_NGRAM_SIMPLE_SIZE_N = 12

# concept -> llama-server names, newest first (the first one the binary lists wins)
_SERVER_NAMES: dict[str, tuple[str, ...]] = {
    "type": ("--spec-type",),
    "draft_model": ("--spec-draft-model", "--model-draft", "-md"),
    "draft_n_max": ("--spec-draft-n-max", "--draft-max", "--draft", "--draft-n"),
    "draft_n_min": ("--spec-draft-n-min", "--draft-min", "--draft-n-min"),
    "draft_p_min": ("--spec-draft-p-min", "--draft-p-min"),
    "ngram-simple.size_m": ("--spec-ngram-simple-size-m",),
    "ngram-simple.size_n": ("--spec-ngram-simple-size-n",),
    "ngram-map-k.size_m": ("--spec-ngram-map-k-size-m",),
    "ngram-map-k4v.size_m": ("--spec-ngram-map-k4v-size-m",),
    "ngram-mod.n_max": ("--spec-ngram-mod-n-max",),
    "ngram-mod.n_min": ("--spec-ngram-mod-n-min",),
    "synth_rates": ("--spec-synth-rates",),
}
# concept -> xllamacpp ``CommonParams.speculative`` attribute path
_EMBEDDED_PATHS: dict[str, str] = {
    "type": "types", "draft_model": "draft.mparams.path", "draft_n_max": "draft.n_max",
    "draft_n_min": "draft.n_min", "draft_p_min": "draft.p_min",
    "ngram-simple.size_m": "ngram_simple.size_m", "ngram-simple.size_n": "ngram_simple.size_n",
    "ngram-map-k.size_m": "ngram_map_k.size_m",
    "ngram-map-k4v.size_m": "ngram_map_k4v.size_m", "ngram-mod.n_max": "ngram_mod.n_max",
    "ngram-mod.n_min": "ngram_mod.n_min", "synth_rates": "synth_rates",
}
# which concept holds a technique's draft length
_LENGTH_CONCEPT = {"draft-simple": "draft_n_max", "ngram-simple": "ngram-simple.size_m",
                   "ngram-map-k": "ngram-map-k.size_m", "ngram-map-k4v": "ngram-map-k4v.size_m",
                   "ngram-mod": "ngram-mod.n_max"}


@dataclass(frozen=True)
class Arm:
    """The baseline plus one change, run on its own server."""

    name: str  # unique: "baseline", "draft n8", "ngram-simple n48", "kv q8_0", "synthetic 0.50"
    technique: str  # baseline | draft | lookup | kv | synthetic
    label: str  # for the table: "Draft model", "Prompt lookup ngram-simple", "KV cache q8_0"
    spec_type: str | None = None  # llama.cpp's --spec-type value
    draft_n_max: int | None = None  # the draft length (None: the technique has none)
    draft_model: str | None = None
    kv: str | None = None
    synthetic: float | None = None  # the imposed acceptance rate
    works: tuple[str, ...] = ("grounded", "open")

    @property
    def speculative(self) -> bool:
        return self.spec_type is not None

    @property
    def lossy(self) -> bool:
        return self.kv is not None

    @property
    def flags(self) -> dict[str, str]:
        """llama.cpp flags this arm adds to the shared ones."""
        if self.kv is None:
            return {}
        return {"ctk": self.kv, "ctv": self.kv, "fa": "on"}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["works"] = list(self.works)
        d["flags"] = self.flags
        d["speculative"], d["lossy"] = self.speculative, self.lossy
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Arm:
        return cls(str(d["name"]), str(d["technique"]), str(d["label"]), d.get("spec_type"), d.get("draft_n_max"),
                   d.get("draft_model"), d.get("kv"), d.get("synthetic"), tuple(d.get("works") or ()))


BASELINE = Arm("baseline", "baseline", "Baseline")


# -- parsing the command line --------------------------------------------------------------
def parse_lookup(text: str | None) -> tuple[str, ...]:
    """``ngram-simple,ngram-mod`` -> the lookup types, checked."""
    if not text:
        return ("ngram-simple",)
    out = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    for t in out:
        if t not in LOOKUP_TYPES:
            raise UsageError(f"unknown lookup type {t!r}", f"use one or more of: {', '.join(LOOKUP_TYPES)}")
    return out


def parse_kv(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    out = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    for t in out:
        if t not in KV_TYPES:
            raise UsageError(f"unknown KV cache type {t!r}", f"use one or more of: {', '.join(KV_TYPES)} "
                                                              "(f16, llama.cpp's default, is the baseline)")
    return out


def parse_draft_max(text: str | None) -> tuple[int, ...] | None:
    """``4,16`` -> draft lengths for every speculative technique (None: each one's default sweep)."""
    if not text:
        return None
    try:
        out = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"--draft-max takes whole numbers, not {text!r}", "for example --draft-max 4,16") from None
    if not out or any(n < 1 or n > 256 for n in out):
        raise UsageError(f"draft lengths must be 1 to 256, not {text!r}", "for example --draft-max 4,16")
    return tuple(dict.fromkeys(out))


def parse_acceptances(text: str | None) -> tuple[float, ...]:
    """``0.2,0.5,0.8`` -> imposed acceptance rates in [0, 1]."""
    if not text:
        return ()
    try:
        out = tuple(float(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise UsageError(f"--synthetic-acceptance takes rates between 0 and 1, not {text!r}",
                         "for example --synthetic-acceptance 0.2,0.5,0.8") from None
    if not out or any(not 0.0 <= a <= 1.0 for a in out):
        raise UsageError(f"acceptance rates must lie between 0 and 1, not {text!r}",
                         "for example --synthetic-acceptance 0,0.5,0.9")
    return tuple(dict.fromkeys(out))


def plan_arms(*, draft: str | None, lookup: Sequence[str], kv: Sequence[str], draft_max: Sequence[int] | None,
              synthetic: Sequence[float], model: str) -> list[Arm]:
    """Every arm of a lab, the baseline first."""
    arms = [BASELINE]
    if draft:
        for n in draft_max or DEFAULT_SWEEPS["draft-simple"]:
            arms.append(Arm(f"draft n{n}", "draft", "Draft model", "draft-simple", n, draft))
    for t in lookup:
        lengths = (0,) if t == "ngram-cache" else (draft_max or DEFAULT_SWEEPS[t])
        for n in lengths:
            arms.append(Arm(f"{t}" + (f" n{n}" if n else ""), "lookup", f"Prompt lookup {t}", t, n or None))
    for k in kv:
        arms.append(Arm(f"kv {k}", "kv", f"KV cache {k}", kv=k))
    if synthetic:
        n = (draft_max or DEFAULT_SWEEPS["draft-simple"])[-1]
        for a in synthetic:
            arms.append(Arm(f"synthetic {a:.2f}", "synthetic", "Synthetic acceptance", "draft-simple", n,
                            draft or model, synthetic=a, works=("open",)))
    return arms


# -- the synthetic acceptance ---------------------------------------------------------------
def synth_rates(acceptance: float, n_max: int) -> list[float]:
    """Per-position unconditional acceptance rates for ``--spec-synth-rates`` whose mean is
    ``acceptance``: each drafted token is accepted with one probability p given that the
    one before it was (a real drafter's shape), p chosen so that accepted / drafted comes
    out at ``acceptance``."""
    if not 0.0 <= acceptance <= 1.0 or n_max < 1:
        raise ValueError("acceptance must be in [0, 1] and n_max at least 1")
    if acceptance >= 1.0:
        return [1.0] * n_max

    def mean(p: float) -> float:
        return sum(p ** (i + 1) for i in range(n_max)) / n_max

    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mean(mid) < acceptance else (lo, mid)
    p = (lo + hi) / 2
    return [round(p ** (i + 1), 6) for i in range(n_max)]


# -- what an arm sets, as concepts -------------------------------------------------------------
def arm_settings(arm: Arm) -> dict[str, Any]:
    """The arm's speculative settings as concept -> value (empty for a KV or baseline arm)."""
    if arm.spec_type is None:
        return {}
    out: dict[str, Any] = {"type": arm.spec_type}
    if arm.spec_type.startswith("draft"):
        if not arm.draft_model:
            raise UsageError(f"{arm.name} needs a draft model", "pass --draft DRAFT.gguf")
        out["draft_model"] = arm.draft_model
    if arm.draft_n_max and arm.spec_type in _LENGTH_CONCEPT:
        out[_LENGTH_CONCEPT[arm.spec_type]] = arm.draft_n_max
        if arm.spec_type == "ngram-mod":
            out["ngram-mod.n_min"] = min(_NGRAM_MOD_N_MIN, arm.draft_n_max)
        if arm.spec_type == "ngram-simple" and arm.draft_n_max < _NGRAM_SIMPLE_SIZE_N:
            out["ngram-simple.size_n"] = arm.draft_n_max
    if arm.synthetic is not None:
        out["synth_rates"] = synth_rates(arm.synthetic, arm.draft_n_max or 1)
    return out


# -- llama-server: names from the binary's --help ----------------------------------------------
@dataclass(frozen=True)
class HelpOption:
    names: tuple[str, ...]
    text: str  # the first line after the names and the description

    @property
    def removed(self) -> bool:
        return "has been removed" in self.text


_OPT_LINE = re.compile(r"^(-[^\s,]+(?:,\s+-[^\s,]+)*)")


def help_options(help_text: str) -> dict[str, HelpOption]:
    """Every option ``llama-server --help`` lists, by each of its names."""
    out: dict[str, HelpOption] = {}
    blocks: list[tuple[tuple[str, ...], list[str]]] = []
    for line in help_text.splitlines():
        m = _OPT_LINE.match(line)
        if m:
            names = tuple(n.strip() for n in m.group(1).split(","))
            blocks.append((names, [line[m.end():]]))
        elif blocks and line.startswith(" "):
            blocks[-1][1].append(line)
    for names, lines in blocks:
        opt = HelpOption(names, " ".join(" ".join(lines).split()))
        for n in names:
            out[n] = opt
    return out


def help_spec_types(help_text: str) -> tuple[str, ...]:
    """The ``--spec-type`` values this binary accepts (empty when it has no such option)."""
    for line in help_text.splitlines():
        m = re.match(r"^--spec-type\s+([a-z0-9,\-]+)", line)
        if m:
            return tuple(v for v in m.group(1).split(",") if v and v != "none")
    return ()


def resolve_names(help_text: str) -> dict[str, str]:
    """concept -> the llama-server flag this binary knows (the newest spelling it lists, never
    one it says was removed). Without help text: the newest spellings."""
    if not help_text.strip():
        return {c: names[0] for c, names in _SERVER_NAMES.items()}
    opts = help_options(help_text)
    out: dict[str, str] = {}
    for concept, names in _SERVER_NAMES.items():
        for n in names:
            if n in opts and not opts[n].removed:
                out[concept] = n
                break
    return out


def server_args(arm: Arm, names: Mapping[str, str], spec_types: Sequence[str] = ()) -> list[str]:
    """llama-server argv for an arm's speculative settings (KV flags go through EngineSpec.flags)."""
    settings = arm_settings(arm)
    if spec_types and arm.spec_type and arm.spec_type not in spec_types:
        raise UsageError(f"this llama-server has no speculative type {arm.spec_type}",
                         f"it offers: {', '.join(spec_types)}")
    argv: list[str] = []
    for concept, value in settings.items():
        flag = names.get(concept)
        if flag is None:
            if concept == "type" and arm.spec_type == "draft-simple":
                continue  # older builds: a draft model alone turns speculation on
            raise UsageError(f"this llama-server has no option for {concept.replace('_', ' ')} ({arm.name})",
                             "use a newer llama.cpp build, or leave this technique out")
        text = ",".join(f"{v:g}" for v in value) if isinstance(value, list) else str(value)
        argv += [flag, text]
    return argv


def embedded_speculative(arm: Arm, type_values: Mapping[str, int]) -> dict[str, Any]:
    """The embedded worker's ``speculative`` dict (dotted ``CommonParams.speculative`` paths).
    ``type_values`` maps llama.cpp's type names to xllamacpp's enum values."""
    out: dict[str, Any] = {}
    for concept, value in arm_settings(arm).items():
        if concept == "type":
            if value not in type_values:
                raise UsageError(f"the embedded engine has no speculative type {value}",
                                 f"it offers: {', '.join(sorted(type_values))}")
            out[_EMBEDDED_PATHS[concept]] = [type_values[value]]
        else:
            out[_EMBEDDED_PATHS[concept]] = value
    return out


def type_values(members: Mapping[str, Any]) -> dict[str, int]:
    """llama.cpp's type names (``draft-simple``) -> xllamacpp's enum values, from the enum's
    members (``COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE``)."""
    prefix = "COMMON_SPECULATIVE_TYPE_"
    return {k[len(prefix):].lower().replace("_", "-"): int(v) for k, v in members.items()
            if k.startswith(prefix) and k not in (prefix + "NONE", prefix + "COUNT")}
