"""``prst export``: the long table of counts and rates at one geographic level.

Columns: ``geo_level, geo_code, geo_label, sector_level, sector_code,
sector_label, sex, age_band, <extra dimensions>, year, indicator, value,
status, source``. The « all » code of every dimension is ``_T``
(``sector_level = ensemble``). Parquet for tools, CSV (``;``, UTF-8 with BOM)
for spreadsheets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from prst_etl import geography, sectors
from prst_etl.dimensions import NO_VALUE, TOTAL
from prst_etl.errors import UsageError
from prst_etl.facts import KEY_COLUMNS, SECTOR_LEVELS, status_col, with_status_columns
from prst_etl.indicators import catalogue, rate_columns
from prst_etl.rollup import add_totals, geo_reachable, roll_geo, roll_sector
from prst_etl.sources import all_sources
from prst_etl.warehouse import Warehouse, open_warehouse

EXPORT_LEVELS = ("commune", "zone-emploi", "departement", "region", "france")
FORMATS = ("parquet", "csv")
BASE_COLUMNS = ["geo_level", "geo_code", "geo_label", "sector_level", "sector_code", "sector_label", "sex", "age_band"]
TAIL_COLUMNS = ["year", "indicator", "value", "status", "source"]


@dataclass
class ExportResult:
    path: Path | None
    rows: int
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def level_frame(wh: Warehouse, level: str, years: list[int] | None = None, sector_levels: list[str] | None = None) -> tuple[pl.DataFrame, list[str]]:
    """Every count and rate of the current facts at one geographic level (long format)."""
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    sector_levels = list(sector_levels or SECTOR_LEVELS)
    notes: list[str] = []
    frames: list[pl.LazyFrame] = []
    extra_dims: set[str] = set()
    for source_id, cls in all_sources().items():
        src = cls()
        for spec in src.tables:
            lf = wh.scan_facts(source_id, spec.name, years)
            if lf is None:
                continue
            dims = list(KEY_COLUMNS) + list(spec.extra_dims)
            measures = spec.measure_ids
            from_levels = lf.select(pl.col("geo_level").unique()).collect()["geo_level"].to_list()
            for from_level in sorted(from_levels):
                if not geo_reachable(from_level, level):
                    notes.append(
                        f"{source_id} ({spec.name}) : données au niveau « {from_level} », le niveau « {level} » "
                        "ne peut pas en être déduit (prst ne calcule jamais un niveau plus fin que celui de la source)."
                    )
                    continue
                part = with_status_columns(lf.filter(pl.col("geo_level") == from_level).drop("load_id"), spec)
                part = roll_geo(part, from_level, level, dims, measures)
                part = roll_sector(part, sector_levels, dims, measures)
                for d in ["sex", "age_band", *spec.extra_dims]:
                    part = add_totals(part, d, dims, measures)
                frames.append(_long(part, spec, dims, source_id))
                extra_dims.update(spec.extra_dims)
                extra_dims.update(p.dimension for p in spec.pivots)
    if not frames:
        return _empty(sorted(extra_dims)), notes
    extras = sorted(extra_dims)
    df = pl.concat(
        [f.with_columns([pl.lit("_T").alias(d) for d in extras if d not in f.collect_schema().names()]) for f in frames],
        how="diagonal_relaxed",
    )
    geo_labels = geography.labels().lazy()
    sec_labels = sectors.labels().lazy()
    df = (
        df.join(geo_labels, on=["geo_level", "geo_code"], how="left")
        .join(sec_labels, on=["sector_level", "sector_code"], how="left")
        .select(BASE_COLUMNS + extras + TAIL_COLUMNS)
        .sort(["geo_code", "sector_level", "sector_code", "sex", "age_band", *extras, "year", "source", "indicator"])
    )
    return df.collect(), notes


def _long(lf: pl.LazyFrame, spec, dims: list[str], source_id: str) -> pl.LazyFrame:  # type: ignore[no-untyped-def]
    """Wide cells → one row per indicator: the counts, the pivoted dimensions, then the rates."""
    pivoted = {c for p in spec.pivots for c in p.storage}
    measures = [m for m in spec.measure_ids if m not in pivoted]
    rates = [i for i in catalogue().values() if i.is_rate and i.numerator in measures and i.denominator in measures]
    lf = lf.with_columns([e for ind in rates for e in rate_columns(ind)])
    pivot_dims = [p.dimension for p in spec.pivots]

    def rows(name: str, value: pl.Expr, status: pl.Expr, codes: dict[str, str] | None = None) -> pl.LazyFrame:
        codes = codes or {}
        return lf.select(
            *dims,
            *[pl.lit(codes.get(d, TOTAL)).alias(d) for d in pivot_dims],
            pl.lit(name).alias("indicator"),
            value.alias("value"),
            status.cast(pl.String).alias("status"),
            pl.lit(source_id).alias("source"),
        )

    parts = [rows(n, pl.col(n), pl.col(status_col(n))) for n in [*measures, *(i.id for i in rates)]]
    for p in spec.pivots:
        for col, code, _label in p.columns:
            parts.append(rows(p.measure, pl.col(col), pl.col(status_col(col)), {p.dimension: code}))
        value, status = total_of(p.storage)
        parts.append(rows(p.measure, value, status))
    return pl.concat(parts)


def total_of(columns: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """Sum of measure columns of one row, status-aware (no value if one part has none)."""
    missing = [pl.col(status_col(c)).is_in(NO_VALUE).fill_null(False) for c in columns]
    any_missing = pl.any_horizontal(missing)
    value = pl.when(any_missing).then(None).otherwise(pl.sum_horizontal([pl.col(c) for c in columns]))
    status = pl.when(any_missing).then(
        pl.min_horizontal([pl.when(m).then(pl.col(status_col(c))) for m, c in zip(missing, columns)])
    )
    return value, status


def _empty(extras: list[str]) -> pl.DataFrame:
    schema = {c: pl.String for c in BASE_COLUMNS + extras} | {
        "year": pl.Int32,
        "indicator": pl.String,
        "value": pl.Float64,
        "status": pl.String,
        "source": pl.String,
    }
    return pl.DataFrame(schema=schema)


def default_path(wh: Warehouse, level: str, years: list[int] | None, fmt: str) -> Path:
    yr = "-".join(map(str, sorted(years))) if years else "toutes-annees"
    return wh.exports_dir / f"prst_{level}_{yr}.{fmt}"


def write_frame(df: pl.DataFrame, path: Path, fmt: str, decimal_comma: bool = False) -> None:
    """Write atomically (temporary file then rename): a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "parquet":
        df.write_parquet(tmp, compression="zstd", statistics=True)
    else:
        with tmp.open("wb") as fh:
            fh.write(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
            df.write_csv(fh, separator=";", decimal_comma=decimal_comma, float_precision=None)
    os.replace(tmp, path)


def export(
    level: str,
    *,
    warehouse: Path | str | None = None,
    years: list[int] | None = None,
    fmt: str = "parquet",
    output: Path | None = None,
    sector_levels: list[str] | None = None,
    decimal_comma: bool = False,
) -> ExportResult:
    if fmt not in FORMATS:
        raise UsageError(f"Format inconnu : « {fmt} ».", hint="Formats : parquet, csv.")
    for s in sector_levels or []:
        if s not in SECTOR_LEVELS:
            raise UsageError(f"Niveau sectoriel inconnu : « {s} ».", hint="Niveaux : " + ", ".join(SECTOR_LEVELS))
    with open_warehouse(warehouse) as wh:
        df, notes = level_frame(wh, level, years, sector_levels)
        path = output or default_path(wh, level, years, fmt)
    write_frame(df, path, fmt, decimal_comma)
    return ExportResult(path=path, rows=df.height, notes=notes, sources=sorted(df["source"].unique().to_list()))
