"""Geography dimension: commune codes, COG vintage mapping, roll-ups and labels.

Levels: ``commune`` (COG 2025 code), ``zone-emploi`` (ZE2020, or its Occitanie part
for an interregional zone: ``0052-76``), ``departement``, ``region``, ``france``
(code ``FR``). It is not a tree: zones d'emploi cross départements, so a figure is
rolled up from the finest level a source gives and never split to a finer one.
All functions are vectorised polars expressions or joins.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from prst_etl._lazy import polars as pl

from prst_etl import reference

from prst_etl.model.levels import TREE_LEVELS as GEO_LEVELS
from prst_etl.model.levels import TREE_TARGETS as _TARGETS
from prst_etl.model.levels import TreeLevel as GeoLevel

REGION_OCCITANIE = "76"
DEPARTEMENTS_OCCITANIE: tuple[str, ...] = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82")
CAISSES: dict[str, tuple[str, ...]] = {
    "carsat-mp": ("09", "12", "31", "32", "46", "65", "81", "82"),
    "carsat-lr": ("11", "30", "34", "48", "66"),
}
FRANCE = "FR"
FRANCE_LABEL = "France"

CommuneStatus = Literal["ok", "mapped", "unknown"]


def clean_commune_code(expr: pl.Expr) -> pl.Expr:
    """Normalise commune codes as written by people and spreadsheets.

    Removes every whitespace character (including non-breaking spaces), drops a
    numeric ``.0`` suffix (``9001.0``), upper-cases (``2a004`` -> ``2A004``) and
    restores the leading zero of a 4-digit code (``9001`` -> ``09001``). Anything
    else is kept as is (so the function is idempotent); null stays null.
    """
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d{4}$")).then(s.str.zfill(5)).otherwise(s)


def departement_of_code(expr: pl.Expr) -> pl.Expr:
    """Département deduced from the prefix of a (cleaned) 5-character commune code.

    Two characters (``31``, ``2A``, ``2B``), three for overseas codes (``971``…,
    ``975``…, ``98x``). Null when the code does not look like a commune code or
    the prefix is not a known département.
    """
    code = expr.cast(pl.String)
    prefix = pl.when(code.str.contains(r"^9[78]")).then(code.str.slice(0, 3)).otherwise(code.str.slice(0, 2))
    known = code.str.contains(r"^(\d\d|2[AB])\d{3}$") & prefix.is_in(_departement_codes())
    return pl.when(known).then(prefix).otherwise(pl.lit(None, dtype=pl.String))


@cache
def _departement_codes() -> list[str]:
    return reference.departements()["code"].to_list()


@cache
def _current_communes() -> pl.DataFrame:
    """COG 2025 communes actuelles of Occitanie: code, nom, departement, region, ze_code."""
    cur = reference.communes(2025).filter(pl.col("type") == "commune-actuelle")
    return cur.select("code", "nom", "departement", "region").join(
        reference.commune_ze().select("code", "ze_code"), on="code", how="left"
    )


def normalise_communes(codes: pl.Series) -> pl.DataFrame:
    """Map commune codes of any recent vintage to COG 2025.

    Returns one row per input, in order: ``input`` (original text), ``code`` (COG
    2025 commune, null if unknown), ``departement`` (of the mapped commune, else
    deduced from the code prefix, else null) and ``status``: ``ok`` (already a
    current code), ``mapped`` (older or déléguée code mapped to its current
    commune) or ``unknown`` (not an Occitanie commune code of the reference).
    """
    passage = reference.commune_passage().select("code_source", "code_cog2025")
    deps = _current_communes().select(pl.col("code").alias("code_cog2025"), pl.col("departement").alias("_dep"))
    df = pl.DataFrame({"input": codes.cast(pl.String)}).with_columns(_clean=clean_commune_code(pl.col("input")))
    df = df.join(passage, left_on="_clean", right_on="code_source", how="left", maintain_order="left").join(
        deps, on="code_cog2025", how="left", maintain_order="left"
    )
    status = (
        pl.when(pl.col("code_cog2025").is_null())
        .then(pl.lit("unknown"))
        .when(pl.col("code_cog2025") == pl.col("_clean"))
        .then(pl.lit("ok"))
        .otherwise(pl.lit("mapped"))
    )
    return df.select(
        "input",
        pl.col("code_cog2025").alias("code"),
        pl.coalesce("_dep", departement_of_code(pl.col("_clean"))).alias("departement"),
        status.alias("status"),
    )


def zone_moves(old: pl.Series, new: pl.Series) -> pl.DataFrame:
    """Old commune codes whose rows, once mapped to their COG 2025 commune, fall in another
    zone d'emploi than the old commune's.

    ``old`` (cleaned codes as the file gives them) and ``new`` (their COG 2025 code) are
    aligned. A commune nouvelle belongs to the zone of its chef-lieu (Insee's rule, see
    ``reference/PROVENANCE.md``): rows given under the code of a former commune of another
    zone move to that zone. Returns the distinct ``old_code, new_code, old_zone, new_zone``
    of those that move (old zone from Insee's composition in 2022 geography)."""
    old22 = reference.commune_ze_geo2022().select(pl.col("code_geo2022").alias("old_code"), pl.col("ze_code").alias("old_zone"))
    now = reference.commune_ze().select(pl.col("code").alias("new_code"), pl.col("ze_code").alias("new_zone"))
    pairs = pl.DataFrame({"old_code": old.cast(pl.String), "new_code": new.cast(pl.String)}).unique().drop_nulls()
    pairs = pairs.filter(pl.col("old_code") != pl.col("new_code"))
    out = pairs.join(old22, on="old_code", how="inner").join(now, on="new_code", how="inner")
    return out.filter(pl.col("old_zone") != pl.col("new_zone")).sort("old_code")


def _level_codes(level: GeoLevel) -> pl.DataFrame:
    """Codes of one level with their code at every coarser level it nests in."""
    match level:
        case "commune":
            return _current_communes().select(
                pl.col("code"),
                pl.col("code").alias("commune"),
                pl.col("ze_code").alias("zone-emploi"),
                pl.col("departement"),
                pl.col("region"),
            )
        case "zone-emploi":
            ze = _current_communes().group_by("ze_code").agg(pl.col("region").unique())
            if ze["region"].list.len().max() != 1:
                raise ValueError("a zone d'emploi code spans two régions")
            return ze.select(
                pl.col("ze_code").alias("code"),
                pl.col("ze_code").alias("zone-emploi"),
                pl.col("region").list.first(),
            ).sort("code")
        case "departement":
            return reference.departements().select(
                pl.col("code"), pl.col("code").alias("departement"), pl.col("region")
            )
        case "region":
            return reference.regions().select(pl.col("code"), pl.col("code").alias("region"))
        case "france":
            return pl.DataFrame({"code": [FRANCE]})
    raise ValueError(f"unknown geographic level {level!r}; expected one of {GEO_LEVELS}")


def rollup_map(from_level: GeoLevel = "commune") -> pl.DataFrame:
    """Roll-up table ``code, level, target`` from every code of ``from_level``.

    ``rollup_map()`` gives each COG 2025 Occitanie commune its targets at
    ``commune`` (itself), ``zone-emploi`` (its ``ze_code``), ``departement``,
    ``region`` and ``france``; ``rollup_map("departement")`` gives every
    département its département, région and France. Only levels that contain
    ``from_level`` are listed: never a finer level from a coarser one, and never
    département <-> zone d'emploi (they cross).
    """
    if from_level not in _TARGETS:
        raise ValueError(f"unknown geographic level {from_level!r}; expected one of {GEO_LEVELS}")
    base = _level_codes(from_level).with_columns(france=pl.lit(FRANCE))
    parts = [
        base.select("code", pl.lit(level).alias("level"), pl.col(level).alias("target"))
        for level in _TARGETS[from_level]
    ]
    return pl.concat(parts)


def labels() -> pl.DataFrame:
    """Labels ``geo_level, geo_code, geo_label`` for every level.

    Communes: COG 2025 names; zones d'emploi: Insee labels, an interregional
    zone's Occitanie part labelled « <zone> (partie Occitanie) »; départements and
    régions: all of France; ``france``/``FR``: « France ».
    """
    parts = [
        _current_communes().select(pl.lit("commune").alias("geo_level"), pl.col("code"), pl.col("nom")),
        reference.zones_emploi().select(pl.lit("zone-emploi"), pl.col("ze_code"), pl.col("ze_libelle")),
        reference.departements().select(pl.lit("departement"), pl.col("code"), pl.col("nom")),
        reference.regions().select(pl.lit("region"), pl.col("code"), pl.col("nom")),
        pl.DataFrame({"geo_level": ["france"], "code": [FRANCE], "nom": [FRANCE_LABEL]}),
    ]
    names = ["geo_level", "geo_code", "geo_label"]
    return pl.concat([p.rename(dict(zip(p.columns, names, strict=True))) for p in parts])
