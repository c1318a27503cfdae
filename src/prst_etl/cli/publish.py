"""``prst publish``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import err, fmt_int, out, progress_steps


@handle_errors
def publish(
    release: Annotated[str, typer.Argument(help="Nom de la publication (prst release list).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Dossier à écrire (remplacé s'il contient une publication antérieure).")],
    licence: Annotated[str, typer.Option("--licence", help="Licence des données : etalab-2.0 (défaut), odbl-1.0, cc-by-4.0.")] = "etalab-2.0",
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Écrit une publication pour tous les outils : Parquet partitionné, Data Package, manifeste.

    Tous les niveaux publiés (France, région, département, zone d'emploi, SPSTI), secret
    statistique appliqué, en format long (les colonnes de prst export), un fichier par niveau
    et par année : data/geo_level=<niveau>/year=<année>/part-0.parquet, triés, avec statistiques.
    DuckDB, Arrow (R, Python), polars, Spark et Trino les lisent comme une seule table
    (partitions Hive). À côté : indicateurs.csv (le catalogue), datapackage.json (Frictionless
    Data Package : schéma de chaque fichier, clé primaire, licence, sources) et manifest.json
    (chargements et empreintes SHA-256 des fichiers d'origine, millésimes COG et zones
    d'emploi, version de prst, lignes et SHA-256 de chaque fichier). Publier deux fois la
    même publication donne les mêmes octets.

    Exemple :

      prst release create diagnostic-2025 && prst publish diagnostic-2025 --output diffusion/diagnostic-2025
    """
    from prst_etl.publish.release import publish as core  # imported here: « prst --help » stays fast

    with progress_steps() as step:
        res = core(release, output, warehouse=warehouse, progress=step, licence=licence)
    if as_json:
        import json

        out.print_json(json.dumps(res.to_dict(), ensure_ascii=False))
        return
    for n in res.notes:
        err.print(f"[yellow]Remarque[/yellow] : {n}")
    levels = sorted({f["geo_level"] for f in res.files})
    out.print(
        f"Publication « {release} » écrite dans [bold]{res.output}[/bold] : {fmt_int(res.rows)} lignes, "
        f"{len(res.files)} fichiers Parquet ({', '.join(levels)}), datapackage.json, manifest.json."
    )
    out.print(
        f"Lire : duckdb -c \"SELECT * FROM read_parquet('{res.output}/data/**/*.parquet', hive_partitioning = true)\""
    )
