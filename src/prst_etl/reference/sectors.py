"""Sector dimension: NAF rév. 2 codes, roll-ups to aggregated levels and labels.

Levels: ``naf732`` (sub-class, code without dot: ``0111Z``), ``naf615`` (class
``01.11``), ``naf272`` (group ``01.1``), ``a88`` (division ``01``), ``a64``, ``a38``,
``a21`` (section), ``a17``, ``a10`` and the total ``ensemble`` (code ``_T``).
An unknown NAF (``xxxxx`` in the Ameli files) is ``_U`` at every level.
CTN and risk codes are separate classifications, not NAF levels.
"""

from __future__ import annotations

from functools import cache
from prst_etl._lazy import polars as pl

from prst_etl import reference

from prst_etl.model.levels import NAF_LEVELS, SECTOR_LEVELS, SectorLevel

TOTAL = "_T"
TOTAL_LABEL = "Ensemble des secteurs"
UNKNOWN = "_U"
UNKNOWN_LABEL = "Secteur inconnu (NAF non renseigné)"


def clean_naf_code(expr: pl.Expr) -> pl.Expr:
    """Normalise a NAF sub-class code: ``01.11Z``, ``0111z``, `` 0111Z `` -> ``0111Z``.

    Removes whitespace, upper-cases, drops the dot of a sub-class, restores a lost
    leading zero (``111Z`` -> ``0111Z``) and turns Ameli's unknown code (``xxxxx``,
    ``xx``…, any case) into ``_U``. Other values are kept as is; null stays null.
    """
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.to_uppercase()
    s = s.str.replace(r"^(\d\d)\.(\d\d[A-Z])$", "${1}${2}")
    s = pl.when(s.str.contains(r"^\d{3}[A-Z]$")).then(s.str.zfill(5)).otherwise(s)
    return s.str.replace(r"^X+$", UNKNOWN, literal=False)


@cache
def _subclasses() -> list[str]:
    return reference.naf()["code"].to_list()


def is_known_naf(expr: pl.Expr) -> pl.Expr:
    """True where the cleaned code is one of the 732 sub-classes (``_U`` and null are not)."""
    return clean_naf_code(expr).is_in(_subclasses()).fill_null(False)


@cache
def _table() -> pl.DataFrame:
    """Sub-classes (plus ``_U``) with their code at every level, ``ensemble`` included."""
    t = reference.naf().rename({"code": "naf732"})
    unknown = pl.DataFrame({c: [UNKNOWN] for c in t.columns})
    return pl.concat([t, unknown]).with_columns(ensemble=pl.lit(TOTAL))


def rollup_map(from_level: SectorLevel = "naf732") -> pl.DataFrame:
    """Roll-up table ``code, level, target``.

    By default from every sub-class (and ``_U``) to every level, itself and
    ``ensemble``/``_T`` included. With another ``from_level``, only the levels
    that are a function of it are listed (e.g. ``a38`` -> ``a38, a21, a17, a10,
    ensemble``; ``a21`` does not give ``a17``): never a finer level from a coarser one.
    """
    if from_level not in SECTOR_LEVELS:
        raise ValueError(f"unknown sector level {from_level!r}; expected one of {SECTOR_LEVELS}")
    t = _table()
    # a level is reachable when each from_level code has a single code at that level
    spread = t.group_by(from_level).agg(pl.all().n_unique())
    targets = [lvl for lvl in SECTOR_LEVELS if lvl == from_level or spread[lvl].max() == 1]
    base = t.select(targets).unique(maintain_order=True)
    return pl.concat(
        [
            base.select(pl.col(from_level).alias("code"), pl.lit(lvl).alias("level"), pl.col(lvl).alias("target"))
            for lvl in targets
        ]
    )


def labels() -> pl.DataFrame:
    """Labels ``sector_level, sector_code, sector_label`` for every level, with ``_U`` at each
    NAF level and ``ensemble``/``_T``."""
    lab = reference.naf_labels().select(
        pl.col("level").alias("sector_level"),
        pl.col("code").alias("sector_code"),
        pl.col("libelle").alias("sector_label"),
    )
    unknown = pl.DataFrame({"sector_level": list(NAF_LEVELS), "sector_code": UNKNOWN, "sector_label": UNKNOWN_LABEL})
    total = pl.DataFrame({"sector_level": ["ensemble"], "sector_code": [TOTAL], "sector_label": [TOTAL_LABEL]})
    return pl.concat([lab, unknown, total])
