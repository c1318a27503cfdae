"""The attacker's view: no hidden cell can be narrowed below its protection
interval, checked by linear programming (HiGHS) on generated linked tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from prst_etl.secrecy import Hierarchy, secondary_suppression
from prst_etl.secrecy.secondary import run_secondary
from prst_etl.testing.synthetic import edges_frame, small_linked_table
from prst_etl.secrecy.verify import attacker_ranges, check_vector, equations

P = 0.10
TOL = 1e-6
SAMPLE = 20
"""Cells solved per check beyond the primary ones: the attacker's LPs are two per cell."""


def assert_protected(cells, dims, hs, status, *, p=P, min_protection=0.0, which=None, exact=None, sample=None):
    """Every hidden cell with a positive value (or those of ``which``; or, with
    ``sample``, the primary ones and that many others) keeps a range covering
    ``x ± max(p·x, min_protection)`` (downwards at most to 0); cells of
    ``exact`` only need a range of positive width."""
    hidden = status.is_not_null().to_numpy()
    x = cells["value"].to_numpy()
    rows = np.flatnonzero(hidden & (x > 0)) if which is None else np.asarray(which)
    if sample is not None and len(rows) > sample:
        prim = (status == "secret").fill_null(False).to_numpy()[rows]
        rng = np.random.default_rng(0)
        rows = np.union1d(rows[prim], rng.choice(rows[~prim], size=min(sample, (~prim).sum()), replace=False))
    r = attacker_ranges(cells, dims, hs, status, targets=rows)
    u = np.maximum(p * r["value"].to_numpy(), min_protection)
    low_ok = r["low"].to_numpy() <= r["value"].to_numpy() - np.minimum(u, r["value"].to_numpy()) + TOL * (1 + u)
    high_ok = r["high"].to_numpy() >= r["value"].to_numpy() + u - TOL * (1 + u)
    ok = low_ok & high_ok
    if exact is not None:
        ex = np.isin(rows, exact)
        width = r["high"].to_numpy() - r["low"].to_numpy()
        ok = np.where(ex, width > TOL, ok)
    bad = r.filter(~pl.Series(ok))
    assert bad.height == 0, f"narrowed cells:\n{bad}"
    return r


def as_status(mask: np.ndarray) -> pl.Series:
    return pl.Series("status", ["secret" if m else None for m in mask], dtype=pl.String)


def random_primary(cells: pl.DataFrame, seed: int, rate: float) -> pl.Series:
    rng = np.random.default_rng(seed + 7)
    x = cells["value"].to_numpy()
    return pl.Series("primary", (x > 0) & (rng.random(len(x)) < rate))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n_communes=st.integers(6, 8),
    sector_links=st.booleans(),
    density=st.sampled_from([0.35, 0.6, 0.9]),
)
def test_linked_tables_resist_the_attacker(seed, n_communes, sector_links, density):
    """Two crossing geographic hierarchies + overlapping perimeters, a
    two-level sector hierarchy (optionally with a second grouping), sex: every
    hidden cell, primary and secondary, keeps its ±10 % interval."""
    cells, dims, hs = small_linked_table(seed, n_communes=n_communes, density=density, sector_links=sector_links)
    primary = random_primary(cells, seed, 0.08)
    status = secondary_suppression(cells, dims, hs, primary)
    assert (status.is_not_null() | ~primary).all()
    assert_protected(cells, dims, hs, status, sample=SAMPLE)  # every primary, a sample of the secondaries


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6))
@example(seed=505)  # a primary at the grand total in geography and sectors: a fan through its ancestors
def test_witnesses_are_protection_vectors(seed):
    """Each protected cell's witness v: in the null space of every equation
    (written from the edges), zero on published cells, within the values."""
    cells, dims, hs = small_linked_table(seed, n_communes=8, density=0.6)
    primary = random_primary(cells, seed, 0.1)
    status, eng = run_secondary(cells, dims, hs, primary, record=True)
    hidden = status.is_not_null().to_numpy()
    eqs = equations(cells, dims, hs)
    perm = eng.p.perm
    assert eng.witness
    for cell, (pos, v) in eng.witness.items():
        rows = perm[pos]
        row = perm[cell]
        why = check_vector(cells, dims, hs, hidden, rows, v, exempt=row, eqs=eqs)
        assert why is None, why
        assert abs(v[pos == cell][0]) >= eng.U[cell] * (1 - 1e-9)


def test_drop_zero_cells_are_known_zeros():
    cells, dims, hs = small_linked_table(11, n_communes=8, density=0.4, drop_zeros=True)
    primary = random_primary(cells, 11, 0.1)
    status = secondary_suppression(cells, dims, hs, primary)
    assert_protected(cells, dims, hs, status, sample=40)


# ---------------------------------------------------------------------------
# a pattern that the usual "no equation with a single hidden cell" rule accepts


def _crossed():
    """Four communes: a, b in département D1, c, d in D2; a, c in zone Z1,
    b, d in Z2. Région R = D1 + D2 = Z1 + Z2. Sex F/M under _T."""
    hs = [
        Hierarchy("geo", edges_frame({"D1": ["a", "b"], "D2": ["c", "d"], "R": ["D1", "D2"]}), "dep"),
        Hierarchy("geo", edges_frame({"Z1": ["a", "c"], "Z2": ["b", "d"], "R": ["Z1", "Z2"]}), "zone"),
        Hierarchy("sex", edges_frame({"_T": ["F", "M"]}), "sex"),
    ]
    leaf = {("a", "F"): 60, ("a", "M"): 40, ("b", "F"): 1, ("b", "M"): 1,
            ("c", "F"): 30, ("c", "M"): 20, ("d", "F"): 1, ("d", "M"): 1}
    members = {"a": "a", "b": "b", "c": "c", "d": "d"}
    groups = {"D1": "ab", "D2": "cd", "Z1": "ac", "Z2": "bd", "R": "abcd", **members}
    rows = []
    for g, ms in groups.items():
        for s in ("F", "M", "_T"):
            sexes = ("F", "M") if s == "_T" else (s,)
            rows.append((g, s, float(sum(leaf[(m, t)] for m in ms for t in sexes))))
    cells = pl.DataFrame(rows, schema={"geo": pl.String, "sex": pl.String, "value": pl.Float64}, orient="row")
    return cells, ["geo", "sex"], hs


def _naive_ok(cells, dims, hs, hidden):
    """True when no equation has exactly one hidden cell."""
    r, c, _, m = equations(cells, dims, hs)
    per_eq = np.bincount(r, weights=hidden[c].astype(float), minlength=m)
    return not (per_eq == 1).any()


def test_naive_rule_passes_but_the_attacker_narrows():
    cells, dims, hs = _crossed()
    geo, sex = cells["geo"], cells["sex"]
    naive = (geo.is_in(["a", "b", "c", "d"])).to_numpy()  # every commune cell hidden
    assert _naive_ok(cells, dims, hs, naive)
    status = as_status(naive)
    a_total = int(np.flatnonzero(((geo == "a") & (sex == "_T")).to_numpy())[0])
    r = attacker_ranges(cells, dims, hs, status, targets=np.array([a_total]))
    # a = 100 is pinned to [98, 102] (D1 = a + b, Z2 = b + d, b = d = 2): far
    # inside the ±10 % interval [90, 110]
    assert r["low"][0] >= 98 - 1e-6 and r["high"][0] <= 102 + 1e-6

    # The engine, given the same cells as a pattern to keep, adds what is needed.
    status = secondary_suppression(cells, dims, hs, pl.Series(naive), keep=pl.Series(naive))
    assert status.is_not_null().sum() > naive.sum()
    assert_protected(cells, dims, hs, status)

    # And from the primary cell alone.
    primary = pl.Series((geo == "a") & (sex == "F"))
    status = secondary_suppression(cells, dims, hs, primary)
    assert_protected(cells, dims, hs, status)


def test_overlapping_perimeters_naive_trap():
    """Two overlapping perimeters and their département: every equation has two
    or three hidden cells, yet the three communes are exactly determined."""
    hs = [
        Hierarchy("geo", edges_frame({"D": ["a", "b", "c"]}), "dep"),
        Hierarchy("geo", edges_frame({"P1": ["a", "b"], "P2": ["b", "c"]}), "perim"),
    ]
    vals = {"a": 50.0, "b": 1.0, "c": 49.0}
    rows = [(k, v) for k, v in vals.items()] + [("D", 100.0), ("P1", 51.0), ("P2", 50.0)]
    cells = pl.DataFrame(rows, schema={"geo": pl.String, "value": pl.Float64}, orient="row")
    hidden = cells["geo"].is_in(["a", "b", "c"]).to_numpy()
    assert _naive_ok(cells, ["geo"], hs, hidden)
    r = attacker_ranges(cells, ["geo"], hs, as_status(hidden), targets=np.array([0, 1, 2]))
    assert np.allclose(r["low"].to_numpy(), r["high"].to_numpy())  # a = D − P2, c = D − P1
    primary = pl.Series(cells["geo"] == "a")
    status = secondary_suppression(cells, ["geo"], hs, primary)
    assert_protected(cells, ["geo"], hs, status)


# ---------------------------------------------------------------------------
# options


@pytest.mark.parametrize("seed", [1])
def test_exact_mode_protects_primaries_and_keeps_secondaries_uncertain(seed):
    cells, dims, hs = small_linked_table(seed, n_communes=8, density=0.6)
    primary = random_primary(cells, seed, 0.1)
    status = secondary_suppression(cells, dims, hs, primary, protect_secondary="exact")
    sec = np.flatnonzero((status == "secret-secondaire").fill_null(False).to_numpy() & (cells["value"].to_numpy() > 0))
    assert_protected(cells, dims, hs, status, exact=sec, sample=40)


def test_min_protection_widens_small_cells():
    cells, dims, hs = small_linked_table(5, n_communes=8, density=0.6)
    primary = random_primary(cells, 5, 0.08)
    status = secondary_suppression(cells, dims, hs, primary, min_protection=1.0)
    assert_protected(cells, dims, hs, status, min_protection=1.0, which=np.flatnonzero(primary.to_numpy()))


def test_unpublished_level_is_used_but_not_protected():
    """An export by département/zone/perimeter: the communes carry the
    equations but are not published (merged into classes of twins)."""
    cells, dims, hs = small_linked_table(21, n_communes=9, density=0.7)
    commune = cells["geo"].str.starts_with("C")
    primary = random_primary(cells, 21, 0.15) & ~commune
    status = secondary_suppression(cells, dims, hs, primary, unpublished=commune)
    assert (status.filter(commune) == "non-publie").all()
    assert not (status.filter(~commune) == "non-publie").any()
    pub_hidden = np.flatnonzero(status.is_in(["secret", "secret-secondaire"]).fill_null(False).to_numpy() & (cells["value"].to_numpy() > 0))
    assert_protected(cells, dims, hs, status, which=pub_hidden)


def test_regional_structure_sampled():
    """Realistic structure (départements, zones crossing them, sectoral
    perimeters overlapping interprofessional ones), establishment-based values,
    Insee rules: a sample of hidden cells checked by the attacker's LPs."""
    from prst_etl.secrecy import Rules, primary_suppression
    from prst_etl.testing import synthetic as syn

    geo = syn.regional_geography(5, n_communes=60, n_deps=3, n_zones=4, n_perimeters=4)
    sectors, ages = syn.A38[:5], syn.AGE_BANDS[:3]
    cells = syn.establishment_table(geo, seed=5, n_establishments=600, sectors=sectors, ages=ages)
    hs = geo.hierarchies + [
        Hierarchy("sector_code", edges_frame({"_T": sectors})),
        syn.sex_hierarchy(),
        Hierarchy("age_band", edges_frame({"_T": ages})),
    ]
    dims = ["geo_code", "sector_code", "sex", "age_band"]
    primary = primary_suppression(cells, Rules(min_units=3, dominance=(1, 85)), top_contributors=["top1"])
    status = secondary_suppression(cells, dims, hs, primary)
    hidden = np.flatnonzero(status.is_not_null().to_numpy() & (cells["value"].to_numpy() > 0))
    rng = np.random.default_rng(0)
    assert_protected(cells, dims, hs, status, which=np.sort(rng.choice(hidden, size=40, replace=False)))


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), share=st.sampled_from([0.05, 0.15, 0.3]))
def test_cells_the_source_hid_are_unknowns_not_zeros(seed, share):
    """Some cells came without a value (the source hid them). The engine sees them at a lower
    bound of their value, unpublished; the attacker sees the TRUE table's published cells and
    equations, the hidden cells as unknowns: every primary cell keeps its interval and no hidden
    cell is recovered exactly."""
    from prst_etl.secrecy.problem import unknown_lower_bounds

    cells, dims, hs = small_linked_table(seed, n_communes=7, density=0.6)
    rng = np.random.default_rng(seed + 3)
    unknown = rng.random(cells.height) < share
    x = cells["value"].to_numpy()
    lb = unknown_lower_bounds(
        cells.with_columns(pl.Series("value", np.where(unknown, np.nan, x)).fill_nan(None)), dims, hs, unknown, "value"
    )
    assert np.all(lb <= x + 1e-9) and np.array_equal(lb[~unknown], x[~unknown])
    model = cells.with_columns(pl.Series("value", lb))
    primary = random_primary(cells, seed, 0.08) & ~pl.Series(unknown)
    status, eng = run_secondary(
        model, dims, hs, primary, unpublished=pl.Series(unknown), never_hide=pl.Series(unknown & (lb <= 0)),
        protect_secondary="exact", check="skip", on_unprotected="warn",
    )
    assert (status.is_not_null() | ~primary).all()
    st_ = status.fill_null("").to_numpy()
    # a primary cell the engine could not protect is reported (prst export says so): not checked
    reported = eng.p.perm[eng.unprotected]
    secondary = np.flatnonzero((st_ == "secret-secondaire") & (x > 0))
    published_hidden = np.setdiff1d(np.flatnonzero(np.isin(st_, ["secret", "secret-secondaire"]) & (x > 0)), reported)
    # against the true values: primaries keep ±10 %, secondaries a range of positive width
    # (the unknown cells themselves are nobody's to protect)
    rng = np.random.default_rng(seed)
    if len(published_hidden) > 2 * SAMPLE:  # sampled: two LPs per cell (benchmarks/ has the fuller runs)
        published_hidden = np.sort(rng.choice(published_hidden, size=2 * SAMPLE, replace=False))
    assert_protected(cells, dims, hs, status, which=published_hidden, exact=secondary)
