"""Secondary suppression: determinism, stability, options, errors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from prst_etl.secrecy import Hierarchy, HierarchyError, Rules, primary_suppression, secondary_suppression
from prst_etl.testing import synthetic as syn
from prst_etl.secrecy.structure import build_dimension
from prst_etl.testing.synthetic import edges_frame, small_linked_table
from test_secrecy_attack import assert_protected, random_primary

DIMS = ["geo_code", "sector_code", "sex", "age_band"]


@pytest.fixture(scope="module")
def regional():
    """A small regional table: 300 communes, 13 départements, 8 zones, 6 perimeters."""
    geo = syn.regional_geography(3, n_communes=300, n_zones=8, n_perimeters=6)
    cells = syn.establishment_table(geo, seed=3, n_establishments=4000, sectors=syn.A38[:8])
    hs = geo.hierarchies + [
        Hierarchy("sector_code", edges_frame({"_T": syn.A38[:8]}), "a38"),
        syn.sex_hierarchy(),
        *syn.age_hierarchies(),
    ]
    primary = primary_suppression(cells, Rules(min_units=3, dominance=(1, 85)), top_contributors=["top1", "top2"])
    status = secondary_suppression(cells, DIMS, hs, primary)
    return cells, hs, primary, status


def _sorted(cells, status):
    return cells.select(DIMS).with_columns(status.alias("status")).sort(DIMS)


def test_same_pattern_whatever_the_row_order(regional):
    cells, hs, primary, status = regional
    assert (status == "secret-secondaire").any()
    perm = np.random.default_rng(0).permutation(cells.height)
    shuffled = cells[perm]
    status2 = secondary_suppression(shuffled, DIMS, list(reversed(hs)), primary[perm])
    assert_frame_equal(_sorted(cells, status), _sorted(shuffled, status2))


def test_primary_cells_are_secret_and_nothing_else_changes(regional):
    cells, hs, primary, status = regional
    assert (status.filter(primary) == "secret").all()
    assert set(status.drop_nulls().unique().to_list()) <= {"secret", "secret-secondaire"}


def test_kept_cells_stay_hidden_and_protected():
    cells, dims, hs = small_linked_table(4, n_communes=8, density=0.6)
    primary = random_primary(cells, 4, 0.06)
    first = secondary_suppression(cells, dims, hs, primary)
    # next year: other primary cells, last year's pattern kept
    primary2 = random_primary(cells, 5, 0.06)
    keep = first.is_not_null()
    second = secondary_suppression(cells, dims, hs, primary2, keep=keep)
    assert (second.filter(keep) != "secret-secondaire").all()
    assert second.filter(keep).is_not_null().all()
    assert (second.filter(keep) == "secret").all()
    kept = np.flatnonzero(keep.to_numpy() & (cells["value"].to_numpy() > 0))
    rng = np.random.default_rng(4)  # a sample of the kept cells: two LPs per cell
    assert_protected(cells, dims, hs, second, which=np.sort(rng.choice(kept, size=min(40, len(kept)), replace=False)))


def test_never_hide_is_respected():
    cells, dims, hs = small_linked_table(8, n_communes=8, density=0.7)
    primary = random_primary(cells, 8, 0.06)
    totals = (cells["geo"] == "R") & (cells["sector"] == "_T")
    status = secondary_suppression(cells, dims, hs, primary & ~totals, never_hide=totals)
    assert status.filter(totals).is_null().all()
    assert_protected(cells, dims, hs, status, sample=30)


@pytest.mark.parametrize("cost", ["value", "log", "count", "sqrt"])
def test_costs(cost):
    cells, dims, hs = small_linked_table(9, n_communes=7, density=0.6)
    primary = random_primary(cells, 9, 0.06)
    status = secondary_suppression(cells, dims, hs, primary, cost=cost, protect_secondary=False)
    assert status.filter(primary).is_not_null().all()
    custom = secondary_suppression(cells, dims, hs, primary, cost=lambda x: x**2, protect_secondary=False)
    assert custom.filter(primary).is_not_null().all()


def test_without_hierarchy_nothing_more_is_hidden():
    cells = pl.DataFrame({"a": ["x", "y", "z"], "value": [1.0, 2.0, 3.0]})
    status = secondary_suppression(cells, ["a"], [], pl.Series([True, False, False]))
    assert status.to_list() == ["secret", None, None]


def test_a_hidden_cell_with_a_published_total_needs_a_partner():
    cells = pl.DataFrame({"a": ["x", "y", "z", "_T"], "value": [5.0, 7.0, 30.0, 42.0]})
    hs = [Hierarchy("a", edges_frame({"_T": ["x", "y", "z"]}))]
    status = secondary_suppression(cells, ["a"], hs, pl.Series([True, False, False, False]))
    assert status.to_list() == ["secret", "secret-secondaire", None, None]


def test_inconsistent_data_is_rejected():
    cells = pl.DataFrame({"a": ["x", "y", "_T"], "value": [5.0, 7.0, 13.0]})
    hs = [Hierarchy("a", edges_frame({"_T": ["x", "y"]}))]
    with pytest.raises(HierarchyError, match="differ from the sum"):
        secondary_suppression(cells, ["a"], hs, pl.Series([True, False, False]))
    with pytest.warns(UserWarning, match="differ from the sum"):
        secondary_suppression(cells, ["a"], hs, pl.Series([True, False, False]), check="warn")


def test_two_decompositions_in_one_hierarchy_are_fine():
    """Départements and zones given in a single edge list: every code is still
    the sum of the communes below it."""
    cells, dims, hs = small_linked_table(12, n_communes=8, density=0.6, sex=False)
    geo = [h for h in hs if h.dimension == "geo"]
    merged = Hierarchy("geo", pl.concat([h.edges for h in geo]), "all")
    primary = random_primary(cells, 12, 0.08)
    s1 = secondary_suppression(cells, dims, geo[:0] + [merged] + [h for h in hs if h.dimension != "geo"], primary)
    s2 = secondary_suppression(cells, dims, hs, primary)
    assert s1.to_list() == s2.to_list()


def test_structural_errors():
    codes = np.array(["a", "b", "c"])
    with pytest.raises(HierarchyError, match="cycle"):
        build_dimension("d", codes, [Hierarchy("d", edges_frame({"a": ["b"], "b": ["c", "a"]}))])
    with pytest.raises(HierarchyError, match="own child"):
        build_dimension("d", codes, [Hierarchy("d", edges_frame({"a": ["a"]}))])
    cells = pl.DataFrame({"a": ["x", "x"], "value": [1.0, 2.0]})
    with pytest.raises(ValueError, match="duplicate cells"):
        secondary_suppression(cells, ["a"], [], pl.Series([True, False]))
    with pytest.raises(ValueError, match="negative"):
        secondary_suppression(pl.DataFrame({"a": ["x"], "value": [-1.0]}), ["a"], [], pl.Series([True]))


def test_unpublished_intermediate_level_is_expanded():
    """Edges commune → département → région with the départements absent from
    the table: région = Σ communes still binds."""
    cells = pl.DataFrame({"g": ["a", "b", "c", "R"], "value": [5.0, 7.0, 30.0, 42.0]})
    hs = [Hierarchy("g", edges_frame({"D1": ["a", "b"], "D2": ["c"], "R": ["D1", "D2"]}))]
    status = secondary_suppression(cells, ["g"], hs, pl.Series([True, False, False, False]))
    assert status.to_list() == ["secret", "secret-secondaire", None, None]


def test_decompositions_must_meet_in_the_table():
    """Départements and zones without their communes do not determine each
    other: the engine refuses rather than assume région = Σ both."""
    cells, dims, hs = small_linked_table(3)
    agg = cells.filter(~pl.col("geo").str.starts_with("C"))
    with pytest.raises(HierarchyError, match="'R' is not split into the same leaves"):
        secondary_suppression(agg, dims, hs, pl.Series([False] * agg.height))
