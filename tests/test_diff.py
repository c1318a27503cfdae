"""``prst_etl.diff`` called as a library function (not through ``prst diff-years``): both
values are those of the export of each year, the change and its significance follow from them,
the most important rows come first, and secrecy hides in the comparison what it hides in the
export. Read from a small warehouse of two years built once per session (tests/shared_warehouses.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import shared_warehouses
from prst_etl import diff, export
from prst_etl.errors import UsageError
from prst_etl.pipeline.export import Filters

Z95 = 1.959963984540054
SOME = Filters.of(indicators=["at_1er_reglement", "at_if", "at_tf", "salaries"])


@pytest.fixture(scope="session")
def two_years(tmp_path_factory):  # type: ignore[no-untyped-def]
    return shared_warehouses.two_years_warehouse(tmp_path_factory)


@pytest.fixture(scope="session")
def compared(two_years: Path) -> tuple[pl.DataFrame, list[str]]:
    """2023 → 2024 by département, without secrecy, a few indicators."""
    return diff(2023, 2024, warehouse=two_years, level="departement", sector_levels=["ensemble"], secret=False, filters=SOME)


def test_the_result_is_one_row_per_cell_with_both_years(compared: tuple[pl.DataFrame, list[str]]) -> None:
    df, notes = compared
    assert isinstance(notes, list) and df.height > 0
    for col in ("value_1", "value_2", "change", "change_pct", "z", "significant", "flags", "year_1", "year_2"):
        assert col in df.columns, col
    assert set(df["year_1"].unique()) == {2023} and set(df["year_2"].unique()) == {2024}
    assert set(df["geo_level"].unique()) == {"departement"} and set(df["sector_level"].unique()) == {"ensemble"}
    key = [c for c in df.columns[: df.columns.index("value_1")] if c not in ("geo_label", "sector_label")]
    assert not df.select(pl.struct(key).is_duplicated().any()).item()


def test_both_values_are_those_of_the_export_of_each_year(two_years: Path, compared: tuple[pl.DataFrame, list[str]],
                                                          tmp_path: Path) -> None:  # fmt: skip
    df, _ = compared
    res = export("departement", warehouse=two_years, secret=False, sector_levels=["ensemble"], years=[2023, 2024],
                 output=tmp_path / "e.parquet", filters=SOME)  # fmt: skip
    ex = pl.read_parquet(res.path)
    key = ["geo_code", "sector_code", "sex", "age_band", "indicator"] + [
        c for c in df.columns[: df.columns.index("indicator")] if c in ex.columns and c not in
        ("geo_level", "geo_code", "geo_label", "sector_level", "sector_code", "sector_label", "sex", "age_band")
    ]  # fmt: skip
    for year, col in ((2023, "value_1"), (2024, "value_2")):
        want = ex.filter(pl.col("year") == year).select(*key, pl.col("value").alias("want"))
        j = df.select(*key, col).join(want, on=key, how="inner", nulls_equal=True)
        assert j.height == want.height > 0, year
        assert j.filter(~pl.col(col).eq_missing(pl.col("want"))).height == 0, year


def test_change_and_significance_follow_from_the_values(compared: tuple[pl.DataFrame, list[str]]) -> None:
    df, _ = compared
    both = df.filter(pl.col("value_1").is_not_null() & pl.col("value_2").is_not_null())
    assert both.height > 0
    assert (both["change"] - (both["value_2"] - both["value_1"])).abs().max() < 1e-9
    pct = both.filter(pl.col("value_1") != 0)
    assert ((pct["change_pct"] - pct["change"] / pct["value_1"].abs() * 100).abs() < 1e-9).all()
    tested = df.filter(pl.col("z").is_not_null())
    assert tested.height > 0
    assert tested["significant"].to_list() == (tested["z"].abs() >= Z95).to_list()
    assert df.filter(pl.col("z").is_null())["significant"].null_count() == df.filter(pl.col("z").is_null()).height


def test_significant_changes_come_first_the_strongest_first(compared: tuple[pl.DataFrame, list[str]]) -> None:
    df, _ = compared
    sig = df["significant"].fill_null(False).to_list()
    assert True in sig and False in sig
    first_not = sig.index(False)
    assert all(sig[:first_not]) and not any(sig[first_not:])
    z = df.head(first_not)["z"].abs().to_list()
    assert z == sorted(z, reverse=True)


def test_indicators_add_to_the_filters(two_years: Path) -> None:
    df, _ = diff(2023, 2024, warehouse=two_years, level="region", sector_levels=["ensemble"], secret=False,
                 indicators=["salaries"], filters=Filters.of(indicators=["at_tf"]))  # fmt: skip
    assert set(df["indicator"].unique()) == {"salaries", "at_tf"}


def test_secrecy_hides_in_the_comparison_what_it_hides_in_the_export(two_years: Path, tmp_path: Path) -> None:
    df, _ = diff(2023, 2024, warehouse=two_years, level="departement", sector_levels=["a21"], filters=SOME)
    hidden = df.filter(pl.col("status_2").is_in(["secret", "secret-secondaire"]))
    assert hidden.height > 0 and hidden["value_2"].null_count() == hidden.height
    assert hidden["change"].null_count() == hidden.height
    res = export("departement", warehouse=two_years, years=[2024], sector_levels=["a21"], filters=SOME, output=tmp_path / "e.parquet")
    ex = pl.read_parquet(res.path).filter(pl.col("status").is_in(["secret", "secret-secondaire"]))
    key = ["geo_code", "sector_level", "sector_code", "sex", "age_band", "indicator"]
    assert sorted(hidden.select(key).rows()) == sorted(ex.select(key).rows())


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"level": "canton"}, "Niveau inconnu"),
        ({"from_state": "r1"}, "--from et --to"),
        ({"from_state": "r1", "to_state": "1", "as_of": "1"}, "--as-of"),
    ],
)
def test_usage_errors(two_years: Path, kwargs: dict, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        diff(2023, 2024, warehouse=two_years, secret=False, **kwargs)
