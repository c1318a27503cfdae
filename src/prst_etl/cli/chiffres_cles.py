"""``prst chiffres-cles``."""

from __future__ import annotations

from typing import Annotated

import typer

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.cli.publish_common import FormatOpt, OutputOpt, render_result
from prst_etl.console import progress_steps


@handle_errors
def chiffres_cles(
    year: Annotated[int | None, typer.Option("--year", "-y", help="Année de référence (défaut : la dernière disponible).")] = None,
    baseline: Annotated[
        int | None, typer.Option("--baseline", help="Année de départ des évolutions (défaut : celle du plan, schemas/publications/chiffres-cles.toml).")
    ] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Écrit les « chiffres clés de la santé au travail en Occitanie » (2 à 4 pages) : les repères de
    l'emploi, des accidents du travail, des maladies professionnelles, de l'inaptitude et des
    maladies à caractère professionnel, leur évolution depuis l'année de référence et la France.

    Exemple : prst chiffres-cles --year 2024 --baseline 2021
    """
    from prst_etl.publish import build_chiffres_cles

    with progress_steps() as step:
        res = build_chiffres_cles(warehouse=warehouse, year=year, baseline=baseline, as_of=as_of, formats=fmt, output=output, progress=step)
    render_result(res, as_json)
