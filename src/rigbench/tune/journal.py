"""The campaign's journal: a hypothesis per flag change, the evidence, the decision. Pure.

Each trial is compared with the incumbent (the best configuration kept so far; trial 0,
the engine's defaults, to begin with). The ratio of the objective is paired by repeat
(repeat ``i`` of the trial against repeat ``i`` of the incumbent, the same prompts) with
the interval of ``measure.stats.paired``. The trial is kept, and becomes the incumbent,
when that ratio is above 1; the reason says whether the interval clears 1 ("clearly
faster") or not ("within noise"), because the search's trials run one after the other and
only the final side-by-side re-measure decides between close ones. A lossy change that
fails its quality gate is discarded whatever its speed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rigbench.measure.stats import Paired, paired, summarize

__all__ = [
    "DEFAULTS",
    "Decision",
    "change_list",
    "decide",
    "effective_defaults",
    "fmt_ci",
    "hypothesis",
    "render_journal",
    "restart_statement",
]

# llama.cpp's defaults for the flags a boot log may not echo (``llama-server --help`` says the same)
DEFAULTS = {"fa": "auto", "ctk": "f16", "ctv": "f16", "mlock": "off", "no-mmap": "off", "ub": "512", "b": "2048"}
_THREADPOOL = re.compile(r"threadpool init, n_threads\s*=\s*(\d+)")
_FROM_LOG = {"t": "n_threads", "ub": "n_ubatch", "b": "n_batch", "np": "n_slots", "c": "n_ctx"}
_BITS = {"f32": 32, "f16": 16, "bf16": 16, "q8_0": 8.5, "q5_1": 6, "q5_0": 5.5, "q4_1": 5, "q4_0": 4.5,
         "iq4_nl": 4.5}


def effective_defaults(log_facts: Mapping[str, Any], log_text: str = "") -> dict[str, str]:
    """What the baseline (no flags) resolved to, from its boot log (threads, batch sizes, slots,
    context); llama.cpp's documented defaults where the log is silent."""
    out = dict(DEFAULTS)
    m = _THREADPOOL.search(log_text)
    if m:  # a quieter llama-server log names its threads only here
        out["t"] = m.group(1)
    for flag, key in _FROM_LOG.items():
        value = log_facts.get(key)
        if isinstance(value, int):
            out[flag] = str(value)
    fa = log_facts.get("flash_attn")
    if isinstance(fa, str) and fa.strip():
        out["fa"] = {"1": "on", "0": "off", "enabled": "on", "disabled": "off"}.get(fa.strip().lower(), out["fa"])
    return out


def change_list(old: Mapping[str, str], new: Mapping[str, str],
                defaults: Mapping[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(flag, old value, new value) for each flag that differs; a missing flag reads as its default."""
    out: list[tuple[str, str | None, str | None]] = []
    for name in sorted(set(old) | set(new)):
        a = old.get(name, defaults.get(name))
        b = new.get(name, defaults.get(name))
        if a != b or (name in new and name not in old and a is None):
            out.append((name, a, b))
    return out


def _num(v: str | None) -> int | None:
    return int(v) if v is not None and v.lstrip("-").isdigit() else None


def _sentence(name: str, old: str | None, new: str | None, cores: int | None,
              servers: Mapping[str, str]) -> str:
    o, n = _num(old), _num(new)
    was = f" (was {old})" if old is not None else ""
    if name in ("t", "tb") and n is not None:
        what = "prompt processing" if name == "tb" else "the matrix work"
        falls = "prefill should fall" if name == "tb" else "prefill and decode should fall"
        if cores and n > cores:
            return (f"-{name} {n} asks for more threads than this machine's {cores} physical cores: they would "
                    f"contend for them, so {falls}")
        if o is not None and n > o:
            gain = "prefill should rise" if name == "tb" else "prefill (compute-bound) should rise most, decode less"
            return f"-{name} {n} puts {n} cores to {what} instead of {o}: {gain}"
        if o is not None and n < o:
            return f"-{name} {n} leaves {o - n} of the {o} threads idle: {falls}"
        if o is None:
            return (f"-{name} {n} fixes the thread count (the defaults' was not reported): at most one per "
                    "physical core should be fastest")
        return f"-{name} {n} is what the defaults already use: no change expected"
    if name == "ub" and n is not None and o is None:
        return f"-ub {n} sets the micro-batch: larger ones keep prompt processing busier, decode should not move"
    if name == "ub" and n is not None and o is not None:
        if n > o:
            return (f"-ub {n} keeps the batch busy during prompt processing ({n} tokens a step instead of {o}): "
                    "prefill should rise; decode is one token a step and should not move")
        if n < o:
            return (f"-ub {n} processes prompts in smaller steps ({n} tokens instead of {o}): prefill should fall, "
                    "decode should not move")
        return f"-ub {n} is the default micro-batch: no change expected"
    if name == "b":
        return f"-b {new} caps the prompt tokens handed over per batch{was}: it matters only where it limits -ub"
    if name == "np" and n is not None and o is None:
        return f"-np {n} sets the slot count: a single stream gains nothing from more slots"
    if name == "np" and n is not None:
        if o is not None and n < o:
            return (f"-np {n} runs {n} slot{'s' if n > 1 else ''} instead of {o}: a single stream keeps the whole "
                    "context and all the compute, so its speed should hold or rise")
        if o is not None and n > o:
            return (f"-np {n} splits the server into {n} slots{was}: a single stream gains nothing, "
                    "its context may shrink")
        return f"-np {n} is the default slot count: no change expected"
    if name == "fa":
        if new == "on":
            return ("-fa on computes attention in tiles without the full score matrix: prefill and decode deep in "
                    "the context should rise (less on a CPU)")
        if new == "off":
            return "-fa off materialises the attention scores: prefill and decode deep in the context should fall"
        return "-fa auto lets llama.cpp decide whether flash attention is used"
    if name in ("ctk", "ctv"):
        part = "K" if name == "ctk" else "V"
        bits = _BITS.get(new or "", 16)
        if (new or "f16") in ("f16", "f32"):
            return f"-{name} {new} keeps the {part} cache lossless{was}: decode deep in the context may slow a little"
        return (f"-{name} {new} stores the {part} cache in {bits:g} bits instead of 16: less memory to read per "
                "token, so decode deep in the context may rise; lossy, so the quality gate applies")
    if name == "c":
        return f"-c {new} sets the context{was}: speed at a given depth should not change, memory does"
    if name == "ngl":
        return (f"-ngl {new} offloads layers to a GPU{was}: both should rise where a GPU is present; "
                "a CPU-only build ignores it")
    if name == "mlock":
        return ("--mlock pins the weights in RAM: no speed change once loaded, unless memory pressure was paging "
                "them out" if new == "on" else "no --mlock: the OS may page the weights out under memory pressure")
    if name == "no-mmap":
        return ("--no-mmap reads the model into memory instead of mapping it: a slower load, the same speed unless "
                "the page cache was thin" if new == "on" else "the model is memory-mapped again (the default)")
    if name == "server":
        label_new = servers.get(new or "", new)
        label_old = servers.get(old or "", old)
        return (f"another build ({label_new} instead of {label_old}): kernels and defaults differ between builds, "
                "either may win")
    return f"{name} {new}{was}"


def hypothesis(changes: Sequence[tuple[str, str | None, str | None]], *, cores: int | None = None,
               servers: Mapping[str, str] | None = None) -> str:
    if not changes:
        return "the same settings as the incumbent: a repeat measurement (noise check)"
    return "; ".join(_sentence(n, o, v, cores, servers or {}) for n, o, v in changes) + "."


def restart_statement(changes: Sequence[tuple[str, str | None, str | None]], previous: int | None) -> str:
    """Whether this trial needed a fresh server (llama.cpp reads every flag here at load)."""
    names = [n for n, _o, _v in changes]
    if previous is None:
        return "a fresh server"
    if not names:
        return f"the same flags as trial {previous}: a running server could have been reused"
    shown = ", ".join(("--" if n in ("mlock", "no-mmap") else "-") + n if n != "server" else "the binary"
                      for n in names)
    return f"restart: llama.cpp reads {shown} at load (no running server can change it)"


def fmt_ci(ci: Sequence[float] | None, nd: int = 1) -> str:
    return f"[{ci[0]:.{nd}f}, {ci[1]:.{nd}f}]" if ci else "[no CI]"


def _ratio(p: Paired) -> str:
    if p.ratio is None:
        return "n/a"
    return f"{p.ratio:.2f}x {fmt_ci(p.ci, 2)}"


@dataclass(frozen=True)
class Decision:
    decision: str  # keep | discard
    reason: str
    evidence: dict[str, Any]


def figure_summary(values: Sequence[float | None]) -> dict[str, Any]:
    s = summarize(values)
    return {"median": round(s.median, 2) if s.median is not None else None,
            "ci": [round(s.ci[0], 2), round(s.ci[1], 2)] if s.ci else None, "n": s.n}


def decide(*, objective: str, trial_scores: Sequence[float | None], incumbent_scores: Sequence[float | None],
           trial_prefill: Sequence[float | None], trial_decode: Sequence[float | None],
           incumbent_prefill: Sequence[float | None], incumbent_decode: Sequence[float | None],
           incumbent: int, gate: tuple[bool | None, str] | None = None) -> Decision:
    """Keep or discard a measured trial against the incumbent (see the module's docstring)."""
    obj = paired(incumbent_scores, trial_scores)
    pre = paired(incumbent_prefill, trial_prefill)
    dec = paired(incumbent_decode, trial_decode)
    evidence: dict[str, Any] = {
        "prefill": figure_summary(trial_prefill), "decode": figure_summary(trial_decode),
        "incumbent": incumbent,
        "vs_incumbent": {"objective": obj.to_json(), "prefill": pre.to_json(), "decode": dec.to_json(),
                         "pairing": "by repeat (same prompts), trials measured one after the other"},
    }
    gate_note = ""
    if gate is not None:
        evidence["quality_gate"] = {"passed": gate[0], "statement": gate[1]}
        gate_note = f"; {gate[1]}"
    vs = f"{objective} {_ratio(obj)} the incumbent (trial {incumbent})"
    if gate is not None and gate[0] is False:
        return Decision("discard", f"{gate[1]} (speed: {vs})", evidence)
    if obj.ratio is None:
        return Decision("discard", f"no score: too few requests succeeded{gate_note}", evidence)
    if obj.ratio > 1.0:
        how = "clearly faster" if obj.verdict == "b_faster" else "within noise: the side-by-side re-measure decides"
        return Decision("keep", f"{vs}, {how}{gate_note}", evidence)
    how = "clearly slower" if obj.verdict == "a_faster" else "not faster (within noise)"
    return Decision("discard", f"{vs}, {how}{gate_note}", evidence)


# -- rendering -------------------------------------------------------------------------------


def _fig(d: Mapping[str, Any] | None, unit: str = "tok/s") -> str:
    if not d or d.get("median") is None:
        return "n/a"
    return f"{d['median']:.1f} {unit} {fmt_ci(d.get('ci'))}"


def render_journal(summary: Mapping[str, Any]) -> str:
    """The journal as plain text, trial by trial, then the final re-measure and the winner."""
    lines: list[str] = []
    wl = summary.get("workload") or {}
    obj = summary.get("objective") or {}
    lines.append(f"Campaign {summary.get('campaign_id')} · objective {obj.get('text')}: {obj.get('description')}")
    if wl:
        lines.append(f"  workload: prefill on {wl.get('prefill_tokens', 0):,}-token prompts; decode of "
                     f"{wl.get('gen_tokens')} tokens at {wl.get('decode_depth', 0):,} tokens of context; "
                     f"{wl.get('repeats')} repeats per trial")
    if summary.get("defaults"):
        shown = " ".join(f"{k}={v}" for k, v in sorted(summary["defaults"].items())
                         if k not in ("fa", "ctk", "ctv", "mlock", "no-mmap"))
        lines.append(f"  the defaults resolved to: {shown}")
    for t in summary.get("trials") or []:
        lines.append("")
        head = f"Trial {t['n']} · {t.get('label') or 'defaults'} · {t['status']}"
        if t.get("restart"):
            head += f" · {t['restart']}"
        lines.append(head)
        if t.get("hypothesis"):
            lines.append(f"  hypothesis: {t['hypothesis']}")
        ev = t.get("evidence") or {}
        if t["status"] == "measured":
            vs = (ev.get("vs_incumbent") or {})
            line = f"  evidence: prefill {_fig(ev.get('prefill'))}, decode {_fig(ev.get('decode'))}"
            if vs:
                pre, dec = vs.get("prefill") or {}, vs.get("decode") or {}
                line += (f"; vs trial {ev.get('incumbent')}: prefill {_pj(pre)}, decode {_pj(dec)}")
            lines.append(line)
        if t.get("decision"):
            lines.append(f"  decision: {t['decision'].upper()} — {t.get('reason') or ''}")
        load = t.get("load")
        if load:
            lines.append(f"  machine load (1-min average, {summary.get('machine', {}).get('cores')} cores): "
                         f"{load[0]:.1f} before, {load[1]:.1f} after")
        for n in t.get("notes") or []:
            lines.append(f"  note: {n}")
    final = summary.get("final") or {}
    if final.get("participants"):
        lines.append("")
        lines.append(f"Final re-measure · {final.get('how')}")
        for p in final["participants"]:
            lines.append(f"  trial {p['n']} ({p.get('label')}): prefill {_fig(p.get('prefill'))}, decode "
                         f"{_fig(p.get('decode'))}; vs the defaults: prefill {_pj(p.get('prefill_vs_default'))}, "
                         f"decode {_pj(p.get('decode_vs_default'))}")
        if final.get("statement"):
            lines.append(f"  {final['statement']}")
    elif final.get("statement"):
        lines.append("")
        lines.append(f"Final: {final['statement']}")
    win = summary.get("winner") or {}
    imp = summary.get("improvement") or {}
    if win:
        lines.append("")
        lines.append(f"Winner: trial {win.get('trial')} ({win.get('label')}): prefill "
                     f"{_x(imp.get('prefill'))} {fmt_ci(imp.get('prefill_ci'), 2)}, decode {_x(imp.get('decode'))} "
                     f"{fmt_ci(imp.get('decode_ci'), 2)} over the defaults")
        if win.get("why"):
            lines.append(f"  why: {win['why']}")
        if win.get("note"):
            lines.append(f"  note: {win['note']}")
        lines.append(f"  {win.get('command')}")
    return "\n".join(lines)


def _x(v: Any) -> str:
    return f"{v:.2f}x" if isinstance(v, (int, float)) else "n/a"


def _pj(p: Mapping[str, Any] | None) -> str:
    if not p or p.get("ratio") is None:
        return "n/a"
    return f"{p['ratio']:.2f}x {fmt_ci(p.get('ci'), 2)}"
