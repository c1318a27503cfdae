"""The ``prst`` command line: thin commands that parse, call the library, render, exit.

One module per command group (typer's « one file per command »), joined here.
Exit codes scripts can trust: 0 done, 1 data rejected (report printed),
2 usage error, 3 prst error (warehouse in use, missing warehouse, …).
"""

from __future__ import annotations

import typer

from prst_etl import __version__
from prst_etl.cli.i18n import install as _french

_french()  # typer's own messages (errors, help panels) in French
from prst_etl.cli import export as _export
from prst_etl.cli import ingest as _ingest
from prst_etl.cli import loads as _loads
from prst_etl.cli import publish as _publish
from prst_etl.cli import release as _release
from prst_etl.cli import sources as _sources
from prst_etl.cli import aggregate as _aggregate
from prst_etl.cli import demo as _demo
from prst_etl.cli import diff as _diff
from prst_etl.cli import indicators as _indicators
from prst_etl.cli import chiffres_cles as _chiffres_cles
from prst_etl.cli import portrait as _portrait
from prst_etl.cli import site as _site
from prst_etl.cli import tableau_de_bord as _tableau_de_bord

app = typer.Typer(
    name="prst",
    help=(
        "Entrepôt versionné des indicateurs santé-travail du PRST Occitanie.\n\n"
        "Exemple : prst ingest carsat-mp 2024.xlsx puis prst export --level departement"
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="rich",
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"prst {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Affiche la version."),
) -> None:
    """Entrepôt versionné des indicateurs santé-travail du PRST Occitanie."""


app.command("ingest")(_ingest.ingest)
app.command("aggregate")(_aggregate.aggregate)
app.command("export")(_export.export)
app.command("diff-years")(_diff.diff_years)
app.add_typer(_indicators.app, name="indicators")
app.add_typer(_sources.app, name="sources")
app.add_typer(_loads.app, name="loads")
app.add_typer(_release.app, name="release")
app.command("publish")(_publish.publish)
app.command("portrait")(_portrait.portrait)
app.command("chiffres-cles")(_chiffres_cles.chiffres_cles)
app.command("tableau-de-bord")(_tableau_de_bord.tableau_de_bord)
app.command("site")(_site.site)
app.command("demo")(_demo.demo)


def main() -> None:
    """Console entry point."""
    app()
