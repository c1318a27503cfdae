"""``prst aggregate``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import fmt_int, out, progress_steps


@handle_errors
def aggregate(
    year: Annotated[list[int] | None, typer.Option("--year", "-y", help="Année(s) à agréger (défaut : toutes).")] = None,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Source(s) à agréger (défaut : toutes).")] = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Calcule les agrégats que lit « prst export » : tous les niveaux géographiques (commune, zone
    d'emploi, département, région, France pour une source nationale, périmètres des SPSTI), tous
    les niveaux de la NAF, les deux sexes, les tranches d'âge regroupées et tous âges, à partir du
    grain le plus fin de chaque source.

    Incrémental : sans nouveau chargement, ne fait rien ; un nouveau chargement ne recalcule que ce
    qu'il touche. Une interruption laisse l'entrepôt tel qu'il était.

    Exemples :

      prst aggregate

      prst aggregate --year 2024 --source carsat-mp
    """
    from prst_etl.pipeline import aggregate as core  # imported here: « prst ingest » need not load it
    from prst_etl.sources import get_source

    for s in source or []:
        get_source(s)  # unknown source → usage error listing the known ones
    with progress_steps(not as_json) as step:
        report = core.aggregate(warehouse, years=year or None, sources=source or None, progress=step, as_of=as_of)
    if as_json:
        out.print_json(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
        return
    if not report.computed:
        out.print("Agrégats à jour : rien à recalculer.")
        return
    t = Table(title=f"Agrégats calculés ({len(report.computed)} fichiers)", title_justify="left")
    for c in ("Source", "Table", "Année", "Chargement", "Niveau", "Cases"):
        t.add_column(c)
    for r in report.computed:
        t.add_row(str(r["source"]), str(r["table_name"]), str(r["year"]), str(r["load_id"]), str(r["geo_level"]), fmt_int(r["n_rows"]))  # type: ignore[arg-type]
    out.print(t)
    if report.conservation:
        parts = {(c["source"], c["table_name"], c["year"]) for c in report.conservation}
        levels = ", ".join(sorted({str(c["level"]) for c in report.conservation}))
        out.print(
            f"Conservation vérifiée : pour {fmt_int(len(parts))} table(s) × année, chaque mesure des faits se retrouve "
            f"dans le total du niveau le plus agrégé ({levels}) — {fmt_int(len(report.conservation))} mesures."
        )
    for note in report.notes:
        out.print(f"[yellow]avertissement[/yellow] : {note}")
