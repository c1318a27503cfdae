"""Combining the sources of a series at one level, and the long rows of a measure.

Sources of one series measure the same thing on disjoint territories (the two Carsat of
Occitanie): for each territory, a source that covers it whole is used alone (the finest
one first, see :data:`~prst_etl.model.levels.GRAIN`); otherwise the sources covering parts
of it are added up, and ``coverage`` says which share of its départements they cover.
"""

from __future__ import annotations

import polars as pl

from prst_etl.model.codes import NO_VALUE, TOTAL
from prst_etl.model.facts import status_col
from prst_etl.model.levels import GRAIN
from prst_etl.model.rollup import sum_cells
from prst_etl.reference import geography
from prst_etl.reference.territories import spsti_map, territory_departements
from prst_etl.warehouse import Warehouse

def coverage(wh: Warehouse, level: str, parts: pl.DataFrame) -> pl.DataFrame:
    """``source, year, geo_code, n_cov, n_terr``: départements of each territory a source's load covers."""
    loads = wh.load_coverage()
    p = parts.select("source", "year", "load_id").unique().join(loads, on="load_id")
    all_deps = geography.labels().filter(pl.col("geo_level") == "departement")["geo_code"].to_list()
    p = p.with_columns(
        pl.when(pl.col("coverage").list.contains("FR")).then(pl.lit(all_deps)).otherwise(pl.col("coverage")).alias("departement")
    ).explode("departement")
    perims = wh.perimeter_rows() if level == "spsti" else None
    out = []
    for (year,), sub in p.group_by("year"):
        terr = territory_departements(level, spsti_map(perims, int(year)) if level == "spsti" else None)
        n_terr = terr.group_by("geo_code").len("n_terr")
        cov = sub.join(terr, on="departement").group_by("source", "year", "geo_code").agg(
            pl.col("departement").n_unique().alias("n_cov"), pl.col("source_level").first()
        )
        out.append(cov.join(n_terr, on="geo_code", how="left"))
    if not out:
        return pl.DataFrame(schema={"source": pl.String, "year": pl.Int32, "geo_code": pl.String, "n_cov": pl.UInt32,
                                    "source_level": pl.String, "n_terr": pl.UInt32})  # fmt: skip
    return pl.concat(out, how="vertical_relaxed")



def combine(frames: list[pl.DataFrame], dims: list[str], measures: list[str], cov: pl.DataFrame) -> pl.DataFrame:
    """Cells of the sources of one series: a source covering the whole territory alone, else the sum of the parts."""
    df = pl.concat(frames, how="diagonal_relaxed")
    df = df.join(cov.with_columns(pl.col("year").cast(pl.Int32)), on=["source", "year", "geo_code"], how="left")
    df = df.with_columns(
        pl.col("n_cov").fill_null(0), pl.col("n_terr").fill_null(0),
        (pl.col("source_level").str.split(",").list.first().replace_strict(GRAIN, default=9) * 1000
         + pl.col("source").rank("dense")).alias("_order"),
    )  # fmt: skip
    df = df.with_columns(_full=(pl.col("n_cov") >= pl.col("n_terr")) & (pl.col("n_terr") > 0))
    key = list(dims)
    best_full = pl.col("_order").filter(pl.col("_full")).min().over(key)
    any_full = pl.col("_full").any().over(key)
    overlap = pl.col("n_cov").sum().over(key) > pl.col("n_terr").max().over(key)
    best_cov = pl.col("n_cov").max().over(key)
    first_best = pl.col("_order").filter(pl.col("n_cov") == best_cov).min().over(key)
    keep = (
        pl.when(any_full).then(pl.col("_order") == best_full)
        .when(overlap).then(pl.col("_order") == first_best)
        .otherwise(True)
    )  # fmt: skip
    df = df.filter(keep)
    summed = sum_cells(df, key, measures)
    meta = df.group_by(key, maintain_order=True).agg(
        pl.col("source").unique().sort().str.join("+").alias("sources"),
        pl.col("n_cov").sum().alias("n_cov"),
        pl.col("n_terr").max().alias("n_terr"),
    )
    out = summed.join(meta, on=key, how="left", nulls_equal=True)
    coverage = (
        pl.when(pl.col("n_terr") == 0)
        .then(pl.lit("complet"))
        .when(pl.col("n_cov") >= pl.col("n_terr"))
        .then(pl.lit("complet"))
        .otherwise(pl.lit("partiel : ") + pl.col("n_cov").cast(pl.String) + "/" + pl.col("n_terr").cast(pl.String) + " départements")
    )
    return out.with_columns(coverage.alias("coverage")).drop("n_cov", "n_terr")



def measure_rows(df: pl.DataFrame, spec, dims: list[str], series: str, extras: list[str], measure: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """Long rows of one measure of a combined wide frame (a pivoted measure: one row per code, plus ``_T``)."""
    pivot_dims = [p.dimension for p in spec.pivots]

    def rows(value: pl.Expr, status: pl.Expr, codes: dict[str, str] | None = None) -> pl.DataFrame:
        codes = codes or {}
        return df.select(
            *dims,
            *[pl.lit(codes.get(d, TOTAL)).alias(d) for d in pivot_dims],
            pl.lit(series).alias("series"),
            pl.lit(measure).alias("indicator"),
            value.cast(pl.Float64).alias("value"),
            status.cast(pl.String).alias("status"),
            "sources",
            "coverage",
        )

    pivot = next((p for p in spec.pivots if p.measure == measure), None)
    if pivot is None:
        out = rows(pl.col(measure), pl.col(status_col(measure)))
    else:
        parts = [rows(pl.col(col), pl.col(status_col(col)), {pivot.dimension: code}) for col, code, _ in pivot.columns]
        value, status = total_of(pivot.storage)
        out = pl.concat([*parts, rows(value, status)], how="vertical_relaxed")
    missing = [d for d in extras if d not in out.columns]
    return out.with_columns([pl.lit(TOTAL).alias(d) for d in missing])



def table_measures(spec) -> list[str]:  # type: ignore[no-untyped-def]
    """The measures of a table as exported: pivoted storage columns become their measure."""
    pivoted = {c for p in spec.pivots for c in p.storage}
    return [m for m in spec.measure_ids if m not in pivoted] + [p.measure for p in spec.pivots]



def total_of(columns: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """Sum of measure columns of one row, status-aware (no value if one part has none)."""
    missing = [pl.col(status_col(c)).is_in(NO_VALUE).fill_null(False) for c in columns]
    any_missing = pl.any_horizontal(missing)
    value = pl.when(any_missing).then(None).otherwise(pl.sum_horizontal([pl.col(c) for c in columns]))
    status = pl.when(any_missing).then(
        pl.min_horizontal([pl.when(m).then(pl.col(status_col(c))) for m, c in zip(missing, columns)])
    )
    return value, status


def moved_communes_coverage(df: pl.DataFrame, moves: pl.DataFrame | None, table: str) -> pl.DataFrame:
    """A zone d'emploi whose figures include (or lack) rows of old communes counted with their
    commune nouvelle in the zone of its chef-lieu says so in ``coverage``."""
    if moves is None or moves.height == 0:
        return df
    m = moves.filter(pl.col("table_name") == table)
    if m.height == 0:
        return df
    olds = pl.col("old_code").sort().str.join(", ")
    gained = m.group_by("source", "year", "new_zone", "old_zone", "new_code").agg(olds.alias("olds")).select(
        "source", "year", pl.col("new_zone").alias("geo_code"),
        (pl.lit("comprend les lignes des anciennes communes ") + pl.col("olds") + " (zone " + pl.col("old_zone")
         + "), comptées avec la commune nouvelle " + pl.col("new_code") + " dans la zone de son chef-lieu").alias("note"),
    )  # fmt: skip
    lost = m.group_by("source", "year", "old_zone", "new_zone", "new_code").agg(olds.alias("olds")).select(
        "source", "year", pl.col("old_zone").alias("geo_code"),
        (pl.lit("sans les lignes des anciennes communes ") + pl.col("olds") + ", comptées dans la zone " + pl.col("new_zone")
         + " avec la commune nouvelle " + pl.col("new_code")).alias("note"),
    )  # fmt: skip
    notes = pl.concat([gained, lost]).with_columns(pl.col("year").cast(pl.Int32))
    j = df.with_row_index("_r").join(notes, on=["year", "geo_code"], how="inner")
    j = j.filter(pl.col("sources").str.split("+").list.contains(pl.col("source")))
    per_row = j.group_by("_r").agg(pl.col("note").unique().sort().str.join(" ; ").alias("_note"))
    return (
        df.with_row_index("_r")
        .join(per_row, on="_r", how="left")
        .with_columns(
            pl.when(pl.col("_note").is_not_null()).then(pl.col("coverage") + " ; " + pl.col("_note")).otherwise(pl.col("coverage")).alias("coverage")
        )
        .drop("_r", "_note")
    )

