"""``prst site``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import err, out, progress_steps


@handle_errors
def site(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Dossier du site (défaut : warehouse/site).", show_default=False)] = None,
    pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="PDF de chaque document (défaut) ; --no-pdf : HTML seulement, plus rapide.")] = True,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Processus pour les portraits (défaut : 2 au plus).")] = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Construit le site statique de toutes les publications : page d'accueil avec la carte
    régionale, portrait de chaque territoire (région, départements, zones d'emploi, SPSTI),
    chiffres clés, tableau de bord, dictionnaire des indicateurs et téléchargements (CSV, Parquet).
    Il s'ouvre depuis le disque, sans serveur ni réseau. Affiche le chemin de la page d'accueil.

    Exemple : prst site --output site/  (puis ouvrir site/index.html)
    """
    from prst_etl.publish import build_site

    with progress_steps() as step:
        res = build_site(output, warehouse=warehouse, as_of=as_of, pdf=pdf, jobs=jobs, progress=step)
    if as_json:
        import json

        out.print_json(json.dumps(res.to_dict(), ensure_ascii=False))
        return
    for n in res.notes:
        err.print(f"[yellow]Remarque[/yellow] : {n}")
    size = res.stats.get("bytes", 0) / 1024**2
    err.print(f"{len(res.files)} fichiers ({size:.1f} Mo, {res.stats.get('portraits', 0)} portraits) en {res.seconds:.0f} s.")
    out.print(f"Page d'accueil : [bold]{res.home}[/bold]")
