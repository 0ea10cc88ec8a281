"""What to run on a machine before downloading anything: the catalog against RAM and bandwidth.

``catalog_advice(catalog, ram_bytes=, bandwidth_bytes_per_s=, ctx=)`` turns every entry x
quant into ``ModelFacts`` (``rigbench.model.shapes``) and runs the same fit and ceiling
arithmetic as ``rigbench advise`` on a file (``rigbench.model.roofline.advise``): does it load
with ``ctx`` tokens of context, the longest context that loads, the decode ceiling at depth 0
and at ``ctx``. ``answer_in_words(options, ...)`` says it the way the second post does ("32 GB:
the 30B-A3B MoE at Q4_K_M loads with N tokens of context and can decode up to ~X tok/s here;
a dense 32B at Q4_K_M loads but can reach only ~Y"). ``attach_measured`` puts a stored run of
the same model and quant beside its ceiling. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rigbench.model.catalog import Catalog, CatalogEntry
from rigbench.model.facts import ModelFacts
from rigbench.model.quants import file_type_id
from rigbench.model.roofline import Fit
from rigbench.model.roofline import advise as plan

__all__ = ["DEFAULT_QUANTS", "INTERACTIVE_CONTEXT", "INTERACTIVE_DECODE", "CatalogOption", "Measured",
           "answer_in_words", "attach_measured", "catalog_advice", "quant_of_label", "verdict_line"]

DEFAULT_QUANTS = ("Q4_K_M", "Q8_0", "MXFP4_MOE")
INTERACTIVE_DECODE = 100.0  # tok/s at the working depth (DESIGN.md's first bar)
INTERACTIVE_CONTEXT = 1_000_000  # native context (the second bar)


@dataclass(frozen=True)
class Measured:
    """A stored run of the same model and quant: its decode at the depth it was taken."""

    run_id: int
    decode_tok_s: float
    depth: int | None
    machine: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CatalogOption:
    entry: CatalogEntry
    quant: str
    facts: ModelFacts
    ctx: int
    fit: Fit
    longest_context: int
    ceiling_tok_s: float | None  # depth 0
    ceiling_at_ctx_tok_s: float | None
    measured: Measured | None = None

    @property
    def context_ok(self) -> bool:
        top = self.facts.max_context or self.facts.native_context
        return top is None or self.ctx <= top

    @property
    def loads(self) -> bool:
        return self.fit.fits and self.context_ok

    def verdict(self) -> str:
        """Against the two bars: decode >= 100 tok/s at ctx (the ceiling can only bound it) and 1M native."""
        native = self.facts.native_context or 0
        if not self.loads:
            return "does not load"
        c = self.ceiling_at_ctx_tok_s
        fast = c is not None and c >= INTERACTIVE_DECODE
        long = native >= INTERACTIVE_CONTEXT
        if fast and long:
            return "could be interactive"
        why = []
        if not fast:
            why.append(f"ceiling {c or 0:,.0f} < {INTERACTIVE_DECODE:.0f} tok/s at {self.ctx:,}")
        if not long:
            why.append(f"native context {native:,} < 1M")
        return "background: " + "; ".join(why)

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        return {
            "model": self.entry.id, "name": self.entry.name, "family": self.entry.family, "quant": self.quant,
            "moe": self.entry.is_moe, "params_total": f.params_total, "params_active": f.params_active,
            "file_bytes": f.weights_bytes, "active_bytes_per_token": f.active_bytes_per_token,
            "kv_bytes_per_token": f.kv_bytes_per_token, "cache_type": f.cache_type, "ctx": self.ctx,
            "native_context": f.native_context, "max_context": f.max_context, "loads": self.loads,
            "needed_bytes": self.fit.needed_bytes, "headroom_bytes": self.fit.headroom_bytes,
            "longest_context": self.longest_context,
            "ceiling_tok_s": None if self.ceiling_tok_s is None else round(self.ceiling_tok_s, 2),
            "ceiling_at_ctx_tok_s": None if self.ceiling_at_ctx_tok_s is None else round(self.ceiling_at_ctx_tok_s, 2),
            "verdict": self.verdict(), "measured": self.measured.to_json() if self.measured else None,
            "source": self.entry.source, "checked_in": self.entry.checked_in,
            "notes": list(self.entry.notes) + [n for n in f.notes if "MTP/NextN" not in n],
        }


def _select(catalog: Catalog, family: str | None) -> list[CatalogEntry]:
    if family is None:
        return list(catalog.models)
    want = family.casefold()
    return [e for e in catalog.models if e.family.casefold() == want or want in e.id.casefold()]


def catalog_advice(catalog: Catalog, *, ram_bytes: int, bandwidth_bytes_per_s: float | None, ctx: int,
                   family: str | None = None, quants: Sequence[str] | None = DEFAULT_QUANTS,
                   cache_type: str = "f16") -> list[CatalogOption]:
    """Every selected entry x quant, loads first, then by decode ceiling (highest first).

    ``quants=None`` takes every quant each entry offers; a quant an entry does not offer is
    skipped for that entry.
    """
    from rigbench.model.shapes import catalog_facts

    out: list[CatalogOption] = []
    for e in _select(catalog, family):
        offered = e.offered_quants()
        for q in [q for q in (quants or offered) if q in offered]:
            f = catalog_facts(e, q, ctx=ctx, cache_type=cache_type)
            options, _ = plan(f, ram_bytes=ram_bytes, bandwidth_bytes_per_s=bandwidth_bytes_per_s, ctx=ctx,
                              cache_types=(cache_type,), ctx_cap=f.max_context or f.native_context)
            o = options[0]
            top = f.max_context or f.native_context or o.max_ctx_that_fits
            out.append(CatalogOption(e, q, f, ctx, o.fit, min(o.max_ctx_that_fits, top),
                                     o.decode_ceiling_tok_s, o.decode_ceiling_at_ctx_tok_s))
    return sorted(out, key=lambda o: (not o.loads, -(o.ceiling_tok_s or 0.0), o.fit.needed_bytes))


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.casefold())


def quant_of_label(label: str | None) -> str | None:
    """The catalog quant whose GGUF file-type label is ``label`` (``"Q4_K - Medium"`` -> ``"Q4_K_M"``)."""
    if not label:
        return None
    from rigbench.model.gguf import file_type_label
    from rigbench.model.quants import QUANTS

    for q in QUANTS:
        ft = file_type_id(q)
        if ft is not None and (file_type_label(ft) == label or q == label.upper()):
            return q
    return None


def attach_measured(options: Iterable[CatalogOption], runs: Iterable[Any]) -> list[CatalogOption]:
    """Put the newest stored run (``BoardRow``-like: model, quant, decode_tok_s, depth, run_id,
    machine) whose model name matches an entry's ``match`` names and whose quant matches, beside it."""
    runs = [r for r in runs if getattr(r, "decode_tok_s", None) is not None]
    out: list[CatalogOption] = []
    for o in options:
        names = [_norm(n) for n in (o.entry.id, o.entry.name, *o.entry.match)]
        best = None
        for r in runs:
            if quant_of_label(r.quant) != o.quant:
                continue
            model = _norm(str(r.model))
            if any(n and n in model for n in names) and (best is None or r.run_id > best.run_id):
                best = r
        m = Measured(best.run_id, float(best.decode_tok_s), best.depth, str(best.machine)) if best else None
        out.append(dataclasses.replace(o, measured=m))
    return out


def _gb(n: int) -> str:
    """Binary units, as the table's sizes and ``--ram`` (a "32GB" machine has 32 GiB) are."""
    return f"{n / 2**30:,.0f} GiB" if n >= 10 * 2**30 else f"{n / 2**30:,.1f} GiB"


def answer_in_words(options: Sequence[CatalogOption], *, ram_bytes: int, quant: str = "Q4_K_M") -> str:
    """The post's answer for this machine: the biggest MoE that loads, the biggest dense one, and
    the smallest dense one that does not, each at ``quant``, with ceilings."""
    at = [o for o in options if o.quant == quant]
    if not at:
        return f"{_gb(ram_bytes)}: no catalog model is offered at {quant}"
    moe = [o for o in at if o.loads and o.entry.is_moe]
    dense = [o for o in at if o.loads and not o.entry.is_moe]
    too_big = [o for o in at if not o.loads and not o.entry.is_moe]
    parts: list[str] = []
    if moe:
        m = max(moe, key=lambda o: o.facts.params_total)
        parts.append(f"the {m.entry.name} MoE at {quant} loads with {m.longest_context:,} tokens of context"
                     + (f" and can decode up to ~{m.ceiling_tok_s:,.0f} tok/s here" if m.ceiling_tok_s else ""))
    if dense:
        d = max(dense, key=lambda o: o.facts.params_total)
        lead = "a dense" if parts else f"the dense {d.entry.name} at {quant} loads"
        if parts:
            parts.append(f"{lead} {d.entry.name} at {quant} loads but can reach only ~{d.ceiling_tok_s or 0:,.0f}")
        else:
            parts.append(lead + (f" and can decode up to ~{d.ceiling_tok_s:,.0f} tok/s here" if d.ceiling_tok_s
                                 else ""))
    if too_big:
        b = min(too_big, key=lambda o: o.facts.params_total)
        why = (f"needs {_gb(b.fit.needed_bytes)} with {b.ctx:,} tokens of context" if b.context_ok
               else f"its context stops at {b.facts.max_context or b.facts.native_context or 0:,}")
        parts.append(f"a dense {b.entry.name} at {quant} does not load ({why})")
    if not parts:
        return f"{_gb(ram_bytes)}: nothing in the catalog loads at {quant}"
    return f"{_gb(ram_bytes)}: " + "; ".join(parts) + "."


def verdict_line(options: Sequence[CatalogOption]) -> str:
    """The two bars over everything that loads: decode >= 100 tok/s at the context asked (on the
    ceiling, which real decode only approaches) and native context >= 1M."""
    loads = [o for o in options if o.loads]
    if not loads:
        return "verdict: nothing loads"
    ctx = loads[0].ctx
    bars = f"decode >= {INTERACTIVE_DECODE:.0f} tok/s at {ctx:,} and native context >= 1M"
    could = [o for o in loads if o.verdict() == "could be interactive"]
    if could:
        return f"verdict ({bars}): could be interactive: " + ", ".join(f"{o.entry.id} {o.quant}" for o in could)
    fast = list(dict.fromkeys(o.entry.id for o in loads
                              if (o.ceiling_at_ctx_tok_s or 0) >= INTERACTIVE_DECODE))
    longest = max((o.facts.native_context or 0) for o in loads)
    text = f"verdict ({bars}): everything that loads is background class here"
    if fast:
        text += f"; the ceiling at {ctx:,} clears {INTERACTIVE_DECODE:.0f} tok/s only for {', '.join(fast)}"
    else:
        text += f"; no ceiling at {ctx:,} reaches {INTERACTIVE_DECODE:.0f} tok/s"
    return text + f", and the longest native context is {longest:,} tokens"
