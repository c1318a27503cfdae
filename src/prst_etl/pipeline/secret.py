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

import re
import tomllib
import warnings
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import polars as pl

from prst_etl.reference import geography, sectors
from prst_etl import reference
from prst_etl.model.codes import AGE_GROUPINGS, TOTAL, age_bounds
from prst_etl.model.facts import KEY_COLUMNS
from prst_etl.resources import data_dir

SECRET = "secret"
SECONDARY = "secret-secondaire"
HIDDEN = (SECRET, SECONDARY)
UNPUBLISHED = "non-publie"
SHORT: list[tuple[int, int]] = []
"""Hidden cells the engine could not give their whole protection interval, per table suppressed
(read and cleared by the export, which reports them)."""
PATTERN_KEYS = ["geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]
GEO_LEVELS = ("commune", "zone-emploi", "departement", "region", "france", "spsti")


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
    order = [lvl for lvl in sectors.SECTOR_LEVELS if lvl in levels]
    edges = []
    for fine in order:
        for coarse in order:
            if coarse == fine or sectors.SECTOR_LEVELS.index(coarse) <= sectors.SECTOR_LEVELS.index(fine):
                continue
            pairs = wide.select(pl.col(fine).alias("f"), pl.col(coarse).alias("c")).unique()
            if pairs.group_by("f").agg(pl.col("c").n_unique()).select(pl.col("c").max()).item() != 1:
                continue  # fine does not nest in coarse
            # only direct parents: no published level in between
            between = [m for m in order if sectors.SECTOR_LEVELS.index(fine) < sectors.SECTOR_LEVELS.index(m) < sectors.SECTOR_LEVELS.index(coarse)]
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
        keep &= pl.col("geo_level").is_in(list(GEO_LEVELS))
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
