"""CSV and workbooks for people: integers for counts, the catalogue's decimals, French Excel
in one flag, a warning beyond Excel's rows, formulas neutralised."""

from __future__ import annotations

import json
import re

import fastexcel
import polars as pl
import pytest

from conftest import restricted
from prst_etl.pipeline.write import Digits, write_frame


ARGS = ["-l", "region", "-s", "ensemble", "-i", "at_1er_reglement", "-i", "at_tf", "-i", "at_tg", "-i", "salaries"]


def raw(path) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return pl.read_csv(path, separator=";", infer_schema=False)


def test_counts_are_integers_and_rates_have_the_catalogue_decimals(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "r.csv")
    assert cli("export", "--no-secret", *ARGS, "-w", breakdown, "-f", "csv", "-o", out).exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, « ; »: French Excel opens it
    df = raw(out)
    counts = df.filter(pl.col("indicator").is_in(["at_1er_reglement", "salaries"]))["value"].drop_nulls()
    assert counts.len() > 10 and counts.str.contains(r"^\d+$").all()  # 3383, never 3383.0
    decimals = lambda ind: df.filter(pl.col("indicator") == ind)["value"].drop_nulls().str.extract(r"\.(\d+)$").str.len_chars().max()  # noqa: E731
    assert decimals("at_tf") == 1 and decimals("at_tg") == 2  # schemas/indicators: decimals = 1, 2
    # the same rows as the Parquet export, rounded
    exact = restricted(tmp_path / "r.parquet")
    assert cli("export", "--no-secret", *ARGS, "-w", breakdown, "-o", exact).exit_code == 0
    p = pl.read_parquet(exact).filter(pl.col("indicator") == "at_tf", pl.col("sex") == "_T", pl.col("age_band") == "_T",
                                      pl.col("ctn") == "_T", pl.col("risk_family") == "_T")  # fmt: skip
    c = df.filter(pl.col("indicator") == "at_tf", pl.col("sex") == "_T", pl.col("age_band") == "_T", pl.col("ctn") == "_T",
                  pl.col("risk_family") == "_T")  # fmt: skip
    assert float(c["value"].item()) == round(p["value"].item(), 1)


def test_excel_flag_writes_decimal_commas(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "x.csv")
    assert cli("export", "--no-secret", *ARGS, "-w", breakdown, "-f", "csv", "--excel", "-o", out).exit_code == 0
    text = out.read_bytes()
    assert text.startswith(b"\xef\xbb\xbf")
    df = raw(out)
    tf = df.filter(pl.col("indicator") == "at_tf")["value"].drop_nulls()
    assert tf.str.contains(",").any() and not tf.str.contains(r"\.").any()
    assert df.columns[:3] == ["geo_level", "geo_code", "geo_label"]  # « ; » separated


def test_formulas_in_text_cells_are_neutralised(tmp_path) -> None:
    df = pl.DataFrame({
        "geo_label": ["=HYPERLINK(\"http://x\")", "+33 1", "-2+3", "@SUM(A1)", "Albi", "-", "\tcmd"],
        "indicator": ["a"] * 7, "value": [1.0, -2.5, 3.0, None, 4.0, 0.0, 1.0],
    })  # fmt: skip
    out = tmp_path / "f.csv"
    write_frame(df, out, "csv", digits=Digits(("value",), {"a": 1}))
    back = pl.read_csv(out, separator=";", infer_schema=False)
    assert back["geo_label"].to_list() == ["'=HYPERLINK(\"http://x\")", "'+33 1", "'-2+3", "'@SUM(A1)", "Albi", "-", "'\tcmd"]
    assert back["value"].to_list() == ["1", "-2.5", "3", None, "4", "0", "1"]  # numbers stay numbers, even negative
    # a workbook never turns a text into a formula
    from prst_etl.pipeline.write import Sheet, write_xlsx

    write_xlsx([Sheet("s", df)], tmp_path / "f.xlsx")
    sheet = fastexcel.read_excel(tmp_path / "f.xlsx").load_sheet(0).to_polars()
    assert sheet["geo_label"][0] == '=HYPERLINK("http://x")'
    import zipfile

    assert "<f>" not in zipfile.ZipFile(tmp_path / "f.xlsx").read("xl/worksheets/sheet1.xml").decode()


def test_a_csv_beyond_excel_rows_is_announced(cli, breakdown, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import prst_etl.pipeline.export as export

    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 100)
    out = restricted(tmp_path / "big.csv")
    r = cli("export", "--no-secret", *ARGS, "-w", breakdown, "-f", "csv", "-o", out, "--json")
    res = json.loads(r.stdout)
    assert res["rows"] > 100 and len(res["warnings"]) == 1
    assert "Excel" in res["warnings"][0] and "parquet" in res["warnings"][0] and "--code" in res["warnings"][0]
    assert "Attention" in r.stderr
    r = cli("export", "--no-secret", *ARGS, "-w", breakdown, "-o", tmp_path / "big.parquet", "--json")
    assert json.loads(r.stdout)["warnings"] == []  # Parquet: no limit to announce


def test_long_workbook(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "r.xlsx")
    assert cli("export", "--no-secret", *ARGS, "-w", breakdown, "-f", "xlsx", "-o", out).exit_code == 0
    sheet = fastexcel.read_excel(out).load_sheet("donnees").to_polars()
    assert sheet.schema["value"] == pl.Float64 and sheet.schema["year"].is_numeric() and sheet.schema["geo_code"] == pl.String
    tf = sheet.filter(pl.col("indicator") == "at_tf")["value"].drop_nulls()
    assert (tf == tf.round(1)).all()


def test_diff_years_csv_uses_the_catalogue_decimals(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "d.csv")
    r = cli("diff-years", "--no-secret", "2023", "2024", "-w", breakdown, "-l", "region", "-s", "ensemble", "-i", "at_tf", "-i", "etablissements_employeurs",
            "--format", "csv", "-o", out, "--excel")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = raw(out)
    tf = d.filter(pl.col("indicator") == "at_tf")["value_2"].drop_nulls()
    assert tf.len() > 0 and tf.str.contains(r"^\d+(,\d)?$").all()
    etab = d.filter(pl.col("indicator") == "etablissements_employeurs")["value_1"].drop_nulls()
    assert etab.len() > 0 and etab.str.contains(r"^\d+$").all()
    assert all(re.fullmatch(r"-?\d+(,\d)?", v) for v in d["change_pct"].drop_nulls())
