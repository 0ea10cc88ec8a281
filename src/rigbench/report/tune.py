"""A tuning campaign for people: the trials table, the keep/discard journal, notes, status."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.table import Table

from rigbench.report.safe import safe_text
from rigbench.results import TuneResult

__all__ = ["tune_card"]


def _ci(ci: Sequence[float] | None, nd: int = 1) -> str:
    return f" [{ci[0]:.{nd}f}, {ci[1]:.{nd}f}]" if ci else ""


def tune_card(s: TuneResult) -> RenderableType:
    table = Table(title=safe_text(f"rigbench tune · campaign {s.campaign_id} · "
                                  f"{s.objective['text']} · {s.status}"), title_justify="left")
    for col, just in (("#", "right"), ("configuration", "left"), ("status", "left"), ("prefill tok/s", "right"),
                      ("decode tok/s", "right"), ("score", "right"), ("decision", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for t in s.trials:
        table.add_row(*map(safe_text, (
            t.n, t.label or "defaults", t.status,
            f"{t.prefill_tok_s:.1f}{_ci(t.prefill_ci)}" if t.prefill_tok_s else "—",
            f"{t.decode_tok_s:.1f}{_ci(t.decode_ci)}" if t.decode_tok_s else "—",
            f"{t.score:.2f}x" if t.score is not None else "—", t.decision or "")))
    parts: list[RenderableType] = [table, safe_text(s.journal)]
    parts += [safe_text(f"note: {n}") for n in s.notes]
    if s.status != "complete":
        parts.append(safe_text(f"campaign {s.status}: {s.reason or ''} "
                               f"(continue it with rigbench tune --resume {s.campaign_id})"))
    return Group(*parts)
