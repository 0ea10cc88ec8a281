"""The table of ``rigbench runs``: one line per stored run (``results.RunRow``), every stored
text through ``report.safe``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from rigbench.report.safe import safe_text
from rigbench.results import RunRow

__all__ = ["runs_table"]


def runs_table(rows: Sequence[RunRow], where: str) -> Table:
    """``where``: the database, named in the title."""
    t = Table(title=safe_text(f"Runs in {where}"), title_justify="left")
    for col in ("Run", "Kind", "Status", "Model", "Engine", "Machine", "Started", "Reason"):
        t.add_column(col)
    for r in rows:
        t.add_row(*map(safe_text, (r.run_id, r.kind, r.status, r.model or "—", r.engine or "—", r.machine or "—",
                                   (r.created_at or "")[:19].replace("T", " "), r.reason or "")))
    return t
