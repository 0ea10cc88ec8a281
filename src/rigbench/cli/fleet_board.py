"""``rigbench board --by machine``: the rendering half, kept apart from cli/board.py."""

from __future__ import annotations

import sys
from typing import Any

from rigbench.cli.common import emit_json, out


def render_by_machine(summaries: list[dict[str, Any]], fmt: str, model: str | None) -> int:
    from rigbench.jobs.fleet import by_machine
    from rigbench.report.fleet import machine_board_markdown, machine_board_view
    from rigbench.report.safe import safe_text, visible

    groups = [g for g in by_machine(summaries) if not model or model.lower() in g["model"].lower()]
    if fmt == "json":
        emit_json(groups)
    elif fmt == "md":
        sys.stdout.write(machine_board_markdown(groups))
    elif fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        cols = ["machine", "chip", "bandwidth_gb_s", "decode_tok_s", "depth", "ceiling_tok_s", "pct_of_ceiling",
                "rel_to_fastest", "engine_build", "run_id"]
        w.writerow(["model", "quant", *cols])
        for g in groups:
            for r in g["machines"]:
                w.writerow([visible(x) if isinstance(x, str) else x
                            for x in (g["model"], g["quant"], *(r.get(c) for c in cols))])
        sys.stdout.write(buf.getvalue())
    elif not groups:
        out().print(safe_text("No measured runs match."))
    else:
        out().print(machine_board_view(groups))
    return 0
