"""Territories that are not in the COG tree: SPSTI perimeters per year, and what each
territory covers (its départements), plus the roll-up tables between any two levels.

Pure functions of the packaged referentials and of the perimeter rows the warehouse holds
(the source ``spsti-perimetres``): a perimeter is a dated set of communes, valid on
1 July of a year, with a scope (``champ``: interprofessionnel, BTP…).
"""

from __future__ import annotations

from datetime import date

from prst_etl._lazy import polars as pl

from prst_etl import reference
from prst_etl.reference import geography, sectors

PERIMETER_SOURCE = "spsti-perimetres"
"""The reference source whose rows are the SPSTI perimeters."""


def perimeters(rows: pl.DataFrame, year: int) -> pl.DataFrame:
    """Memberships valid on 1 July of ``year``: ``commune, spsti, spsti_nom, champ``.

    ``rows``: the current ``perimetres`` facts (all loads). A service whose name
    changed keeps its latest name.
    """
    day = date(year, 7, 1).isoformat()
    valid = rows.filter((pl.col("date_debut") <= day) & (pl.col("date_fin") >= day))
    return valid.select(pl.col("geo_code").alias("commune"), "spsti", "spsti_nom", "champ").unique().sort("spsti", "commune")


def spsti_map(perims: pl.DataFrame | None, year: int) -> pl.DataFrame:
    """``commune → spsti`` for one year, with the service's scope (``champ``) and name."""
    if perims is None:
        return pl.DataFrame(schema={"commune": pl.String, "spsti": pl.String, "spsti_nom": pl.String, "champ": pl.String})
    return perimeters(perims, year)


def geo_map(from_level: str, to_level: str, codes: pl.Series, spsti: pl.DataFrame) -> pl.DataFrame:
    """``geo_code → target`` (and ``champ`` for SPSTI targets) for the codes of a part."""
    if from_level == to_level:
        return pl.DataFrame({"geo_code": codes.unique(), "target": codes.unique()})
    if to_level == "spsti" and from_level == "commune":
        return spsti.select(pl.col("commune").alias("geo_code"), pl.col("spsti").alias("target"), "champ")
    if from_level == "spsti-departement":
        parts = pl.DataFrame({"geo_code": codes.unique()}).with_columns(
            spsti=pl.col("geo_code").str.split("@").list.first(), dep=pl.col("geo_code").str.split("@").list.last()
        )
        if to_level == "spsti":
            return parts.select("geo_code", pl.col("spsti").alias("target"))
        if to_level == "departement":
            return parts.select("geo_code", pl.col("dep").alias("target"))
        deps = reference.departements().select(pl.col("code").alias("dep"), pl.col("region").alias("target"))
        return parts.join(deps, on="dep").select("geo_code", "target")
    m = geography.rollup_map(from_level)  # type: ignore[arg-type]
    return m.filter(pl.col("level") == to_level).select(pl.col("code").alias("geo_code"), "target")


def territory_departements(level: str, spsti: pl.DataFrame | None = None) -> pl.DataFrame:
    """``geo_code, departement``: the départements a territory lies in (for coverage)."""
    deps = reference.departements()
    if level == "commune":
        cur = reference.communes(2025).filter(pl.col("type") == "commune-actuelle")
        return cur.select(pl.col("code").alias("geo_code"), "departement")
    if level == "zone-emploi":
        cur = reference.communes(2025).filter(pl.col("type") == "commune-actuelle").select("code", "departement")
        return reference.commune_ze().join(cur, on="code").select(pl.col("ze_code").alias("geo_code"), "departement").unique()
    if level == "departement":
        return deps.select(pl.col("code").alias("geo_code"), pl.col("code").alias("departement"))
    if level == "region":
        return deps.select(pl.col("region").alias("geo_code"), pl.col("code").alias("departement"))
    if level == "france":
        return deps.select(pl.lit("FR").alias("geo_code"), pl.col("code").alias("departement"))
    if level == "spsti":
        if spsti is None or spsti.height == 0:
            return pl.DataFrame(schema={"geo_code": pl.String, "departement": pl.String})
        cur = reference.communes(2025).select(pl.col("code").alias("commune"), "departement").unique("commune")
        return spsti.join(cur, on="commune").select(pl.col("spsti").alias("geo_code"), "departement").unique()
    if level == "spsti-departement":
        return pl.DataFrame(schema={"geo_code": pl.String, "departement": pl.String})
    raise ValueError(level)


def section_f_codes(level: str) -> list[str]:
    """Codes of a sector level that lie in NAF section F (construction), for BTP services."""
    try:
        m = sectors.rollup_map(level)  # type: ignore[arg-type]
    except ValueError:
        return []
    return m.filter((pl.col("level") == "a21") & (pl.col("target") == "F"))["code"].to_list()
