"""A lab run as rich renderables: the verdict table in the shape people post, the detail
per technique, kind of work and depth, the synthetic curve, the quality gate and notes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table

from rigbench.lab.verdict import speed_words
from rigbench.report.safe import safe_text

__all__ = ["identity_words", "lab_card", "pct", "verdict_style"]

_STYLES = {"best general case": "bold green", "faster on all work": "green", "grounded tasks only": "green",
           "open tasks only": "green", "slower than baseline": "red", "quality loss": "bold red",
           "output differs": "bold red", "synthetic (output not valid)": "dim"}


def verdict_style(verdict: str | None) -> str:
    return _STYLES.get(verdict or "", "yellow")


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _num(v: Any, nd: int = 1) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:,.{nd}f}"


def _ci(ci: Sequence[float] | None) -> str:
    return f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—"


def identity_words(state: str | None, identical: bool | None = None) -> str:
    return {"identical": "identical", "near-tie": "near-tie", "differs": "DIFFERS",
            "lossy": "lossy" + (", same" if identical else ""), "synthetic": "n/a"}.get(state or "", "—")


def _depth(d: int) -> str:
    return f"{d // 1024}K" if d >= 1024 and d % 1024 == 0 else f"{d:,}"


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _speedup_cell(r: Mapping[str, Any]) -> str:
    words = r.get("speed_words") or speed_words(r.get("speedup"))
    ci = r.get("ci")
    return f"{words} [{ci[0]:.2f}–{ci[1]:.2f}]" if ci else words


def _main_table(s: Mapping[str, Any]) -> Table:
    t = Table(title=safe_text(f"Techniques lab {s.get('lab_id')} · {s.get('target')} · "
                              f"{(s.get('engine') or {}).get('kind') or '?'}"), title_justify="left",
              box=box.SIMPLE_HEAD,
              caption="Result and speedup on the work named (all: grounded and open pooled). Speedup: technique / "
                      "baseline decode, paired, pooled over depths, [95% CI]. Acceptance: accepted / drafted tokens, "
                      "as the server counted them. Identity: greedy output against the baseline's.",
              caption_justify="left")
    t.add_column("Technique", ratio=3)
    t.add_column("Target", ratio=2)
    t.add_column("Result tok/s", justify="right", no_wrap=True)
    t.add_column("Speedup [95% CI]", justify="right", no_wrap=True)
    t.add_column("Acceptance", justify="right", no_wrap=True)
    t.add_column("Identity", no_wrap=True)
    t.add_column("Verdict", ratio=3)
    for r in s.get("table") or []:
        work = f" {r['work']}" if r.get("work") and r.get("work") != "all" else ""
        t.add_row(*map(safe_text, (r["technique"], r.get("target") or "?", _num(r.get("decode_tok_s")) + work,
                                   _speedup_cell(r), pct(r.get("acceptance")),
                                   identity_words(r.get("identity")) if r.get("arm") != "baseline" else "")),
                  safe_text(r.get("verdict") or "", verdict_style(r.get("verdict"))))
    return t


def _detail_table(s: Mapping[str, Any]) -> Table:
    t = Table(title="Per technique, kind of work and depth (tok/s: decode; accepted / drafted tokens)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for h in ("Arm", "Work", "Depth", "tok/s", "Base", "Speedup", "95% CI", "Accept", "Drafted", "Identity",
              "Pairs"):
        t.add_column(h, justify="left" if h in ("Arm", "Work", "Identity") else "right", no_wrap=True)
    for r in s.get("rows") or []:
        drafted = (f"{r['draft_n_accepted']}/{r['draft_n']}" if r.get("draft_n") is not None else "—")
        t.add_row(*map(safe_text, (r["arm"], r["work"], _depth(int(r["depth"])), _num(r.get("decode_tok_s")),
                                   _num(r.get("baseline_decode_tok_s")), _ratio(r.get("speedup")), _ci(r.get("ci")),
                                   pct(r.get("acceptance")), drafted,
                                   identity_words(r.get("identity"), r.get("identical")), r.get("pairs") or 0)))
    return t


def _synthetic_table(s: Mapping[str, Any]) -> Table | None:
    curve = s.get("synthetic") or []
    if not curve:
        return None
    t = Table(title="Speedup against acceptance (synthetic: accepted at random, the output is not valid)",
              title_justify="left", box=box.SIMPLE_HEAD)
    for h in ("Imposed", "Measured acceptance", "Decode tok/s", "Speedup", "95% CI"):
        t.add_column(h, justify="right")
    for c in curve:
        t.add_row(*map(safe_text, (pct(c.get("acceptance_target")), pct(c.get("acceptance")),
                                   _num(c.get("decode_tok_s")), speed_words(c.get("speedup")), _ci(c.get("ci")))))
    return t


def _lines(s: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    b = s.get("baseline") or {}
    flags = " ".join(f"-{k} {v}" for k, v in sorted((b.get("flags") or {}).items()))
    out.append(f"Baseline: {_num(b.get('decode_tok_s'))} tok/s decode (median of {b.get('requests') or 0} requests"
               + (f"; {flags}" if flags else "") + "). Greedy (temperature 0, top_k 1), whole prompt prefilled "
               f"every request; {s.get('repeats')} pairs per kind of work and depth, {s.get('gen_tokens')} tokens "
               f"at most, {s.get('mode') or '?'} prompts.")
    for a in s.get("arms") or []:
        g = a.get("gate")
        if g:
            out.append(f"{a['arm']['name']}: {g.get('statement')}")
    for a in s.get("arms") or []:
        if a.get("identity") == "differs":
            out.append(f"{a['arm']['name']}: its greedy output differs from the baseline's beyond a near-tie: a "
                       "lossless technique must not change the output (see the stored requests)")
    load = s.get("other_load") or {}
    if load.get("cores"):
        out.append(f"Other processes kept {load.get('cores_busy', 0):.2f} of {load['cores']} cores busy meanwhile.")
    out += [f"Note: {n}" for n in s.get("notes") or []]
    if s.get("status") != "complete":
        out.append(f"Status: {s.get('status')}" + (f" ({s.get('reason')})" if s.get("reason") else ""))
    return out


def lab_card(s: Mapping[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [_main_table(s), _detail_table(s)]
    syn = _synthetic_table(s)
    if syn is not None:
        parts.append(syn)
    parts += [safe_text(line) for line in _lines(s)]
    return Group(*parts)
