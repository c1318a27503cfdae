"""``prst export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import err, fmt_int, grouped, out, progress_steps


@handle_errors
def export(
    level: Annotated[
        str,
        typer.Option(
            "--level", "-l", help="Niveau géographique : france, region, departement, zone-emploi, commune, spsti."
        ),
    ] = "region",
    year: Annotated[list[int] | None, typer.Option("--year", "-y", help="Année(s) (défaut : toutes).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="parquet (défaut) ou csv (; UTF-8 avec BOM, pour Excel).")] = "parquet",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Fichier à écrire (défaut : warehouse/exports/prst_<niveau>_<année>.<format>).")
    ] = None,
    sector_level: Annotated[
        list[str] | None,
        typer.Option("--sector-level", "-s", help="Niveau(x) NAF à garder : naf732 … a38, a21, a17, a10, ensemble (défaut : tous)."),
    ] = None,
    decimal_comma: Annotated[bool, typer.Option("--decimal-comma", help="CSV : virgule décimale.")] = False,
    secret: Annotated[
        bool,
        typer.Option(
            "--secret/--no-secret",
            help="Secret statistique (défaut). --no-secret : usage interne seulement, le fichier porte « diffusion-restreinte ».",
        ),
    ] = True,
    keep_pattern: Annotated[
        str | None,
        typer.Option("--keep-pattern", help="Garder cachées les cases cachées dans une publication antérieure (nom de publication)."),
    ] = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Exporte comptages et taux à un niveau géographique, en format long.

    Colonnes : geo_level, geo_code, geo_label, sector_level, sector_code, sector_label, sex,
    age_band, dimensions propres aux sources (ctn, risk_family…), year, indicator, value, status,
    ci_low, ci_high (intervalle de confiance à 95 %), coverage (couverture du territoire), sources.

    Le secret statistique s'applique par défaut : les cases qui révèlent une petite population ou
    un établissement (règles de schemas/secret.toml) et celles qui permettraient de les retrouver
    par différence sont cachées (statut « secret » ou « secret-secondaire »), sur tous les niveaux
    géographiques à la fois ; un fichier d'audit à côté de l'export liste chaque case cachée et sa
    règle. Seuls les niveaux sectoriels publiables (par défaut a38, a21, ensemble) sont exportés.
    « _T » désigne le total d'une dimension (tous secteurs, tous âges, deux sexes). Les taux du
    catalogue (prst indicators) sont calculés au niveau demandé comme rapport des sommes. Si des
    chargements sont plus récents que les agrégats, ceux-ci sont d'abord mis à jour.

    Exemples :

      prst export --level departement --year 2024

      prst export --level zone-emploi --format csv --sector-level a38 --sector-level ensemble

      prst export --level departement --as-of diagnostic-2025   (tel que publié)
    """
    from prst_etl.pipeline import export as core  # imported here: « prst ingest » need not load it

    with progress_steps() as step:
        res = core.export(
            level, warehouse=warehouse, years=year or None, fmt=fmt, output=output,
            sector_levels=sector_level or None, decimal_comma=decimal_comma, progress=step, as_of=as_of,
            secret=secret, keep_pattern=keep_pattern,
        )  # fmt: skip
    if as_json:
        import json

        out.print_json(json.dumps({"path": str(res.path), "rows": res.rows, "notes": res.notes, "sources": res.sources,
                                   "refreshed": res.refreshed, "audit": str(res.audit) if res.audit else None}, ensure_ascii=False))
        return
    if res.refreshed:
        err.print(
            f"[yellow]Agrégats mis à jour d'abord[/yellow] : {res.refreshed} fichier(s) recalculé(s) "
            "(des chargements étaient plus récents que le dernier « prst aggregate »)."
        )
    for n in grouped(res.notes):
        err.print(f"[yellow]Remarque[/yellow] : {n}")
    if res.rows == 0:
        err.print(f"[yellow]Aucune donnée au niveau « {level} »[/yellow] pour ces années : le fichier écrit est vide.")
    if res.audit:
        out.print(f"Cases cachées (secret statistique) et règle appliquée : [bold]{res.audit}[/bold]")
    elif not secret:
        err.print("[yellow]Sans secret statistique : diffusion restreinte, usage interne seulement.[/yellow]")
    out.print(f"{fmt_int(res.rows)} lignes écrites dans [bold]{res.path}[/bold]" + (f" (sources : {', '.join(res.sources)})" if res.sources else "") + ".")
