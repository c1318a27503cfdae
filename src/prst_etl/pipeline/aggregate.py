"""``prst aggregate``: every level and dimension, from the finest grain each source gives.

For each current load part (source × table × year) and each geographic level
reachable from the source's own level, one Parquet file of aggregated cells:

* geography: commune → zone d'emploi (the Occitanie part of an interregional
  zone is its own code, ``0052-76``) → département → région → France (only for
  a national source); commune → SPSTI perimeter (the perimeters valid that year;
  a BTP service only counts NAF section F); SPSTI × département → SPSTI,
  département, région. Never a finer level from a coarser one, never
  département ↔ zone d'emploi, never SPSTI → région;
* sector: NAF sub-class → class → group → A88 → A64 → A38 → A21 (and A17, A10)
  → ``ensemble`` (from whatever level the source gives);
* sex → ``_T``; age bands → the coarser bands they nest in (see
  :data:`~prst_etl.model.codes.AGE_GROUPINGS`) → ``_T``; every extra dimension → ``_T``.

A sum that includes a cell without a number (``s``, ``nd``, ``///``) has none
and carries the sign. Incremental: a file is keyed by its load and a
fingerprint of what it depends on (the aggregation version; for SPSTI levels,
the perimeter loads), so re-running with nothing new does nothing and a new
load recomputes only what it touches. Atomic: files are written first, then
recorded in one transaction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from prst_etl.reference import sectors
from prst_etl.model.codes import TOTAL, age_rollup
from prst_etl.model.facts import KEY_COLUMNS, with_missing_dims
from prst_etl.model.levels import GEO_TARGETS
from prst_etl.reference.territories import PERIMETER_SOURCE, geo_map, section_f_codes, spsti_map, territory_departements  # noqa: F401
from prst_etl.model.rollup import add_totals, sum_cells
from prst_etl.sources import all_sources
from prst_etl.sources.base import TableSpec
from prst_etl.errors import PrstError
from prst_etl.warehouse import Warehouse, fault, open_warehouse

AGG_VERSION = "1"
"""Bump when the aggregation rules change: every aggregate is then recomputed."""

GROUPED_CUBE_ROWS = 200_000
"""Fact rows from which a part's own-level cube is built by groups of places (see :func:`write_cube`)."""

Progress = Callable[[str], None]


@dataclass
class AggregateReport:
    computed: list[dict[str, object]] = field(default_factory=list)
    up_to_date: int = 0
    notes: list[str] = field(default_factory=list)
    conservation: list[dict[str, object]] = field(default_factory=list)
    """Per part and measure: the sum of the facts and the total at the part's coarsest level
    (région or France), checked equal before anything is recorded."""

    def to_dict(self) -> dict[str, object]:
        return {"computed": self.computed, "up_to_date": self.up_to_date, "notes": self.notes, "conservation": self.conservation}


NOT_PARTITIONS = ("spsti",)
"""Levels whose territories overlap (SPSTI perimeters): they never add up to a coarser total."""


def coarsest_level(targets: list[str]) -> str:
    """The coarsest level a part is aggregated to whose territories do not overlap (région or France)."""
    partitions = [t for t in targets if t not in NOT_PARTITIONS]
    return (partitions or targets)[-1]


def conservation(facts: pl.LazyFrame, spec: TableSpec, cube_path: Path) -> list[dict[str, object]]:
    """Every measure of a part, summed over its facts, against the « all » cell of every territory of
    its coarsest level (all sectors, sexes, ages and source dimensions). A measure with a cell
    without a number (``s``, ``nd``) has no total either: then the total must have none."""
    from prst_etl.model.facts import status_col

    measures = spec.measure_ids
    names = set(facts.collect_schema().names())
    given = facts.select(
        [pl.col(m).sum().alias(m) for m in measures]
        + [pl.col(m).is_null().any().alias(f"_null_{m}") for m in measures]
    ).collect().row(0, named=True)
    top = pl.scan_parquet(cube_path).filter(
        (pl.col("sector_level") == "ensemble")
        & pl.all_horizontal([pl.col(d) == TOTAL for d in ("sex", "age_band", *spec.extra_dims)])
    )
    got = top.select(
        [pl.col(m).sum().alias(m) for m in measures] + [pl.col(m).is_null().any().alias(f"_null_{m}") for m in measures]
        + [pl.len().alias("_cells")]
    ).collect().row(0, named=True)  # fmt: skip
    out = []
    for m in measures:
        a, b = float(given[m] or 0.0), float(got[m] or 0.0)
        if given[f"_null_{m}"] and status_col(m) in names:
            ok = bool(got[f"_null_{m}"])  # a hidden part hides the total
        else:
            ok = abs(a - b) <= 1e-9 * max(1.0, abs(a)) and not got[f"_null_{m}"]
        out.append({"measure": m, "facts": a, "total": b, "cells": int(got["_cells"]), "ok": ok})
    return out


def identity_notes(spec: TableSpec, cube_path: Path, label: str) -> list[str]:
    """The measure identities of the catalogue (``[[identity]]``: total = Σ parts, or ≥ when not
    exact) checked on every cell of a cube: one note per identity the data break (the secrecy
    then keeps the measures apart)."""
    from prst_etl.model.indicators import identities

    have = set(spec.measure_ids)
    checked = [i for i in identities() if i.total in have and all(p in have for p in i.parts)]
    if not checked:
        return []
    exprs = []
    for k, ident in enumerate(checked):
        gap = pl.col(ident.total) - pl.sum_horizontal([pl.col(p).fill_null(0) for p in ident.parts])
        bad = gap < -1e-9 if not ident.exact else gap.abs() > 1e-9
        exprs += [bad.sum().alias(f"n{k}"), gap.min().alias(f"worst{k}")]
    got = pl.scan_parquet(cube_path).select(exprs).collect().row(0, named=True)  # one pass for all identities
    notes = []
    for k, ident in enumerate(checked):
        if got[f"n{k}"]:
            rel = "=" if ident.exact else "≥"
            notes.append(
                f"{label} : {ident.total} {rel} {' + '.join(ident.parts)} n'est pas vérifié sur {got[f'n{k}']} case(s) "
                f"(écart {got[f'worst{k}']:.12g}) : le secret statistique traite ces mesures séparément."
            )
    return notes


# -- geography --------------------------------------------------------------------------






def geo_targets(from_level: str, coverage: list[str], has_perimeters: bool) -> list[str]:
    """Levels to compute for a part given at ``from_level`` covering ``coverage``."""
    out = []
    for level in GEO_TARGETS.get(from_level, (from_level,)):
        if level == "france" and coverage != ["FR"] and from_level != "france":
            continue  # a regional source does not give France
        if level == "spsti" and from_level == "commune" and not has_perimeters:
            continue
        out.append(level)
    return out






# -- the cube ---------------------------------------------------------------------------


def part_meta(facts: pl.LazyFrame) -> pl.DataFrame:
    """The geographic codes, sector level and age bands of a part (one row of lists)."""
    return facts.select(
        pl.col("geo_code").unique().implode(),
        pl.col("sector_level").unique().implode(),
        pl.col("age_band").unique().implode(),
    ).collect()


def write_cube(
    facts: pl.LazyFrame,
    spec: TableSpec,
    from_level: str,
    to_level: str,
    spsti: pl.DataFrame,
    path: Path,
    grouped_from: int = GROUPED_CUBE_ROWS,
) -> None:
    """Stream the cube of a part at one level into ``path``.

    A part's own level (communes, most often) gives the largest cube, and its cells never mix
    two places: it is built by groups of places (their first two characters: a département),
    each streamed to disk, then joined into one file — the memory of one group, not of all.
    A small part is built at once: a file per group costs more than it saves."""
    opts = {"compression": "zstd", "statistics": True, "engine": "streaming"}
    meta = part_meta(facts) if from_level == to_level else None
    groups = sorted({c[:2] for c in meta["geo_code"][0].to_list()}) if meta is not None else []
    if len(groups) < 2 or facts.select(pl.len()).collect().item() < grouped_from:
        cube(facts, spec, from_level, to_level, spsti, meta).sink_parquet(path, **opts)
        return
    chunks = []
    try:
        for k, g in enumerate(groups):
            chunk = path.with_name(f"{path.name}.{k}")
            cube(facts.filter(pl.col("geo_code").str.starts_with(g)), spec, from_level, to_level, spsti, meta).sink_parquet(chunk, **opts)
            chunks.append(chunk)
        pl.scan_parquet(chunks).sink_parquet(path, **opts)
    finally:
        for c in chunks:
            c.unlink(missing_ok=True)


def cube(
    facts: pl.LazyFrame,
    spec: TableSpec,
    from_level: str,
    to_level: str,
    spsti: pl.DataFrame,
    meta: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """All combinations of levels of one part at one geographic level. ``meta``: the part's
    codes (:func:`part_meta`), when ``facts`` is only a slice of it."""
    dims = list(KEY_COLUMNS) + list(spec.extra_dims)
    measures = spec.measure_ids
    # status columns only where the provider wrote signs (the others are summed plainly)
    lf = with_missing_dims(facts.drop("load_id", strict=False), spec)
    if meta is None:
        meta = part_meta(lf)
    codes = meta["geo_code"][0]
    sector_level = meta["sector_level"][0][0] if len(meta["sector_level"][0]) else "ensemble"

    # Geography
    if to_level != from_level:
        gmap = geo_map(from_level, to_level, codes, spsti).lazy()
        lf = lf.join(gmap, on="geo_code", how="inner")
        if "champ" in gmap.collect_schema().names():
            # a BTP service counts only construction (NAF section F)
            lf = lf.filter((pl.col("champ") != "btp") | pl.col("sector_code").is_in(section_f_codes(sector_level)))
            lf = lf.drop("champ")
        lf = lf.with_columns(geo_code=pl.col("target"), geo_level=pl.lit(to_level)).drop("target")
        lf = sum_cells(lf, dims, measures, maintain_order=False)

    # Sector: every level reachable from the source's
    smap = sectors.rollup_map(sector_level).select(  # type: ignore[arg-type]
        pl.col("code").alias("sector_code"), pl.col("level").alias("_lvl"), pl.col("target")
    )
    lf = sum_cells(
        lf.join(smap.lazy(), on="sector_code", how="inner")
        .with_columns(sector_code=pl.col("target"), sector_level=pl.col("_lvl"))
        .drop("target", "_lvl"),
        dims,
        measures,
        maintain_order=False,
    )

    # Age bands: coarser bands where they nest, and all ages
    pairs = age_rollup(meta["age_band"][0].to_list())
    if pairs and pairs != [(TOTAL, TOTAL)]:
        amap = pl.DataFrame(pairs, schema=["age_band", "_target"], orient="row").lazy()
        lf = sum_cells(
            lf.join(amap, on="age_band", how="inner").with_columns(age_band=pl.col("_target")).drop("_target"),
            dims,
            measures,
            maintain_order=False,
        )

    # Sex and the source's own dimensions: add « all »
    for d in ["sex", *spec.extra_dims]:
        lf = add_totals(lf, d, dims, measures, maintain_order=False)
    return lf


# -- the command ----------------------------------------------------------------------------
def fingerprint(level: str, perimeter_ids: list[int]) -> str:
    text = f"v{AGG_VERSION}" + (f"|perimetres:{','.join(map(str, perimeter_ids))}" if level == "spsti" else "")
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def plan(wh: Warehouse, years: list[int] | None = None, source_ids: list[str] | None = None) -> list[dict[str, object]]:
    """Aggregated files missing for the current loads (what ``aggregate`` would compute)."""
    sources = all_sources()
    cur = wh.current_parts()
    cur = cur.filter(~pl.col("source").is_in([s for s, c in sources.items() if c.reference]))
    cur = cur.filter(pl.col("source").is_in(list(sources)))
    if years:
        cur = cur.filter(pl.col("year").is_in(years))
    if source_ids:
        cur = cur.filter(pl.col("source").is_in(source_ids))
    loads = wh.load_coverage().select("load_id", "coverage")
    # the level of each part is in the catalogue (one workbook may give sheets at different levels)
    cur = cur.join(loads, on="load_id", how="left").with_columns(wh.part_levels(cur))
    have = wh.aggregate_keys()
    pids = wh.perimeter_loads()
    todo = []
    for r in cur.iter_rows(named=True):
        targets = geo_targets(r["geo_level"], list(r["coverage"] or []), bool(pids))
        for level in targets:
            fp = fingerprint(level, pids)
            if (r["load_id"], r["table_name"], r["year"], level, fp) not in have:
                todo.append({**r, "target": level, "fingerprint": fp, "coarsest": coarsest_level(targets)})
    return todo


def aggregate(
    warehouse: Path | str | None = None,
    *,
    years: list[int] | None = None,
    sources: list[str] | None = None,
    progress: Progress | None = None,
    as_of: str | None = None,
    wh: Warehouse | None = None,
) -> AggregateReport:
    """Compute the missing aggregates of the current state (or of the state ``as_of``)."""
    if wh is None:
        with open_warehouse(warehouse, write=True, as_of=as_of) as w:
            return aggregate(years=years, sources=sources, progress=progress, wh=w)
    step = progress or (lambda _m: None)
    report = AggregateReport()
    todo = plan(wh, years, sources)
    report.up_to_date = wh.n_aggregates()
    if not todo:
        return report
    registry = all_sources()
    perims = wh.perimeter_rows()
    rows = []
    for i, t in enumerate(todo, 1):
        step(f"agrégation {i}/{len(todo)} : {t['source']} {t['table_name']} {t['year']} → {t['target']}")
        spec = registry[t["source"]]().table(t["table_name"])  # type: ignore[index]
        facts = pl.scan_parquet(wh.abs(t["path"]))  # type: ignore[arg-type]
        spsti = spsti_map(perims, int(t["year"]))  # type: ignore[arg-type]
        path = wh.aggregate_path(str(t["source"]), str(t["table_name"]), int(t["year"]), int(t["load_id"]), str(t["target"]), str(t["fingerprint"]))  # type: ignore[arg-type]
        tmp = path.with_suffix(".parquet.tmp")
        # streamed to disk: a commune-level cube can be much larger than the memory it needs
        write_cube(facts, spec, t["geo_level"], t["target"], spsti, tmp)  # type: ignore[arg-type]
        if t["target"] == t["coarsest"]:
            # every count of the facts is found again in the coarsest totals, or nothing is recorded
            checked = conservation(facts, spec, tmp)
            bad = [c for c in checked if not c["ok"]]
            report.conservation += [{"source": t["source"], "table_name": t["table_name"], "year": t["year"],
                                     "level": t["target"], **c} for c in checked]  # fmt: skip
            report.notes += identity_notes(spec, tmp, f"{t['source']} {t['table_name']} {t['year']}")
            if bad:
                tmp.unlink(missing_ok=True)
                detail = "; ".join(f"{c['measure']} : faits {c['facts']:.12g}, total {c['total']:.12g}" for c in bad[:5])
                raise PrstError(
                    f"Agrégation de {t['source']} {t['table_name']} {t['year']} au niveau « {t['target']} » : les totaux ne "
                    f"retrouvent pas la somme des faits ({detail}). Rien n'a été enregistré.",
                    hint="C'est une erreur de prst (un territoire ou un secteur absent des référentiels ?) : signalez-la.",
                )
        os.replace(tmp, path)
        n_rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        rows.append(
            {"load_id": t["load_id"], "source": t["source"], "table_name": t["table_name"], "year": t["year"],
             "geo_level": t["target"], "fingerprint": t["fingerprint"], "path": wh.rel(path), "n_rows": n_rows}
        )  # fmt: skip
    fault("after-aggregate-write")
    wh.record_aggregates(rows)
    report.computed = rows
    return report


def current_aggregates(wh: Warehouse, level: str, years: list[int] | None = None) -> pl.DataFrame:
    """The aggregated files export reads for one level: those of the current loads and fingerprints."""
    cur = wh.current_parts().select("load_id", "source", "table_name", "year")
    pids = wh.perimeter_loads()
    fp = fingerprint(level, pids)
    agg = wh.aggregates_at(level, fp)
    out = agg.join(cur, on=["load_id", "source", "table_name", "year"], how="inner")
    if years:
        out = out.filter(pl.col("year").is_in(years))
    return out.sort("source", "table_name", "year")
