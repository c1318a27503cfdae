"""URSSAF extracts with one column per year: urssaf (commune × APE) and urssaf-taille (× size band)."""

from __future__ import annotations

import json
from pathlib import Path

import fastexcel
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import FIXTURES, Cli, restricted
from prst_etl.model.codes import SIZE_MAX, size_band_expr, size_bounds, size_code, size_label
from prst_etl.warehouse import open_warehouse

URSSAF = FIXTURES / "sources/urssaf"
TAILLE = FIXTURES / "sources/urssaf-taille"
YEARS = [2021, 2022, 2023]


def facts(wh: Path, source: str, table: str) -> pl.DataFrame:
    with open_warehouse(wh) as w:
        lf = w.scan_facts(source, table)
        assert lf is not None
        return lf.collect()


def read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, separator=";", infer_schema=False)


@pytest.fixture(scope="module")
def urssaf(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("urssaf") / "warehouse"
    rep = Cli().json("ingest", "urssaf", URSSAF / "exemple.csv", "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return wh, rep, facts(wh, "urssaf", "etablissements")


# -- urssaf -----------------------------------------------------------------------------
def test_years_are_read_from_the_header(urssaf) -> None:  # type: ignore[no-untyped-def]
    _, rep, df = urssaf
    assert rep["years"] == YEARS and sorted(df["year"].unique()) == YEARS
    raw = read_csv(URSSAF / "exemple.csv")
    outside = raw.filter(pl.col("Code région") != "76").height
    st_ = rep["stats"]
    assert (st_["rows_read"], st_["rows_kept"], st_["rows_skipped"]) == (raw.height, raw.height - outside, outside)
    assert st_["skipped_detail"] == {"communes hors Occitanie (fichier national)": outside}


def test_totals_per_year_equal_the_file(urssaf) -> None:  # type: ignore[no-untyped-def]
    _, _, df = urssaf
    raw = read_csv(URSSAF / "exemple.csv").filter(pl.col("Code région") == "76")
    for y in YEARS:
        got = df.filter(pl.col("year") == y)
        assert got["etablissements_employeurs"].sum() == raw[f"Nombre d'établissements {y}"].cast(pl.Int64).sum()
        assert got["effectifs_salaries"].sum() == raw[f"Effectifs salariés {y}"].cast(pl.Int64).sum()


def test_keys_are_cleaned_and_mapped(urssaf) -> None:  # type: ignore[no-untyped-def]
    _, rep, df = urssaf
    assert set(df["sector_level"]) == {"naf732"}
    assert "4120A" in set(df["sector_code"])  # written « 41.20A »
    codes = set(df["geo_code"])
    assert {"09122", "09107"} <= codes and not codes & {"9122", "09112", "13055"}
    raw = read_csv(URSSAF / "exemple.csv")
    dun = raw.filter(pl.col("Code commune").is_in(["09107", "09112"]))
    assert rep["stats"]["rows_merged"] == raw.filter(pl.col("Code commune") == "09112").height > 0
    got = df.filter((pl.col("geo_code") == "09107") & (pl.col("year") == 2023))["effectifs_salaries"].sum()
    assert got == dun["Effectifs salariés 2023"].cast(pl.Int64).sum()
    assert set(df["sex"]) == {"_T"} and set(df["age_band"]) == {"_T"}


def test_export_by_departement_adds_up_the_communes(urssaf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh, _, _ = urssaf
    out = restricted(tmp_path / "dep.parquet")
    r = Cli()("export", "--no-secret", "--level", "departement", "--warehouse", wh, "--output", out, "--sector-level", "ensemble", "--year", "2022")
    assert r.exit_code == 0, r.stderr
    e = pl.read_parquet(out).filter(pl.col("sources") == "urssaf")
    raw = read_csv(URSSAF / "exemple.csv").filter(pl.col("Code région") == "76")
    want = raw.group_by("Code département").agg(pl.col("Effectifs salariés 2022").cast(pl.Int64).sum().alias("v"))
    got = e.filter(pl.col("indicator") == "effectifs_salaries").select(pl.col("geo_code").alias("Code département"), "value")
    joined = want.join(got, on="Code département", how="full", coalesce=True)
    assert (joined["v"] == joined["value"]).all() and joined.height == want.height
    ratio = e.filter((pl.col("indicator") == "taille_moyenne_etablissements") & (pl.col("geo_code") == "31"))["value"].item()
    etab = raw.filter(pl.col("Code département") == "31")["Nombre d'établissements 2022"].cast(pl.Int64).sum()
    eff = raw.filter(pl.col("Code département") == "31")["Effectifs salariés 2022"].cast(pl.Int64).sum()
    assert ratio == pytest.approx(eff / etab)


def test_year_option_keeps_one_year_column(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("ingest", "urssaf", URSSAF / "exemple.csv", "--year", "2022", "--warehouse", wh)
    assert rep["outcome"] == "loaded" and rep["years"] == [2022]
    assert set(facts(wh, "urssaf", "etablissements")["year"]) == {2022}
    rep = cli.json("ingest", "urssaf", URSSAF / "exemple.csv", "--year", "2019", "--warehouse", wh, "--dry-run")
    assert [i["code"] for i in rep["issues"]] == ["year-mismatch"]


def test_a_new_year_column_needs_no_new_mapping(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = read_csv(URSSAF / "exemple.csv")
    more = raw.with_columns(
        pl.col("Nombre d'établissements 2023").alias("Nombre d'établissements 2024"),
        pl.col("Effectifs salariés 2023").alias("Effectifs salariés 2024"),
    )
    path = tmp_path / "urssaf-2024.csv"
    more.write_csv(path, separator=";")
    rep = cli.json("ingest", "urssaf", path, "--warehouse", wh)
    assert rep["outcome"] == "loaded" and rep["years"] == [2021, 2022, 2023, 2024]
    half = raw.with_columns(pl.col("Nombre d'établissements 2023").alias("Nombre d'établissements 2024"))
    half.write_csv(path, separator=";")
    rep = cli.json("ingest", "urssaf", path, "--warehouse", wh, "--dry-run")
    assert [(i["column"], i["code"]) for i in rep["issues"]] == [("Effectifs salariés 2024", "missing-column")]


def test_urssaf_broken_copy(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "urssaf", URSSAF / "exemple-errone.csv", "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (2, "Code commune", "unknown-commune"),
        (3, "Code APE", "unknown-naf"),
        (4, "Nombre d'établissements 2022", "non-numeric-count"),
        (5, "Effectifs salariés 2023", "negative-count"),
        (6, "Effectifs salariés 2021", "non-integer-count"),
        (7, "Effectifs salariés 2022", "inconsistent-values"),
        (8, "Effectifs salariés 2021", "missing-value"),
        (9, "Code APE", "missing-key"),
        (10, None, "duplicate-key"),
        (14, None, "duplicate-key"),
    ]
    assert not wh.exists()


# -- urssaf-taille ----------------------------------------------------------------------
def read_xlsx(path: Path) -> pl.DataFrame:
    return fastexcel.read_excel(path).load_sheet(0, header_row=1, dtypes="string").to_polars()


def test_size_bands_load_and_add_up(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("ingest", "urssaf-taille", TAILLE / "exemple.xlsx", "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    assert rep["years"] == YEARS
    df = facts(wh, "urssaf-taille", "etablissements_taille")
    assert set(df["size_band"]) <= {"E0", "E1T9", "E10T19", "E20T49", "E50T99", "E100T249", "E_GE250"}
    raw = read_xlsx(TAILLE / "exemple.xlsx").filter(pl.col("Code région") == "76")
    detail = raw.filter(pl.col("Tranche d'effectif") != "Ensemble")
    totals = raw.filter(pl.col("Tranche d'effectif") == "Ensemble")
    assert totals.height > 0 and rep["stats"]["skipped_detail"]["lignes de total de la source (contrôlées, non stockées)"] == totals.height
    for y in YEARS:
        col = f"Nombre d'établissements {y}"
        assert df.filter(pl.col("year") == y)["etablissements_employeurs"].sum() == detail[col].cast(pl.Float64).sum()
        # the file's own « Ensemble » rows (Toulouse) equal the sum of the stored size bands
        toulouse = df.filter((pl.col("year") == y) & (pl.col("geo_code") == "31555"))
        assert toulouse["etablissements_employeurs"].sum() == totals[col].cast(pl.Float64).sum()


def test_size_bands_split_the_urssaf_establishments() -> None:
    """The two fictitious samples describe the same establishments: by size they add up to the urssaf counts."""
    size = read_xlsx(TAILLE / "exemple.xlsx").filter(pl.col("Tranche d'effectif") != "Ensemble")
    plain = read_csv(URSSAF / "exemple.csv")
    for y in YEARS:
        col = f"Nombre d'établissements {y}"
        assert size[col].cast(pl.Float64).sum() == plain[col].cast(pl.Float64).sum()


def test_urssaf_taille_broken_copy(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "urssaf-taille", TAILLE / "exemple-errone.xlsx", "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (8, "Nombre d'établissements 2021", "total-mismatch"),  # Toulouse 0111Z « Ensemble »
        (9, "Tranche d'effectif", "invalid-size-band"),
        (10, "Code APE", "unknown-naf"),
        (11, "Nombre d'établissements 2022", "negative-count"),
        (12, "Code commune", "missing-key"),
        (13, None, "duplicate-key"),
        (14, None, "duplicate-key"),
    ]
    assert {i["sheet"] for i in rep["issues"]} == {"Etablissements"}
    assert not wh.exists()


# -- size-band codes --------------------------------------------------------------------
def test_size_band_labels() -> None:
    labels = [
        "0 salarié", "Sans salarié", "1 à 9 salariés", "De 10 à 19 salariés", "20-49", "Moins de 11 salariés",
        "250 salariés ou plus", "250 et plus", "1 000 salariés ou plus", "E50T99", "Ensemble", "Total", "Grande", None,
    ]  # fmt: skip
    got = pl.select(size_band_expr(pl.Series(labels, dtype=pl.String))).to_series().to_list()
    assert got == [
        "E0", "E0", "E1T9", "E10T19", "E20T49", "E_LT11", "E_GE250", "E_GE250", "E_GE1000", "E50T99", "_T", "_T", None, None,
    ]  # fmt: skip
    assert [size_label(c) for c in ("E0", "E1T9", "E_LT11", "E_GE250")] == [
        "0 salarié", "1 à 9 salariés", "Moins de 11 salariés", "250 salariés ou plus",
    ]  # fmt: skip


@given(st.integers(0, 5000), st.integers(1, 5000))
def test_size_codes_carry_their_bounds(lower: int, width: int) -> None:
    upper = min(lower + width, SIZE_MAX)
    assert size_bounds(size_code(lower, upper)) == (lower, upper)
