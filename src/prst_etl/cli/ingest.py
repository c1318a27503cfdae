"""``prst ingest``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from prst_etl.cli.common import JsonOpt, WarehouseOpt, handle_errors
from prst_etl.console import err, out, progress_steps, render_plan, render_report
from prst_etl.errors import UsageError


@handle_errors
def ingest(
    source: Annotated[str, typer.Argument(help="Identifiant de la source (voir « prst sources »), ex. carsat-mp.")],
    file: Annotated[Path, typer.Argument(help="Fichier du fournisseur : classeur Excel ou CSV.")],
    year: Annotated[
        int | None, typer.Option("--year", "-y", help="Année de référence (défaut : lue dans le fichier).")
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Feuille à lire (défaut : reconnue par son nom).")] = None,
    mapping: Annotated[
        str | None, typer.Option("--mapping", help="Version du mapping d'en-têtes (défaut : reconnue).")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Vérifie le fichier et affiche le rapport sans rien écrire.")
    ] = False,
    note: Annotated[str | None, typer.Option("--note", help="Commentaire enregistré avec le chargement.")] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-Y", help="Appliquer sans demander confirmation le remplacement d'un chargement (scripts).")
    ] = False,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="Écrit la liste complète des problèmes (.csv ou .json), à renvoyer au fournisseur."),
    ] = None,
    warehouse: WarehouseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Valide un fichier de fournisseur et le charge dans l'entrepôt.

    Tous les problèmes du fichier sont listés d'un coup (feuille, ligne, colonne, valeur, règle) ;
    un fichier refusé n'écrit rien. Recharger le même fichier ne fait rien ; un fichier corrigé
    pour la même source et la même année remplace l'ancien chargement, qui reste dans l'historique.

    Un fichier corrigé pour une année déjà chargée affiche d'abord ce qu'il change (cases
    ajoutées, supprimées, modifiées, par mesure) et demande confirmation ; --yes l'applique
    sans question (scripts).

    Exemples :

      prst ingest carsat-mp carsat_mp_2024.xlsx

      prst ingest carsat-mp carsat_mp_2024_corrige.xlsx --yes

      prst ingest ameli-at 2024-stat-nationales-at-ctn-naf.xlsx --dry-run

    Codes de sortie : 0 chargé (ou déjà chargé), 1 fichier refusé, 2 option invalide, 3 erreur prst.
    """
    from prst_etl.pipeline import ingest as core

    if year is not None and not 1900 <= year <= 2100:
        raise UsageError(f"Année invalide : {year}.")
    def confirm(plan: list) -> bool:  # type: ignore[type-arg]
        """A corrected file for a year already loaded: show the plan, then ask (or require --yes)."""
        if yes or not plan:
            return True
        if as_json or not sys.stdin.isatty():
            render_plan(plan, err)
            raise UsageError(
                "Ce fichier remplace un chargement existant (plan ci-dessus) : confirmation requise.",
                hint="Relancez avec --yes pour appliquer sans question (scripts). Rien n'a été écrit.",
            )
        render_plan(plan)
        return typer.confirm("Appliquer ce remplacement ?", default=False)

    with progress_steps(not as_json) as step:
        report = core.ingest(
            source, file, warehouse=warehouse, year=year, sheet=sheet, mapping_version=mapping,
            dry_run=dry_run, note=note, progress=step, confirm=confirm,
        )  # fmt: skip
    if report.outcome == "loaded" and report.plan and not as_json:
        report.plan = []  # already shown before the question
    if report_file is not None:
        write_issue_file(report, report_file)
    if as_json:
        out.print_json(json.dumps(report.to_dict(), ensure_ascii=False, default=str))
    else:
        render_report(report)
    if not report.valid:
        raise typer.Exit(1)


def write_issue_file(report, path: Path) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    rows = [i.to_dict() for i in report.issues]
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        path.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=2, default=str), encoding="utf-8")
        return
    cols = ["file", "sheet", "row", "column", "value", "code", "title", "severity", "message", "hint"]
    df = pl.DataFrame(
        [{c: None if r.get(c) is None else str(r.get(c)) for c in cols} for r in rows],
        schema={c: pl.String for c in cols},
    )
    with path.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        df.write_csv(fh, separator=";")
