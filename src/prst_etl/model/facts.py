"""The canonical shape of warehouse facts, and its pandera contract.

A fact table holds *additive counts* (never rates) at the finest grain a source
gives. It is wide: one row per cell, keyed by

``year, geo_level, geo_code, sector_level, sector_code, sex, age_band, <extra dims>``

with one Float64 column per measure and, beside it when the provider wrote
conventional signs in that column, ``<measure>__status`` holding the sign (null
when the value is an ordinary number; a file without any sign has no status
column). A value is null exactly when its status is ``s``, ``nd`` or ``///``; a
``-`` (résultat nul) has value 0.

The warehouse adds ``load_id``. Totals are not stored: the « all » code ``_T``
appears in a key only for a dimension the source does not break down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prst_etl._lazy import polars as pl

if TYPE_CHECKING:  # pandera is imported when a contract is built, not by ``prst --help``
    import pandera.polars as pa

from prst_etl.model.codes import NO_VALUE, SEXES, STATUSES, TOTAL, status_dtype

from prst_etl.model.levels import GEO_LEVELS, SECTOR_LEVELS, SECTOR_TOTAL_LEVEL, GeoLevel  # noqa: F401 (re-exported)

KEY_COLUMNS: tuple[str, ...] = ("year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band")
STATUS_SUFFIX = "__status"
AGE_PATTERN = r"^(?:Y_LT\d+|Y\d+T\d+|Y_GE\d+|_T)$"


@dataclass(frozen=True)
class Measure:
    id: str
    label: str
    unit: str = "nombre"


@dataclass(frozen=True)
class Pivot:
    """A dimension stored pivoted: one measure column per code.

    The 13 risk families of the AT workbook are the dimension ``risk_family`` of
    measure ``at_risque``; storing them as 13 columns of the ``at`` table (as the
    provider writes them) instead of 13 times more rows keeps ingestion as fast
    as reading the file. Exports show them long, with a ``risk_family`` column,
    and the ``_T`` total is their sum.
    """

    dimension: str
    measure: str
    label: str
    columns: tuple[tuple[str, str, str], ...]
    """(storage column, code, French label) of each value of the dimension."""

    @property
    def storage(self) -> list[str]:
        return [c for c, _, _ in self.columns]


@dataclass(frozen=True)
class TableSpec:
    """A fact table a source produces: its extra dimensions and its additive measures."""

    name: str
    label: str
    measures: tuple[Measure, ...]
    extra_dims: tuple[str, ...] = ()
    pivots: tuple[Pivot, ...] = ()

    @property
    def measure_ids(self) -> list[str]:
        return [m.id for m in self.measures]


BASE_COLUMNS = ["geo_level", "geo_code", "geo_label", "sector_level", "sector_code", "sector_label", "sex", "age_band"]
"""First columns of a long export (then the source dimensions, then :data:`TAIL_COLUMNS`)."""
TAIL_COLUMNS = ["year", "indicator", "value", "status", "ci_low", "ci_high", "coverage", "sources"]


def status_col(measure: str) -> str:
    return measure + STATUS_SUFFIX


def fact_columns(spec: TableSpec) -> list[str]:
    cols = list(KEY_COLUMNS) + list(spec.extra_dims)
    for m in spec.measure_ids:
        cols += [m, status_col(m)]
    return cols


def dims_of(spec: TableSpec) -> list[str]:
    return list(KEY_COLUMNS) + list(spec.extra_dims)


def _frame_check(name: str, expr: pl.Expr) -> pa.Check:
    import pandera.polars as pa

    return pa.Check(lambda data: data.lazyframe.select(expr), name=name)


def fact_schema(spec: TableSpec, present: list[str] | None = None) -> pa.DataFrameSchema:
    """The pandera contract of one fact table (before ``load_id`` is added).

    ``present``: the columns of the frame to check (status columns are optional).
    """
    import pandera.polars as pa

    present_set = set(present) if present is not None else None
    text = dict(dtype=pl.String, nullable=False)
    columns: dict[str, pa.Column] = {
        "year": pa.Column(pl.Int32, checks=pa.Check.in_range(1900, 2100), nullable=False),
        "geo_level": pa.Column(checks=pa.Check.isin(GEO_LEVELS), **text),
        "geo_code": pa.Column(checks=pa.Check.str_length(1, 24), **text),  # SPSTI-BTP-MP@09: 15
        "sector_level": pa.Column(checks=pa.Check.isin(SECTOR_LEVELS), **text),
        "sector_code": pa.Column(checks=pa.Check.str_length(1, 12), **text),
        "sex": pa.Column(checks=pa.Check.isin(SEXES), **text),
        "age_band": pa.Column(checks=pa.Check.str_matches(AGE_PATTERN), **text),
    }
    for d in spec.extra_dims:
        columns[d] = pa.Column(checks=pa.Check.str_length(1, 200), **text)
    consistent = []
    for m in spec.measure_ids:
        st = status_col(m)
        has_status = present_set is None or st in present_set
        # without a status column every value is a number
        columns[m] = pa.Column(pl.Float64, checks=pa.Check.ge(0), nullable=has_status)
        if has_status:
            columns[st] = pa.Column(nullable=True, required=present_set is None)
            # a value is null exactly when the sign says there is no number
            no_number = pl.col(st).is_in(NO_VALUE).fill_null(False)
            consistent.append(pl.col(m).is_null() == no_number)
    checks = [_frame_check("value-status", pl.all_horizontal(consistent))] if consistent else []
    return pa.DataFrameSchema(
        columns,
        checks=checks,
        unique=dims_of(spec),
        strict=True,
        ordered=False,
        name=spec.name,
    )


def drop_empty_status(df: pl.DataFrame) -> pl.DataFrame:
    """Drop the status columns of measures where the provider wrote no sign."""
    cols = [c for c in df.columns if c.endswith(STATUS_SUFFIX)]
    if not cols:
        return df
    counts = df.select(pl.col(cols).null_count()).row(0)
    empty = [c for c, n in zip(cols, counts) if n == df.height]
    return df.drop(empty)


def with_missing_dims(lf: pl.LazyFrame, spec: TableSpec) -> pl.LazyFrame:
    """Add, as ``_T``, the source dimensions a stored table lacks: a part written before the
    source gained a dimension (e.g. ``mp_psy`` of the MP tables) did not break it down."""
    names = set(lf.collect_schema().names())
    missing = [d for d in spec.extra_dims if d not in names]
    return lf.with_columns([pl.lit(TOTAL).alias(d) for d in missing]) if missing else lf


def with_status_columns(lf: pl.LazyFrame, spec: TableSpec) -> pl.LazyFrame:
    """Add the status columns a stored table omits (all null: no sign was written), and the
    source dimensions it lacks (see :func:`with_missing_dims`)."""
    lf = with_missing_dims(lf, spec)
    names = set(lf.collect_schema().names())
    missing = [status_col(m) for m in spec.measure_ids if status_col(m) not in names]
    return lf.with_columns([pl.lit(None, dtype=status_dtype()).alias(c) for c in missing]) if missing else lf


def empty_frame(spec: TableSpec) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"year": pl.Int32()}
    for c in fact_columns(spec)[1:]:
        if c.endswith(STATUS_SUFFIX):
            schema[c] = status_dtype()
        elif c in spec.measure_ids:
            schema[c] = pl.Float64()
        else:
            schema[c] = pl.String()
    return pl.DataFrame(schema=schema)


__all__ = [
    "GEO_LEVELS",
    "KEY_COLUMNS",
    "SECTOR_LEVELS",
    "STATUSES",
    "TOTAL",
    "fact_columns",
    "fact_schema",
    "status_col",
]
