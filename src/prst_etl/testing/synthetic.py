"""Synthetic regional tables for tests and benchmarks of the secrecy engine.

Nothing here is real data: the geography is drawn at random but has the
structure of Occitanie (about 4 450 communes in 13 départements, 27 zones
d'emploi crossing the départements, ~15 overlapping SPSTI perimeters that leave
some communes uncovered), the sector dimension uses the real A38 codes, and the
values come from simulated establishments (skewed sizes), so that unit counts
and largest contributors are consistent with the values at every level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from prst_etl.secrecy.structure import TOTAL, Hierarchy

#: A38 code → A21 section (NAF rév. 2).
A38_TO_A21: dict[str, str] = {
    "AZ": "A", "BZ": "B",
    **{c: "C" for c in ("CA", "CB", "CC", "CD", "CE", "CF", "CG", "CH", "CI", "CJ", "CK", "CL", "CM")},
    "DZ": "D", "EZ": "E", "FZ": "F", "GZ": "G", "HZ": "H", "IZ": "I",
    "JA": "J", "JB": "J", "JC": "J", "KZ": "K", "LZ": "L",
    "MA": "M", "MB": "M", "MC": "M", "NZ": "N", "OZ": "O", "PZ": "P",
    "QA": "Q", "QB": "Q", "RZ": "R", "SZ": "S", "TZ": "T", "UZ": "U",
}
A38: list[str] = list(A38_TO_A21)
#: A21 section → A10 grouping (codes prefixed: A10 codes clash with A38 codes).
A21_TO_A10: dict[str, str] = {
    "A": "A10-AZ", "B": "A10-BE", "C": "A10-BE", "D": "A10-BE", "E": "A10-BE",
    "F": "A10-FZ", "G": "A10-GI", "H": "A10-GI", "I": "A10-GI", "J": "A10-JZ",
    "K": "A10-KZ", "L": "A10-LZ", "M": "A10-MN", "N": "A10-MN", "O": "A10-OQ",
    "P": "A10-OQ", "Q": "A10-OQ", "R": "A10-RU", "S": "A10-RU", "T": "A10-RU", "U": "A10-RU",
}
AGE_BANDS: list[str] = ["Y_LT20", "Y20T29", "Y30T39", "Y40T49", "Y50T59", "Y_GE60"]
#: Coarser age bands that nest in the fine ones.
AGE_COARSE: dict[str, list[str]] = {"Y_LT30": ["Y_LT20", "Y20T29"], "Y30T49": ["Y30T39", "Y40T49"], "Y_GE50": ["Y50T59", "Y_GE60"]}

#: Number of communes per département in Occitanie (COG 2024, rounded).
DEPARTEMENTS: dict[str, int] = {
    "09": 326, "11": 433, "12": 285, "30": 351, "31": 586, "32": 461, "34": 342,
    "46": 313, "48": 152, "65": 469, "66": 226, "81": 314, "82": 195,
}
REGION = "76"


def edges_frame(pairs: list[tuple[str, str]] | dict[str, list[str]]) -> pl.DataFrame:
    """Parent → child edges as a frame (columns ``parent``, ``child``)."""
    if isinstance(pairs, dict):
        pairs = [(p, c) for p, cs in pairs.items() for c in cs]
    return pl.DataFrame(
        {"parent": [p for p, _ in pairs], "child": [c for _, c in pairs]},
        schema={"parent": pl.String, "child": pl.String},
    )


def sector_hierarchies(dimension: str = "sector_code", levels: str = "a38") -> list[Hierarchy]:
    """Sector hierarchies. ``levels``: ``"a38"`` (A38 → total, flat) or
    ``"a38-a21-a10"`` (A38 → A21 → total, plus A10 grouping the A21 sections:
    two decompositions of the total)."""
    if levels == "a38":
        return [Hierarchy(dimension, edges_frame({TOTAL: A38}), "a38")]
    if levels == "a38-a21-a10":
        a21 = sorted(set(A38_TO_A21.values()))
        nat = edges_frame([(s, c) for c, s in A38_TO_A21.items()] + [(TOTAL, s) for s in a21])
        a10 = edges_frame([(g, s) for s, g in A21_TO_A10.items()] + [(TOTAL, g) for g in sorted(set(A21_TO_A10.values()))])
        return [Hierarchy(dimension, nat, "a21"), Hierarchy(dimension, a10, "a10")]
    raise ValueError(f"unknown sector levels {levels!r}; known: a38, a38-a21-a10")


def sex_hierarchy(dimension: str = "sex") -> Hierarchy:
    return Hierarchy(dimension, edges_frame({TOTAL: ["F", "M"]}), "sex")


def age_hierarchies(dimension: str = "age_band", coarse: bool = False) -> list[Hierarchy]:
    hs = [Hierarchy(dimension, edges_frame({TOTAL: AGE_BANDS}), "age")]
    if coarse:
        e = edges_frame({**AGE_COARSE, TOTAL: list(AGE_COARSE)})
        hs.append(Hierarchy(dimension, e, "age-coarse"))
    return hs


@dataclass(frozen=True, eq=False)
class Geography:
    """A synthetic regional geography."""

    communes: pl.DataFrame
    """One row per commune: ``commune``, ``dep``, ``ze``, ``perimeters`` (list of codes)."""
    hierarchies: list[Hierarchy]
    """commune→département→région, commune→zone→région, perimeter→commune."""

    def membership(self) -> pl.DataFrame:
        """commune → every geographic code that contains it (itself included)."""
        c = self.communes
        parts = [
            c.select(pl.col("commune"), pl.col("commune").alias("geo")),
            c.select(pl.col("commune"), pl.col("dep").alias("geo")),
            c.select(pl.col("commune"), pl.col("ze").alias("geo")),
            c.select(pl.col("commune"), pl.lit(REGION).alias("geo")),
            c.select("commune", "perimeters").explode("perimeters").drop_nulls().rename({"perimeters": "geo"}),
        ]
        return pl.concat(parts).unique().sort("commune", "geo")


def regional_geography(
    seed: int = 0,
    *,
    n_communes: int | None = None,
    n_deps: int = 13,
    n_zones: int = 27,
    n_perimeters: int = 15,
    style: str = "realistic",
    overlap: float = 1.18,
    uncovered: float = 0.03,
    dimension: str = "geo_code",
) -> Geography:
    """Draw communes in the unit square and split them into départements,
    zones d'emploi and SPSTI perimeters.

    ``style="realistic"``: départements are Voronoi cells; zones are Voronoi
    cells of centres drawn in every département (they cross département
    borders near them); perimeters are interprofessional services covering one
    or two départements plus a few sectoral ones covering several départements
    (they overlap); communes near the regional border belong to none.
    ``style="tangled"``: zones and perimeters ignore the départements entirely
    (perimeters overlap where two centres are almost as near): few communes
    share all their parents — the hard case for secondary suppression.
    """
    rng = np.random.default_rng(seed)
    deps = list(DEPARTEMENTS)[:n_deps]
    weights = np.array([DEPARTEMENTS[d] for d in deps], float)
    if n_communes is None:
        n_communes = int(weights.sum())
    if style not in ("realistic", "tangled"):
        raise ValueError("style must be 'realistic' or 'tangled'")
    dep_xy = rng.uniform(0.1, 0.9, size=(n_deps, 2))
    if style == "tangled":
        counts = np.maximum(1, np.round(weights / weights.sum() * n_communes)).astype(int)
        counts[-1] += n_communes - counts.sum()
        xy = np.vstack([dep_xy[i] + rng.normal(0, 0.09, size=(k, 2)) for i, k in enumerate(counts)])
        dep_idx = np.repeat(np.arange(n_deps), counts)
    else:
        xy = rng.uniform(0, 1, size=(n_communes, 2))
        dep_idx = np.argmin(((xy[:, None, :] - dep_xy[None]) ** 2).sum(-1), axis=1)
        # every département gets at least one commune
        for i in range(n_deps):
            if not (dep_idx == i).any():
                dep_idx[np.argmin(((xy - dep_xy[i]) ** 2).sum(-1))] = i
    dep_arr = np.array(deps)[dep_idx]
    # Commune codes: département code + 3 digits, as in the COG.
    codes = np.empty(n_communes, dtype=object)
    for d in deps:
        idx = np.flatnonzero(dep_arr == d)
        codes[idx] = [f"{d}{j + 1:03d}" for j in range(len(idx))]
    # Zones d'emploi: Voronoi cells of centres drawn among the communes.
    if style == "tangled":
        zc = xy[rng.choice(n_communes, size=n_zones, replace=False)]
    else:
        per = np.bincount(dep_idx, minlength=n_deps).astype(float)
        alloc = np.maximum(1, np.floor(per / per.sum() * n_zones)).astype(int)
        while alloc.sum() < n_zones:
            alloc[np.argmax(per / alloc)] += 1
        zc = np.vstack([xy[rng.choice(np.flatnonzero(dep_idx == i), size=min(k, (dep_idx == i).sum()), replace=False)]
                        for i, k in enumerate(alloc)])
    ze = np.argmin(((xy[:, None, :] - zc[None, :, :]) ** 2).sum(-1), axis=1)
    present = np.unique(ze)
    ze_codes = {z: f"76{k + 1:02d}" for k, z in enumerate(present)}
    ze_arr = np.array([ze_codes[z] for z in ze])
    perims: list[list[str]] = []
    if style == "tangled":
        pc = xy[rng.choice(n_communes, size=n_perimeters, replace=False)]
        dp = np.sqrt(((xy[:, None, :] - pc[None, :, :]) ** 2).sum(-1))
        order = np.argsort(dp, axis=1)
        d1 = dp[np.arange(n_communes), order[:, 0]]
        d2 = dp[np.arange(n_communes), order[:, 1]]
        none = rng.random(n_communes) < uncovered
        for i in range(n_communes):
            if none[i]:
                perims.append([])
                continue
            ps = [f"SPSTI{order[i, 0] + 1:02d}"]
            if d2[i] < overlap * d1[i]:
                ps.append(f"SPSTI{order[i, 1] + 1:02d}")
            perims.append(sorted(ps))
    else:
        # interprofessional services: one per département, some merged in pairs
        n_sect = max(0, min(4, n_perimeters - (n_deps + 1) // 2))
        n_inter = n_perimeters - n_sect
        group = np.arange(n_deps)
        n_groups = n_deps
        dd = ((dep_xy[:, None] - dep_xy[None]) ** 2).sum(-1) + np.eye(n_deps) * 9
        while n_groups > n_inter:
            i = rng.integers(n_deps)
            j = int(np.argmin(np.where(group == group[i], 9, dd[i])))
            group[group == group[j]] = group[i]
            n_groups = len(np.unique(group))
        inter = {g: f"SPSTI{k + 1:02d}" for k, g in enumerate(np.unique(group))}
        # sectoral services (e.g. BTP) covering the départements near a centre
        sect = []
        for k in range(n_sect):
            c = dep_xy[rng.integers(n_deps)]
            near = np.argsort(((dep_xy - c) ** 2).sum(-1))[: rng.integers(2, 5)]
            sect.append((f"SPSTI{n_inter + k + 1:02d}", set(near.tolist())))
        border = np.minimum(xy, 1 - xy).min(axis=1) < uncovered / 4
        for i in range(n_communes):
            if border[i]:
                perims.append([])
                continue
            ps = [inter[group[dep_idx[i]]]] + [name for name, ds in sect if dep_idx[i] in ds]
            perims.append(sorted(ps))
    communes = pl.DataFrame(
        {"commune": codes.astype(str), "dep": dep_arr, "ze": ze_arr, "perimeters": perims},
        schema={"commune": pl.String, "dep": pl.String, "ze": pl.String, "perimeters": pl.List(pl.String)},
    ).sort("commune")
    # Hierarchies: one per decomposition.
    dep_edges = pl.concat([
        communes.select(pl.col("dep").alias("parent"), pl.col("commune").alias("child")),
        pl.DataFrame({"parent": [REGION] * n_deps, "child": deps}),
    ])
    ze_edges = pl.concat([
        communes.select(pl.col("ze").alias("parent"), pl.col("commune").alias("child")),
        pl.DataFrame({"parent": [REGION] * len(present), "child": sorted(set(ze_arr))}),
    ])
    sp_edges = (
        communes.select("commune", "perimeters").explode("perimeters").drop_nulls()
        .select(pl.col("perimeters").alias("parent"), pl.col("commune").alias("child"))
    )
    hs = [
        Hierarchy(dimension, dep_edges, "departement"),
        Hierarchy(dimension, ze_edges, "zone-emploi"),
        Hierarchy(dimension, sp_edges, "spsti"),
    ]
    return Geography(communes, hs)


def establishment_table(
    geo: Geography,
    *,
    seed: int = 0,
    n_establishments: int = 190_000,
    sectors: list[str] | None = None,
    sector_parents: dict[str, list[str]] | None = None,
    sexes: bool = True,
    ages: list[str] | None = None,
    age_parents: dict[str, list[str]] | None = None,
    dims: tuple[str, str, str, str] = ("geo_code", "sector_code", "sex", "age_band"),
    dense: bool = True,
) -> pl.DataFrame:
    """Simulate establishments (commune, sector, size, sex × age mix) and
    aggregate them to every level: value (employees), ``n_units``
    (establishments with at least one employee in the cell), ``top1``/``top2``
    (largest contributions).

    ``sector_parents`` maps each aggregate sector code to the leaf codes it
    contains (default: the total over ``sectors``); ``age_parents`` likewise.
    With ``dense`` every combination of codes is a row (zeros included).
    """
    rng = np.random.default_rng(seed)
    sectors = sectors or A38
    ages = ages or AGE_BANDS
    sector_parents = sector_parents or {TOTAL: sectors}
    age_parents = age_parents or {TOTAL: ages}
    communes = geo.communes["commune"].to_numpy()
    n_c = len(communes)
    # Commune attractiveness: a heavy tail (a metropolis, a few cities, villages).
    attract = rng.lognormal(0.0, 1.5, size=n_c)
    big = rng.choice(n_c, size=max(1, n_c // 400), replace=False)
    attract[big] *= rng.uniform(20, 60, size=len(big))
    attract[big[0]] *= 8
    # Sector shares: a regional mix, perturbed by commune.
    base = rng.dirichlet(np.full(len(sectors), 0.9))
    est_commune = rng.choice(n_c, size=n_establishments, p=attract / attract.sum())
    est_sector = rng.choice(len(sectors), size=n_establishments, p=base)
    # Establishment size: most have 1–5 employees, a few hundreds.
    size = np.maximum(1, np.round(rng.pareto(1.3, size=n_establishments) * 2.5)).astype(np.int64)
    size = np.minimum(size, 5000)
    # Sex × age mix by sector.
    n_sex = 2 if sexes else 1
    cats = n_sex * len(ages)
    sector_mix = rng.dirichlet(np.full(cats, 4.0), size=len(sectors))
    counts = rng.multinomial(size, sector_mix[est_sector])  # (n_est, cats)
    sex_codes = ["F", "M"] if sexes else [TOTAL]
    # Long establishment-level rows with every sex/age code (totals included).
    per = counts.reshape(n_establishments, n_sex, len(ages))
    blocks = []
    sex_list = sex_codes + ([TOTAL] if sexes else [])
    for si, s in enumerate(sex_list):
        m = per.sum(axis=1) if s == TOTAL and sexes else per[:, si, :]
        age_cols = {a: m[:, j] for j, a in enumerate(ages)}
        for parent, kids in age_parents.items():
            age_cols[parent] = sum(age_cols[k] for k in kids)
        for a, v in age_cols.items():
            nz = v > 0
            blocks.append(pl.DataFrame({
                "c": est_commune[nz].astype(np.int32), "k": est_sector[nz].astype(np.int32),
                "sex": s, "age": a, "v": v[nz].astype(np.float64),
            }))
    est = pl.concat(blocks)
    # Commune × leaf sector cells.
    agg = [pl.col("v").sum().alias("value"), pl.len().alias("n_units"),
           pl.col("v").max().alias("top1"), pl.col("v").top_k(2).min().alias("t2"), pl.len().alias("_n")]
    cell = est.group_by("c", "k", "sex", "age").agg(agg)
    cell = cell.with_columns(pl.when(pl.col("_n") > 1).then(pl.col("t2")).otherwise(0.0).alias("top2")).drop("t2", "_n")
    cell = cell.join(pl.DataFrame({"c": np.arange(n_c, dtype=np.int32), "commune": communes}), on="c").join(
        pl.DataFrame({"k": np.arange(len(sectors), dtype=np.int32), "sector": sectors}), on="k"
    ).drop("c", "k")

    def merge(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        # Units and values add up (an establishment has one commune and one
        # sector); the largest contributors of a union are the two largest of
        # the parts' two largest.
        return frame.group_by(by).agg(
            pl.col("value").sum(), pl.col("n_units").sum(), pl.col("top1").max(),
            pl.max_horizontal(
                pl.col("top2").max(),
                pl.when(pl.len() > 1).then(pl.col("top1").top_k(2).min()).otherwise(0.0),
            ).alias("top2"),
        )

    # Sector aggregates.
    sec_map = pl.DataFrame(
        [(s, s) for s in sectors] + [(p, k) for p, ks in sector_parents.items() for k in ks],
        schema={"sector_to": pl.String, "sector": pl.String}, orient="row",
    )
    cell = merge(cell.join(sec_map, on="sector").drop("sector").rename({"sector_to": "sector"}), ["commune", "sector", "sex", "age"])
    # Geographic aggregates.
    mem = geo.membership()
    cell = merge(cell.join(mem, on="commune").drop("commune"), ["geo", "sector", "sex", "age"])
    cell = cell.rename({"geo": dims[0], "sector": dims[1], "sex": dims[2], "age": dims[3]})
    if not sexes:
        cell = cell.drop(dims[2])
    if dense:
        keys = [d for d in dims if d in cell.columns]
        grid = None
        for d in keys:
            u = cell.select(pl.col(d).unique())
            if d == dims[0]:
                u = mem.select(pl.col("geo").unique().alias(d))
            grid = u if grid is None else grid.join(u, how="cross")
        cell = grid.join(cell, on=keys, how="left").with_columns(
            pl.col("value").fill_null(0.0), pl.col("n_units").fill_null(0).cast(pl.Int64),
            pl.col("top1").fill_null(0.0), pl.col("top2").fill_null(0.0),
        )
    keys = [d for d in dims if d in cell.columns]
    return cell.select(*keys, "value", pl.col("n_units").cast(pl.Int64), "top1", "top2").sort(keys)


def _closure_pairs(hierarchies: list[Hierarchy], leaves: list[str]) -> pl.DataFrame:
    """(leaf, code) for every code whose leaf set contains the leaf (itself included)."""
    edges = pl.concat([h.edges.select("parent", "child") for h in hierarchies]).unique()
    pairs = pl.DataFrame({"leaf": leaves, "code": leaves})
    while True:
        up = pairs.join(edges, left_on="code", right_on="child").select("leaf", pl.col("parent").alias("code"))
        new = pl.concat([pairs, up]).unique()
        if new.height == pairs.height:
            return new.sort("leaf", "code")
        pairs = new


def small_linked_table(
    seed: int,
    *,
    n_communes: int = 10,
    density: float = 0.5,
    sector_links: bool = True,
    sex: bool = True,
    drop_zeros: bool = False,
) -> tuple[pl.DataFrame, list[str], list[Hierarchy]]:
    """A small table with linked hierarchies for tests: communes in 2
    départements and 3 zones that cross them, 2 overlapping perimeters (some
    communes in none), région = Σ départements = Σ zones; 4 sectors in 2 groups
    (and, with ``sector_links``, a second grouping of the same sectors); sex.
    Leaf values are sparse and skewed; every level is their sum. Returns
    (cells, dims, hierarchies); cells have ``value``, ``n_units``, ``top1``."""
    rng = np.random.default_rng(seed)
    communes = [f"C{i:02d}" for i in range(n_communes)]
    dep = rng.permutation(np.r_[np.zeros(n_communes // 2, int), np.ones(n_communes - n_communes // 2, int)])
    zone = rng.integers(0, 3, size=n_communes)
    zone[:3] = [0, 1, 2]
    p1 = rng.random(n_communes) < 0.6
    p2 = rng.random(n_communes) < 0.5
    geo_h = [
        Hierarchy("geo", edges_frame([(f"D{d + 1}", c) for c, d in zip(communes, dep)] + [("R", "D1"), ("R", "D2")]), "dep"),
        Hierarchy("geo", edges_frame([(f"Z{z + 1}", c) for c, z in zip(communes, zone)] + [("R", f"Z{z + 1}") for z in sorted(set(zone))]), "zone"),
        Hierarchy("geo", edges_frame([("P1", c) for c, f in zip(communes, p1) if f] + [("P2", c) for c, f in zip(communes, p2) if f]), "perim"),
    ]
    sectors = ["k1", "k2", "k3", "k4"]
    sec_h = [Hierarchy("sector", edges_frame({"G1": ["k1", "k2"], "G2": ["k3", "k4"], TOTAL: ["G1", "G2"]}), "groups")]
    if sector_links:
        sec_h.append(Hierarchy("sector", edges_frame({"H1": ["k1", "k3"], "H2": ["k2", "k4"], TOTAL: ["H1", "H2"]}), "other"))
    dims = ["geo", "sector"] + (["sex"] if sex else [])
    hs = geo_h + sec_h + ([Hierarchy("sex", edges_frame({TOTAL: ["F", "M"]}), "sex")] if sex else [])
    # leaf cells
    grids = [communes, sectors] + ([["F", "M"]] if sex else [])
    mesh = np.array(np.meshgrid(*[np.arange(len(g)) for g in grids], indexing="ij")).reshape(len(grids), -1)
    n = mesh.shape[1]
    on = rng.random(n) < density
    val = np.where(on, np.ceil(rng.lognormal(1.0, 1.2, size=n)), 0.0)
    units = np.where(val > 0, np.minimum(val, rng.integers(1, 6, size=n)), 0)
    top1 = np.where(val > 0, np.ceil(val / np.maximum(units, 1) * rng.uniform(1, 2, size=n)), 0.0)
    top1 = np.minimum(top1, val)
    leaf = pl.DataFrame({d: np.array(g)[mesh[i]] for i, (d, g) in enumerate(zip(dims, grids))}).with_columns(
        pl.Series("value", val), pl.Series("n_units", units.astype(np.int64)), pl.Series("top1", top1)
    )
    # aggregate up every dimension
    out = leaf
    for d, g in zip(dims, grids):
        cl = _closure_pairs([h for h in hs if h.dimension == d], list(g))
        out = out.join(cl, left_on=d, right_on="leaf").drop(d).rename({"code": d})
        out = out.group_by(dims).agg(pl.col("value").sum(), pl.col("n_units").sum(), pl.col("top1").max())
    if drop_zeros:
        out = out.filter(pl.col("value") > 0)
    return out.sort(dims).select(*dims, "value", "n_units", "top1"), dims, hs
