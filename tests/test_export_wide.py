"""The observatory's wide file: one row per territory, one column per indicator × breakdown ×
year, named stably, with its statuses and its dictionary; CSV and a real workbook."""

from __future__ import annotations

import json
import zipfile

import fastexcel
import polars as pl
import pytest

from conftest import restricted
from prst_etl.pipeline.wide import column_name


SOME = ["-i", "at_1er_reglement", "-i", "at_if", "-i", "at_risque", "-i", "etablissements_employeurs", "-i", "part_etablissements_taille"]
"""Counts and rates with breakdowns by sex, age band, risk family and size band (every breakdown of
every indicator, unfiltered and without secrecy, makes more columns than a sheet holds)."""


def cells(values: pl.DataFrame, statuses: pl.DataFrame, dico: pl.DataFrame) -> pl.DataFrame:
    """The wide frames back to one row per cell, with the dictionary's codes."""
    ids = ["geo_level", "geo_code", "geo_label"]
    v = values.unpivot(index=ids, variable_name="column", value_name="wide_value")
    s = statuses.unpivot(index=ids, variable_name="column", value_name="wide_status")
    return v.join(s, on=[*ids, "column"]).join(dico, on="column").drop("geo_label")


def compare_with_long(wide: pl.DataFrame, long: pl.DataFrame) -> pl.DataFrame:
    dims = [c for c in ("year", "indicator", "sector_level", "sector_code", "sex", "age_band", "ctn", "risk_family", "size_band",
                        "cause_family") if c in long.columns]  # fmt: skip
    j = wide.join(long, on=["geo_level", "geo_code", *dims], how="full", coalesce=True)
    assert j.filter(pl.col("column").is_null()).height == 0, "a long row has no wide cell"
    assert j.filter(pl.col("value").is_not_null() != pl.col("wide_value").is_not_null()).height == 0
    assert j.filter(~pl.col("status").eq_missing(pl.col("wide_status"))).height == 0
    tol = 0.5 * 10.0 ** (-pl.col("decimals").cast(pl.Float64)) + 1e-9
    assert j.filter((pl.col("value") - pl.col("wide_value")).abs() > tol).height == 0
    return j


@pytest.mark.parametrize("level", ["departement", "zone-emploi"])
def test_wide_csv_holds_the_values_of_the_long_export(cli, breakdown, tmp_path, level) -> None:  # type: ignore[no-untyped-def]
    long_out, wide_out = restricted(tmp_path / "long.parquet"), restricted(tmp_path / "large.csv")
    assert cli("export", "--no-secret", "-l", level, "-w", breakdown, "-o", long_out, "-s", "ensemble", *SOME).exit_code == 0
    r = cli("export", "--no-secret", "-l", level, "-w", breakdown, "-o", wide_out, "--shape", "wide", "-f", "csv", "--json", *SOME)
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    # without secrecy (these tests read the arithmetic), every file says « diffusion restreinte »
    assert res["companions"] == [str(tmp_path / f"large_diffusion-restreinte_{x}.csv") for x in ("statuts", "dictionnaire")]
    statuts, dico_path = res["companions"]
    read = lambda p: pl.read_csv(p, separator=";", infer_schema=False).drop("diffusion", strict=False)  # noqa: E731
    values = read(wide_out)
    assert values.columns[:3] == ["geo_level", "geo_code", "geo_label"] and values.width - 3 == res["columns"]
    assert values["geo_code"].is_unique().all() and values.height == res["rows"]
    nums = values.with_columns(pl.col(c).str.replace(",", ".").cast(pl.Float64) for c in values.columns[3:])
    dico = read(dico_path).with_columns(pl.col("year").cast(pl.Int32), pl.col("decimals").cast(pl.Int32))
    assert dico["column"].to_list() == values.columns[3:]
    j = compare_with_long(cells(nums, read(statuts), dico.drop("sources", "coverage")), pl.read_parquet(long_out))
    assert j.height > 100


def test_wide_column_names_are_stable_and_say_the_breakdown(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "d.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", breakdown, "-o", out, "--shape", "wide", "-y", "2024", *SOME, "-i", "at_tf").exit_code == 0
    cols = pl.read_parquet(out).columns
    for name in ("at_1er_reglement_2024", "at_1er_reglement_F_2024", "at_tf_2024", "at_if_M_Y20T29_2024", "at_if_YGE60_2024"):
        assert name in cols, name
    assert column_name("at_if", 2024, "a38", "CA", "F", "Y_LT20", {"risk_family": "chute", "ctn": "_T"}) == "at_if_a38CA_F_YLT20_rfchute_2024"
    # the total, then one breakdown at a time (sex, then age bands in the order of their bounds), then crossed ones
    at_if = [c for c in cols if c.startswith("at_if_")]
    assert at_if[:4] == ["at_if_2024", "at_if_F_2024", "at_if_M_2024", "at_if_YLT20_2024"]
    assert at_if.index("at_if_YLT20_2024") < at_if.index("at_if_Y20T29_2024") < at_if.index("at_if_YGE60_2024")
    assert at_if.index("at_if_M_Y20T29_2024") > at_if.index("at_if_YGE60_2024")
    dico = pl.read_parquet(tmp_path / "d_diffusion-restreinte_dictionnaire.parquet")
    row = dico.filter(pl.col("column") == "at_tf_2024").row(0, named=True)
    assert row["unit"] == "AT par million d'heures travaillées" and row["decimals"] == 1
    assert "heures" in row["definition"].lower() and "1e+06" not in row["definition"]
    assert row["sources"] and row["label"]


def test_wide_workbook_is_a_real_workbook(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "observatoire.xlsx")
    r = cli("export", "--no-secret", "-l", "departement", "-w", breakdown, "-o", out, "--shape", "wide", "-f", "xlsx", "-y", "2024", "-i", "at_tf",
            "-i", "at_1er_reglement")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    book = fastexcel.read_excel(out)
    assert book.sheet_names == ["valeurs", "statuts", "dictionnaire", "lisez-moi"]
    values = book.load_sheet("valeurs").to_polars()
    assert values.columns[:4] == ["geo_level", "geo_code", "geo_label", "at_1er_reglement_2024"]
    assert values.schema["at_tf_2024"] == pl.Float64 and values.schema["geo_code"] == pl.String  # numbers as numbers, codes as text
    assert values["geo_code"].to_list() == sorted(values["geo_code"].to_list()) and "09" in values["geo_code"].to_list()
    parquet = restricted(tmp_path / "same.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", breakdown, "-o", parquet, "--shape", "wide", "-y", "2024", "-i", "at_tf",
               "-i", "at_1er_reglement").exit_code == 0  # fmt: skip
    exact = pl.read_parquet(parquet)
    assert values["at_tf_2024"].to_list() == exact["at_tf_2024"].round(1).to_list()  # the catalogue's decimals
    assert values["at_1er_reglement_2024"].to_list() == exact["at_1er_reglement_2024"].to_list()
    with zipfile.ZipFile(out) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    assert 'state="frozen"' in sheet and 'xSplit="3"' in sheet and 'ySplit="1"' in sheet
    assert "<cols>" in sheet and "<autoFilter" in sheet
    assert 'formatCode="0.0"' in styles
    dico = book.load_sheet("dictionnaire").to_polars()
    assert dico["column"].to_list() == values.columns[3:]


def test_status_columns_follow_their_values(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "s.parquet")
    r = cli("export", "--no-secret", "-l", "zone-emploi", "-w", breakdown, "-o", out, "--shape", "wide", "--status-columns", "--json", *SOME)
    assert json.loads(r.stdout)["companions"] == [str(tmp_path / "s_diffusion-restreinte_dictionnaire.parquet")]
    cols = pl.read_parquet(out).drop("diffusion").columns
    assert cols[3] + "__statut" == cols[4] and len(cols) % 2 == 1
    assert cli("export", "--no-secret", "-l", "zone-emploi", "-w", breakdown, "--status-columns").exit_code == 2  # long shape: refused


def test_hidden_cells_are_empty_and_their_status_is_beside(cli, released, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "secret.parquet"
    r = cli("export", "-l", "departement", "-w", released, "-o", out, "--shape", "wide", "--secret")
    assert r.exit_code == 0, r.stderr
    values, statuses = pl.read_parquet(out), pl.read_parquet(tmp_path / "secret_statuts.parquet")
    ids = ["geo_level", "geo_code", "geo_label"]
    v = values.unpivot(index=ids, variable_name="column", value_name="v")
    s = statuses.unpivot(index=ids, variable_name="column", value_name="s")
    both = v.join(s, on=[*ids, "column"])
    hidden = both.filter(pl.col("s").is_in(["secret", "secret-secondaire"]))
    assert hidden.height > 0 and hidden["v"].null_count() == hidden.height
    assert (tmp_path / "secret_secret-audit.parquet").exists()
    dico = pl.read_parquet(tmp_path / "secret_dictionnaire.parquet")
    assert dico["n_secret"].sum() == hidden.height


def test_a_wide_file_wider_than_a_sheet_is_refused(cli, breakdown, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import prst_etl.pipeline.wide as wide

    assert wide.MAX_COLUMNS == 16_384 - 3
    monkeypatch.setattr(wide, "MAX_COLUMNS", 20)  # every breakdown of the sample makes ~90 000 columns: too slow to build
    r = cli("export", "--no-secret", "-l", "zone-emploi", "-w", breakdown, "-o", restricted(tmp_path / "tout.csv"), "--shape", "wide", "-f", "csv", *SOME)
    assert r.exit_code == 2
    assert "colonnes de valeurs" in r.stderr and "--indicator" in r.stderr
    assert not restricted(tmp_path / "tout.csv").exists() and not list(tmp_path.iterdir())
