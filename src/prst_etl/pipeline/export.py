"""``prst export``: the counts and rates of one geographic level, long or wide.

Long columns: ``geo_level, geo_code, geo_label, sector_level, sector_code,
sector_label, sex, age_band, <extra dimensions>, year, indicator, value,
status, ci_low, ci_high, coverage, sources``. The « all » code of every
dimension is ``_T`` (``sector_level = ensemble``). Wide: one row per territory, one
column per indicator × breakdown × year (:mod:`~prst_etl.pipeline.wide`). Parquet for
tools; CSV (``;``, UTF-8 with BOM, ``excel``: decimal comma) and workbooks for people
(:mod:`~prst_etl.pipeline.write`).

One key, one row: every row of an export has its own ``(geo, sector, sex, age, source
dimensions, year, indicator)``. Where two series give the same indicator for the same cell
(``urssaf`` and ``urssaf-taille`` both count employer establishments), the catalogue's
``prefer`` says which one is published (:func:`~prst_etl.pipeline.combine.one_row_per_key`).

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
from prst_etl.pipeline.combine import combine, coverage, measure_rows, moved_communes_coverage, one_row_per_key, table_measures
from prst_etl.pipeline.rates import rate
from prst_etl.pipeline.secret import secret_pattern
from prst_etl.pipeline.write import (
    EXCEL_MAX_ROWS, Digits, audit_path, check_output, companion_path, default_path, restricted_name, write_chunks, write_frame,
)  # fmt: skip
from prst_etl.reference import geography, sectors
from prst_etl.sources import all_sources
from prst_etl.warehouse import Warehouse, open_warehouse

FORMATS = ("parquet", "csv", "xlsx")
SHAPES = ("long", "wide")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Filters:
    """What to keep of a level (every field empty: everything). The secrecy pattern is computed
    on the whole warehouse whatever the filters: a filtered export hides the same cells."""

    indicators: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    sexes: tuple[str, ...] = ()
    age_bands: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    """Territory codes (``geo_code``) at the level exported."""

    @classmethod
    def of(cls, indicators=None, families=None, sexes=None, age_bands=None, codes=None) -> Filters:  # type: ignore[no-untyped-def]
        return cls(*(tuple(dict.fromkeys(x or ())) for x in (indicators, families, sexes, age_bands, codes)))

    def check(self) -> None:
        """Refuse a value no filter can match, listing the valid ones."""
        import re

        from prst_etl.errors import UnknownName
        from prst_etl.model.codes import SEXES
        from prst_etl.model.facts import AGE_PATTERN

        cat = catalogue()
        known = set(cat) | {m for cls in all_sources().values() for t in cls.tables for m in table_measures(t)}
        for i in self.indicators:
            if i not in known:
                raise UnknownName("indicateur", i, sorted(cat))
        families = sorted({i.family for i in cat.values()})
        for f in self.families:
            if f not in families:
                raise UnknownName("famille d'indicateurs", f, families)
        for x in self.sexes:
            if x not in SEXES:
                raise UsageError(f"Sexe inconnu : « {x} ».", hint="Valeurs : F, M, _T (les deux sexes).")
        for b in self.age_bands:
            if not re.match(AGE_PATTERN, b):
                raise UsageError(
                    f"Tranche d'âge invalide : « {b} ».",
                    hint="Codes avec leurs bornes : Y_LT20, Y20T29, Y_GE60, Y15T24… ; _T : tous âges.",
                )

    def wants(self, indicator: str) -> bool:
        if self.indicators and indicator not in self.indicators:
            return False
        if self.families:
            ind = catalogue().get(indicator)
            return ind is not None and ind.family in self.families
        return True

    def rows(self) -> pl.Expr | None:
        """The rows kept (None: all)."""
        conds = [pl.col(c).is_in(list(v)) for c, v in (("sex", self.sexes), ("age_band", self.age_bands), ("geo_code", self.codes)) if v]
        return pl.all_horizontal(conds) if conds else None

    def early_rows(self) -> pl.Expr | None:
        """The rows that can be dropped before rates are computed: those of other territories,
        and of other sexes or age bands unless a rate reads its denominator at their total
        (``denominator_total_of``)."""
        at_total = {d for i in catalogue().values() for d in i.denominator_total_of}
        conds = [pl.col(c).is_in(list(v)) for c, v in (("sex", self.sexes), ("age_band", self.age_bands), ("geo_code", self.codes))
                 if v and c not in at_total]  # fmt: skip
        return pl.all_horizontal(conds) if conds else None

    def check_codes(self, level: str, labels: pl.DataFrame) -> None:
        if not self.codes:
            return
        known = labels.filter(pl.col("geo_level") == level)["geo_code"].to_list()
        unknown = [c for c in self.codes if c not in set(known)]
        if unknown:
            raise UsageError(
                f"Code(s) inconnu(s) au niveau « {level} » : {', '.join(unknown)}.",
                hint="Exemples de codes à ce niveau : " + ", ".join(sorted(known)[:8]) + (" …" if len(known) > 8 else ""),
            )


def digits() -> Digits:
    """The decimals people see, per indicator (the catalogue's ``decimals``; 0 for a count)."""
    from prst_etl.pipeline.wide import decimals_of

    cat = catalogue()
    return Digits(("value", "ci_low", "ci_high"), {i: decimals_of(i) for i in cat}, default=0)


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
    companions: list[Path] = field(default_factory=list)
    """Files written beside a wide export (statuses, dictionary of the columns)."""
    columns: int | None = None
    """Value columns of a wide export."""
    warnings: list[str] = field(default_factory=list)
    """What the user must know before opening the file (e.g. more rows than Excel opens)."""


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
    filters: Filters = field(default_factory=Filters)
    choices: dict[str, str] = field(default_factory=dict)
    """Indicator → how its rows given by several series were reduced to one per key (for the notes)."""

    def indicators(self) -> list[str]:
        counts = sorted({m for _, spec, _, _ in self.tables for m in table_measures(spec)})
        rates = sorted(
            i.id for i in catalogue().values()
            if i.is_rate and i.numerator in counts and i.denominator in counts and (not i.levels or self.level in i.levels)
            and all(d in self.extras or d in KEY_COLUMNS for d in i.denominator_total_of)
        )  # fmt: skip
        return [i for i in counts + rates if self.filters.wants(i)]

    def choice_notes(self) -> list[str]:
        return [self.choices[k] for k in sorted(self.choices)]

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



    def frame(self) -> pl.DataFrame:
        """Every row of the level (long format, in memory), in the export's column order."""
        chunks = [self.chunk(i) for i in self.indicators()]
        df = pl.concat(chunks, how="diagonal_relaxed") if chunks else _empty(self.extras)
        return df.select(BASE_COLUMNS + self.extras + TAIL_COLUMNS)

    def chunk(self, indicator: str) -> pl.DataFrame:
        """The export rows of one indicator, labelled and sorted."""
        cat = catalogue()
        keys = [*KEY_COLUMNS, *self.extras, "series"]
        if indicator in cat and cat[indicator].is_rate:
            ind = cat[indicator]
            num, den = ind.numerator, ind.denominator
            df = rate(ind, stable_counts(self._long(num), num), stable_counts(self._long(den), den), keys)  # type: ignore[arg-type]
        else:
            df = stable_counts(self._long(indicator), indicator).with_columns(
                pl.lit(None, dtype=pl.Float64).alias("ci_low"), pl.lit(None, dtype=pl.Float64).alias("ci_high")
            )
        if df.height == 0:
            return _empty(self.extras)
        if df["series"].n_unique() > 1:
            ind = cat.get(indicator)
            df, choice = one_row_per_key(df, [k for k in keys if k != "series"], ind.prefer if ind else ())
            if choice:
                self.choices[indicator] = f"{indicator} : {choice}"
        rows = self.filters.rows()
        if rows is not None:
            df = df.filter(rows)
        return (
            df.join(self.labels, on=["geo_level", "geo_code"], how="left")
            .join(sectors.labels(), on=["sector_level", "sector_code"], how="left")
            .select(BASE_COLUMNS + self.extras + TAIL_COLUMNS)
            .sort(["geo_code", "sector_level", "sector_code", "sex", "age_band", *self.extras, "year", "sources"])
        )


STABLE_DIGITS = 6
"""Decimals kept beyond the catalogue's ``decimals`` for counts in exact (Parquet) exports: far
beyond any use, and the last digits of float sums (whose order varies between runs) never show;
rates are computed from these counts. So exports of the same files are byte-identical. (CSV and
workbooks are rounded to the catalogue's ``decimals``.)"""


def stable_counts(df: pl.DataFrame, measure: str) -> pl.DataFrame:
    from prst_etl.pipeline.wide import decimals_of

    return df.with_columns(pl.col("value").round(decimals_of(measure) + STABLE_DIGITS))


def level_data(
    wh: Warehouse, level: str, years: list[int] | None = None, sector_levels: list[str] | None = None,
    filters: Filters | None = None,
) -> LevelData:  # fmt: skip
    """Read the current aggregates of one level and combine the sources of each series."""
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    filters = filters or Filters()
    filters.check()
    labels = geography_labels(wh, level, years)
    filters.check_codes(level, labels)
    early = filters.early_rows()
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
        df = df.filter(pl.col("sector_level").is_in(sector_levels))
        if early is not None:
            df = df.filter(early)
        df = df.collect()
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
    return LevelData(level, tables, extras, labels, notes, filters=filters)












def level_frame(
    wh: Warehouse,
    level: str,
    years: list[int] | None = None,
    sector_levels: list[str] | None = None,
    pattern: pl.DataFrame | None = None,
    filters: Filters | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """Every count and rate of the current aggregates at one geographic level (long format, in memory);
    with ``pattern`` (see :func:`secret_pattern`), the publishable cells with the hidden ones hidden."""
    data = level_data(wh, level, years, sector_levels, filters)
    data.pattern = pattern
    df = data.frame()
    return df, data.notes + data.choice_notes()


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


def refresh(warehouse, years, as_of, progress) -> int:  # type: ignore[no-untyped-def]
    """Bring stale aggregates up to date (needs the write lock); the number of files computed."""
    with open_warehouse(warehouse, as_of=as_of) as wh:
        stale = bool(plan(wh, years))
    if not stale:
        return 0
    return len(aggregate(warehouse, years=years, progress=progress, as_of=as_of).computed)


_refresh = refresh


def frame_as_of(
    warehouse: Path | str | None,
    level: str,
    years: list[int] | None,
    sector_levels: list[str] | None,
    as_of: str | None,
    progress: Progress | None = None,
    secret: bool = False,
    filters: Filters | None = None,
) -> tuple[pl.DataFrame, list[str], int, Path]:
    """The level frame of the current state or of a past one, aggregates brought up to date first."""
    (filters or Filters()).check()
    refreshed = _refresh(warehouse, years, as_of, progress)
    with open_warehouse(warehouse, as_of=as_of) as wh:
        pattern = secret_pattern(wh, years, None, progress)[0] if secret else None
        df, notes = level_frame(wh, level, years, sector_levels, pattern, filters)
        return df, notes, refreshed, wh.root






def audit_frame(pattern: pl.DataFrame, level: str, data: LevelData) -> pl.DataFrame:
    """Every hidden cell of the level (within the export's filters): its codes, status and the rule
    that hid it — never its value (the audit is published beside the export)."""
    p = pattern.filter(pl.col("geo_level") == level)
    f = data.filters
    if f.indicators or f.families:
        cat = catalogue()
        wanted = set(data.indicators())
        wanted |= {x for i in wanted if i in cat and cat[i].is_rate for x in (cat[i].numerator, cat[i].denominator)}
        p = p.filter(pl.col("indicator").is_in(sorted(wanted)))  # type: ignore[arg-type]
    if f.rows() is not None:
        p = p.filter(f.rows())  # type: ignore[arg-type]
    extras = [e for e in data.extras if e in p.columns]
    return (
        p.join(data.labels, on=["geo_level", "geo_code"], how="left")
        .select(*[c for c in BASE_COLUMNS if c not in ("sector_label",)], *extras, "year", "indicator",
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
    filters: Filters | None = None,
    shape: str = "long",
    excel: bool = False,
    status_columns: bool = False,
) -> ExportResult:
    """Write one level. ``secret`` (default): statistical secrecy applied, with an audit file
    beside the export; ``secret=False`` is for internal work (« diffusion restreinte »).

    ``shape="wide"``: one row per territory (see :mod:`~prst_etl.pipeline.wide`), with the
    statuses and the dictionary of the columns beside it (companion files, or sheets of the
    workbook; ``status_columns``: each status column right after its value column instead);
    its sector level is ``ensemble`` unless ``sector_levels`` says otherwise. ``excel`` (CSV):
    decimal commas (``decimal_comma`` is its former name)."""
    if fmt not in FORMATS:
        raise UsageError(f"Format inconnu : « {fmt} ».", hint="Formats : " + ", ".join(FORMATS) + ".")
    if shape not in SHAPES:
        raise UsageError(f"Forme inconnue : « {shape} ».", hint="Formes : long (une ligne par case), wide (une ligne par territoire).")
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    for s in sector_levels or []:
        if s not in SECTOR_LEVELS:
            raise UsageError(f"Niveau sectoriel inconnu : « {s} ».", hint="Niveaux : " + ", ".join(SECTOR_LEVELS))
    if keep_pattern and not secret:
        raise UsageError("--keep-pattern n'a de sens qu'avec le secret statistique (sans --no-secret).")
    if status_columns and shape != "wide":
        raise UsageError("--status-columns ne s'applique qu'à la forme large (--shape wide).")
    if (excel or decimal_comma) and fmt != "csv":
        raise UsageError("--excel s'applique au format csv (un classeur xlsx est déjà pour Excel, un Parquet pour les outils).",
                         hint="Ajoutez --format csv.")
    filters = filters or Filters()
    filters.check()
    excel = excel or decimal_comma
    if shape == "wide" and not sector_levels:
        sector_levels = ["ensemble"]
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
        data = level_data(wh, level, years, sector_levels, filters)
        data.pattern = pattern
        path = output or default_path(wh.root, level, years, fmt, as_of, shape)
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

    people = digits()
    companions: list[Path] = []
    columns = None
    if shape == "long":
        rows = write_chunks(chunks(), path, fmt, excel, restricted=not secret, digits=people)
    else:
        long = pl.concat(list(chunks()), how="diagonal_relaxed")
        rows, columns, companions = _write_wide(long, data, path, fmt, excel, not secret, status_columns, level)
    notes = list(data.notes) + data.choice_notes()
    warnings: list[str] = []
    if secret:
        if outside and sector_levels is not None:
            notes.append(
                "Niveaux sectoriels hors du champ publiable sous secret statistique, non exportés : "
                + ", ".join(outside) + " (voir schemas/secret.toml ; --no-secret pour un usage interne)."
            )
        audit = audit_frame(pattern, level, data)  # type: ignore[arg-type]
        write_frame(audit, audit_path(path), fmt, excel)
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
        warnings.append(
            f"{rows} lignes : Excel n'en ouvre que {EXCEL_MAX_ROWS + 1:_} (en-tête compris), la fin du fichier n'y "
            "apparaîtra pas.".replace("_", " ")
            + " Utilisez le format parquet (R, Python, QGIS, DuckDB), ou filtrez : --indicator, --family, --code, "
            "--year, --sex, --age-band, --sector-level."
        )
    return ExportResult(path=path, rows=rows, notes=notes, sources=sorted(srcs), refreshed=refreshed,
                        audit=audit_path(path) if secret else None, companions=companions, columns=columns,
                        warnings=warnings)  # fmt: skip


def _write_wide(  # type: ignore[no-untyped-def]
    long: pl.DataFrame, data: LevelData, path: Path, fmt: str, excel: bool, restricted: bool, status_columns: bool, level: str
) -> tuple[int, int, list[Path]]:
    """Write the wide shape: values, statuses, dictionary (files or sheets); rows, value columns, companion files."""
    from prst_etl.pipeline.wide import ID_COLUMNS, widen, with_status_columns
    from prst_etl.pipeline.write import Sheet, write_xlsx

    territories = data.labels.filter(pl.col("geo_level") == level)
    territories = territories.filter(pl.col("geo_code").is_in(long["geo_code"].unique().to_list() + list(data.filters.codes)))
    w = widen(long, data.extras, territories)
    n_cols = w.values.width - len(ID_COLUMNS)
    values = with_status_columns(w) if status_columns else w.values
    if restricted and fmt != "xlsx":  # a workbook says it in its name and its « lisez-moi » sheet
        values = values.with_columns(pl.lit("diffusion restreinte").alias("diffusion"))
    if fmt == "xlsx":
        sheets = [Sheet("valeurs", values, column_digits=w.digits, frozen_columns=len(ID_COLUMNS))]
        if not status_columns:
            sheets.append(Sheet("statuts", w.statuses, frozen_columns=len(ID_COLUMNS)))
        sheets.append(Sheet("dictionnaire", w.dictionary, frozen_columns=1))
        sheets.append(Sheet("lisez-moi", _readme(level, restricted, data.notes + data.choice_notes()), text_width=110))
        write_xlsx(sheets, path)
        return values.height, n_cols, []
    companions = [] if status_columns else [companion_path(path, "statuts")]
    write_frame(values, path, fmt, excel)
    if not status_columns:
        write_frame(w.statuses, companions[0], fmt, excel)
    dico = companion_path(path, "dictionnaire")
    write_frame(w.dictionary, dico, fmt, excel)
    return values.height, n_cols, [*companions, dico]


def _readme(level: str, restricted: bool, notes: list[str]) -> pl.DataFrame:
    """The « lisez-moi » sheet of a wide workbook."""
    from prst_etl import __version__

    lines = [
        f"Export prst {__version__}, niveau « {level} » : une ligne par territoire, une colonne par indicateur, "
        "déclinaison et année (feuille « dictionnaire » : ce que contient chaque colonne).",
        "Les cases vides sont sans valeur : leur statut est dans la feuille « statuts » (secret : secret statistique "
        "primaire ; secret-secondaire : caché pour qu'aucune case en secret ne soit retrouvée ; ns : non significatif ; "
        "s, nd, /// : signes de la source).",
        "Les taux sont calculés au niveau du territoire comme rapport des sommes ; ils sont arrondis aux décimales du "
        "catalogue (prst indicators show ID).",
        "Diffusion restreinte : sans secret statistique, usage interne seulement." if restricted
        else "Secret statistique appliqué (règles de schemas/secret.toml).",
        *[f"Remarque : {n}" for n in notes],
    ]
    return pl.DataFrame({"lisez-moi": lines})
