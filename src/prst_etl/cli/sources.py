"""``prst sources``: the source plugins and the file layout each expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import out

app = typer.Typer(no_args_is_help=False)  # help: the callback docstring

ROLE_LABELS = {
    "measure": "comptage",
    "dimension": "identifiant",
    "geo": "géographie",
    "label": "libellé (ignoré)",
    "check": "contrôle",
}


@app.callback(invoke_without_command=True)
@handle_errors
def sources(ctx: typer.Context, warehouse: WarehouseOpt = None, as_json: JsonOpt = False) -> None:
    """Liste les sources connues, leur fournisseur, leurs versions de mapping, leur origine
    et, si l'entrepôt existe, les années chargées.

    Exemple : prst sources puis prst sources show carsat-mp
    """
    from prst_etl.sources import ORIGINS
    from prst_etl.sources import all_sources

    if ctx.invoked_subcommand is not None:
        return
    loaded = _loaded_years(warehouse)
    rows = []
    for sid, cls in all_sources().items():
        src = cls()
        rows.append(
            {
                "id": sid,
                "provider": cls.provider,
                "title": cls.title,
                "geo_levels": list(cls.geo_levels),
                "mapping_versions": list(dict.fromkeys(m.name for m in src.mappings())),
                "origin": ORIGINS.get(sid, ""),
                "years_loaded": loaded.get(sid, []),
            }
        )
    if as_json:
        out.print_json(json.dumps(rows, ensure_ascii=False))
        return
    t = Table(title="Sources", title_justify="left")
    for c in ("Source", "Fournisseur", "Contenu", "Niveaux géographiques", "Mappings", "Origine", "Années chargées"):
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(
            r["id"], r["provider"], r["title"], ", ".join(r["geo_levels"]), ", ".join(r["mapping_versions"]),
            r["origin"], ", ".join(map(str, r["years_loaded"])),
        )  # fmt: skip
    out.print(t)
    out.print("Détail d'une source : [bold]prst sources show ID[/bold]")


def _loaded_years(warehouse) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
    """Years with a current load, per source (empty when there is no warehouse)."""
    from prst_etl.errors import WarehouseError
    from prst_etl.warehouse import DB_NAME, open_warehouse, resolve_path

    if not (resolve_path(warehouse) / DB_NAME).exists():
        return {}  # no warehouse: nothing to open (and duckdb need not be imported)

    try:
        with open_warehouse(warehouse) as wh:
            parts = wh.current_parts()
    except WarehouseError:
        return {}
    out: dict[str, list[int]] = {}
    for src, year in parts.select("source", "year").unique().sort("source", "year").iter_rows():
        out.setdefault(src, []).append(year)
    return out


@app.command("show")
@handle_errors
def show(
    source: Annotated[str, typer.Argument(help="Identifiant de la source.")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Décrit le fichier attendu pour une source : feuille, colonnes et en-têtes acceptés par version.

    Exemple : prst sources show ameli-at
    """
    from prst_etl.model.codes import STATUS_LABELS
    from prst_etl.sources import ORIGINS
    from prst_etl.sources import get_source

    src = get_source(source)
    maps = src.mappings()
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "id": src.id,
                    "provider": src.provider,
                    "description": src.description,
                    "geo_levels": list(src.geo_levels),
                    "scope": list(src.scope or []),
                    "tables": {t.name: t.measure_ids for t in src.tables},
                    "origin": ORIGINS.get(src.id, ""),
                    "mappings": [
                        {
                            "name": m.name,
                            "version": m.version,
                            "layout": m.layout,
                            "title": m.title,
                            "years": m.years,
                            "extends": m.extends,
                            "path": str(m.path),
                            "sheets": list(m.sheets),
                            "columns": {c.name: {"headers": list(c.headers), "role": c.role, "required": c.required} for c in m.columns},
                        }
                        for m in maps
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    out.print(f"[bold]{src.id}[/bold] — {src.title}")
    out.print(f"Fournisseur : {src.provider}")
    out.print(f"Origine : {ORIGINS.get(src.id, '')}" + (f" (mappings : {maps[0].path.parent.parent})" if maps else ""))
    out.print(src.description)
    out.print(f"Niveaux géographiques possibles : {', '.join(src.geo_levels)}")
    years = _loaded_years(warehouse).get(src.id)
    out.print("Années chargées dans l'entrepôt : " + (", ".join(map(str, years)) if years else "aucune"))
    if src.scope:
        out.print(f"Périmètre : départements {' '.join(src.scope)} (tout autre département est refusé)")
    for t in src.tables:
        out.print(f"Table [bold]{t.name}[/bold] ({t.label}) : " + ", ".join(t.measure_ids))
    out.print(
        "Signes conventionnels acceptés dans les cases de comptage : "
        + " ; ".join(f"« {k} » {v}" for k, v in STATUS_LABELS.items())
    )
    out.print(
        f"Versions du mapping : {', '.join(m.name for m in maps)} — un fichier dans l'une ou l'autre "
        "est reconnu à ses en-têtes ; le chargement enregistre la version utilisée (prst loads) ; "
        "--mapping NOM en impose une (ex. --mapping mp-2024 pour la seule feuille MP)."
    )
    for m in maps:
        sheet_kind = f" (feuille « {m.layout} »)" if m.layout else ""
        tab = Table(
            title=f"Mapping {m.name}{sheet_kind} — {m.title} (années {m.years or '?'})"
            + (f" ; reprend {m.extends} en changeant ce qui diffère" if m.extends else ""),
            title_justify="left",
            caption=f"Feuille : {' ou '.join(m.sheets)} ; la ligne d'en-tête est recherchée dans les 60 premières lignes ; "
            + ("une case vide vaut 0." if m.empty_means_zero else "une case vide est une erreur."),
            caption_justify="left",
        )
        for c in ("Colonne", "En-têtes acceptés", "Rôle", "Obligatoire", "Description"):
            tab.add_column(c, overflow="fold")
        for c in m.columns:
            tab.add_row(
                c.name,
                " | ".join(c.headers),
                ROLE_LABELS.get(c.role, c.role),
                "oui" if c.required else "non",
                c.label,
            )
        out.print(tab)


@app.command("template")
@handle_errors
def template(
    source: Annotated[str, typer.Argument(help="Identifiant de la source.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Classeur à écrire (défaut : ./modele-<source>-<année>.xlsx).", show_default=False),
    ] = None,
    year: Annotated[
        int | None, typer.Option("--year", "-y", help="Année de référence écrite dans le titre (défaut : l'an dernier).")
    ] = None,
    mapping: Annotated[
        str | None, typer.Option("--mapping", help="Version ou nom du mapping (défaut : le plus récent ; ex. mp-2024).")
    ] = None,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help="Une seule feuille d'un classeur à plusieurs feuilles (Carsat : at, trajet ou mp)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Remplace le fichier s'il existe.")] = False,
) -> None:
    """Écrit un modèle vide à remplir par le fournisseur : un classeur Excel avec une feuille
    « Lisez-moi » (chaque colonne, valeurs acceptées, signes conventionnels) et une feuille de
    données par type de tableau (titre, en-têtes du mapping le plus récent) : pour une Carsat,
    les feuilles AT, Trajet et MP, ou celle que --sheet nomme.

    Le fichier rempli se vérifie avec prst ingest SOURCE FICHIER --dry-run.

    Exemples :

      prst sources template ioda

      prst sources template carsat-mp --sheet mp

      prst sources template dgt-spsti --year 2025 --output modele-dgt-2025.xlsx
    """
    from prst_etl.sources import get_source

    from prst_etl.errors import UsageError
    from prst_etl.sources.template import default_output, write_template

    if year is not None and not 1900 <= year <= 2100:
        raise UsageError(f"Année invalide : {year}.")
    src = get_source(source)
    path = output or default_output(src, year)
    write_template(src, path, year=year, mapping_version=mapping, overwrite=force, sheet=sheet)
    out.print(f"Modèle écrit : [bold]{path}[/bold]. Une fois rempli : prst ingest {src.id} {path.name} --dry-run")
