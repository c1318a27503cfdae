"""``prst release``: named, immutable states of the warehouse (what was published)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import out

app = typer.Typer(no_args_is_help=True)


@app.callback()
def release() -> None:
    """Publications : états nommés et immuables de l'entrepôt, pour reproduire ce qui a été publié.

    Exemples : prst release create diagnostic-2025 --note "Diagnostic PRST5" ; prst release list ;
    prst export --level departement --as-of diagnostic-2025
    """


@app.command("create")
@handle_errors
def create(
    name: Annotated[str, typer.Argument(help="Nom de la publication, ex. diagnostic-2025 ou observatoire-2026-T2.")],
    note: Annotated[str | None, typer.Option("--note", help="Description de la publication.")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fige l'état courant de l'entrepôt sous un nom : qui, quand, quels chargements, quelle version de prst.

    Tout export « --as-of NOM » redonnera ensuite exactement les mêmes fichiers, quels que soient
    les chargements ultérieurs.

    Exemple : prst release create diagnostic-2025 --note "Chiffres clés 2025"
    """
    from prst_etl.warehouse import open_warehouse

    with open_warehouse(warehouse, write=True) as wh:
        rel = wh.create_release(name, note)
    if as_json:
        out.print_json(json.dumps(rel, ensure_ascii=False, default=str))
        return
    out.print(
        f"[green bold]Publication « {name} » créée[/green bold] : état n° {rel['event_id']}, "
        f"{len(rel['loads'])} chargement(s) : {', '.join(map(str, rel['loads']))}."
    )


@app.command("list")
@handle_errors
def list_(warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Liste les publications.

    Exemple : prst release list
    """
    from prst_etl.warehouse import open_warehouse

    with open_warehouse(warehouse) as wh:
        df = wh.releases()
    if as_json:
        out.print_json(json.dumps(df.to_dicts(), ensure_ascii=False, default=str))
        return
    t = Table(title=f"Publications ({df.height})", title_justify="left")
    for c in ("Nom", "Date (UTC)", "Par", "État", "Chargements", "prst", "Note"):
        t.add_column(c, overflow="fold")
    for r in df.iter_rows(named=True):
        t.add_row(r["name"], f"{r['created_at']:%Y-%m-%d %H:%M}", r["user_name"] or "", str(r["event_id"]),
                  ", ".join(map(str, r["loads"] or [])), r["prst_version"], r["note"] or "")  # fmt: skip
    out.print(t)


@app.command("show")
@handle_errors
def show(
    name: Annotated[str, typer.Argument(help="Nom de la publication.")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Détaille une publication : ses chargements (source, année, fichier, empreinte).

    Exemple : prst release show diagnostic-2025
    """
    from prst_etl.warehouse import open_warehouse
    from prst_etl.errors import UnknownName

    with open_warehouse(warehouse) as wh:
        rels = wh.releases()
        row = rels.filter(rels["name"] == name)
        if row.height == 0:
            raise UnknownName("publication", name, rels["name"].to_list())
        rel = row.to_dicts()[0]
        loads = wh.loads().filter(wh.loads()["load_id"].is_in(rel["loads"] or []))
    if as_json:
        out.print_json(json.dumps({**rel, "load_details": loads.to_dicts()}, ensure_ascii=False, default=str))
        return
    out.print(f"[bold]{rel['name']}[/bold] — créée le {rel['created_at']:%Y-%m-%d %H:%M} UTC par {rel['user_name'] or '?'} (prst {rel['prst_version']})")
    if rel["note"]:
        out.print(rel["note"])
    t = Table(title="Chargements figés", title_justify="left")
    for c in ("N°", "Source", "Années", "Fichier", "sha256"):
        t.add_column(c, overflow="fold")
    for r in loads.iter_rows(named=True):
        t.add_row(str(r["load_id"]), r["source"], ", ".join(map(str, r["years"] or [])), r["file_name"], r["sha256"][:12])
    out.print(t)
