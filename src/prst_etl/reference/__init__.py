"""Packaged reference tables (COG, zones d'emploi, NAF, CTN) as polars DataFrames.

The CSV files under ``data/`` are built by ``scripts/build_reference.py``; their
sources and transformations are described in ``PROVENANCE.md`` beside this file.
They are read through :mod:`importlib.resources`, so they work from an installed
wheel. Every column is text (``pl.String``): codes keep their leading zeros.
Each loader is cached: treat the returned frames as read-only.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from prst_etl._lazy import polars as pl

__all__ = [
    "COG_VINTAGES",
    "commune_passage",
    "commune_ze",
    "commune_ze_geo2022",
    "communes",
    "ctn",
    "departements",
    "naf",
    "naf_labels",
    "regions",
    "spsti",
    "spsti_departements",
    "zones_emploi",
]

COG_VINTAGES = (2024, 2025)


@cache
def _read(name: str) -> pl.DataFrame:
    """Read one packaged CSV with every column as text (empty field -> null)."""
    raw = files(__name__).joinpath("data", name).read_bytes()
    return pl.read_csv(raw, infer_schema=False)


def communes(vintage: int = 2025) -> pl.DataFrame:
    """Occitanie COG entries of a vintage (all types).

    Columns: ``code, nom, type, departement, region, chef_lieu, anciens_codes``;
    ``type`` is ``commune-actuelle``, ``commune-deleguee`` or ``commune-associee``
    (a déléguée may share its commune's code: filter on ``type``).
    """
    if vintage not in COG_VINTAGES:
        raise ValueError(f"COG vintage {vintage} not packaged (available: {COG_VINTAGES})")
    return _read(f"communes_cog{vintage}.csv")


def departements() -> pl.DataFrame:
    """All départements and collectivités d'outre-mer: ``code, nom, region``."""
    return _read("departements.csv")


def regions() -> pl.DataFrame:
    """All régions (and COM, coded like their département): ``code, nom``."""
    return _read("regions.csv")


def zones_emploi() -> pl.DataFrame:
    """The 27 zones d'emploi 2020 touching Occitanie.

    Columns ``ze2020, libelle, partie_reg, ze_code, ze_libelle``; ``ze_code`` /
    ``ze_libelle`` are what prst uses (``0052-76`` « Arles (partie Occitanie) »
    for an interregional zone, the Insee code and label otherwise).
    """
    return _read("ze2020.csv")


def commune_ze() -> pl.DataFrame:
    """One zone per COG 2025 commune-actuelle: ``code, ze2020, ze_code, origine``."""
    return _read("commune_ze2020.csv")


def commune_ze_geo2022() -> pl.DataFrame:
    """The Insee composition in 2022 geography: ``code_geo2022, ze2020, ze_code`` (the zone an old
    commune code belonged to before its commune merged into another)."""
    return _read("commune_ze2020_geo2022.csv")


def commune_passage() -> pl.DataFrame:
    """Any recent Occitanie commune code -> COG 2025: ``code_source, code_cog2025, origine``."""
    return _read("commune_passage.csv")


def naf() -> pl.DataFrame:
    """The 732 NAF rév. 2 sub-classes (``code`` without dot, e.g. ``0111Z``) and their codes at
    every level: ``naf615`` (``01.11``), ``naf272`` (``01.1``), ``a88``, ``a64``, ``a38``, ``a21``,
    ``a17``, ``a10``."""
    return _read("naf.csv")


def naf_labels() -> pl.DataFrame:
    """French labels of every NAF level: ``level, code, libelle``."""
    return _read("naf_labels.csv")


def ctn() -> pl.DataFrame:
    """Comités techniques nationaux: ``code`` (``AA``…``II``, ``ZC``), ``alias`` (``A``…``I``, ``Z``),
    ``libelle``, ``origine``."""
    return _read("ctn.csv")


def spsti() -> pl.DataFrame:
    """The SPSTI of Occitanie (**fictitious** list, see PROVENANCE.md): ``code, nom, champ, departements``.

    ``champ`` is ``interprofessionnel`` or ``BTP``; ``departements`` the space-separated
    départements the service covers (BTP services overlap the interprofessional ones).
    """
    return _read("spsti.csv")


@cache
def spsti_departements() -> pl.DataFrame:
    """One row per SPSTI and département it covers: ``code, departement``."""
    return (
        spsti()
        .select("code", pl.col("departements").str.split(" ").alias("departement"))
        .explode("departement")
    )
