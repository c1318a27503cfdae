"""The real national AT workbook of the Assurance Maladie, end to end."""

from __future__ import annotations

import polars as pl
import pytest

from conftest import NATIONAL, restricted

TOTALS = {
    "salaries": 20_799_568,
    "heures_travaillees": 34_359_322_638,
    "etablissements": 2_434_739,
    "at_1er_reglement": 549_614,
    "at_4j_plus": 496_094,
    "at_ip": 34_302,
    "at_deces": 764,
    "at_journees_it": 54_034_448,
}


@pytest.fixture(scope="module")
def france(tmp_path_factory):  # type: ignore[no-untyped-def]
    from conftest import Cli

    cli = Cli()
    wh = tmp_path_factory.mktemp("ameli") / "warehouse"
    r = cli("ingest", "ameli-at", NATIONAL, "--warehouse", wh)
    assert r.exit_code == 0, r.stdout
    out = restricted(wh.parent / "france.parquet")
    r = cli("export", "--no-secret", "--level", "france", "--warehouse", wh, "--output", out)
    assert r.exit_code == 0, r.stdout + r.stderr
    return pl.read_parquet(out)


def _total(df: pl.DataFrame, indicator: str, **dims: str) -> float:
    cond = (pl.col("indicator") == indicator) & (pl.col("sector_level") == "ensemble")
    for d in ("ctn", "risk_family", "sex", "age_band"):
        cond &= pl.col(d) == dims.get(d, "_T")
    cell = df.filter(cond)
    assert cell.height == 1, cell
    return cell["value"].item()


@pytest.mark.parametrize("measure,expected", sorted(TOTALS.items()))
def test_national_totals_found_in_france_export(france: pl.DataFrame, measure: str, expected: int) -> None:
    assert _total(france, measure) == expected


def test_rates_are_ratios_of_sums(france: pl.DataFrame) -> None:
    assert _total(france, "at_tf") == pytest.approx(549_614 / 34_359_322_638 * 1e6)
    assert round(_total(france, "at_tf"), 3) == 15.996
    assert _total(france, "at_if") == pytest.approx(549_614 / 20_799_568 * 1e3)
    assert _total(france, "at_tg") == pytest.approx(54_034_448 / 34_359_322_638 * 1e3)


def test_risk_families_add_up_to_accidents(france: pl.DataFrame) -> None:
    fam = france.filter(
        (pl.col("indicator") == "at_risque") & (pl.col("sector_level") == "ensemble")
        & (pl.col("ctn") == "_T") & (pl.col("risk_family") != "_T")
    )  # fmt: skip
    assert fam.height == 13  # 12 families + « non-code »
    assert fam["value"].sum() == 549_614
    assert _total(france, "at_risque", risk_family="non-code") == 549_614 - 313_959


def test_unknown_naf_rows_are_kept(france: pl.DataFrame) -> None:
    unknown = france.filter(
        (pl.col("sector_code") == "_U") & (pl.col("sector_level") == "naf732")
        & (pl.col("indicator") == "at_1er_reglement") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )  # fmt: skip
    assert unknown["value"].item() == 128 + 286 + 36 + 155 + 2 + 22 + 49 + 42 + 371


def test_ctn_dimension_adds_up(france: pl.DataFrame) -> None:
    by_ctn = france.filter(
        (pl.col("indicator") == "at_1er_reglement") & (pl.col("sector_level") == "ensemble")
        & (pl.col("ctn") != "_T") & (pl.col("risk_family") == "_T")
    )  # fmt: skip
    assert sorted(by_ctn["ctn"]) == ["AA", "BB", "CC", "DD", "EE", "FF", "GG", "HH", "II"]
    assert by_ctn["value"].sum() == 549_614


def test_year_is_read_from_the_file(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("ingest", "ameli-at", NATIONAL, "--warehouse", wh, "--dry-run")
    assert rep["years"] == [2024]
    assert rep["header_row"] == 4
    assert rep["stats"]["rows_read"] == 4498


def test_year_given_that_contradicts_the_file_is_refused(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "ameli-at", NATIONAL, "--warehouse", wh, "--year", "2023", "--json")
    assert r.exit_code == 1
    assert [i["code"] for i in __import__("json").loads(r.stdout)["issues"]] == ["year-mismatch"]
    assert not wh.exists()
