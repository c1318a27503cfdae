"""``prst loads``: what was ingested, when, from which file."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import fmt_int, out, render_ledger, render_moves

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


@app.command("show")
@handle_errors
def show(
    load_id: Annotated[int, typer.Argument(help="Numéro du chargement (voir « prst loads »).")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Détail d'un chargement : fichier, tables et niveaux, avertissements du fichier accepté,
    comptes par mesure (lu, mis de côté et pourquoi, stocké) et lignes de communes fusionnées
    comptées dans une autre zone d'emploi.

    Exemple : prst loads show 3
    """
    from prst_etl.warehouse import open_warehouse

    with open_warehouse(warehouse) as wh:
        d = wh.load_detail(load_id)
    if as_json:
        out.print_json(json.dumps(d, ensure_ascii=False, default=str))
        return
    ld = d["load"]
    state = "annulé" if ld["reverted"] else "courant" if ld["current"] else "remplacé"
    out.print(
        f"[bold]Chargement n° {load_id}[/bold] — source [bold]{ld['source']}[/bold], fichier {ld['file_name']} "
        f"({fmt_int(ld['file_size'])} o, sha256 {ld['sha256'][:12]}), {ld['created_at']:%Y-%m-%d %H:%M} UTC, {state}."
    )
    out.print(
        f"Lignes lues : {fmt_int(ld['rows_read'])} ; retenues : {fmt_int(ld['rows_kept'])} ; ignorées : "
        f"{fmt_int(ld['rows_skipped'])} ; rejetées : {fmt_int(ld['rows_rejected'])}"
        + (f" (dont {fmt_int(ld['rows_merged'])} ajoutées à une autre ligne)" if ld["rows_merged"] else "")
    )
    t = Table(title="Tables", title_justify="left")
    for c in ("Table", "Année", "Niveau géographique", "Cases"):
        t.add_column(c, overflow="fold")
    for p in d["parts"]:
        t.add_row(p["table_name"], str(p["year"]), p["geo_level"] or "", fmt_int(p["n_rows"]))
    out.print(t)
    if d["findings"]:
        w = Table(title=f"Avertissements ({len(d['findings'])}) : lignes gardées, signalées", title_justify="left")
        for c in ("Feuille", "Ligne", "Colonne", "Valeur", "Règle", "Message"):
            w.add_column(c, overflow="fold")
        for f in d["findings"]:
            w.add_row(f["sheet"] or "", "" if f["row"] is None else str(f["row"]), f["column"] or "", f["value"] or "", f["code"], f["message"])
        out.print(w)
    else:
        out.print("Aucun avertissement.")
    if d["ledger"]:
        render_ledger(d["ledger"], out)
    else:
        out.print("[dim]Comptes par mesure non enregistrés (chargement antérieur à prst 0.2).[/dim]")
    if d["moves"]:
        render_moves(d["moves"], out)


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
