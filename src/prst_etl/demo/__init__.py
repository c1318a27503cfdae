"""The demo: a warehouse built from the sample files shipped with prst.

Files and their provenance: ``prst_etl/demo/PROVENANCE.md`` (one real national
workbook of the Assurance Maladie and fictitious Carsat, MP and MSA files built from it; the real
Insee population estimates; fictitious census, URSSAF, DARES, IODA, MCP and SPSTI activity files;
fictitious SPSTI perimeters).
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from prst_etl.pipeline.aggregate import aggregate
from prst_etl.console import fmt_int, grouped
from prst_etl.pipeline.export import export
from prst_etl.pipeline.ingest import ingest
from prst_etl.report import Report
from prst_etl.warehouse import remove_warehouse, resolve_path

DEMO_FILES: list[tuple[str, str]] = [
    ("spsti-perimetres", "spsti-perimetres_2024.csv"),
    ("ameli-at", "2024-stat-nationales-at-ctn-naf.xlsx"),
    ("carsat-mp", "carsat-mp_2024_communes.xlsx"),
    ("carsat-lr", "carsat-lr_2024_departements_sexe_age.xlsx"),
    ("ameli-mp", "ameli-mp_2024_national_fictif.xlsx"),
    ("carsat-mp", "carsat-mp_2024_trajet_mp_communes.xlsx"),  # Trajet and MP sheets only: the AT load stays current
    ("msa", "msa_2024_occitanie_fictif.xlsx"),
    ("carsat-mp", "carsat-mp_2023_communes.xlsx"),
    ("carsat-lr", "carsat-lr_2023_departements_sexe_age.xlsx"),
    ("insee-rp", "insee-rp_td_2021_occitanie.csv"),
    ("insee-estimations", "estim-pop-dep-sexe-gca-1975-2023.xls"),
    ("urssaf", "urssaf_etablissements_commune_ape_2021-2023.csv"),
    ("urssaf-taille", "urssaf-taille_etablissements_2021-2023.xlsx"),
    ("dares-accords", "dares-accords_occitanie_2021-2023.xlsx"),
    ("ioda", "ioda_2024_inaptitudes.xlsx"),
    ("spf-mcp", "spf-mcp_2021-2023_occitanie.xlsx"),
    ("dgt-spsti", "dgt-spsti_2024_activite.xlsx"),
]
DEMO_EXPORTS = [
    # (level, sector levels, statistical secrecy)
    ("france", ["a21", "ensemble"], True),
    ("region", ["a38", "ensemble"], True),
    ("departement", ["ensemble"], True),
    ("zone-emploi", ["ensemble"], True),
    ("spsti", ["ensemble"], True),
    # communes are not published under secrecy: an internal file, marked « diffusion restreinte »
    ("commune", ["ensemble"], False),
]


def data_dir() -> Path:
    return Path(str(resources.files("prst_etl.demo") / "data"))


def run_demo(warehouse: Path | str | None = None, *, reset: bool = True, site: bool = True) -> Iterator[str | Report | tuple]:
    """Ingest the demo files, aggregate, export, compare two years; yields what to show as it goes
    (text, ingest reports, and ``("diff", y1, y2)`` for the comparison the CLI prints)."""
    root = resolve_path(warehouse)
    if reset and remove_warehouse(root):
        yield f"Entrepôt de démonstration réinitialisé : {root}"
    for source, name in DEMO_FILES:
        yield f"\n[bold]prst ingest {source} {name}[/bold]"
        report = ingest(source, data_dir() / name, warehouse=root)
        yield report
    yield "\n[bold]prst aggregate[/bold]"
    rep = aggregate(root)
    yield f"{len(rep.computed)} fichiers d'agrégats calculés."
    for level, sectors, secret in DEMO_EXPORTS:
        res = export(level, warehouse=root, fmt="csv", sector_levels=sectors, secret=secret)
        flags = " ".join(f"--sector-level {s}" for s in sectors) + ("" if secret else " --no-secret")
        yield f"\n[bold]prst export --level {level} --format csv {flags}[/bold] → {res.path} ({fmt_int(res.rows)} lignes)"
        for note in grouped(res.notes):
            yield f"  remarque : {note}"
    yield "\n[bold]prst diff-years 2023 2024 --level region --sector-level ensemble[/bold]"
    yield ("diff", 2023, 2024)
    yield (
        "\nPour aller plus loin : « prst loads », « prst sources show carsat-mp », « prst indicators », "
        "« prst export --level departement --sector-level a38 --format csv », « prst portrait --level zone-emploi --code 7612 »."
    )
    if site:
        from prst_etl.publish import build_site

        # HTML only, to keep the demo short: « prst site » also writes the PDF of every document
        yield "\n[bold]prst site --no-pdf[/bold] (portraits, chiffres clés, tableau de bord, cartes ; « prst site » ajoute les PDF)"
        res = build_site(None, warehouse=root, pdf=False)
        for note in res.notes:
            yield f"  remarque : {note}"
        yield f"{len(res.files)} fichiers, {res.stats.get('portraits', 0)} portraits, en {res.seconds:.0f} s."
        yield f"\nTerminé. Page d'accueil du site (à ouvrir dans un navigateur) : {res.home}"
