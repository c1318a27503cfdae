"""``prst indicators``: the indicator catalogue."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import out

app = typer.Typer(no_args_is_help=False)  # help: the callback docstring

CI_LABELS = {"poisson": "exact de Poisson", "wilson": "de Wilson", "none": "aucun"}


@app.callback(invoke_without_command=True)
@handle_errors
def indicators(
    ctx: typer.Context,
    family: Annotated[str | None, typer.Option("--family", "-f", help="Seulement cette famille (socio-economique, sinistralite, inaptitude, sante-travail).")] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Liste les indicateurs du catalogue : identifiant, libellé, famille, unité, calcul.

    Un taux est toujours calculé après agrégation : Σ numérateur / Σ dénominateur × multiplicateur.

    Exemples : prst indicators --family sinistralite ; prst indicators show at_tf
    """
    from prst_etl.model.indicators import catalogue

    if ctx.invoked_subcommand is not None:
        return
    inds = [i for i in catalogue().values() if family is None or i.family == family]
    if as_json:
        out.print_json(json.dumps([asdict(i) for i in inds], ensure_ascii=False))
        return
    t = Table(title=f"Indicateurs ({len(inds)})", title_justify="left")
    for c in ("Identifiant", "Libellé", "Famille", "Unité", "Calcul"):
        t.add_column(c, overflow="fold")
    for i in inds:
        calc = f"{i.numerator} / {i.denominator} × {i.multiplier:g}" if i.is_rate else f"comptage : {i.numerator}"
        t.add_row(i.id, i.label, i.family, i.unit, calc)
    out.print(t)
    out.print("Définition complète : [bold]prst indicators show ID[/bold]")


@app.command("show")
@handle_errors
def show(
    indicator: Annotated[str, typer.Argument(help="Identifiant de l'indicateur.")],
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Affiche la définition d'un indicateur : calcul, niveaux, seuil, intervalle de confiance, ruptures de série.

    Exemple : prst indicators show at_if
    """
    from prst_etl.model.indicators import get_indicator

    i = get_indicator(indicator)
    if as_json:
        out.print_json(json.dumps(asdict(i), ensure_ascii=False))
        return
    out.print(f"[bold]{i.id}[/bold] — {i.label}")
    out.print(f"Famille : {i.family} ; unité : {i.unit}")
    if i.is_rate:
        total = f" (dénominateur pris au total « _T » de : {', '.join(i.denominator_total_of)})" if i.denominator_total_of else ""
        out.print(f"Calcul : Σ {i.numerator} / Σ {i.denominator} × {i.multiplier:g}{total}, après agrégation au niveau demandé")
        out.print(f"Intervalle de confiance à 95 % : {CI_LABELS.get(i.ci, i.ci)}")
        if i.min_denominator:
            out.print(f"Non significatif (statut « ns ») si le dénominateur est inférieur à {i.min_denominator:g}")
    else:
        out.print(f"Comptage additif : mesure {i.numerator}")
    out.print(f"Niveaux géographiques : {', '.join(i.levels)}")
    if i.by:
        out.print(f"Ventilations publiées : {', '.join(i.by)}")
    if i.sources:
        out.print(f"Sources : {', '.join(i.sources)}")
    if i.caveats:
        out.print(f"Précautions : {i.caveats}")
    for b in i.breaks:
        out.print(f"Rupture de série : {b}")
