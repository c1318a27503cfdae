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
import tomllib
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
PARTS = "spsti-departement"
"""The level of sources counted by SPSTI × département: never published, it carries the equations
that link its two parents (each département and each SPSTI is the sum of its parts)."""
SECRET_LEVELS = (*EXPORT_LEVELS, PARTS)
HEADLINE = 1e9
"""Cost factor of a headline cell (see ``headline_levels``): chosen as secondary only when no
other pattern is found."""
Progress = Callable[[str], None]
PATTERN_KEYS = ["geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]


@dataclass(frozen=True)
class SecretConfig:
    rulebook: Any
    sector_levels: tuple[str, ...]
    detail_dims: tuple[str, ...]
    units: dict[str, str]
    unpublished_levels: tuple[str, ...] = ("commune",)
    protect_secondary: bool | str = True
    zero_rule: str = "population"
    """``population``: a zero is secret when its population (units) breaks the frequency rule, and
    then keeps an upper bound of at least ``min_protection``; ``publish``: zeros are never secret."""
    cost: str = "value"
    headline_levels: tuple[str, ...] = ()
    """Levels whose all-sectors × both-sexes × all-ages cells are headline totals: never chosen as
    secondary when another pattern exists (prohibitive cost)."""

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
        zero_rule=_choice(pub.get("zero_rule", "population"), ("population", "publish"), "zero_rule"),
        cost=_choice(pub.get("cost", "value"), ("value", "log", "count", "sqrt"), "cost"),
        headline_levels=tuple(pub.get("headline_levels", [])),
    )


def _choice(value: str, allowed: tuple[str, ...], key: str) -> str:
    if value not in allowed:
        raise ValueError(f"schemas/secret.toml [publication] {key} = {value!r}: expected one of {allowed}")
    return value


# -- hierarchies -----------------------------------------------------------------------------
def _q(level: str, code: str) -> str:
    return f"{level}:{code}"


def geo_hierarchies(levels: set[str], spsti: pl.DataFrame | None, parts: list[str] | None = None) -> list:  # type: ignore[type-arg]
    """The geographic decompositions among the levels present (codes qualified by level), one
    Hierarchy each: région = Σ départements = Σ communes; région = Σ zones d'emploi = Σ communes;
    each interprofessional SPSTI = Σ its communes; France = Σ régions; and, for sources counted
    by SPSTI × département (``parts``, codes ``<spsti>@<dep>``), each département = Σ its parts
    and each SPSTI = Σ its parts: a part has two parents."""
    from prst_etl.secrecy import Hierarchy

    com = geography.rollup_map("commune")

    def down(parent: str, child: str, table: pl.DataFrame) -> pl.DataFrame:
        return table.select((pl.lit(parent + ":") + pl.col("target")).alias("parent"), (pl.lit(child + ":") + pl.col("code")).alias("child"))

    out = []
    for mid in ("departement", "zone-emploi"):
        edges = []
        if mid in levels and "commune" in levels:
            edges.append(down(mid, "commune", com.filter(pl.col("level") == mid)))
        if mid == "departement" and parts and PARTS in levels and mid in levels:
            edges.append(_part_edges(parts, "departement"))
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
    if parts and PARTS in levels and "spsti" in levels:
        out.append(Hierarchy("geo", _part_edges(parts, "spsti"), "SPSTI, parts"))
    if "france" in levels and "region" in levels:
        e = reference.regions().select(pl.lit("france:FR").alias("parent"), (pl.lit("region:") + pl.col("code")).alias("child"))
        out.append(Hierarchy("geo", e, "France"))
    return out


def _part_edges(parts: list[str], parent: str) -> pl.DataFrame:
    """Edges from each part ``<spsti>@<dep>`` to its SPSTI or its département."""
    p = pl.DataFrame({"code": sorted(set(parts))})
    i = 0 if parent == "spsti" else 1
    return p.select(
        (pl.lit(parent + ":") + pl.col("code").str.split("@").list.get(i)).alias("parent"), (pl.lit(PARTS + ":") + pl.col("code")).alias("child")
    )


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
    """The rows a secret-protected export may hold (and the unpublished levels that carry equations)."""
    keep = pl.col("sector_level").is_in(list(cfg.sector_levels))
    for d in extras:
        if d in df.columns and d not in cfg.detail_dims:
            keep &= pl.col(d) == TOTAL
    if "age_band" in df.columns:
        keep &= pl.col("age_band").is_in(source_age_bands(df["age_band"].unique().to_list()))
    if "geo_level" in df.columns:
        keep &= pl.col("geo_level").is_in(list(SECRET_LEVELS))
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
    parts = work.filter(pl.col("geo_level") == PARTS)["geo_code"].unique().to_list()
    hiers = [*geo_hierarchies(set(work["geo_level"].unique()), spsti, parts), sector_hierarchy(set(work["sector_level"].unique()))]
    for d in edims[2:]:
        hiers.append(total_hierarchy(d, work[d].unique().to_list()))
    hiers = [h for h in hiers if h is not None]
    unknown = work["unknown"].to_numpy()
    if unknown.any():
        work = work.with_columns(pl.Series("value", unknown_lower_bounds(work, edims, hiers, unknown, "value")))
    return work, edims, hiers


def headline_mask(work: pl.DataFrame, edims: list[str], levels: tuple[str, ...]) -> pl.Series:
    """Cells that are a territory's all-sectors × both-sexes × all-ages total (every other
    dimension at ``_T``) at one of ``levels``."""
    m = pl.col("geo_level").is_in(list(levels)) & (pl.col("sector") == f"ensemble:{TOTAL}")
    for d in edims[2:]:
        m &= pl.col(d) == TOTAL
    return work.select(m.alias("headline")).to_series()


def _primary(work: pl.DataFrame, rules, n_units: str, cfg: SecretConfig) -> pl.Series:  # type: ignore[no-untyped-def]
    from prst_etl.secrecy.primary import primary_suppression

    p = primary_suppression(work, rules, value="value", n_units=n_units)
    if cfg.zero_rule == "publish":
        p = p & (work["value"] != 0)
    return p


def implied_zeros(work: pl.DataFrame, edims: list[str], hiers: list, candidates: pl.Series, shown: pl.Series) -> pl.Series:  # type: ignore[type-arg]
    """Zero cells (among ``candidates``) whose zero is already told by a parent cell that is zero
    and ``shown`` (published, a population large enough): they reveal nothing more (the Insee rule
    on zeros), so they need no interval."""
    cand = work.with_row_index("_row").filter(candidates)
    if not cand.height:
        return pl.Series([False] * work.height)
    zero_parents = work.filter(shown & (work["value"] == 0)).select(*edims).with_columns(pl.lit(True).alias("_zp"))
    hit = pl.Series([False] * cand.height)
    for h in hiers:
        d = h.dimension
        e = h.edges.select(pl.col("parent").cast(pl.String), pl.col("child").cast(pl.String).alias(d))
        up = cand.select("_row", *edims).join(e, on=d, how="inner").drop(d).rename({"parent": d})
        z = up.join(zero_parents, on=edims, how="inner")["_row"].unique()
        hit = hit | cand["_row"].is_in(z.implode())
    out = pl.Series([False] * work.height).scatter(cand["_row"].to_numpy(), hit)
    return out


@dataclass
class Suppressed:
    """The pattern of one linked table and what the engine could not do."""

    frame: pl.DataFrame
    short_primary: int = 0
    short_secondary: int = 0


def suppress(
    cells: pl.DataFrame,
    dims: list[str],
    rules,  # type: ignore[no-untyped-def]
    spsti: pl.DataFrame | None,
    keep: pl.Series | None = None,
    *,
    part_rules: dict | None = None,  # type: ignore[type-arg]
    free: pl.Series | None = None,
    fixed: pl.Series | None = None,
) -> Suppressed:
    """Status (``secret`` / ``secret-secondaire`` / null) and rule of every cell of one linked table.

    ``cells``: ``geo_level, geo_code, sector_level, sector_code`` + other ``dims`` +
    ``value`` and optionally ``n_units``; rows without a value (signs of the source) carry
    the equations as unknown cells (see :func:`linked_table`) and are left out of the result:
    they are not published anyway. ``keep`` is aligned with ``cells``, and so are ``free``
    (hidden already, by another table of the same quantity, and protected there: free to move,
    nothing to protect; returned without status) and ``fixed`` (published by that other table:
    never hidden here). ``part_rules``: when the
    table stacks several measures (dimension ``_part``, see :func:`stack_identity`), the rules of
    each part; the rows of part ``_reste`` are never published.
    """
    from prst_etl.secrecy import suppress_cells
    from prst_etl.secrecy.primary import audit

    def flag(name: str, mask: pl.Series | None) -> pl.Expr:
        return pl.Series(name, mask) if mask is not None else pl.lit(False).alias(name)  # type: ignore[return-value]

    work, edims, hiers = linked_table(cells.with_columns(flag("_keep", keep), flag("_free", free), flag("_fixed", fixed)), dims, spsti)
    if work.height == 0:
        return Suppressed(cells.head(0).with_columns(pl.lit(None, pl.String).alias("secret"), pl.lit(None, pl.String).alias("rule")))
    unknown = work["unknown"]
    keep = work["_keep"] if keep is not None else None
    n_units = "n_units" if "n_units" in work.columns else "_no_units"
    cfg = config()
    # unpublished levels and cells the source hid carry equations but are never shown:
    # never primary, nothing to protect; a hidden cell valued 0 is not used at all
    unpublished = work["geo_level"].is_in(list(cfg.unpublished_levels)) | (work["geo_level"] == PARTS) | unknown
    if "_part" in work.columns:
        unpublished = unpublished | (work["_part"] == REST)
    unpublished = unpublished | work["_free"]
    if part_rules:
        primary = pl.Series([False] * work.height)
        for part, r in part_rules.items():
            primary = primary | (_primary(work, r, n_units, cfg) & (work["_part"] == part))
    else:
        primary = _primary(work, rules, n_units, cfg)
    primary = primary & ~unpublished & ~work["_fixed"]
    if keep is not None:
        keep = keep & ~unpublished
    unusable = (unknown & (work["value"] <= 0)) | (work["_fixed"] & ~unpublished)
    cost: Any = cfg.cost
    head = None
    if cfg.headline_levels:
        from prst_etl.secrecy.problem import cell_costs

        head = headline_mask(work, edims, cfg.headline_levels).to_numpy()
        if not head.any():
            head = None
        else:
            import numpy as np

            x = work["value"].to_numpy()
            base = cell_costs(cfg.cost, x, np.arange(len(x)))
            cost = pl.Series("cost", np.where(head, (base + 1.0) * HEADLINE, base))
    zero_protection: Any = 0.0
    if cfg.zero_rule == "population":
        # a hidden zero keeps an upper bound of min_protection, unless a published zero of a larger
        # population already tells it
        zp = primary & (work["value"] == 0)
        if zp.any():
            told = implied_zeros(work, edims, hiers, zp, ~primary & ~unpublished)
            zero_protection = (zp & ~told).cast(pl.Float64) * float(rules.min_protection or 1.0)
    opts = dict(
        value="value", protection=rules.protection, keep=keep, min_protection=rules.min_protection,
        zero_protection=zero_protection, cost=cost, check="report" if hiers and not unknown.any() else "skip",
        unpublished=unpublished if unpublished.any() else None, protect_secondary=cfg.protect_secondary,
    )  # fmt: skip
    res = None
    if head is not None:
        # headline cells first out of reach; only if some hidden cell cannot then be protected,
        # allowed at their prohibitive cost
        forced = primary | keep if keep is not None else primary
        never = unusable | (pl.Series(head) & ~forced)
        res = suppress_cells(work, edims, hiers, primary, never_hide=never, **opts)
        if res.short_primary:
            # the cells left short, protected on their own: what the first pass hid is free to
            # move (it stays hidden, nothing more to protect), headline cells allowed at their cost
            assert res.unprotected is not None
            first = res.status
            hid = first.is_not_null() & (first != UNPUBLISHED) & ~res.unprotected
            opts2 = {**opts, "keep": None, "unpublished": unpublished | hid}
            again = suppress_cells(work, edims, hiers, res.unprotected, never_hide=unusable if unusable.any() else None, **opts2)
            second = again.status
            status2 = (
                pl.when(pl.Series(first).is_in(["secret", "secret-secondaire"])).then(pl.Series(first))
                .when(second == "secret-secondaire").then(pl.lit("secret-secondaire"))
                .otherwise(pl.Series(first))
            )
            merged = work.select(status2.alias("status"))["status"]
            from prst_etl.secrecy.secondary import SuppressionResult

            res = SuppressionResult(merged, again.short_primary, res.short_secondary + again.short_secondary, res.not_additive)
    if res is None:
        res = suppress_cells(work, edims, hiers, primary, never_hide=unusable if unusable.any() else None, **opts)
    known = res.not_additive
    if hiers and unknown.any():
        # the table prst built must add up where its values are known (a bug otherwise, not data)
        from prst_etl.secrecy.problem import build_problem, check_additivity

        known = check_additivity(build_problem(work.filter(~unknown), edims, hiers, "value"))
    if known.height:
        raise RuntimeError(f"secrecy: {known.height} cells differ from the sum of the cells below them: {known.head(3).to_dicts()}")
    status = res.status.replace(UNPUBLISHED, None)  # unpublished levels are not in the pattern: never exported
    if part_rules:
        auds = [
            audit(work.filter(work["_part"] == part), edims, status.filter(work["_part"] == part), r, value="value", n_units=n_units)
            for part, r in part_rules.items()
        ]
        aud = pl.concat(auds)
    else:
        aud = audit(work, edims, status, rules, value="value", n_units=n_units)
    out = work.with_columns(status.alias("secret")).join(aud.select(*edims, "rule"), on=edims, how="left", nulls_equal=True)
    out = out.filter(~pl.col("unknown") & ~pl.col("geo_level").eq(PARTS)).drop("geo", "sector", "unknown", "_keep", "_free", "_fixed")
    return Suppressed(out, res.short_primary, res.short_secondary)


# -- the pattern of a warehouse state ------------------------------------------------------------
SECRECY_VERSION = "3"
"""Bump when the way patterns are computed changes (cached patterns are then recomputed)."""
REST = "_reste"
"""Part of a stacked identity holding ``total − Σ parts`` where the source's parts do not add up
to its total (unpublished, non-negative)."""


class SecretProblem:
    """One linked table: one measure of one source for one year, every level at once (or several
    measures tied by an identity, stacked along ``_part``). ``cells`` is built when first read
    (from the aggregates) and dropped by :meth:`release`: the problems of a warehouse never sit in
    memory all at once."""

    def __init__(
        self, source: str, table: str, measure: str, year: int, cells: pl.DataFrame | Callable[[], pl.DataFrame],
        dims: list[str], rules: object, spsti: pl.DataFrame | None, part_rules: dict | None = None, parts: dict | None = None,  # type: ignore[type-arg]
    ) -> None:
        self.source, self.table, self.measure, self.year = source, table, measure, year
        self._load = cells if callable(cells) else None
        self._cells = None if callable(cells) else cells
        self.dims, self.rules, self.spsti = dims, rules, spsti
        self.part_rules = part_rules
        """Stacked identity: part code → rules (the total's code is ``_T``)."""
        self.parts = parts
        """Stacked identity: part code → measure."""

    @property
    def cells(self) -> pl.DataFrame:
        if self._cells is None:
            assert self._load is not None
            self._cells = self._load()
        return self._cells

    def release(self) -> None:
        if self._load is not None:
            self._cells = None

    def __repr__(self) -> str:
        return f"SecretProblem({self.source}, {self.table}, {self.measure}, {self.year})"


def secret_problems(wh: Warehouse, years: list[int] | None) -> tuple[list[SecretProblem], list[str]]:
    """The linked tables of the current aggregates, in a fixed order, and the source dimensions."""
    from prst_etl.pipeline.aggregate import current_aggregates
    from prst_etl.pipeline.combine import measure_rows, table_measures

    cfg = config()
    registry = all_sources()
    tables: dict[tuple[str, str], list[tuple[pl.DataFrame, object, list[str], list[str]]]] = {}
    extras_all: set[str] = set()
    for level in SECRET_LEVELS:
        for r in current_aggregates(wh, level, years).iter_rows(named=True):
            spec = registry[r["source"]]().table(r["table_name"])
            extras = sorted({*spec.extra_dims, *(p.dimension for p in spec.pivots)})
            extras_all.update(extras)
            df = with_status_columns(pl.scan_parquet(wh.abs(r["path"])), spec)
            df = df.filter(pl.col("sector_level").is_in(list(cfg.sector_levels))).collect()
            df = df.with_columns(pl.lit(r["source"]).alias("sources"), pl.lit(None, dtype=pl.String).alias("coverage"))
            tables.setdefault((r["source"], spec.name), []).append((df, spec, list(KEY_COLUMNS) + list(spec.extra_dims), extras))

    def rows_of(frames, measure: str, year: int) -> pl.DataFrame:  # type: ignore[no-untyped-def]
        out = []
        for df, spec, dims, extras in frames:
            df = df.filter(pl.col("year") == year)
            unit = cfg.units.get(spec.name)
            # only what the suppression reads: millions of repeated labels cost gigabytes
            rows = in_scope(measure_rows(df, spec, dims, "", extras, measure), extras, cfg).select(*KEY_COLUMNS, *extras, "value")
            if unit and unit in spec.measure_ids:
                units = in_scope(measure_rows(df, spec, dims, "", extras, unit), extras, cfg).select(
                    *KEY_COLUMNS, *extras, pl.col("value").alias("n_units")
                )
                rows = rows.join(units, on=[*KEY_COLUMNS, *extras], how="left", nulls_equal=True)
            out.append(rows)
        return pl.concat(out, how="diagonal_relaxed")

    perims = wh.perimeter_rows()
    problems = []
    for (source, table), frames in sorted(tables.items()):
        spec = frames[0][1]
        has_units = bool(cfg.units.get(table) and cfg.units[table] in spec.measure_ids)  # type: ignore[attr-defined]
        extras = sorted({e for f in frames for e in f[3]})
        dims = [d for d in [*KEY_COLUMNS, *extras] if d != "year"]
        yrs = sorted({int(y) for f in frames for y in f[0]["year"].unique().to_list()})
        for measure in table_measures(spec):
            rules = cfg.rules(source, measure, has_units)
            for year in yrs:
                load = (lambda fr=frames, m=measure, y=year: rows_of(fr, m, y))
                problems.append(SecretProblem(source, table, measure, year, load, dims, rules, spsti_map(perims, year)))
    problems.sort(key=lambda p: (p.source, p.table, p.measure, p.year))
    return stack_identities(problems), sorted(extras_all)


def stack_identities(problems: list[SecretProblem]) -> list[SecretProblem]:
    """Measures of one table tied by a sum identity of the catalogue (``at_ip = at_ip_lt10 +
    at_ip_ge10``) become one linked table, the measure a dimension ``_part`` (the total ``_T``):
    a published total and published parts cannot give a hidden one away. Where the source's parts
    fall short of its total, the difference is an unpublished part ``_reste``; where they exceed
    it (a file inconsistent with the identity, reported at aggregate time), the measures stay apart."""
    from prst_etl.model.indicators import identities

    by = {(p.source, p.table, p.measure, p.year): p for p in problems}
    used: set[tuple[str, str, str, int]] = set()
    stacked = []
    for ident in identities():
        for (source, table, measure, year), tot in sorted(by.items()):
            if measure != ident.total or (source, table, measure, year) in used:
                continue
            members = [by.get((source, table, m, year)) for m in ident.parts]
            if any(m is None for m in members):
                continue
            ok = stack_identity(tot, members, ident.parts) is not None  # type: ignore[arg-type]
            for pb in (tot, *members):
                pb.release()  # type: ignore[union-attr]
            if not ok:
                continue
            used.update({(source, table, m, year) for m in (ident.total, *ident.parts)})
            load = (lambda t=tot, ms=members, names=ident.parts: _stacked_cells(t, ms, names))
            part_rules = {code: pb.rules for code, pb in zip((TOTAL, *ident.parts), [tot, *members])}  # type: ignore[union-attr]
            stacked.append(SecretProblem(tot.source, tot.table, tot.measure, tot.year, load, [*tot.dims, "_part"], tot.rules, tot.spsti,
                                         part_rules=part_rules, parts=dict(zip((TOTAL, *ident.parts), (tot.measure, *ident.parts)))))  # fmt: skip
    rest = [p for p in problems if (p.source, p.table, p.measure, p.year) not in used]
    return sorted([*rest, *stacked], key=lambda p: (p.source, p.table, p.measure, p.year))


def _stacked_cells(total: SecretProblem, members: list[SecretProblem], names: tuple[str, ...]) -> pl.DataFrame:
    cells = stack_identity(total, members, names)
    for pb in (total, *members):
        pb.release()
    assert cells is not None
    return cells


def stack_identity(total: SecretProblem, members: list[SecretProblem], names: tuple[str, ...]) -> pl.DataFrame | None:
    """The cells of the stacked table, or None when the parts exceed the total somewhere."""
    on = list(total.dims)
    codes = [TOTAL, *names]
    frames = [pb.cells.with_columns(pl.lit(code).alias("_part")) for code, pb in zip(codes, [total, *members])]
    wide = total.cells.select(*on, pl.col("value").alias("_t"))
    for code, pb in zip(names, members):
        wide = wide.join(pb.cells.select(*on, pl.col("value").alias(code)), on=on, how="left", nulls_equal=True)
    wide = wide.with_columns(pl.col(c).fill_null(0.0) for c in names)
    rest = wide.select(*on, (pl.col("_t") - pl.sum_horizontal(list(names))).alias("value"))
    if rest.height != total.cells.height or rest["value"].min() is not None and rest["value"].min() < -1e-9:  # type: ignore[operator]
        return None
    rest = rest.filter(pl.col("value").is_not_null())
    if rest["value"].abs().max() or 0:  # type: ignore[operator]
        extra = total.cells.drop("value").join(rest, on=on, how="inner", nulls_equal=True).with_columns(pl.lit(REST).alias("_part"))
        if "n_units" in extra.columns:
            extra = extra.with_columns(pl.lit(None, pl.Float64).alias("n_units"))
        frames.append(extra)
    return pl.concat(frames, how="diagonal_relaxed")


def _kept(keep: pl.DataFrame | None, pb: SecretProblem, measure: str, cells: pl.DataFrame) -> pl.Series | None:
    if keep is None or not keep.height:
        return None
    k = keep.filter((pl.col("indicator") == measure) & (pl.col("source") == pb.source))
    on = [d for d in pb.dims if d in k.columns]
    k = k.select(on).unique()
    if not k.height:
        return None
    return cells.select(on).join(k.with_columns(pl.lit(True).alias("_k")), on=on, how="left", nulls_equal=True, maintain_order="left")["_k"].fill_null(False)


def _or(a: pl.Series | None, b: pl.Series | None) -> pl.Series | None:
    if a is None:
        return b
    return a if b is None else (a | b)


def same_links(problems: list[SecretProblem]) -> dict[tuple[str, str, int], list[tuple[str, str]]]:
    """The same quantity given by several measures or sources (catalogue ``[[same]]``): per carrier
    (source, measure, year) — the first present — the other (source, measure) of the same year,
    which follow its pattern."""
    from prst_etl.model.indicators import same_groups

    present: dict[tuple[str, str, int], SecretProblem] = {}
    for pb in problems:
        for m in (pb.parts or {TOTAL: pb.measure}).values():
            present[(pb.source, m, pb.year)] = pb
    years = sorted({pb.year for pb in problems})
    out: dict[tuple[str, str, int], list[tuple[str, str]]] = {}
    for g in same_groups():
        sources = g.sources or tuple(sorted({pb.source for pb in problems}))
        families = [tuple((s, m) for s in sources for m in g.measures)] if g.sources else [tuple((s, m) for m in g.measures) for s in sources]
        for fam in families:
            for y in years:
                here = [(s, m) for s, m in fam if (s, m, y) in present]
                if len(here) > 1:
                    out[(here[0][0], here[0][1], y)] = here[1:]
    return out


def _slice(pb: SecretProblem, res: pl.DataFrame, measure: str) -> pl.DataFrame:
    """The result rows of one measure of a (possibly stacked) problem."""
    if pb.parts:
        code = next(c for c, m in pb.parts.items() if m == measure)
        return res.filter(pl.col("_part") == code).drop("_part")
    return res


def compute_secret_pattern(
    wh: Warehouse, years: list[int] | None, keep: pl.DataFrame | None = None, progress: Progress | None = None
) -> tuple[pl.DataFrame, tuple[int, int]]:
    """Hidden cells of every count of every source, every level at once (see :mod:`prst_etl.pipeline.secret`),
    and how many hidden cells, primary and secondary, are short of their protection interval.

    Each source's cube is additive on its own, so the linked table of a measure is that of
    one source (before sources of a series are combined): a combined cell is hidden when
    the cell of one of its sources is. Measures tied by an identity are one table (see
    :func:`stack_identities`); a quantity given by several measures or sources has one pattern,
    that of its carrier (see :func:`same_links`), whose table also protects the primary cells of
    the others. ``keep``: hidden cells of a previous publication (matched without the year): they
    stay hidden.
    """
    problems, extras_all = secret_problems(wh, years)
    links = same_links(problems)
    follower = {(s, m, y): c for c, fs in links.items() for s, m in fs for y in [c[2]]}
    where = {(pb.source, m, pb.year): pb for pb in problems for m in (pb.parts or {TOTAL: pb.measure}).values()}
    cfg = config()
    # carriers first (a follower's pattern is its carrier's), the rest in order
    order = sorted(problems, key=lambda pb: (any((pb.source, m, pb.year) in follower for m in (pb.parts or {TOTAL: pb.measure}).values()),
                                             pb.source, pb.table, pb.measure, pb.year))  # fmt: skip
    results: dict[tuple[str, str, int], pl.DataFrame] = {}
    out = []
    short = [0, 0]
    for n, pb in enumerate(order, 1):
        if progress:
            progress(f"secret statistique {n}/{len(order)} : {pb.source} {pb.measure} {pb.year}")
        measures = pb.parts or {TOTAL: pb.measure}
        kept = free = fixed = None
        inherited: list[pl.DataFrame] = []
        for code, m in measures.items():
            k = _kept(keep, pb, m, pb.cells)
            if k is not None and pb.parts:
                k = k & (pb.cells["_part"] == code)
            kept = _or(kept, k)
            # primaries of the followers of this carrier, on the cells they share
            for s2, m2 in links.get((pb.source, m, pb.year), []):
                f = where[(s2, m2, pb.year)]
                fc = _slice(f, f.cells, m2) if f.parts else f.cells
                fr = f.part_rules[next(c for c, mm in f.parts.items() if mm == m2)] if f.parts else f.rules
                fp = in_level(fc, cfg) & _primary(fc, fr, "n_units" if "n_units" in fc.columns else "_no_units", cfg)
                kept = _or(kept, _map(fc.filter(fp), pb, code))
                if f is not pb:
                    f.release()
            # a follower has its carrier's pattern on the cells they share: the carrier's primary
            # cells protected here too, its secondary ones hidden and free, the others published
            c = follower.get((pb.source, m, pb.year))
            if c is not None and c in results:
                hid = results[c]
                kept = _or(kept, _map(hid.filter(pl.col("secret") == "secret"), pb, code))
                free = _or(free, _map(hid.filter(pl.col("secret") == "secret-secondaire"), pb, code))
                carrier = where[c]
                shared = _map(_slice(carrier, carrier.cells, c[1]) if carrier.parts else carrier.cells, pb, code)
                carrier.release()
                fixed = _or(fixed, shared)
                inherited.append(hid)
        copied = _follow(pb, follower, where, results, cfg) if not pb.parts else None
        if copied is None and fixed is not None:
            fixed = fixed & ~(kept if kept is not None else fixed.not_()) & ~(free if free is not None else fixed.not_())
        res = copied or suppress(pb.cells, pb.dims, pb.rules, pb.spsti, kept, part_rules=pb.part_rules, free=free, fixed=fixed)
        if copied is None and fixed is not None and res.short_primary:
            # the carrier's published cells leave some cell of this table short: then every cell the
            # carrier hid is kept hidden and protected here, and more may be hidden
            res = suppress(pb.cells, pb.dims, pb.rules, pb.spsti, _or(kept, free), part_rules=pb.part_rules)
            inherited = []
        if copied is None and inherited:
            # the carrier's secondary cells come back with their status and rule
            on = [d for d in pb.dims if d != "_part" and d in inherited[0].columns]
            back = pl.concat(inherited).select(*on, pl.col("secret").alias("_s"), pl.col("rule").alias("_r")).unique(on, keep="first")
            f = res.frame.join(back, on=on, how="left", nulls_equal=True, maintain_order="left")
            f = f.with_columns(pl.coalesce("secret", "_s").alias("secret"), pl.coalesce("rule", "_r").alias("rule")).drop("_s", "_r")
            res = Suppressed(f, res.short_primary, res.short_secondary)
        short[0] += res.short_primary
        short[1] += res.short_secondary
        pb.release()
        for code, m in measures.items():
            r = _slice(pb, res.frame, m)
            if (pb.source, m, pb.year) in links:
                results[(pb.source, m, pb.year)] = r.filter(pl.col("secret").is_not_null())
            extras = [e for e in extras_all if e in r.columns]
            out.append(
                r.filter(pl.col("secret").is_not_null()).select(
                    *KEY_COLUMNS, *extras, "value", "secret", "rule",
                    pl.lit(pb.source).alias("source"), pl.lit(m).alias("indicator"),
                )  # fmt: skip
            )
    if not out:
        empty = pl.DataFrame(schema={**{k: pl.String for k in KEY_COLUMNS}, "year": pl.Int32, "value": pl.Float64,
                                     "secret": pl.String, "rule": pl.String, "source": pl.String, "indicator": pl.String})  # fmt: skip
        return empty, (0, 0)
    pattern = pl.concat(
        [f.with_columns([pl.lit(TOTAL).alias(e) for e in extras_all if e not in f.columns]) for f in out], how="diagonal_relaxed"
    )
    cols = [*KEY_COLUMNS, *[e for e in extras_all if e in pattern.columns]]
    return pattern.sort(["source", "indicator", *cols]), (short[0], short[1])


def _follow(pb: SecretProblem, follower: dict, where: dict, results: dict, cfg: SecretConfig) -> Suppressed | None:  # type: ignore[type-arg]
    """The pattern of a follower whose every published cell is a cell of its carrier: the carrier's,
    copied (status and rule). None when some cell has no counterpart (then it is solved, keeping
    the carrier's pattern)."""
    c = follower.get((pb.source, pb.measure, pb.year))
    if c is None or c not in results:
        return None
    carrier = where[c]
    cc = _slice(carrier, carrier.cells, c[1]) if carrier.parts else carrier.cells
    on = [d for d in pb.dims if d in cc.columns]
    for d in carrier.dims:
        if d not in on and d != "_part" and d in cc.columns:
            cc = cc.filter(pl.col(d) == TOTAL)
    fc = pb.cells.filter(in_level(pb.cells, cfg))
    missing = fc.join(cc.select(on), on=on, how="anti", nulls_equal=True).height
    if carrier is not pb:
        carrier.release()
    if missing:
        return None
    hid = results[c].select(*on, "secret", "rule").unique(on, keep="first")
    return Suppressed(fc.join(hid, on=on, how="left", nulls_equal=True, maintain_order="left"))


def in_level(cells: pl.DataFrame, cfg: SecretConfig) -> pl.Series:
    """Valued cells of published levels."""
    return (~cells["geo_level"].is_in([*cfg.unpublished_levels, PARTS]) & cells["value"].is_not_null()).alias("_p")


def _map(rows: pl.DataFrame, pb: SecretProblem, code: str) -> pl.Series | None:
    """Cells of ``pb`` (part ``code`` when stacked) at the keys of ``rows`` (another measure or
    source of the same quantity: dimensions it lacks are totals in ``pb``)."""
    if not rows.height:
        return None
    on = [d for d in pb.dims if d != "_part" and d in rows.columns]
    k = rows.select(on).unique().with_columns(pl.lit(True).alias("_k"))
    m = pb.cells.select([*on, *[d for d in pb.dims if d not in on]]).join(k, on=on, how="left", nulls_equal=True, maintain_order="left")
    hit = m["_k"].fill_null(False)
    for d in pb.dims:
        if d not in on:
            hit = hit & (m[d] == (code if d == "_part" else TOTAL))
    return hit


def secret_pattern(
    wh: Warehouse, years: list[int] | None, keep: pl.DataFrame | None = None, progress: Progress | None = None
) -> tuple[pl.DataFrame, tuple[int, int]]:
    """:func:`compute_secret_pattern`, cached in ``warehouse/secret/``: the pattern is a pure function of
    the aggregates read, the rules and the kept cells, so each export of a state reuses it. Also
    returns how many hidden cells, primary and secondary, are short of their whole protection interval."""
    import hashlib

    from prst_etl.pipeline.aggregate import current_aggregates

    parts = pl.concat(
        [current_aggregates(wh, lvl, years).select("path") for lvl in SECRET_LEVELS]
    )["path"].sort().to_list()
    h = hashlib.sha256()
    for text in (
        SECRECY_VERSION, "|".join(parts), (data_dir("schemas") / "secret.toml").read_text(encoding="utf-8"),
        *(p.read_text(encoding="utf-8") for p in sorted((data_dir("schemas") / "indicators").glob("*.toml"))),
        str(sorted(years) if years else "all"),
    ):
        h.update(text.encode())
    if keep is not None:
        h.update(keep.sort(keep.columns).write_csv().encode())
    path = wh.secret_dir() / f"pattern-{h.hexdigest()[:16]}.parquet"
    if not path.exists():
        pattern, short = compute_secret_pattern(wh, years, keep, progress)
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_suffix(".parquet.tmp")
        pattern.write_parquet(tmp)
        path.with_suffix(".short").write_text(f"{short[0]} {short[1]}")
        os.replace(tmp, path)
    short_path = path.with_suffix(".short")
    p, s = (int(v) for v in short_path.read_text().split()) if short_path.exists() else (0, 0)
    return pl.read_parquet(path), (p, s)
