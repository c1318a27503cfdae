"""Rolling additive facts up the hierarchies of each dimension (polars, lazy, columnar).

Rules:

* a cell at a coarser level is the sum of the finest cells below it — never the
  other way round: a finer geographic level than the source's is not derived;
* a sum that includes a cell without a number (sign ``s``, ``nd``, ``///``)
  has no number either and carries the strongest such sign;
* the « all » code ``_T`` is added for every dimension the source breaks down.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from prst_etl import geography, sectors
from prst_etl.dimensions import NO_VALUE, STATUS_DTYPE, STATUS_PROVISIONAL, STATUS_ZERO, TOTAL
from prst_etl.facts import status_col

GEO_ORDER = ("commune", "zone-emploi", "departement", "region", "france")


def sum_cells(df: pl.LazyFrame | pl.DataFrame, dims: Sequence[str], measures: Sequence[str], *, maintain_order: bool = True):  # type: ignore[no-untyped-def]
    """Add up the rows that share ``dims``, status-aware (see module docstring).

    Only measures that have a status column get the status logic: a table whose
    provider wrote no sign is summed plainly (much faster on large cubes).
    """
    names = set(df.collect_schema().names()) if isinstance(df, pl.LazyFrame) else set(df.columns)
    aggs: list[pl.Expr] = []
    for m in measures:
        st = status_col(m)
        if st not in names:
            aggs.append(pl.col(m).sum())
            continue
        missing = pl.col(st).is_in(NO_VALUE).fill_null(False)
        aggs.append(pl.when(missing.any()).then(None).otherwise(pl.col(m).sum()).alias(m))
        # Enum order is s < nd < /// < - < p: min() keeps the strongest sign present.
        # No value if a part has none; provisional if a part is; « - » only if all parts are « - ».
        aggs.append(
            pl.when(missing.any())
            .then(pl.col(st).filter(missing).min())
            .when((pl.col(st) == STATUS_PROVISIONAL).any())
            .then(pl.lit(STATUS_PROVISIONAL, dtype=STATUS_DTYPE))
            .when(pl.col(st).is_not_null().all() & (pl.col(st) == STATUS_ZERO).all())
            .then(pl.lit(STATUS_ZERO, dtype=STATUS_DTYPE))
            .otherwise(None)
            .alias(st)
        )
    return df.group_by(list(dims), maintain_order=maintain_order).agg(aggs)


def geo_reachable(from_level: str, to_level: str) -> bool:
    """Whether a level can be computed from a finer one (never downwards, never ZE ↔ département)."""
    if from_level == to_level:
        return True
    try:
        targets = geography.rollup_map(from_level)  # type: ignore[arg-type]
    except ValueError:
        return False
    return to_level in set(targets["level"].unique().to_list())


def roll_geo(lf: pl.LazyFrame, from_level: str, to_level: str, dims: list[str], measures: list[str]) -> pl.LazyFrame:
    """Facts given at ``from_level`` summed to ``to_level``."""
    if from_level == to_level:
        return lf
    m = (
        geography.rollup_map(from_level)  # type: ignore[arg-type]
        .filter(pl.col("level") == to_level)
        .select(pl.col("code").alias("geo_code"), pl.col("target"))
        .lazy()
    )
    rolled = (
        lf.join(m, on="geo_code", how="inner")
        .with_columns(geo_code=pl.col("target"), geo_level=pl.lit(to_level))
        .drop("target")
    )
    return sum_cells(rolled, dims, measures)


def roll_sector(
    lf: pl.LazyFrame, levels: Sequence[str], dims: list[str], measures: list[str], from_level: str = "naf732"
) -> pl.LazyFrame:
    """Facts given by NAF sub-class summed to each of ``levels`` (``ensemble`` = all sectors)."""
    m = (
        sectors.rollup_map(from_level)  # type: ignore[arg-type]
        .filter(pl.col("level").is_in(list(levels)))
        .select(pl.col("code").alias("sector_code"), pl.col("level").alias("_lvl"), pl.col("target"))
        .lazy()
    )
    rolled = (
        lf.join(m, on="sector_code", how="inner")
        .with_columns(sector_code=pl.col("target"), sector_level=pl.col("_lvl"))
        .drop("target", "_lvl")
    )
    return sum_cells(rolled, dims, measures)


def add_totals(lf: pl.LazyFrame, dim: str, dims: list[str], measures: list[str], *, maintain_order: bool = True) -> pl.LazyFrame:
    """Add the ``_T`` rows of one dimension (when the data break it down)."""
    detail = lf.filter(pl.col(dim) != TOTAL)
    total = sum_cells(detail.with_columns(pl.lit(TOTAL).alias(dim)), dims, measures, maintain_order=maintain_order)
    return pl.concat([lf, total], how="vertical_relaxed")
