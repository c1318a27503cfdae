"""An outsider's attack on published exports (for tests and benchmarks, never used by a verb).

The outsider reads the long exports a publication holds (every published level, as someone who
downloads them) and writes the linear program of everything those files imply, from public
references only — not from the engine:

- geography: each département and each zone d'emploi is the sum of its communes (COG), the
  région the sum of its départements; each interprofessional SPSTI the sum of its communes; a
  source counted by SPSTI × département (ioda) has parts with two parents (the département and
  the SPSTI). Communes and parts are not published: they are unknowns (≥ 0) of the program. The
  attacker is given which of them exist (the support): stronger than a real outsider;
- sectors: ensemble = Σ A21 sections = Σ A38 divisions;
- sex and age bands: « _T » = Σ codes; every source dimension likewise;
- the measure identities and shared quantities of the catalogue (``[[identity]]``: total ≥ Σ
  parts, the rest an unknown ≥ 0; ``[[same]]``: equal cells).

:func:`attack` then solves, for sampled hidden cells, the attacker's two programs (HiGHS) and
returns their ranges beside the true values.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from prst_etl.model.codes import TOTAL
from prst_etl.secrecy import Hierarchy
from prst_etl.secrecy.verify import attacker_ranges

KEYS = ["geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]
HIDDEN = ("secret", "secret-secondaire")


def published_counts(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The count rows (not rates) of long exports, every level stacked."""
    from prst_etl.model.indicators import catalogue

    rates = [i.id for i in catalogue().values() if i.is_rate]
    df = pl.concat(frames, how="diagonal_relaxed")
    return df.filter(~pl.col("indicator").is_in(rates))


def _geo_edges(levels: set[str], communes: list[str], parts: list[str], perimeters: pl.DataFrame | None) -> list[Hierarchy]:
    from prst_etl.reference import geography

    com = geography.rollup_map("commune").filter(pl.col("code").is_in(communes))
    out = []
    q = lambda lvl, col: (pl.lit(lvl + ":") + pl.col(col))  # noqa: E731
    for mid in ("departement", "zone-emploi"):
        e = []
        if mid in levels and communes:
            e.append(com.filter(pl.col("level") == mid).select(q(mid, "target").alias("parent"), q("commune", "code").alias("child")))
        if mid == "departement" and parts:
            p = pl.DataFrame({"code": parts})
            e.append(p.select((pl.lit("departement:") + pl.col("code").str.split("@").list.last()).alias("parent"), q("spsti-departement", "code").alias("child")))
        if "region" in levels and mid in levels:
            e.append(geography.rollup_map(mid).filter(pl.col("level") == "region").select(q("region", "target").alias("parent"), q(mid, "code").alias("child")))  # type: ignore[arg-type]
        if e:
            out.append(Hierarchy("geo", pl.concat(e).unique(), mid))
    if "spsti" in levels and perimeters is not None and communes:
        inter = perimeters.filter((pl.col("champ") != "btp") & pl.col("commune").is_in(communes))
        out.append(Hierarchy("geo", inter.select(q("spsti", "spsti").alias("parent"), q("commune", "commune").alias("child")).unique(), "spsti"))
    if "spsti" in levels and parts:
        p = pl.DataFrame({"code": parts})
        out.append(Hierarchy("geo", p.select((pl.lit("spsti:") + pl.col("code").str.split("@").list.first()).alias("parent"), q("spsti-departement", "code").alias("child")), "spsti-parts"))
    return out


def _sector_edges(levels: set[str]) -> Hierarchy | None:
    from prst_etl.reference import sectors

    t = sectors.rollup_map("a38").pivot(on="level", index="code", values="target")
    e = []
    if "a21" in levels and "ensemble" in levels:
        e.append(t.select(pl.lit("ensemble:_T").alias("parent"), (pl.lit("a21:") + pl.col("a21")).alias("child")).unique())
    if "a38" in levels and "a21" in levels:
        e.append(t.select((pl.lit("a21:") + pl.col("a21")).alias("parent"), (pl.lit("a38:") + pl.col("a38")).alias("child")).unique())
    elif "a38" in levels and "ensemble" in levels:
        e.append(t.select(pl.lit("ensemble:_T").alias("parent"), (pl.lit("a38:") + pl.col("a38")).alias("child")).unique())
    return Hierarchy("sector", pl.concat(e), "secteurs") if e else None


def linked_program(
    published: pl.DataFrame,
    truth: pl.DataFrame,
    measures: list[str],
    year: int,
    *,
    unknown_levels: tuple[str, ...] = ("commune", "spsti-departement"),
    perimeters: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, list[str], list[Hierarchy], pl.Series]:
    """The cells (published and hidden of ``measures``, plus the unknown communes/parts whose
    support ``truth`` gives), the dimensions, the hierarchies and the status the attacker sees
    (``non-publie`` for unknowns). Values are the true ones (from ``truth``) so that ranges can be
    compared; the program only uses the published ones."""
    from prst_etl.model.indicators import identities, same_groups

    extras = [c for c in published.columns if c not in {*KEYS, "year", "indicator", "value", "status", "geo_label", "sector_label",
                                                          "ci_low", "ci_high", "coverage", "sources", "source", "diffusion", "unit"}]
    pub = published.filter((pl.col("year") == year) & pl.col("indicator").is_in(measures))
    tru = truth.filter((pl.col("year") == year) & pl.col("indicator").is_in(measures))
    on = [*KEYS, *extras, "indicator"]
    tru = tru.with_columns([pl.col(e).fill_null(TOTAL) for e in extras])
    pub = pub.with_columns([pl.col(e).fill_null(TOTAL) for e in extras])
    cells = pub.select(*on, "status").join(tru.select(*on, "value"), on=on, how="left")
    unk = tru.filter(pl.col("geo_level").is_in(list(unknown_levels))).select(*on, "value").with_columns(pl.lit("non-publie").alias("status"))
    # sum identities: the rest (total − Σ parts) is an unknown ≥ 0
    rests = []
    for ident in identities():
        if ident.total in measures and all(p in measures for p in ident.parts):
            base = pl.concat([cells.select(*on, "value"), unk.select(*on, "value")])
            w = base.filter(pl.col("indicator") == ident.total).drop("indicator")
            for p in ident.parts:
                w = w.join(base.filter(pl.col("indicator") == p).drop("indicator").rename({"value": p}), on=[*KEYS, *extras], how="left")
            w = w.with_columns((pl.col("value").fill_null(0) - pl.sum_horizontal([pl.col(p).fill_null(0) for p in ident.parts])).clip(0).alias("value"))
            rests.append(w.select(*KEYS, *extras, pl.lit(f"{ident.total}~reste").alias("indicator"), "value", pl.lit("non-publie").alias("status")))
    cells = pl.concat([cells, unk, *rests], how="diagonal_relaxed").with_columns(pl.col("value").fill_null(0.0))
    cells = cells.with_columns(
        (pl.col("geo_level") + ":" + pl.col("geo_code")).alias("geo"), (pl.col("sector_level") + ":" + pl.col("sector_code")).alias("sector")
    )
    dims = ["geo", "sector", "sex", "age_band", *extras, "indicator"]
    levels = set(cells["geo_level"].unique())
    communes = cells.filter(pl.col("geo_level") == "commune")["geo_code"].unique().sort().to_list()
    parts = cells.filter(pl.col("geo_level") == "spsti-departement")["geo_code"].unique().sort().to_list()
    hs = _geo_edges(levels, communes, parts, perimeters)
    sh = _sector_edges(set(cells["sector_level"].unique()))
    if sh is not None:
        hs.append(sh)
    for d in ["sex", "age_band", *extras]:
        codes = [c for c in cells[d].unique().to_list() if c != TOTAL]
        if codes and TOTAL in cells[d].unique().to_list():
            hs.append(Hierarchy(d, pl.DataFrame({"parent": [TOTAL] * len(codes), "child": codes}), d))
    # measures: identities (total = Σ parts + rest) and equal quantities
    me = []
    for ident in identities():
        if ident.total in measures and all(p in measures for p in ident.parts):
            me += [(ident.total, p) for p in (*ident.parts, f"{ident.total}~reste")]
    for g in same_groups():
        present = [m for m in g.measures if m in measures]
        me += [(present[0], m) for m in present[1:]]
    if me:
        hs.append(Hierarchy("indicator", pl.DataFrame({"parent": [a for a, _ in me], "child": [b for _, b in me]}), "mesures"))
    status = cells["status"].cast(pl.String)
    status = pl.Series("status", [s if s in (*HIDDEN, "non-publie") else None for s in status.to_list()], dtype=pl.String)
    return cells, dims, hs, status


def attack(
    cells: pl.DataFrame, dims: list[str], hs: list[Hierarchy], status: pl.Series, *, sample: int = 20, seed: int = 0,
    protection: float = 0.10, min_protection: float = 1.0,
) -> pl.DataFrame:
    """Ranges of sampled hidden cells (primary ones first) and whether each keeps its protection:
    ``ok`` — a primary cell's range covers ``x ± max(p·x, min_protection)`` (upwards only for a
    zero), a secondary one is not recovered exactly."""
    st = status.to_numpy()
    rng = np.random.default_rng(seed)
    prim = np.flatnonzero(st == "secret")
    sec = np.flatnonzero(st == "secret-secondaire")
    pick = np.concatenate([rng.choice(prim, min(sample, len(prim)), replace=False), rng.choice(sec, min(sample, len(sec)), replace=False)])
    r = attacker_ranges(cells, dims, hs, status, targets=np.sort(pick).astype(np.int64))
    x, lo, hi = r["value"].to_numpy(), r["low"].to_numpy(), r["high"].to_numpy()
    u = np.maximum(protection * x, min_protection)
    tol = 1e-6 * (1 + u)
    primary_ok = (hi >= x + u - tol) & (lo <= x - np.minimum(u, x) + tol)
    secondary_ok = hi - lo > 1e-6
    # a zero told by a published zero parent reveals nothing more (the rule on zeros)
    told = np.zeros(len(r), bool)
    zero = np.flatnonzero((x == 0) & (r["status"].to_numpy() == "secret"))
    if len(zero):
        pub0 = cells.filter(status.is_null() & (pl.col("value") == 0)).select(dims).with_columns(pl.lit(True).alias("_z"))
        rows = r[zero.tolist()].select(dims).with_row_index("_i")
        for h in hs:
            e = h.edges.select(pl.col("parent").cast(pl.String), pl.col("child").cast(pl.String).alias(h.dimension))
            up = rows.join(e, on=h.dimension).drop(h.dimension).rename({"parent": h.dimension}).join(pub0, on=dims)
            told[zero[up["_i"].unique().to_numpy()]] = True
    ok = np.where(r["status"].to_numpy() == "secret", primary_ok | told, secondary_ok)
    return r.with_columns(pl.Series("ok", ok), pl.Series("told_zero", told))
