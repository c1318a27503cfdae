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
) -> None:
    """Construit l'entrepôt de démonstration à partir des fichiers d'exemple livrés avec prst,
    puis exporte les indicateurs aux niveaux région, département et zone d'emploi.

    Exemple : prst demo  (puis : prst loads ; prst export --level departement --format csv)
    """
    from prst_etl.demo import run_demo

    for step in run_demo(warehouse, reset=reset):
        if isinstance(step, str):
            out.print(step)
        else:
            render_report(step)
