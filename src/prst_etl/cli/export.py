"""``prst export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prst_etl.cli.common import (
    AgeBandOpt, AsOfOpt, CodeOpt, FamilyOpt, IndicatorOpt, JsonOpt, SexOpt, WarehouseOpt, filters_of, handle_errors,
)  # fmt: skip
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
    fmt: Annotated[
        str,
        typer.Option(
            "--format", "-f",
            help="parquet (défaut, pour R, Python, QGIS, DuckDB), csv (; UTF-8 avec BOM) ou xlsx (classeur Excel).",
        ),
    ] = "parquet",  # fmt: skip
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Fichier à écrire (défaut : warehouse/exports/prst_<niveau>_<année>.<format>).")
    ] = None,
    sector_level: Annotated[
        list[str] | None,
        typer.Option(
            "--sector-level", "-s",
            help="Niveau(x) NAF à garder : naf732 … a38, a21, a17, a10, ensemble (défaut : tous ; forme large : ensemble).",
        ),
    ] = None,  # fmt: skip
    indicator: IndicatorOpt = None,
    family: FamilyOpt = None,
    sex: SexOpt = None,
    age_band: AgeBandOpt = None,
    code: CodeOpt = None,
    shape: Annotated[
        str,
        typer.Option(
            "--shape",
            help="long (défaut : une ligne par case) ou wide (une ligne par territoire, une colonne par indicateur, "
            "déclinaison et année : le format d'import de l'observatoire), avec ses statuts et son dictionnaire des colonnes.",
        ),
    ] = "long",
    status_columns: Annotated[
        bool,
        typer.Option("--status-columns", help="Forme large : le statut de chaque case dans une colonne <colonne>__statut, juste après elle."),
    ] = False,
    excel: Annotated[
        bool, typer.Option("--excel", help="CSV pour Excel en français : « ; », virgule décimale, UTF-8 avec BOM.")
    ] = False,
    decimal_comma: Annotated[bool, typer.Option("--decimal-comma", hidden=True, help="Ancien nom de --excel.")] = False,
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
    """Exporte comptages et taux à un niveau géographique, en format long ou large.

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

    Filtres : --indicator, --family, --sex, --age-band, --code (chacun répétable). Le secret
    statistique reste celui de l'export complet : un filtre ne révèle rien de plus.

    Une clé, une ligne : aucune case (territoire, secteur, sexe, âge, dimensions, année,
    indicateur) n'apparaît deux fois ; quand deux sources donnent le même indicateur, le
    catalogue dit laquelle est publiée (champ « prefer »).

    Pour les personnes (CSV et xlsx), les nombres sont arrondis aux décimales du catalogue (les
    comptages en entiers) et une case de texte qui commence par = + - @ est neutralisée. Un CSV
    de plus de 1 048 576 lignes (la limite d'Excel) est signalé.

    Exemples :

      prst export --level departement --year 2024

      prst export --level zone-emploi --format csv --excel --sector-level a38 --sector-level ensemble

      prst export --level departement --shape wide --format xlsx   (fichier de l'observatoire)

      prst export --level departement --indicator at_if --sex F --sex M --code 31 --code 34

      prst export --level departement --as-of diagnostic-2025   (tel que publié)
    """
    from prst_etl.pipeline import export as core  # imported here: « prst ingest » need not load it

    with progress_steps() as step:
        res = core.export(
            level, warehouse=warehouse, years=year or None, fmt=fmt, output=output,
            sector_levels=sector_level or None, progress=step, as_of=as_of, secret=secret, keep_pattern=keep_pattern,
            filters=filters_of(indicator, family, sex, age_band, code), shape=shape, excel=excel or decimal_comma,
            status_columns=status_columns,
        )  # fmt: skip
    if as_json:
        import json

        out.print_json(json.dumps({"path": str(res.path), "rows": res.rows, "notes": res.notes, "sources": res.sources,
                                   "refreshed": res.refreshed, "audit": str(res.audit) if res.audit else None,
                                   "companions": [str(p) for p in res.companions], "columns": res.columns,
                                   "warnings": res.warnings}, ensure_ascii=False))  # fmt: skip
        for w in res.warnings:
            err.print(f"[bold yellow]Attention[/bold yellow] : {w}")
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
    size = f"{fmt_int(res.rows)} lignes" + (f" × {fmt_int(res.columns)} colonnes de valeurs" if res.columns is not None else "")
    out.print(f"{size} écrites dans [bold]{res.path}[/bold]" + (f" (sources : {', '.join(res.sources)})" if res.sources else "") + ".")
    for c in res.companions:
        out.print(f"  avec [bold]{c}[/bold]")
    for w in res.warnings:
        err.print(f"[bold yellow]Attention[/bold yellow] : {w}")
