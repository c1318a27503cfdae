"""Options shared by every command, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

WarehouseOpt = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        "-w",
        envvar="PRST_WAREHOUSE",
        help="Dossier de l'entrepôt (défaut : ./warehouse ; ou variable PRST_WAREHOUSE).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Sortie JSON (pour les scripts).")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="État passé de l'entrepôt : nom de publication (prst release list), numéro de chargement ou date AAAA-MM-JJ (UTC).",
        show_default=False,
    ),
]


def handle_errors(fn):  # type: ignore[no-untyped-def]
    """Render :class:`PrstError` once, as a French message on stderr, and exit with its code."""
    import functools
    import os

    from prst_etl.console import render_error
    from prst_etl.errors import PrstError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return fn(*args, **kwargs)
        except PrstError as exc:
            if os.environ.get("PRST_DEBUG"):
                raise
            render_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except OSError as exc:  # disk full, permissions, a file where a folder is expected…: a prst error (3)
            if os.environ.get("PRST_DEBUG"):
                raise
            from prst_etl.sources.readers import os_reason

            where = f" « {exc.filename} »" if exc.filename else ""
            render_error(
                PrstError(
                    f"Écriture ou lecture impossible{where} : {os_reason(exc)}.",
                    hint="Rien n'a été enregistré dans l'entrepôt ; corrigez la cause (place disque, droits, chemin) et relancez.",
                )
            )
            raise typer.Exit(3) from None

    return wrapper
