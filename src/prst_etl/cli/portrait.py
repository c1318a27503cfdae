"""``prst portrait``."""

from __future__ import annotations

from typing import Annotated

import typer

from prst_etl.cli.common import AsOfOpt, JsonOpt, WarehouseOpt, handle_errors
from prst_etl.cli.publish_common import FormatOpt, OutputOpt, render_result
from prst_etl.console import err, progress_steps


@handle_errors
def portrait(
    level: Annotated[str, typer.Option("--level", "-l", help="Niveau : region, departement, zone-emploi, spsti.")] = "region",
    code: Annotated[list[str] | None, typer.Option("--code", "-c", help="Code du territoire (76, 31, 7612, SPSTI-31-A…).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Tous les territoires du niveau.")] = False,
    year: Annotated[int | None, typer.Option("--year", "-y", help="Année de référence (défaut : la dernière disponible).")] = None,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    as_of: AsOfOpt = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Écrit le portrait d'un territoire : toutes les données publiées sous secret statistique
    (socio-économie, dialogue social, accidents du travail et de trajet, maladies professionnelles,
    inaptitude, maladies à caractère professionnel), comparées au département, à la région et à la
    France, avec évolutions, intervalles de confiance, déclinaisons par sexe, âge et secteur, cartes
    et sources de chaque chiffre. HTML accessible et PDF balisé.

    Exemple : prst portrait --level zone-emploi --code 7612 --format html --format pdf
    """
    from prst_etl.errors import UsageError
    from prst_etl.publish import build_portraits

    if all_ == bool(code):
        raise UsageError("Indiquez --code CODE ou --all (tous les territoires du niveau), pas les deux.")
    with progress_steps() as step:
        res = build_portraits(level, None if all_ else code, warehouse=warehouse, year=year, as_of=as_of, formats=fmt,
                              output=output, progress=step)  # fmt: skip
    render_result(res, as_json)
    if not as_json:
        err.print(f"{len(res.files)} fichier(s) écrit(s) en {res.seconds:.1f} s.")
