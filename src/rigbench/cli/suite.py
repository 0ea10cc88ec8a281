"""``rigbench suite list`` and ``rigbench suite validate FILE``: the quality suites."""

from __future__ import annotations

from typing import Any

import typer

from rigbench.cli import app
from rigbench.cli.common import JSON_HELP, emit_json, out

suite_app = typer.Typer(name="suite", help="Quality suites: list them, validate your own.", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(suite_app, name="suite")


@suite_app.command("list", help="The suites rigbench can run: bundled ones and those in your suites folder.")
def list_suites_cmd(json_out: bool = typer.Option(False, "--json", help=JSON_HELP)) -> int:
    from rich.table import Table

    from rigbench.errors import SuiteError
    from rigbench.quality.suite import list_suites, user_suite_dir
    from rigbench.report.safe import safe_text

    items: list[dict[str, Any]] = []
    for info, suite in list_suites():
        if isinstance(suite, SuiteError):
            items.append({"name": info.name, "version": None, "prompts": 0, "categories": [],
                          "error": suite.one_line()})
        else:
            items.append({"name": suite.name, "version": suite.version, "prompts": len(suite.prompts),
                          "categories": suite.categories})
    if json_out:
        emit_json(items)
        return 0
    t = Table(title="Quality suites", title_justify="left",
              caption=safe_text(f"Your own suites: YAML files in {user_suite_dir()}, or --suite FILE"),
              caption_justify="left")
    for col in ("Name", "Version", "Prompts", "Categories"):
        t.add_column(col)
    for i in items:
        cats = ", ".join(str(c) for c in i["categories"]) if not i.get("error") else f"invalid: {i['error']}"
        t.add_row(*map(safe_text, (i["name"], i["version"] or "—", i["prompts"], cats)))
    out().print(t)
    return 0


@suite_app.command("validate", help="Check a suite YAML file; errors name the prompt id and the field.")
def validate_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="the suite YAML file"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    from rigbench.quality.suite import load_suite_file
    from rigbench.report.safe import safe_text

    suite = load_suite_file(file)
    counts = {c: len(ps) for c, ps in suite.by_category()}
    if json_out:
        emit_json({"name": suite.name, "version": suite.version, "prompts": len(suite.prompts),
                   "categories": suite.categories, "valid": True})
    else:
        out().print(safe_text(f"{file}: valid · suite {suite.name} {suite.version} · {len(suite.prompts)} prompts ("
                              + ", ".join(f"{c} {n}" for c, n in counts.items()) + ")"))
    return 0
