"""``rigbench catalog list`` and ``rigbench catalog validate FILE``: the model catalog."""

from __future__ import annotations

from typing import Any

import typer

from rigbench.cli import app
from rigbench.cli.common import JSON_HELP, emit_json, out

catalog_app = typer.Typer(name="catalog", no_args_is_help=True, rich_markup_mode=None,
                          help="The model catalog behind advise --catalog: list it, validate your own.")
app.add_typer(catalog_app, name="catalog")


def _entry_json(e: Any) -> dict[str, Any]:
    from rigbench.model.shapes import catalog_facts

    f = catalog_facts(e, "BF16" if "BF16" in e.offered_quants() else e.offered_quants()[0])
    return {"model": e.id, "name": e.name, "family": e.family, "arch": e.arch, "moe": e.is_moe,
            "params_total": f.params_total, "params_active": f.params_active, "layers": e.layers,
            "native_context": f.native_context, "max_context": f.max_context, "attention": f.attention,
            "quants": e.offered_quants(), "source": e.source, "checked_in": e.checked_in, "notes": list(e.notes)}


@catalog_app.command("list", help="Every catalog model: shape, context, quants and where the numbers come from.")
def list_cmd(json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
             file: str | None = typer.Option(None, "--file", help="a catalog YAML file instead of the bundled one")
             ) -> int:
    from rich.table import Table

    from rigbench.model.catalog import bundled_catalog, load_catalog_file

    cat = load_catalog_file(file) if file else bundled_catalog()
    items = [_entry_json(e) for e in cat.models]
    if json_out:
        emit_json(items)
        return 0
    t = Table(title=f"Model catalog {cat.name} v{cat.version} ({len(items)} models)", title_justify="left",
              caption="Add your own: a YAML file in the same format (docs/catalog.md), checked with "
                      "rigbench catalog validate FILE, used with rigbench advise --catalog-file FILE",
              caption_justify="left")
    for col in ("Model", "Family", "Params", "Active", "Context", "Attention", "Source"):
        t.add_column(col, justify="right" if col in ("Params", "Active", "Context") else "left",
                     overflow="fold" if col == "Source" else "ellipsis")
    for i in items:
        t.add_row(i["name"], i["family"], f"{i['params_total'] / 1e9:,.1f} B", f"{i['params_active'] / 1e9:,.1f} B",
                  f"{i['native_context']:,}" if i["native_context"] else "—", i["attention"], i["source"])
    out().print(t)
    return 0


@catalog_app.command("validate", help="Check a catalog YAML file; errors name the model id and the field.")
def validate_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="the catalog YAML file"),
    json_out: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> int:
    from rigbench.model.catalog import load_catalog_file
    from rigbench.model.shapes import catalog_facts

    cat = load_catalog_file(file)
    for e in cat.models:  # every entry must also turn into facts in every quant it offers
        for q in e.offered_quants():
            catalog_facts(e, q)
    if json_out:
        emit_json({"name": cat.name, "version": cat.version, "models": [e.id for e in cat.models], "valid": True})
    else:
        out().print(f"{file}: valid · catalog {cat.name} {cat.version} · {len(cat.models)} models ("
                    + ", ".join(e.id for e in cat.models) + ")")
    return 0
