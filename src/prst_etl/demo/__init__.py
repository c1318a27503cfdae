"""The demo: a warehouse built from the sample files shipped with prst.

Files and their provenance: ``prst_etl/demo/PROVENANCE.md`` (one real national
workbook of the Assurance Maladie, fictitious Carsat files built from it, and
fictitious IODA, MCP and SPSTI activity files).
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from prst_etl.export import export
from prst_etl.ingest import ingest
from prst_etl.report import Report
from prst_etl.warehouse import remove_warehouse, resolve_path

DEMO_FILES: list[tuple[str, str]] = [
    ("ameli-at", "2024-stat-nationales-at-ctn-naf.xlsx"),
    ("carsat-mp", "carsat-mp_2024_communes.xlsx"),
    ("carsat-lr", "carsat-lr_2024_departements_sexe_age.xlsx"),
    ("ioda", "ioda_2024_inaptitudes.xlsx"),
    ("spf-mcp", "spf-mcp_2021-2023_occitanie.xlsx"),
    ("dgt-spsti", "dgt-spsti_2024_activite.xlsx"),
]
DEMO_EXPORTS = [("region", ["a38", "ensemble"]), ("departement", ["a38", "ensemble"]), ("zone-emploi", ["a21", "ensemble"])]


def data_dir() -> Path:
    return Path(str(resources.files("prst_etl.demo") / "data"))


def run_demo(warehouse: Path | str | None = None, *, reset: bool = True) -> Iterator[str | Report]:
    """Ingest the demo files and write CSV exports; yields what to show as it goes."""
    root = resolve_path(warehouse)
    if reset and remove_warehouse(root):
        yield f"Entrepôt de démonstration réinitialisé : {root}"
    for source, name in DEMO_FILES:
        yield f"\n[bold]prst ingest {source} {name}[/bold]"
        report = ingest(source, data_dir() / name, warehouse=root)
        yield report
    for level, sectors in DEMO_EXPORTS:
        res = export(level, warehouse=root, fmt="csv", sector_levels=sectors)
        yield f"\n[bold]prst export --level {level} --format csv[/bold] → {res.path} ({res.rows} lignes)"
        for note in res.notes:
            yield f"  remarque : {note}"
    yield (
        "\nTerminé. Pour aller plus loin : « prst loads », « prst sources show carsat-mp », "
        "« prst export --level commune --format csv »."
    )
