"""``prst tableau-de-bord``."""

from __future__ import annotations

from typing import Annotated

import typer

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.cli.publish_common import FormatOpt, OutputOpt, render_result
from prst_etl.console import progress_steps


@handle_errors
def tableau_de_bord(
    first: Annotated[int | None, typer.Option("--from", help="Première année (défaut : l'année de référence du plan).")] = None,
    last: Annotated[int | None, typer.Option("--to", help="Dernière année (défaut : la dernière disponible).")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Écrit le tableau de bord annuel du PRST : une ligne par indicateur de pilotage (liste dans
    schemas/publications/tableau-de-bord.toml), sa série année par année, son évolution depuis
    l'année de référence du plan, sa significativité et les ruptures de série.

    Exemple : prst tableau-de-bord --from 2021 --to 2024
    """
    from prst_etl.publish import build_tableau_de_bord

    with progress_steps() as step:
        res = build_tableau_de_bord(warehouse=warehouse, first=first, last=last, as_of=as_of, formats=fmt, output=output, progress=step)
    render_result(res, as_json)
