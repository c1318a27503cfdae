"""Statistical secrecy of published exports: which cells of the warehouse are hidden.

For every measure of every table (per series and year), the cells a publication may
hold — every geographic level at once (commune, zone d'emploi, département, région,
France, interprofessional SPSTI perimeters), the published sector levels, both sexes and
the source's own age bands, and the source dimensions listed in ``schemas/secret.toml``
— form one linked table. The rules of ``schemas/secret.toml`` mark the primary
cells (frequency of units, health-count thresholds, dominance); the engine of
:mod:`prst_etl.secrecy` then hides further cells so that no hidden cell can be
recovered or narrowed within its protection interval from what is published, over
all the hierarchies together. Because the pattern covers every level, exports of
different levels cannot be differenced against each other.

The pattern is a pure function of the state of the warehouse and of the rules:
the same warehouse gives the same pattern; ``keep`` (the pattern of a previous
publication) forces cells to stay hidden.
"""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import polars as pl

from prst_etl import reference
from prst_etl.reference import geography, sectors
from prst_etl.reference.territories import spsti_map
from prst_etl.model.codes import AGE_GROUPINGS, HIDDEN, SECONDARY, SECRET, TOTAL, age_bounds  # noqa: F401 (statuses re-exported)
from prst_etl.model.facts import KEY_COLUMNS, with_status_columns
from prst_etl.model.levels import EXPORT_LEVELS, SECTOR_LEVELS
from prst_etl.resources import data_dir
from prst_etl.sources import all_sources
from prst_etl.warehouse import Warehouse

UNPUBLISHED = "non-publie"
Progress = Callable[[str], None]
SHORT: list[tuple[int, int]] = []
"""Hidden cells the engine could not give their whole protection interval, per table suppressed
(read and cleared by the export, which reports them)."""
PATTERN_KEYS = ["geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]


@dataclass(frozen=True)
class SecretConfig:
    rulebook: Any
    sector_levels: tuple[str, ...]
    detail_dims: tuple[str, ...]
    units: dict[str, str]
    unpublished_levels: tuple[str, ...] = ("commune",)
    protect_secondary: bool | str = True

    def rules(self, source: str, measure: str, has_units: bool):  # type: ignore[no-untyped-def]
        r = self.rulebook.get(source, measure)
        return r if has_units or r.min_units is None else replace(r, min_units=None)


@cache
def config() -> SecretConfig:
    from prst_etl.secrecy.rules import load_rulebook

    with (data_dir("schemas") / "secret.toml").open("rb") as fh:
        data = tomllib.load(fh)
    pub = data.pop("publication", {})
    units = data.pop("units", {})
    return SecretConfig(
        rulebook=load_rulebook(data),
        sector_levels=tuple(pub.get("sector_levels", ["a38", "a21", "ensemble"])),
        detail_dims=tuple(pub.get("detail_dims", [])),
        units=dict(units),
        unpublished_levels=tuple(pub.get("unpublished_levels", ["commune"])),
        protect_secondary=pub.get("protect_secondary", True),
    )


# -- hierarchies -----------------------------------------------------------------------------
def _q(level: str, code: str) -> str:
    return f"{level}:{code}"


def geo_hierarchies(levels: set[str], spsti: pl.DataFrame | None) -> list:  # type: ignore[type-arg]
    """The geographic decompositions among the levels present (codes qualified by level), one
    Hierarchy each: région = Σ départements = Σ communes; région = Σ zones d'emploi = Σ communes;
    each interprofessional SPSTI = Σ its communes; France = Σ régions."""
    from prst_etl.secrecy import Hierarchy

    com = geography.rollup_map("commune")

    def down(parent: str, child: str, table: pl.DataFrame) -> pl.DataFrame:
        return table.select((pl.lit(parent + ":") + pl.col("target")).alias("parent"), (pl.lit(child + ":") + pl.col("code")).alias("child"))

    out = []
    for mid in ("departement", "zone-emploi"):
        edges = []
        if mid in levels and "commune" in levels:
            edges.append(down(mid, "commune", com.filter(pl.col("level") == mid)))
        if "region" in levels:
            if mid in levels:
                edges.append(down("region", mid, geography.rollup_map(mid).filter(pl.col("level") == "region")))  # type: ignore[arg-type]
            elif "commune" in levels and mid == "departement":
                edges.append(down("region", "commune", com.filter(pl.col("level") == "region")))
        if edges:
            out.append(Hierarchy("geo", pl.concat(edges).unique(), f"région, {mid}, commune"))
    if "spsti" in levels and "commune" in levels and spsti is not None and spsti.height:
        inter = spsti.filter(pl.col("champ") != "btp")
        e = inter.select((pl.lit("spsti:") + pl.col("spsti")).alias("parent"), (pl.lit("commune:") + pl.col("commune")).alias("child"))
        out.append(Hierarchy("geo", e.unique(), "SPSTI"))
    if "france" in levels and "region" in levels:
        e = reference.regions().select(pl.lit("france:FR").alias("parent"), (pl.lit("region:") + pl.col("code")).alias("child"))
        out.append(Hierarchy("geo", e, "France"))
    return out


@cache
def _sector_edges(levels: tuple[str, ...]) -> pl.DataFrame:
    t = sectors.rollup_map("naf732")
    wide = t.pivot(on="level", index="code", values="target")
    order = [lvl for lvl in SECTOR_LEVELS if lvl in levels]
    edges = []
    for fine in order:
        for coarse in order:
            if coarse == fine or SECTOR_LEVELS.index(coarse) <= SECTOR_LEVELS.index(fine):
                continue
            pairs = wide.select(pl.col(fine).alias("f"), pl.col(coarse).alias("c")).unique()
            if pairs.group_by("f").agg(pl.col("c").n_unique()).select(pl.col("c").max()).item() != 1:
                continue  # fine does not nest in coarse
            # only direct parents: no published level in between
            between = [m for m in order if SECTOR_LEVELS.index(fine) < SECTOR_LEVELS.index(m) < SECTOR_LEVELS.index(coarse)]
            if any(_nests(wide, fine, m) and _nests(wide, m, coarse) for m in between):
                continue
            edges.append(pairs.select((pl.lit(coarse + ":") + pl.col("c")).alias("parent"), (pl.lit(fine + ":") + pl.col("f")).alias("child")))
    return pl.concat(edges).unique() if edges else pl.DataFrame(schema={"parent": pl.String, "child": pl.String})


def _nests(wide: pl.DataFrame, fine: str, coarse: str) -> bool:
    pairs = wide.select(pl.col(fine).alias("f"), pl.col(coarse).alias("c")).unique()
    return pairs.group_by("f").agg(pl.col("c").n_unique()).select(pl.col("c").max()).item() == 1


def sector_hierarchy(levels: set[str]):  # type: ignore[no-untyped-def]
    from prst_etl.secrecy import Hierarchy

    if len(levels) < 2:
        return None
    return Hierarchy("sector", _sector_edges(tuple(sorted(levels))), "secteurs")


def total_hierarchy(dim: str, codes: list[str]):  # type: ignore[no-untyped-def]
    """``_T`` = Σ codes (and, for age bands, each grouping = Σ its bands)."""
    from prst_etl.secrecy import Hierarchy

    detail = [c for c in codes if c != TOTAL]
    if not detail or TOTAL not in codes:
        return None
    edges = pl.DataFrame({"parent": [TOTAL] * len(detail), "child": detail})
    return Hierarchy(dim, edges, dim)


def source_age_bands(codes: list[str]) -> list[str]:
    """Age codes as the source gives them (the groupings prst derived are not published under secrecy)."""
    present = [c for c in codes if c != TOTAL]
    out = []
    for c in present:
        if c in AGE_GROUPINGS:
            lo, hi = age_bounds(c)
            inside = [b for b in present if b != c and age_bounds(b)[0] >= lo and age_bounds(b)[1] <= hi]
            if inside:
                continue  # derived from finer bands
        out.append(c)
    return out + ([TOTAL] if TOTAL in codes else [])


# -- the pattern ---------------------------------------------------------------------------------
def in_scope(df: pl.DataFrame, extras: list[str], cfg: SecretConfig) -> pl.DataFrame:
    """The rows a secret-protected export may hold."""
    keep = pl.col("sector_level").is_in(list(cfg.sector_levels))
    for d in extras:
        if d in df.columns and d not in cfg.detail_dims:
            keep &= pl.col(d) == TOTAL
    if "age_band" in df.columns:
        keep &= pl.col("age_band").is_in(source_age_bands(df["age_band"].unique().to_list()))
    if "geo_level" in df.columns:
        keep &= pl.col("geo_level").is_in(list(EXPORT_LEVELS))
    return df.filter(keep)


def linked_table(cells: pl.DataFrame, dims: list[str], spsti: pl.DataFrame | None):  # type: ignore[no-untyped-def]
    """The cells (geography and sector codes qualified by level), their dimensions and every
    hierarchy linking them: the problem the secondary suppression solves.

    Rows without a value (the source hid them: « s », « /// »…) stay in the table, flagged
    ``unknown``: nobody outside the source knows them, so they are unpublished cells of the
    equations, valued at a lower bound of their true value (the sum of what lies below them).
    Dropping them would make the engine believe that a total is the sum of its published
    parts when the source hid one of them, and leave small cells recoverable."""
    from prst_etl.secrecy.problem import unknown_lower_bounds

    work = cells.with_columns(
        (pl.col("geo_level") + ":" + pl.col("geo_code")).alias("geo"),
        (pl.col("sector_level") + ":" + pl.col("sector_code")).alias("sector"),
        pl.col("value").is_null().alias("unknown"),
    )
    edims = ["geo", "sector", *[d for d in dims if d not in ("geo_level", "geo_code", "sector_level", "sector_code")]]
    if work.filter(~pl.col("unknown")).height == 0:
        return work.head(0), edims, []
    hiers = [*geo_hierarchies(set(work["geo_level"].unique()), spsti), sector_hierarchy(set(work["sector_level"].unique()))]
    for d in edims[2:]:
        hiers.append(total_hierarchy(d, work[d].unique().to_list()))
    hiers = [h for h in hiers if h is not None]
    unknown = work["unknown"].to_numpy()
    if unknown.any():
        work = work.with_columns(pl.Series("value", unknown_lower_bounds(work, edims, hiers, unknown, "value")))
    return work, edims, hiers


def suppress(
    cells: pl.DataFrame,
    dims: list[str],
    rules,  # type: ignore[no-untyped-def]
    spsti: pl.DataFrame | None,
    keep: pl.Series | None = None,
) -> pl.DataFrame:
    """Status (``secret`` / ``secret-secondaire`` / null) and rule of every cell of one linked table.

    ``cells``: ``geo_level, geo_code, sector_level, sector_code`` + other ``dims`` +
    ``value`` and optionally ``n_units``; rows without a value (signs of the source) carry
    the equations as unknown cells (see :func:`linked_table`) and are left out of the result:
    they are not published anyway. ``keep`` is aligned with ``cells``.
    """
    from prst_etl.secrecy import secondary_suppression
    from prst_etl.secrecy.primary import audit, primary_suppression
    from prst_etl.secrecy.problem import build_problem, check_additivity

    work, edims, hiers = linked_table(cells, dims, spsti)
    if work.height == 0:
        return cells.head(0).with_columns(pl.lit(None, pl.String).alias("secret"), pl.lit(None, pl.String).alias("rule"))
    unknown = work["unknown"]
    # the table prst built must add up where its values are known (a bug otherwise, not data);
    # without unknown cells the engine checks it itself
    bad = check_additivity(build_problem(work.filter(~unknown), edims, hiers, "value")) if hiers and unknown.any() else pl.DataFrame()
    if bad.height:
        raise RuntimeError(f"secrecy: {bad.height} cells differ from the sum of the cells below them: {bad.head(3).to_dicts()}")
    n_units = "n_units" if "n_units" in work.columns else "_no_units"
    cfg = config()
    # unpublished levels and cells the source hid carry equations but are never shown:
    # never primary, nothing to protect; a hidden cell valued 0 is not used at all
    unpublished = work["geo_level"].is_in(list(cfg.unpublished_levels)) | unknown
    primary = primary_suppression(work, rules, value="value", n_units=n_units) & ~unpublished
    if keep is not None:
        keep = keep & ~unpublished
    unusable = unknown & (work["value"] <= 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = secondary_suppression(
            work, edims, hiers, primary, value="value", protection=rules.protection, keep=keep,
            min_protection=rules.min_protection, check="skip" if unknown.any() else "warn", on_unprotected="warn",
            unpublished=unpublished if unpublished.any() else None, protect_secondary=cfg.protect_secondary,
            never_hide=unusable if unusable.any() else None,
        )  # fmt: skip
    status = status.replace(UNPUBLISHED, None)  # unpublished levels are not in the pattern: never exported
    short = {"primary": 0, "secondary": 0}
    for w in caught:
        if m := re.match(r"(\d+) (primary|secondary) .*could not", str(w.message)):
            short[m.group(2)] += int(m.group(1))
    unchecked = [str(w.message) for w in caught if "differ from the sum" in str(w.message)]
    if unchecked:
        raise RuntimeError("secrecy: " + unchecked[0])  # prst built an inconsistent table: a bug, not data
    SHORT.append((short["primary"], short["secondary"]))
    aud = audit(work, edims, status, rules, value="value", n_units=n_units)
    out = work.with_columns(status.alias("secret")).join(aud.select(*edims, "rule"), on=edims, how="left")
    return out.filter(~pl.col("unknown")).drop("geo", "sector", "unknown")


# -- the pattern of a warehouse state ------------------------------------------------------------
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
    from prst_etl.pipeline.aggregate import current_aggregates
    from prst_etl.pipeline.combine import measure_rows, table_measures

    cfg = config()
    registry = all_sources()
    groups: dict[tuple[str, str, str], list[pl.DataFrame]] = {}
    extras_all: set[str] = set()
    for level in EXPORT_LEVELS:
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
                units = in_scope(measure_rows(df, spec, dims, "", extras, unit), extras, cfg).select(
                    *KEY_COLUMNS, *extras, pl.col("value").alias("n_units")
                )
            for m in table_measures(spec):
                rows = in_scope(measure_rows(df, spec, dims, "", extras, m), extras, cfg)
                if units is not None:
                    rows = rows.join(units, on=[*KEY_COLUMNS, *extras], how="left", nulls_equal=True)
                groups.setdefault((r["source"], spec.name, m), []).append(rows)
    perims = wh.perimeter_rows()
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



def secret_pattern(
    wh: Warehouse, years: list[int] | None, keep: pl.DataFrame | None = None, progress: Progress | None = None
) -> tuple[pl.DataFrame, tuple[int, int]]:
    """:func:`compute_secret_pattern`, cached in ``warehouse/secret/``: the pattern is a pure function of
    the aggregates read, the rules and the kept cells, so each export of a state reuses it. Also
    returns how many hidden cells, primary and secondary, are short of their whole protection interval."""
    import hashlib

    from prst_etl.pipeline.aggregate import current_aggregates

    parts = pl.concat(
        [current_aggregates(wh, lvl, years).select("path") for lvl in EXPORT_LEVELS]
    )["path"].sort().to_list()
    h = hashlib.sha256()
    for text in (
        SECRECY_VERSION, "|".join(parts), (data_dir("schemas") / "secret.toml").read_text(encoding="utf-8"),
        str(sorted(years) if years else "all"),
    ):
        h.update(text.encode())
    if keep is not None:
        h.update(keep.sort(keep.columns).write_csv().encode())
    path = wh.secret_dir() / f"pattern-{h.hexdigest()[:16]}.parquet"
    if not path.exists():
        from prst_etl.pipeline import secret

        secret.SHORT.clear()
        pattern = compute_secret_pattern(wh, years, keep, progress)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        pattern.write_parquet(tmp)
        path.with_suffix(".short").write_text(" ".join(str(sum(s[i] for s in SHORT)) for i in (0, 1)))
        os.replace(tmp, path)
    short = path.with_suffix(".short")
    p, s = (int(v) for v in short.read_text().split()) if short.exists() else (0, 0)
    return pl.read_parquet(path), (p, s)
