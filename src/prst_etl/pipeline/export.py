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

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from prst_etl.errors import UsageError
from prst_etl.model.codes import SECONDARY, SECRET
from prst_etl.model.facts import BASE_COLUMNS, KEY_COLUMNS, TAIL_COLUMNS, with_status_columns
from prst_etl.model.indicators import catalogue
from prst_etl.model.levels import EXPORT_LEVELS, GEO_TARGETS, SECTOR_LEVELS
from prst_etl.pipeline.aggregate import aggregate, current_aggregates, plan
from prst_etl.pipeline.combine import combine, coverage, measure_rows, moved_communes_coverage, table_measures
from prst_etl.pipeline.rates import rate
from prst_etl.pipeline.secret import secret_pattern
from prst_etl.pipeline.write import EXCEL_MAX_ROWS, audit_path, check_output, default_path, restricted_name, write_chunks, write_frame
from prst_etl.reference import geography, sectors
from prst_etl.sources import all_sources
from prst_etl.warehouse import Warehouse, open_warehouse

FORMATS = ("parquet", "csv")

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










# -- rates ------------------------------------------------------------------------------------






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
            measure_rows(df, spec, dims, series, self.extras, measure)
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
            df = rate(ind, self._long(ind.numerator), self._long(ind.denominator), keys)  # type: ignore[arg-type]
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
    cov = coverage(wh, level, parts) if parts.height else None
    moves = wh.current_moves() if level == "zone-emploi" else None
    tables = []
    for (series, table), frames in sorted(groups.items()):
        spec = registry[frames[0][0]]().table(table)
        dims = list(KEY_COLUMNS) + list(spec.extra_dims)
        combined = combine(
            [f.with_columns(pl.lit(s).alias("source")) for s, f in frames], dims, spec.measure_ids, cov  # type: ignore[arg-type]
        )
        if level == "zone-emploi":
            combined = moved_communes_coverage(combined, moves, table)
        tables.append((combined, spec, dims, series))
    return LevelData(level, tables, extras, geography_labels(wh, level, years), notes)












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
        perims = wh.perimeter_rows()
        if perims is not None:
            names = perims.sort("date_debut").group_by("spsti").agg(pl.col("spsti_nom").last())
            labels = pl.concat(
                [labels, names.select(pl.lit("spsti").alias("geo_level"), pl.col("spsti").alias("geo_code"), pl.col("spsti_nom").alias("geo_label"))]
            )
    return labels


def _impossible_levels(wh: Warehouse, level: str, years: list[int] | None) -> list[str]:
    """Explain, per source, why a level has nothing (never derived from a coarser level)."""
    notes = []
    loads = wh.load_coverage().select("load_id", "coverage")
    cur = wh.current_parts().join(loads, on="load_id")
    cur = cur.with_columns(wh.part_levels(cur))  # from the catalogue, not from the files
    if years:
        cur = cur.filter(pl.col("year").is_in(years))
    registry = all_sources()
    # one note per reason, naming every source (and its tables) it applies to: not one per table
    reasons: dict[tuple[str, str], dict[str, list[str]]] = {}
    for (sid, table, from_level), sub in cur.group_by("source", "table_name", "geo_level"):
        if sid not in registry or registry[sid].reference:
            continue
        reachable = level in GEO_TARGETS.get(from_level, (from_level,))
        if not reachable:
            key = ("finer", str(from_level))
        elif level == "france" and any(c != ["FR"] for c in sub["coverage"].to_list()):
            key = ("regional", "")
        elif level == "spsti" and from_level == "commune" and wh.perimeter_rows() is None:
            key = ("perimeters", "")
        else:
            continue
        reasons.setdefault(key, {}).setdefault(str(sid), []).append(str(table))
    finer = sorted((fl, by) for (kind, fl), by in reasons.items() if kind == "finer")
    if finer:
        parts = " ; ".join(f"{', '.join(sorted(by))} (données au niveau « {fl} »)" for fl, by in finer)
        notes.append(
            f"Pas de niveau « {level} » pour {parts} : il ne peut pas en être déduit (prst ne calcule jamais un "
            "niveau plus fin que celui de la source)."
        )
    for (kind, from_level), by_source in reasons.items():
        who = ", ".join(f"{sid} ({', '.join(sorted(set(t)))})" for sid, t in sorted(by_source.items()))
        if kind == "finer":
            continue
        elif kind == "regional":
            notes.append(f"{who} : source régionale, pas de total France.")
        else:
            notes.append(f"{who} : aucun périmètre de SPSTI chargé (source spsti-perimetres).")
    return sorted(notes)


def _empty(extras: list[str]) -> pl.DataFrame:
    schema = {c: pl.String for c in BASE_COLUMNS + extras} | {
        "year": pl.Int32, "indicator": pl.String, "value": pl.Float64, "status": pl.String,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "coverage": pl.String, "sources": pl.String,
    }  # fmt: skip
    return pl.DataFrame(schema=schema)


def _check_years(warehouse, years: list[int], as_of: str | None) -> None:  # type: ignore[no-untyped-def]
    """An export of years the warehouse has no data for is refused, naming the years it has."""
    registry = all_sources()
    with open_warehouse(warehouse, as_of=as_of) as wh:
        cur = wh.current_parts()
    data = cur.filter(pl.col("source").is_in([s for s, c in registry.items() if not c.reference]))
    have = sorted(set(data["year"].to_list()))
    missing = [y for y in years if y not in have]
    if missing:
        raise UsageError(
            f"Aucune donnée pour l'année {', '.join(map(str, missing))} dans l'entrepôt"
            + (f" (état « {as_of} »)" if as_of else "") + " : rien n'a été écrit.",
            hint=("Années disponibles : " + ", ".join(map(str, have))) if have else "L'entrepôt ne contient encore aucune donnée.",
        )


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
    if output is not None:
        check_output(Path(output))
    if years:
        _check_years(warehouse, years, as_of)
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
