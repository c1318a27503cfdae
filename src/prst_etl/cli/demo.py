"""``prst demo``: build the demo warehouse from the sample files shipped with prst."""

from __future__ import annotations

from typing import Annotated

import typer

from prst_etl.cli.common import WarehouseOpt, handle_errors
from prst_etl.console import out, render_report


@handle_errors
def demo(
    warehouse: WarehouseOpt = None,
    reset: Annotated[bool, typer.Option("--reset/--no-reset", help="Repartir d'un entrepôt vide.")] = True,
    site: Annotated[bool, typer.Option("--site/--no-site", help="Finir par le site des publications (prst site --no-pdf).")] = True,
) -> None:
    """Construit l'entrepôt de démonstration à partir des fichiers d'exemple livrés avec prst
    (2023 et 2024), l'agrège, exporte les indicateurs à chaque niveau (France, région,
    département, zone d'emploi, SPSTI sous secret statistique ; communes en « diffusion
    restreinte »), compare 2023 et 2024 (prst diff-years), puis construit le site des
    publications (portraits de territoire, chiffres clés, tableau de bord, cartes) et affiche
    le chemin de sa page d'accueil.

    Exemple : prst demo  (puis : prst loads ; prst export --level departement --format csv)
    """
    from prst_etl.demo import run_demo

    from prst_etl.cli.diff import diff_years
    from prst_etl.warehouse import resolve_path

    for step in run_demo(warehouse, reset=reset, site=site):
        if isinstance(step, str):
            out.print(step)
        elif isinstance(step, tuple):
            _, y1, y2 = step
            diff_years.__wrapped__(  # type: ignore[attr-defined]
                y1, y2, level="region", indicator=None, sector_level=["ensemble"], top=15, fmt="table",
                output=resolve_path(warehouse) / "exports" / f"diff_region_{y1}_{y2}.csv", as_of=None,
                from_state=None, to_state=None, warehouse=warehouse,
            )  # fmt: skip
        else:
            render_report(step)
