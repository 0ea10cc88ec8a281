"""Layer rules that keep the shape honest, checked on the source (an AST scan of every import,
top-level or inside a function, ``import x`` and ``from x import y`` alike):

- report/ renders typed results only: it imports nothing from the store, the jobs, the lab,
  tuning or measuring (those assemble the results; report/ is handed them).
- results/ and units.py are types and pure functions: they import no layer above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rigbench"
REPORT_MAY_NOT = ("rigbench.store", "rigbench.jobs", "rigbench.lab", "rigbench.tune", "rigbench.measure")
TYPES_MAY_NOT = (*REPORT_MAY_NOT, "rigbench.report", "rigbench.cli", "rigbench.engines", "rigbench.client",
                 "rigbench.kinds", "rigbench.quality")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in ``path``; a relative import resolved against its package."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(("rigbench", *path.relative_to(SRC).parent.parts))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{a.name}") for a in node.names]  # "from rigbench import jobs"
    return out


def violations(files: list[Path], banned: tuple[str, ...]) -> list[str]:
    return [f"{p.relative_to(SRC)}:{line} imports {mod}" for p in files for line, mod in imported_modules(p)
            if any(mod == b or mod.startswith(b + ".") for b in banned)]


def test_the_scan_sees_every_form_of_import(tmp_path: Path) -> None:
    """The checker itself can fail: each form of a banned import is caught."""
    pkg = SRC / "report"
    sample = pkg / "_layer_probe_sample.py"
    sample.write_text("import rigbench.store\nfrom rigbench.jobs.summary import run_summary\n"
                      "def f():\n    from rigbench import lab\n    from ..measure import points\n", encoding="utf-8")
    try:
        found = violations([sample], REPORT_MAY_NOT)
    finally:
        sample.unlink()
    assert [v.split(" imports ")[1] for v in found] == ["rigbench.store", "rigbench.jobs.summary",
                                                          "rigbench.jobs.summary.run_summary", "rigbench.lab",
                                                          "rigbench.measure", "rigbench.measure.points"]


def test_report_renders_typed_results_only() -> None:
    files = sorted((SRC / "report").rglob("*.py"))
    assert len(files) >= 6
    assert violations(files, REPORT_MAY_NOT) == []


@pytest.mark.parametrize("where", ["results", "units.py"])
def test_types_and_units_depend_on_nothing_above_them(where: str) -> None:
    target = SRC / where
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert violations(files, TYPES_MAY_NOT) == []


def test_the_html_template_is_strict() -> None:
    """A field the template names that a result lacks is an error, not an empty cell."""
    import jinja2

    from rigbench.report.html import render_html
    from rigbench.results import ReportEntry, RunResult

    source = (SRC / "report" / "html.py").read_text(encoding="utf-8")
    assert "StrictUndefined" in source and "ChainableUndefined" not in source
    run = RunResult.from_json({"run_id": 1, "status": "complete", "machine": {"hostname": "box"}})
    assert "run 1" in render_html([ReportEntry(run)], generated_at="2026-01-01T00:00:00+00:00")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ s.renamed_field }}").render(s=run)


def test_the_report_working_depth_is_the_verdicts() -> None:
    from rigbench.measure.points import WORKING_DEPTH
    from rigbench.report.html import WORKING_DEPTH as SHOWN

    assert SHOWN == WORKING_DEPTH
