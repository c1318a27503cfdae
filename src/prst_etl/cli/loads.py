"""``prst loads``: what was ingested, when, from which file."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import fmt_int, out

app = typer.Typer(no_args_is_help=False)  # help: the callback docstring


@app.callback(invoke_without_command=True)
@handle_errors
def loads(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Seulement cette source.")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Liste les chargements : source, années, fichier, empreinte, lignes, date, et s'ils sont courants.

    Un chargement « remplacé » l'a été par un fichier plus récent de la même source et de la même
    année ; il reste dans l'historique.

    Exemple : prst loads --source carsat-mp
    """
    from prst_etl.warehouse import open_warehouse

    if ctx.invoked_subcommand is not None:
        return
    with open_warehouse(warehouse) as wh:
        df = wh.loads()
    if source:
        df = df.filter(df["source"] == source)
    if as_json:
        out.print_json(json.dumps(df.to_dicts(), ensure_ascii=False, default=str))
        return
    t = Table(title=f"Chargements ({df.height})", title_justify="left")
    for c in ("N°", "Source", "Années", "Fichier", "sha256", "Lignes lues / retenues / ignorées", "Mapping", "Date (UTC)", "État"):
        t.add_column(c, overflow="fold")
    for r in df.iter_rows(named=True):
        t.add_row(
            str(r["load_id"]),
            r["source"],
            ", ".join(map(str, r["years"] or [])),
            f"{r['file_name']} ({fmt_int(r['file_size'])} o)",
            r["sha256"][:12],
            f"{fmt_int(r['rows_read'])} / {fmt_int(r['rows_kept'])} / {fmt_int(r['rows_skipped'])}",
            r["mapping_version"] or "",
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            "[red]annulé[/red]" if r["reverted"] else "[green]courant[/green]" if r["current"] else "[dim]remplacé[/dim]",
        )
    out.print(t)


@app.command("revert")
@handle_errors
def revert(
    load_id: Annotated[int, typer.Argument(help="Numéro du chargement à annuler (voir « prst loads »).")],
    force: Annotated[bool, typer.Option("--force", help="Annuler même si une publication contient ce chargement.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="Motif de l'annulation.")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Annule un chargement : l'état courant redevient celui d'avant (le chargement qu'il avait
    remplacé redevient courant). L'annulation est un nouvel état : l'historique est conservé et
    les publications restent reproductibles. Refusé si une publication contient le chargement,
    sauf avec --force.

    Exemple : prst loads revert 7 --note "fichier envoyé par erreur"
    """
    from prst_etl.warehouse import open_warehouse

    with open_warehouse(warehouse, write=True) as wh:
        res = wh.revert_load(load_id, force=force, note=note)
    if as_json:
        out.print_json(json.dumps(res, ensure_ascii=False, default=str))
        return
    msg = f"[green bold]Chargement n° {load_id} annulé[/green bold] (état n° {res['event_id']})."
    if res["restored"]:
        msg += " Redevient(nent) courant(s) : n° " + ", ".join(map(str, res["restored"])) + "."
    out.print(msg)
