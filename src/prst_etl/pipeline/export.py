"""``prst export``: the long table of counts and rates at one geographic level.

Columns: ``geo_level, geo_code, geo_label, sector_level, sector_code,
sector_label, sex, age_band, <extra dimensions>, year, indicator, value,
status, ci_low, ci_high, coverage, sources``. The « all » code of every
dimension is ``_T`` (``sector_level = ensemble``). Parquet for tools, CSV
(``;``, UTF-8 with BOM) for spreadsheets.

It reads the aggregates of ``prst aggregate`` (bringing them up to date first
when a load is newer, and saying so), then:

1. *combines the sources of a series* (e.g. the two Carsat of Occitanie) for each
   territory: a source that covers the whole territory is used alone; otherwise
   the sources covering parts of it are added up, and ``coverage`` says which
   share of the territory's départements they cover;
2. *computes the rates* of the indicator catalogue as Σ numerator / Σ
   denominator × multiplier at that level, with a 95 % confidence interval
   (exact Poisson for rates per population or per hour, Wilson for shares) and
   the status ``ns`` (non significatif) below the indicator's minimum denominator.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from prst_etl.reference import geography, sectors
from prst_etl.pipeline.aggregate import (
    GEO_TARGETS,
    aggregate,
    current_aggregates,
    perimeter_rows,
    plan,
    spsti_map,
    territory_departements,
)
from prst_etl.model.codes import NO_VALUE, STATUS_ABSENT, STATUS_PROVISIONAL, TOTAL
from prst_etl.errors import UsageError
from prst_etl.model.facts import KEY_COLUMNS, SECTOR_LEVELS, status_col, with_status_columns
from prst_etl.model.indicators import Indicator, catalogue
from prst_etl.resources import data_dir
from prst_etl.model.rollup import sum_cells
from prst_etl.pipeline.secret import HIDDEN, SECONDARY, SECRET
from prst_etl.sources import all_sources
from prst_etl.warehouse import Warehouse, open_warehouse

EXPORT_LEVELS = ("commune", "zone-emploi", "departement", "region", "france", "spsti")
FORMATS = ("parquet", "csv")
BASE_COLUMNS = ["geo_level", "geo_code", "geo_label", "sector_level", "sector_code", "sector_label", "sex", "age_band"]
TAIL_COLUMNS = ["year", "indicator", "value", "status", "ci_low", "ci_high", "coverage", "sources"]
STATUS_NS = "ns"
"""Status of a rate whose denominator is below the indicator's minimum (non significatif)."""
GRAIN = {"commune": 0, "spsti-departement": 1, "zone-emploi": 2, "spsti": 3, "departement": 4, "region": 5, "france": 6}
Z95 = 1.959963984540054
EXCEL_MAX_ROWS = 1_048_575

Progress = Callable[[str], None]


@dataclass
class ExportResult:
    path: Path | None
    rows: int
    notes: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    refreshed: int = 0
    """Aggregated files brought up to date before exporting."""
    audit: Path | None = None
    """The file listing the hidden cells (secrecy applied)."""


# -- reading and combining ----------------------------------------------------------------
def _coverage(wh: Warehouse, level: str, parts: pl.DataFrame) -> pl.DataFrame:
    """``source, year, geo_code, n_cov, n_terr``: départements of each territory a source's load covers."""
    loads = wh.query("SELECT load_id, coverage, geo_level AS source_level FROM loads")
    p = parts.select("source", "year", "load_id").unique().join(loads, on="load_id")
    all_deps = geography.labels().filter(pl.col("geo_level") == "departement")["geo_code"].to_list()
    p = p.with_columns(
        pl.when(pl.col("coverage").list.contains("FR")).then(pl.lit(all_deps)).otherwise(pl.col("coverage")).alias("departement")
    ).explode("departement")
    perims = perimeter_rows(wh) if level == "spsti" else None
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


def _moved_communes_coverage(df: pl.DataFrame, moves: pl.DataFrame | None, table: str) -> pl.DataFrame:
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


def _combine(frames: list[pl.DataFrame], dims: list[str], measures: list[str], cov: pl.DataFrame) -> pl.DataFrame:
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


def _measure_rows(df: pl.DataFrame, spec, dims: list[str], series: str, extras: list[str], measure: str) -> pl.DataFrame:  # type: ignore[no-untyped-def]
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


# -- rates ------------------------------------------------------------------------------------
def poisson_interval(k: np.ndarray, den: np.ndarray, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) 95 % interval of a Poisson count ``k``, divided by ``den`` × ``mult``."""
    from scipy.stats import chi2

    k = np.asarray(k, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, chi2.ppf(0.025, 2 * k) / 2, 0.0)
        high = chi2.ppf(0.975, 2 * k + 2) / 2
        return low / den * mult, high / den * mult


def wilson_interval(k: np.ndarray, n: np.ndarray, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson 95 % interval of a share ``k / n``, × ``mult``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = Z95**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2)) / (1 + z2 / n)
        return np.clip(centre - half, 0, 1) * mult, np.clip(centre + half, 0, 1) * mult


def _rate(ind: Indicator, num: pl.DataFrame, den: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    broadcast = list(ind.denominator_total_of)
    if broadcast:
        # a share within a breakdown: the denominator is the breakdown's total; the total's own
        # share (always 100 %) is not published
        den = den.filter(pl.all_horizontal([pl.col(d) == TOTAL for d in broadcast]))
        num = num.filter(pl.any_horizontal([pl.col(d) != TOTAL for d in broadcast]))
    for d in ["sex", "age_band", *[k for k in keys if k not in KEY_COLUMNS and k != "series"]]:
        if d in broadcast or d not in den.columns:
            continue
        # the denominator does not break this dimension down: it applies to every category
        if den[d].unique().to_list() == [TOTAL] and num[d].unique().to_list() != [TOTAL]:
            broadcast.append(d)
    on = [k for k in keys if k not in broadcast]
    d = den.select(*on, pl.col("value").alias("_den"), pl.col("status").alias("_dst")).unique(on, keep="first")
    r = num.join(d, on=on, how="inner")
    if r.height == 0:
        return r
    k, n = r["value"].to_numpy().astype(float), r["_den"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, k / n * ind.multiplier, np.nan)
    if ind.ci == "poisson":
        low, high = poisson_interval(k, n, ind.multiplier)
    elif ind.ci == "wilson":
        low, high = wilson_interval(k, n, ind.multiplier)
    else:
        low = high = np.full(len(k), np.nan)
    nst, dst = pl.col("status"), pl.col("_dst")
    no_n, no_d = nst.is_in(NO_VALUE + HIDDEN).fill_null(False), dst.is_in(NO_VALUE + HIDDEN).fill_null(False)
    missing = no_n | no_d | pl.col("value").is_null() | pl.col("_den").is_null() | (pl.col("_den") == 0)
    status = (
        # a rate whose numerator or denominator is hidden is hidden
        pl.when((nst == SECRET) | (dst == SECRET)).then(pl.lit(SECRET))
        .when(nst.is_in(HIDDEN) | dst.is_in(HIDDEN)).then(pl.lit(SECONDARY))
        .when(no_n).then(nst)
        .when(no_d).then(dst)
        .when(pl.col("_den").is_null() | (pl.col("_den") == 0)).then(pl.lit(STATUS_ABSENT))
        .when(pl.lit(ind.min_denominator is not None) & (pl.col("_den") < (ind.min_denominator or 0))).then(pl.lit(STATUS_NS))
        .when((nst == STATUS_PROVISIONAL) | (dst == STATUS_PROVISIONAL)).then(pl.lit(STATUS_PROVISIONAL))
        .otherwise(None)
    )  # fmt: skip
    r = r.with_columns(
        pl.Series("_v", value).fill_nan(None), pl.Series("_lo", low).fill_nan(None), pl.Series("_hi", high).fill_nan(None)
    )
    return r.with_columns(
        pl.lit(ind.id).alias("indicator"),
        pl.when(missing).then(None).otherwise(pl.col("_v")).alias("value"),
        status.alias("status"),
        pl.when(missing).then(None).otherwise(pl.col("_lo")).alias("ci_low"),
        pl.when(missing).then(None).otherwise(pl.col("_hi")).alias("ci_high"),
    ).drop("_den", "_dst", "_v", "_lo", "_hi")


# -- the level frame ------------------------------------------------------------------------------
@dataclass
class LevelData:
    """The combined wide frames of one level, from which the long rows are produced indicator by indicator."""

    level: str
    tables: list[tuple[pl.DataFrame, object, list[str], str]]
    """(combined frame, table spec, dims, series)."""
    extras: list[str]
    labels: pl.DataFrame
    notes: list[str]
    pattern: pl.DataFrame | None = None
    """Hidden cells (statistical secrecy) of the counts; None: restricted diffusion, nothing hidden."""

    def indicators(self) -> list[str]:
        counts = sorted({m for _, spec, _, _ in self.tables for m in table_measures(spec)})
        rates = sorted(
            i.id for i in catalogue().values()
            if i.is_rate and i.numerator in counts and i.denominator in counts and (not i.levels or self.level in i.levels)
            and all(d in self.extras or d in KEY_COLUMNS for d in i.denominator_total_of)
        )  # fmt: skip
        return counts + rates

    def _long(self, measure: str) -> pl.DataFrame:
        parts = [
            _measure_rows(df, spec, dims, series, self.extras, measure)
            for df, spec, dims, series in self.tables
            if measure in table_measures(spec)
        ]
        if not parts:
            return pl.DataFrame()
        out = pl.concat(parts, how="diagonal_relaxed")
        if self.pattern is None:
            return out
        # Under secrecy: only the publishable cells, with the hidden ones without a value
        from prst_etl.pipeline.secret import config, in_scope

        out = in_scope(out, self.extras, config()).with_row_index("_r")
        keys = [k for k in [*KEY_COLUMNS, *self.extras] if k in self.pattern.columns]
        hidden = self.pattern.filter(pl.col("indicator") == measure).select(*keys, "source", "secret")
        # a combined cell (sources « a+b ») is hidden when the cell of one of its sources is
        per_source = out.select("_r", *keys, pl.col("sources").str.split("+").alias("source")).explode("source")
        hit = per_source.join(hidden, on=[*keys, "source"], how="inner", nulls_equal=True).group_by("_r").agg(
            pl.when((pl.col("secret") == SECRET).any()).then(pl.lit(SECRET)).otherwise(pl.lit(SECONDARY)).alias("secret")
        )
        out = out.join(hit, on="_r", how="left").drop("_r")
        return out.with_columns(
            pl.when(pl.col("secret").is_not_null()).then(None).otherwise(pl.col("value")).alias("value"),
            pl.coalesce("secret", "status").alias("status"),
        ).drop("secret")



    def chunk(self, indicator: str) -> pl.DataFrame:
        """The export rows of one indicator, labelled and sorted."""
        cat = catalogue()
        keys = [*KEY_COLUMNS, *self.extras, "series"]
        if indicator in cat and cat[indicator].is_rate:
            ind = cat[indicator]
            df = _rate(ind, self._long(ind.numerator), self._long(ind.denominator), keys)  # type: ignore[arg-type]
        else:
            df = self._long(indicator).with_columns(
                pl.lit(None, dtype=pl.Float64).alias("ci_low"), pl.lit(None, dtype=pl.Float64).alias("ci_high")
            )
        if df.height == 0:
            return _empty(self.extras)
        return (
            df.join(self.labels, on=["geo_level", "geo_code"], how="left")
            .join(sectors.labels(), on=["sector_level", "sector_code"], how="left")
            .select(BASE_COLUMNS + self.extras + TAIL_COLUMNS)
            .sort(["geo_code", "sector_level", "sector_code", "sex", "age_band", *self.extras, "year", "sources"])
        )


def level_data(wh: Warehouse, level: str, years: list[int] | None = None, sector_levels: list[str] | None = None) -> LevelData:
    """Read the current aggregates of one level and combine the sources of each series."""
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    sector_levels = list(sector_levels or SECTOR_LEVELS)
    registry = all_sources()
    notes = _impossible_levels(wh, level, years)
    parts = current_aggregates(wh, level, years)
    extras = sorted(
        {d for sid in parts["source"].unique() for t in registry[sid].tables for d in (*t.extra_dims, *(p.dimension for p in t.pivots))}
    )
    groups: dict[tuple[str, str], list[tuple[str, pl.DataFrame]]] = {}
    for r in parts.iter_rows(named=True):
        src = registry[r["source"]]
        spec = src().table(r["table_name"])
        df = with_status_columns(pl.scan_parquet(wh.abs(r["path"])), spec)
        df = df.filter(pl.col("sector_level").is_in(sector_levels)).collect()
        groups.setdefault((src.series or r["source"], r["table_name"]), []).append((r["source"], df))
    cov = _coverage(wh, level, parts) if parts.height else None
    moves = wh.current_moves() if level == "zone-emploi" else None
    tables = []
    for (series, table), frames in sorted(groups.items()):
        spec = registry[frames[0][0]]().table(table)
        dims = list(KEY_COLUMNS) + list(spec.extra_dims)
        combined = _combine(
            [f.with_columns(pl.lit(s).alias("source")) for s, f in frames], dims, spec.measure_ids, cov  # type: ignore[arg-type]
        )
        if level == "zone-emploi":
            combined = _moved_communes_coverage(combined, moves, table)
        tables.append((combined, spec, dims, series))
    return LevelData(level, tables, extras, geography_labels(wh, level, years), notes)


def secret_pattern(
    wh: Warehouse, years: list[int] | None, keep: pl.DataFrame | None = None, progress: Progress | None = None
) -> tuple[pl.DataFrame, tuple[int, int]]:
    """:func:`compute_secret_pattern`, cached in ``warehouse/secret/``: the pattern is a pure function of
    the aggregates read, the rules and the kept cells, so each export of a state reuses it. Also
    returns how many hidden cells, primary and secondary, are short of their whole protection interval."""
    import hashlib

    parts = pl.concat(
        [current_aggregates(wh, lvl, years).select("path") for lvl in ("commune", "zone-emploi", "departement", "region", "france", "spsti")]
    )["path"].sort().to_list()
    h = hashlib.sha256()
    for text in (
        SECRECY_VERSION, "|".join(parts), (data_dir("schemas") / "secret.toml").read_text(encoding="utf-8"),
        str(sorted(years) if years else "all"),
    ):
        h.update(text.encode())
    if keep is not None:
        h.update(keep.sort(keep.columns).write_csv().encode())
    path = wh.root / "secret" / f"pattern-{h.hexdigest()[:16]}.parquet"
    if not path.exists():
        from prst_etl.pipeline import secret

        secret.SHORT.clear()
        pattern = compute_secret_pattern(wh, years, keep, progress)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        pattern.write_parquet(tmp)
        path.with_suffix(".short").write_text(" ".join(str(sum(s[i] for s in secret.SHORT)) for i in (0, 1)))
        os.replace(tmp, path)
    short = path.with_suffix(".short")
    p, s = (int(v) for v in short.read_text().split()) if short.exists() else (0, 0)
    return pl.read_parquet(path), (p, s)


SECRECY_VERSION = "2"
"""Bump when the way patterns are computed changes (cached patterns are then recomputed)."""


@dataclass
class SecretProblem:
    """One linked table: one measure of one source for one year, every level at once."""

    source: str
    table: str
    measure: str
    year: int
    cells: pl.DataFrame
    dims: list[str]
    rules: object
    spsti: pl.DataFrame | None


def secret_problems(wh: Warehouse, years: list[int] | None) -> tuple[list[SecretProblem], list[str]]:
    """The linked tables of the current aggregates, in a fixed order, and the source dimensions."""
    from prst_etl.pipeline.aggregate import perimeter_rows, spsti_map
    from prst_etl.pipeline.secret import config, in_scope

    cfg = config()
    registry = all_sources()
    groups: dict[tuple[str, str, str], list[pl.DataFrame]] = {}
    extras_all: set[str] = set()
    for level in ("commune", "zone-emploi", "departement", "region", "france", "spsti"):
        for r in current_aggregates(wh, level, years).iter_rows(named=True):
            spec = registry[r["source"]]().table(r["table_name"])
            extras = sorted({*spec.extra_dims, *(p.dimension for p in spec.pivots)})
            extras_all.update(extras)
            df = with_status_columns(pl.scan_parquet(wh.abs(r["path"])), spec)
            df = df.filter(pl.col("sector_level").is_in(list(cfg.sector_levels))).collect()
            df = df.with_columns(pl.lit(r["source"]).alias("sources"), pl.lit(None, dtype=pl.String).alias("coverage"))
            dims = list(KEY_COLUMNS) + list(spec.extra_dims)
            unit = cfg.units.get(spec.name)
            units = None
            if unit and unit in spec.measure_ids:
                units = in_scope(_measure_rows(df, spec, dims, "", extras, unit), extras, cfg).select(
                    *KEY_COLUMNS, *extras, pl.col("value").alias("n_units")
                )
            for m in table_measures(spec):
                rows = in_scope(_measure_rows(df, spec, dims, "", extras, m), extras, cfg)
                if units is not None:
                    rows = rows.join(units, on=[*KEY_COLUMNS, *extras], how="left", nulls_equal=True)
                groups.setdefault((r["source"], spec.name, m), []).append(rows)
    perims = perimeter_rows(wh)
    problems = []
    for (source, table, measure), frames in sorted(groups.items()):
        cells = pl.concat(frames, how="diagonal_relaxed")
        extras = [e for e in sorted(extras_all) if e in cells.columns]
        rules = cfg.rules(source, measure, "n_units" in cells.columns)
        dims = [d for d in [*KEY_COLUMNS, *extras] if d != "year"]
        for (year,), sub in sorted(cells.partition_by("year", as_dict=True, maintain_order=True).items()):
            problems.append(SecretProblem(source, table, measure, int(year), sub, dims, rules, spsti_map(perims, int(year))))
    return problems, sorted(extras_all)


def compute_secret_pattern(
    wh: Warehouse, years: list[int] | None, keep: pl.DataFrame | None = None, progress: Progress | None = None
) -> pl.DataFrame:
    """Hidden cells of every count of every source, every level at once (see :mod:`prst_etl.pipeline.secret`).

    Each source's cube is additive on its own, so the linked table of a measure is that of
    one source (before sources of a series are combined): a combined cell is hidden when
    the cell of one of its sources is. ``keep``: hidden cells of a previous publication
    (matched without the year): they stay hidden.
    """
    from prst_etl.pipeline.secret import suppress

    problems, extras_all = secret_problems(wh, years)
    out = []
    for n, pb in enumerate(problems, 1):
        if progress:
            progress(f"secret statistique {n}/{len(problems)} : {pb.source} {pb.measure} {pb.year}")
        kept = None
        if keep is not None and keep.height:
            k = keep.filter((pl.col("indicator") == pb.measure) & (pl.col("source") == pb.source))
            on = [d for d in pb.dims if d in k.columns]
            k = k.select(on).unique()
            if k.height:
                kept = pb.cells.select(on).join(k.with_columns(pl.lit(True).alias("_k")), on=on, how="left", nulls_equal=True)["_k"].fill_null(False)
        res = suppress(pb.cells, pb.dims, pb.rules, pb.spsti, kept)
        extras = [e for e in extras_all if e in res.columns]
        out.append(
            res.filter(pl.col("secret").is_not_null()).select(
                *KEY_COLUMNS, *extras, "value", "secret", "rule",
                pl.lit(pb.source).alias("source"), pl.lit(pb.measure).alias("indicator"),
            )  # fmt: skip
        )
    if not out:
        return pl.DataFrame(schema={**{k: pl.String for k in KEY_COLUMNS}, "year": pl.Int32, "value": pl.Float64,
                                    "secret": pl.String, "rule": pl.String, "source": pl.String, "indicator": pl.String})  # fmt: skip
    return pl.concat(
        [f.with_columns([pl.lit(TOTAL).alias(e) for e in extras_all if e not in f.columns]) for f in out], how="diagonal_relaxed"
    )


def level_frame(
    wh: Warehouse,
    level: str,
    years: list[int] | None = None,
    sector_levels: list[str] | None = None,
    pattern: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Every count and rate of the current aggregates at one geographic level (long format, in memory);
    with ``pattern`` (see :func:`secret_pattern`), the publishable cells with the hidden ones hidden."""
    data = level_data(wh, level, years, sector_levels)
    data.pattern = pattern
    chunks = [data.chunk(i) for i in data.indicators()]
    df = pl.concat(chunks, how="diagonal_relaxed") if chunks else _empty(data.extras)
    return df.select(BASE_COLUMNS + data.extras + TAIL_COLUMNS), data.notes


def geography_labels(wh: Warehouse, level: str, years: list[int] | None) -> pl.DataFrame:
    labels = geography.labels()
    if level == "spsti":
        perims = perimeter_rows(wh)
        if perims is not None:
            names = perims.sort("date_debut").group_by("spsti").agg(pl.col("spsti_nom").last())
            labels = pl.concat(
                [labels, names.select(pl.lit("spsti").alias("geo_level"), pl.col("spsti").alias("geo_code"), pl.col("spsti_nom").alias("geo_label"))]
            )
    return labels


def _impossible_levels(wh: Warehouse, level: str, years: list[int] | None) -> list[str]:
    """Explain, per source, why a level has nothing (never derived from a coarser level)."""
    notes = []
    loads = wh.query("SELECT load_id, coverage FROM loads")
    cur = wh.current_parts().join(loads, on="load_id")
    cur = cur.with_columns(wh.part_levels(cur))  # from the catalogue, not from the files
    if years:
        cur = cur.filter(pl.col("year").is_in(years))
    registry = all_sources()
    for (sid, table, from_level), sub in cur.group_by("source", "table_name", "geo_level"):
        if sid not in registry or registry[sid].reference:
            continue
        reachable = level in GEO_TARGETS.get(from_level, (from_level,))
        if not reachable:
            notes.append(
                f"{sid} ({table}) : données au niveau « {from_level} », le niveau « {level} » ne peut pas en être "
                "déduit (prst ne calcule jamais un niveau plus fin que celui de la source)."
            )
        elif level == "france" and any(c != ["FR"] for c in sub["coverage"].to_list()):
            notes.append(f"{sid} ({table}) : source régionale, pas de total France.")
        elif level == "spsti" and from_level == "commune" and perimeter_rows(wh) is None:
            notes.append(f"{sid} ({table}) : aucun périmètre de SPSTI chargé (source spsti-perimetres).")
    return sorted(notes)


def _empty(extras: list[str]) -> pl.DataFrame:
    schema = {c: pl.String for c in BASE_COLUMNS + extras} | {
        "year": pl.Int32, "indicator": pl.String, "value": pl.Float64, "status": pl.String,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "coverage": pl.String, "sources": pl.String,
    }  # fmt: skip
    return pl.DataFrame(schema=schema)


def _refresh(warehouse, years, as_of, progress) -> int:  # type: ignore[no-untyped-def]
    """Bring stale aggregates up to date (needs the write lock); the number of files computed."""
    with open_warehouse(warehouse, as_of=as_of) as wh:
        stale = bool(plan(wh, years))
    if not stale:
        return 0
    return len(aggregate(warehouse, years=years, progress=progress, as_of=as_of).computed)


def frame_as_of(
    warehouse: Path | str | None,
    level: str,
    years: list[int] | None,
    sector_levels: list[str] | None,
    as_of: str | None,
    progress: Progress | None = None,
    secret: bool = False,
) -> tuple[pl.DataFrame, list[str], int, Path]:
    """The level frame of the current state or of a past one, aggregates brought up to date first."""
    refreshed = _refresh(warehouse, years, as_of, progress)
    with open_warehouse(warehouse, as_of=as_of) as wh:
        pattern = secret_pattern(wh, years, None, progress)[0] if secret else None
        df, notes = level_frame(wh, level, years, sector_levels, pattern)
        return df, notes, refreshed, wh.root


def restricted_name(path: Path) -> Path:
    """An export without secrecy says so in its name."""
    return path if "diffusion-restreinte" in path.name else path.with_name(f"{path.stem}_diffusion-restreinte{path.suffix}")


def audit_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_secret-audit{path.suffix}")


def audit_frame(pattern: pl.DataFrame, level: str, data: LevelData) -> pl.DataFrame:
    """Every hidden cell of the level: its codes, value, status and the rule that hid it."""
    p = pattern.filter(pl.col("geo_level") == level)
    extras = [e for e in data.extras if e in p.columns]
    return (
        p.join(data.labels, on=["geo_level", "geo_code"], how="left")
        .select(*[c for c in BASE_COLUMNS if c not in ("sector_label",)], *extras, "year", "indicator", "value",
                pl.col("secret").alias("status"), "rule", pl.col("source"))  # fmt: skip
        .sort(["indicator", "geo_code", "sector_level", "sector_code", "sex", "age_band", *extras, "year"])
    )


def default_path(root: Path, level: str, years: list[int] | None, fmt: str, as_of: str | None = None) -> Path:
    yr = "-".join(map(str, sorted(years))) if years else "toutes-annees"
    tag = f"_{as_of.replace(':', '-')}" if as_of else ""
    return root / "exports" / f"prst_{level}_{yr}{tag}.{fmt}"


def write_frame(df: pl.DataFrame, path: Path, fmt: str, decimal_comma: bool = False) -> None:
    """Write atomically (temporary file then rename): a reader never sees half a file."""
    write_chunks(iter([df]), path, fmt, decimal_comma)


def write_chunks(chunks, path: Path, fmt: str, decimal_comma: bool = False, restricted: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Write frames one after the other into one file (memory: one chunk at a time); atomic; rows written.

    ``restricted``: an export without statistical secrecy, marked « diffusion restreinte » in the
    Parquet metadata, or in a ``diffusion`` column of a CSV."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    writer = None
    try:
        with tmp.open("wb") as fh:
            if fmt != "parquet":
                fh.write(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
            for i, df in enumerate(chunks):
                if restricted and fmt != "parquet":
                    df = df.with_columns(pl.lit("diffusion restreinte").alias("diffusion"))
                if fmt == "parquet":
                    table = df.to_arrow()
                    if writer is None:
                        schema = table.schema
                        if restricted:
                            schema = schema.with_metadata({**(schema.metadata or {}), b"prst.diffusion": "diffusion restreinte".encode()})
                        writer = pq.ParquetWriter(fh, schema, compression="zstd")
                    writer.write_table(table.cast(writer.schema))
                else:
                    df.write_csv(fh, separator=";", decimal_comma=decimal_comma, include_header=i == 0)
                rows += df.height
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return rows


def export(
    level: str,
    *,
    warehouse: Path | str | None = None,
    years: list[int] | None = None,
    fmt: str = "parquet",
    output: Path | None = None,
    sector_levels: list[str] | None = None,
    decimal_comma: bool = False,
    progress: Progress | None = None,
    as_of: str | None = None,
    secret: bool = True,
    keep_pattern: str | None = None,
) -> ExportResult:
    """Write one level. ``secret`` (default): statistical secrecy applied, with an audit file
    beside the export; ``secret=False`` is for internal work (« diffusion restreinte »)."""
    if fmt not in FORMATS:
        raise UsageError(f"Format inconnu : « {fmt} ».", hint="Formats : parquet, csv.")
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    for s in sector_levels or []:
        if s not in SECTOR_LEVELS:
            raise UsageError(f"Niveau sectoriel inconnu : « {s} ».", hint="Niveaux : " + ", ".join(SECTOR_LEVELS))
    if keep_pattern and not secret:
        raise UsageError("--keep-pattern n'a de sens qu'avec le secret statistique (sans --no-secret).")
    if secret:
        from prst_etl.pipeline.secret import config as secret_config

        if level in secret_config().unpublished_levels:
            raise UsageError(
                f"Le niveau « {level} » n'est pas publié sous secret statistique (schemas/secret.toml, unpublished_levels) : "
                "ses cases servent aux équations du secret mais sont trop petites pour être diffusées.",
                hint="Pour un usage interne : --no-secret (fichier « diffusion-restreinte »).",
            )
    refreshed = _refresh(warehouse, years, as_of, progress)
    if keep_pattern:
        refreshed += _refresh(warehouse, None, keep_pattern, progress)
    pattern = None
    short = (0, 0)
    with open_warehouse(warehouse, as_of=as_of) as wh:
        if secret:
            from prst_etl.pipeline.secret import config

            cfg = config()
            outside = [s for s in (sector_levels or SECTOR_LEVELS) if s not in cfg.sector_levels]
            sector_levels = [s for s in (sector_levels or cfg.sector_levels) if s in cfg.sector_levels]
            keep = None
            if keep_pattern:
                with open_warehouse(warehouse, as_of=keep_pattern) as old:
                    keep = secret_pattern(old, None)[0]
            pattern, short = secret_pattern(wh, years, keep, progress)
        data = level_data(wh, level, years, sector_levels)
        data.pattern = pattern
        path = output or default_path(wh.root, level, years, fmt, as_of)
        if not secret:
            path = restricted_name(path)
    schema = _empty(data.extras).schema
    names = data.indicators()
    srcs: set[str] = set()

    def chunks():  # type: ignore[no-untyped-def]
        yield _empty(data.extras)  # fixes the schema, even for an empty export
        for n, ind in enumerate(names, 1):
            if progress:
                progress(f"export {n}/{len(names)} : {ind}")
            df = data.chunk(ind).cast(schema)  # type: ignore[arg-type]
            srcs.update(s for v in df["sources"].unique().drop_nulls() for s in v.split("+"))
            yield df

    rows = write_chunks(chunks(), path, fmt, decimal_comma, restricted=not secret)
    notes = list(data.notes)
    if secret:
        if outside and sector_levels is not None:
            notes.append(
                "Niveaux sectoriels hors du champ publiable sous secret statistique, non exportés : "
                + ", ".join(outside) + " (voir schemas/secret.toml ; --no-secret pour un usage interne)."
            )
        audit = audit_frame(pattern, level, data)  # type: ignore[arg-type]
        write_frame(audit, audit_path(path), fmt, decimal_comma)
        if short[0]:
            notes.append(
                f"ATTENTION : {short[0]} case(s) en secret primaire n'ont pas pu recevoir tout leur intervalle de "
                "protection (le moteur n'a pas trouvé de motif assez large) : un lecteur pourrait les encadrer plus "
                "étroitement que la règle ne le permet (cela arrive autour de cases que la source a elle-même "
                "cachées). Ne publiez pas cet export en l'état sans l'avis du responsable du secret statistique."
            )
        if short[1]:
            notes.append(
                f"{short[1]} case(s) cachée(s) en secret secondaire n'ont pas pu recevoir tout leur intervalle de protection "
                "(le moteur n'a pas trouvé de motif assez large) : elles restent cachées."
            )
    if fmt == "csv" and rows > EXCEL_MAX_ROWS:
        notes.append(
            f"{rows} lignes : au-delà de la limite d'Excel ({EXCEL_MAX_ROWS}). Filtrez avec --sector-level ou --year, ou utilisez le format parquet."
        )
    return ExportResult(path=path, rows=rows, notes=notes, sources=sorted(srcs), refreshed=refreshed,
                        audit=audit_path(path) if secret else None)
