"""insee-rp: census detailed table (commune × SEXE × AGEQ80_17 × TACT × EMPL, weighted NB)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, Cli
from prst_etl.warehouse import open_warehouse

HERE = FIXTURES / "sources/insee-rp"
SAMPLE = HERE / "exemple.csv"
BROKEN = HERE / "exemple-errone.csv"
OCCITANIE = ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82")
MEASURES = ["population", "actifs_occupes", "emplois_salaries", "emplois_non_salaries"]


def facts(wh: Path, source: str, table: str) -> pl.DataFrame:
    with open_warehouse(wh) as w:
        lf = w.scan_facts(source, table)
        assert lf is not None
        return lf.collect()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("rp") / "warehouse"
    rep = Cli().json("ingest", "insee-rp", SAMPLE, "--year", "2021", "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return rep, facts(wh, "insee-rp", "rp")


def expected() -> pl.DataFrame:
    """The four measures computed straight from the CSV, by hand: Occitanie rows, old codes of Dun
    (09112, 09191) moved to 09107, Foix's lost zero restored, then sums of NB by condition."""
    raw = pl.read_csv(SAMPLE, separator=";", infer_schema=False)
    df = raw.with_columns(
        pl.col("CODGEO").str.zfill(5).replace({"09112": "09107", "09191": "09107"}).alias("geo_code"),
        pl.col("NB").cast(pl.Float64),
        pl.col("SEXE").replace_strict({"1": "M", "2": "F"}).alias("sex"),
    ).filter(pl.col("geo_code").str.slice(0, 2).is_in(OCCITANIE))
    employed = pl.col("TACT") == "11"
    return df.group_by("geo_code", "sex", "AGEQ80_17").agg(
        pl.col("NB").sum().alias("population"),
        pl.col("NB").filter(employed).sum().alias("actifs_occupes"),
        pl.col("NB").filter(employed & pl.col("EMPL").is_in(["11", "12", "13", "14", "15", "16"])).sum().alias("emplois_salaries"),
        pl.col("NB").filter(employed & pl.col("EMPL").is_in(["21", "22", "23"])).sum().alias("emplois_non_salaries"),
    )


def test_sample_loads_with_its_row_accounting(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, df = loaded
    assert rep["years"] == [2021]
    st = rep["stats"]
    raw = pl.read_csv(SAMPLE, separator=";", infer_schema=False)
    outside = raw.filter(pl.col("CODGEO").is_in(["13001", "64445"])).height
    assert outside > 0
    assert (st["rows_read"], st["rows_kept"], st["rows_skipped"], st["rows_rejected"]) == (raw.height, raw.height - outside, outside, 0)
    assert st["skipped_detail"] == {"communes hors Occitanie (fichier national)": outside}
    old = raw.filter(pl.col("CODGEO").is_in(["09112", "09191"])).height
    assert st["rows_merged"] == old
    assert df.height == rep["tables"]["rp"] == 15 * 2 * 17  # 17 Occitanie codes, 3 of them now Dun


def test_every_cell_equals_the_sums_computed_from_the_file(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    bands = {f"{a:02d}": (f"Y{a}T{a + 4}" if a else "Y_LT5") for a in range(0, 80, 5)} | {"80": "Y_GE80"}
    want = expected().with_columns(pl.col("AGEQ80_17").replace_strict(bands).alias("age_band")).drop("AGEQ80_17")
    got = df.select("geo_code", "sex", "age_band", *MEASURES)
    joined = want.join(got, on=["geo_code", "sex", "age_band"], how="full", coalesce=True, suffix="_got")
    assert joined.height == got.height == want.height
    for m in MEASURES:
        assert joined[m].to_list() == pytest.approx(joined[f"{m}_got"].to_list(), rel=1e-12, abs=1e-9), m
    assert df["population"].sum() == pytest.approx(want["population"].sum(), rel=1e-12)


def test_decimals_kept_and_keys_canonical(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    assert (df["population"] != df["population"].round(0)).any()  # weighted counts are not rounded
    assert set(df["sex"]) == {"F", "M"}
    assert set(df["sector_level"]) == {"ensemble"} and set(df["sector_code"]) == {"_T"}
    assert {"Y_LT5", "Y15T19", "Y60T64", "Y_GE80"} <= set(df["age_band"]) and len(set(df["age_band"])) == 17
    codes = set(df["geo_code"])
    assert "09122" in codes  # written « 9122 » in the file
    assert "09107" in codes and not codes & {"09112", "09191", "13001", "64445"}


def test_measures_nest(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    assert (df["actifs_occupes"] <= df["population"] + 1e-9).all()
    both = df["emplois_salaries"] + df["emplois_non_salaries"]
    assert both.to_list() == pytest.approx(df["actifs_occupes"].to_list(), rel=1e-12, abs=1e-9)
    young = df.filter(pl.col("age_band").is_in(["Y_LT5", "Y5T9", "Y10T14"]))
    assert (young["actifs_occupes"] == 0).all()


def test_old_codes_of_merged_communes_are_added_up(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    raw = pl.read_csv(SAMPLE, separator=";", infer_schema=False).with_columns(pl.col("NB").cast(pl.Float64))
    dun = raw.filter(pl.col("CODGEO").is_in(["09107", "09112", "09191"]))["NB"].sum()
    assert df.filter(pl.col("geo_code") == "09107")["population"].sum() == pytest.approx(dun, rel=1e-12)


def test_broken_copy_is_rejected_with_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "insee-rp", BROKEN, "--year", "2021", "--warehouse", wh, "--json")
    import json

    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (4, "CODGEO", "unknown-commune"),
        (6, "SEXE", "invalid-sex"),
        (8, "AGEQ80_17", "invalid-age-band"),
        (10, "TACT", "invalid-code"),
        (12, "NB", "non-numeric-count"),
        (14, "NB", "negative-count"),
        (16, "NB", "missing-value"),
        (18, "NIVGEO", "invalid-code"),
        (22, None, "duplicate-key"),
        (41, "EMPL", "inconsistent-values"),
        (42, None, "duplicate-key"),
    ]
    assert not wh.exists()


def test_year_comes_from_the_file_name_or_the_option(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "insee-rp", SAMPLE, "--warehouse", wh, "--dry-run", "--json")
    assert r.exit_code == 1 and '"year-not-found"' in r.stdout
    named = tmp_path / "BTT_TD_ACT_2021.csv"
    named.write_bytes(SAMPLE.read_bytes())
    rep = Cli().json("ingest", "insee-rp", named, "--warehouse", wh, "--dry-run")
    assert rep["outcome"] == "dry-run" and rep["years"] == [2021]
