"""Options and output shared by the publication commands (portrait, chiffres-cles, tableau-de-bord, site)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prst_etl.console import err, out

FormatOpt = Annotated[
    list[str] | None,
    typer.Option("--format", "-f", help="html et/ou pdf (défaut : les deux). Le PDF est balisé (structure, langue) pour les lecteurs d'écran."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Dossier où écrire (défaut : warehouse/publications/).", show_default=False),
]


def render_result(res, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """The files written (or the JSON of the result) and the notes, e.g. why there is no PDF."""
    if as_json:
        import json

        out.print_json(json.dumps(res.to_dict(), ensure_ascii=False))
        return
    for n in res.notes:
        err.print(f"[yellow]Remarque[/yellow] : {n}")
    for p in res.files:
        out.print(str(p), markup=False, soft_wrap=True)
