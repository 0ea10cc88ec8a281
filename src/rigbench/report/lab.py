"""A lab run as rich renderables: the verdict table in the shape people post, the detail
per technique, kind of work and depth, the synthetic curve, the quality gate and notes."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table

from rigbench.report.safe import safe_text
from rigbench.results import LabResult, LabRow, LabSynthetic, LabTableRow
from rigbench.units import fmt_speedup

__all__ = ["identity_words", "lab_card", "lab_cells", "pct", "verdict_style"]

_STYLES = {"best general case": "bold green", "faster on all work": "green", "grounded tasks only": "green",
           "open tasks only": "green", "slower than baseline": "red", "quality loss": "bold red",
           "output differs": "bold red", "synthetic (output not valid)": "dim"}


def verdict_style(verdict: str | None) -> str:
    return _STYLES.get(verdict or "", "yellow")


def pct(v: float | None) -> str:
    return "—" if v is None else f"{v * 100:.0f}%"


def _num(v: float | None, nd: int = 1) -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:,.{nd}f}"


def _ci(ci: Sequence[float | None] | None) -> str:
    return f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—"


def identity_words(state: str | None, identical: bool | None = None) -> str:
    return {"identical": "identical", "near-tie": "near-tie", "differs": "DIFFERS",
            "lossy": "lossy" + (", same" if identical else ""), "synthetic": "n/a"}.get(state or "", "—")


def _depth(d: int) -> str:
    return f"{d // 1024}K" if d >= 1024 and d % 1024 == 0 else f"{d:,}"


def _ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _speedup_cell(r: LabTableRow) -> str:
    words = r.speed_words or fmt_speedup(r.speedup)
    return f"{words} [{r.ci[0]:.2f}–{r.ci[1]:.2f}]" if r.ci else words


def lab_cells(r: LabTableRow | LabRow | LabSynthetic) -> dict[str, str]:
    """A lab row's cells as the terminal card words them (the HTML report's too)."""
    words = r.speed_words if isinstance(r, LabTableRow) else None
    arm = r.arm if not isinstance(r, LabSynthetic) else None
    identity = ""
    if isinstance(r, LabRow):
        identity = identity_words(r.identity, r.identical)
    elif isinstance(r, LabTableRow) and arm != "baseline":
        identity = identity_words(r.identity)
    verdict = r.verdict if not isinstance(r, LabSynthetic) else None
    return {"speedup": str(words or fmt_speedup(r.speedup)), "ci": _ci(r.ci), "acceptance": pct(r.acceptance),
            "identity": identity, "verdict_class": str(verdict or "").split(" ")[0]}


def _main_table(s: LabResult) -> Table:
    t = Table(title=safe_text(f"Techniques lab {s.lab_id} · {s.target} · "
                              f"{s.engine.kind or '?'}"), title_justify="left",
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
    for r in s.table:
        work = f" {r.work}" if r.work and r.work != "all" else ""
        t.add_row(*map(safe_text, (r.technique, r.target or "?", _num(r.decode_tok_s) + work,
                                   _speedup_cell(r), pct(r.acceptance),
                                   identity_words(r.identity) if r.arm != "baseline" else "")),
                  safe_text(r.verdict or "", verdict_style(r.verdict)))
    return t


def _detail_table(s: LabResult) -> Table:
    t = Table(title="Per technique, kind of work and depth (tok/s: decode; accepted / drafted tokens)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for h in ("Arm", "Work", "Depth", "tok/s", "Base", "Speedup", "95% CI", "Accept", "Drafted", "Identity",
              "Pairs"):
        t.add_column(h, justify="left" if h in ("Arm", "Work", "Identity") else "right", no_wrap=True)
    for r in s.rows:
        drafted = f"{r.draft_n_accepted}/{r.draft_n}" if r.draft_n is not None else "—"
        t.add_row(*map(safe_text, (r.arm, r.work, _depth(int(r.depth or 0)), _num(r.decode_tok_s),
                                   _num(r.baseline_decode_tok_s), _ratio(r.speedup), _ci(r.ci),
                                   pct(r.acceptance), drafted, identity_words(r.identity, r.identical),
                                   r.pairs or 0)))
    return t


def _synthetic_table(s: LabResult) -> Table | None:
    if not s.synthetic:
        return None
    t = Table(title="Speedup against acceptance (synthetic: accepted at random, the output is not valid)",
              title_justify="left", box=box.SIMPLE_HEAD)
    for h in ("Imposed", "Measured acceptance", "Decode tok/s", "Speedup", "95% CI"):
        t.add_column(h, justify="right")
    for c in s.synthetic:
        t.add_row(*map(safe_text, (pct(c.acceptance_target), pct(c.acceptance), _num(c.decode_tok_s),
                                   fmt_speedup(c.speedup), _ci(c.ci))))
    return t


def _lines(s: LabResult) -> list[str]:
    out: list[str] = []
    b = s.baseline
    flags = " ".join(f"-{k} {v}" for k, v in sorted(b.flags.items()))
    out.append(f"Baseline: {_num(b.decode_tok_s)} tok/s decode (median of {b.requests or 0} requests"
               + (f"; {flags}" if flags else "") + "). Greedy (temperature 0, top_k 1), whole prompt prefilled "
               f"every request; {s.repeats} pairs per kind of work and depth, {s.gen_tokens} tokens "
               f"at most, {s.mode or '?'} prompts.")
    for a in s.arms:
        if a.gate is not None:
            out.append(f"{a.name}: {a.gate.statement}")
    for a in s.arms:
        if a.identity == "differs":
            out.append(f"{a.name}: its greedy output differs from the baseline's beyond a near-tie: a "
                       "lossless technique must not change the output (see the stored requests)")
    load = s.other_load or {}
    if load.get("cores"):
        out.append(f"Other processes kept {load.get('cores_busy', 0):.2f} of {load['cores']} cores busy meanwhile.")
    out += [f"Note: {n}" for n in s.notes]
    if s.status != "complete":
        out.append(f"Status: {s.status}" + (f" ({s.reason})" if s.reason else ""))
    return out


def lab_card(s: LabResult) -> RenderableType:
    parts: list[RenderableType] = [_main_table(s), _detail_table(s)]
    syn = _synthetic_table(s)
    if syn is not None:
        parts.append(syn)
    parts += [safe_text(line) for line in _lines(s)]
    return Group(*parts)
