"""Status-aware sums of additive facts (polars, lazy, columnar), used by ingestion (cells
merged by the commune mapping) and by :mod:`prst_etl.pipeline.aggregate` (every roll-up).

* a sum that includes a cell without a number (sign ``s``, ``nd``, ``///``) has no
  number either and carries the strongest such sign; ``p`` (provisional) propagates;
* :func:`add_totals` adds the « all » code ``_T`` of a dimension the data break down.
"""

from __future__ import annotations

from collections.abc import Sequence

from prst_etl._lazy import polars as pl

from prst_etl.model.codes import NO_VALUE, STATUS_PROVISIONAL, STATUS_ZERO, TOTAL, status_dtype
from prst_etl.model.facts import status_col



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
            .then(pl.lit(STATUS_PROVISIONAL, dtype=status_dtype()))
            .when(pl.col(st).is_not_null().all() & (pl.col(st) == STATUS_ZERO).all())
            .then(pl.lit(STATUS_ZERO, dtype=status_dtype()))
            .otherwise(None)
            .alias(st)
        )
    return df.group_by(list(dims), maintain_order=maintain_order).agg(aggs)


def add_totals(lf: pl.LazyFrame, dim: str, dims: list[str], measures: list[str], *, maintain_order: bool = True) -> pl.LazyFrame:
    """Add the ``_T`` rows of one dimension (when the data break it down)."""
    detail = lf.filter(pl.col(dim) != TOTAL)
    total = sum_cells(detail.with_columns(pl.lit(TOTAL).alias(dim)), dims, measures, maintain_order=maintain_order)
    return pl.concat([lf, total], how="vertical_relaxed")
