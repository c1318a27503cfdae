"""Bad input: every problem of a file reported at once (sheet, row, column, value, rule), nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import CARSAT, restricted

HEADER_ROW = 4  # the sample files have their header on Excel row 4


def write_xlsx(df: pl.DataFrame, path: Path, *, title: str = "Risque Accident du travail 2024 par CTN et code NAF",
               sheet: str = "AT 2024 par CTN X NAF", extra_sheets: dict[str, list[str]] | None = None,
               header: bool = True) -> Path:  # fmt: skip
    """Write text cells as the provider would: numbers as numbers, anything else as text."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    for name, lines in (extra_sheets or {}).items():
        ws = wb.add_worksheet(name)
        for i, line in enumerate(lines):
            ws.write_string(i, 0, line)
    ws = wb.add_worksheet(sheet)
    ws.write_string(0, 0, title)
    if header:
        for j, c in enumerate(df.columns):
            ws.write_string(3, j, c)
    for i, row in enumerate(df.iter_rows(), start=4):
        for j, v in enumerate(row):
            if v is None:
                continue
            try:
                ws.write_number(i, j, float(v))
            except ValueError:
                ws.write_string(i, j, str(v))
    wb.close()
    return path


def set_cell(df: pl.DataFrame, row: int, column: str, value: str | None) -> pl.DataFrame:
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(column)).alias(column)
    )


def rejected(cli, wh: Path, path: Path, *extra: str) -> dict:  # type: ignore[no-untyped-def]
    r = cli("ingest", "carsat-mp", path, "--warehouse", wh, "--json", *extra)
    rep = json.loads(r.stdout)
    assert r.exit_code == 1, rep
    assert rep["outcome"] == "rejected"
    assert not wh.exists(), "a rejected file must not create or touch the warehouse"
    return rep


def codes(rep: dict) -> list[tuple]:
    return [(i["row"], i["column"], i["code"]) for i in rep["issues"]]


def test_non_numeric_count(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_xlsx(set_cell(small, 2, "Nombre de salariés", "douze"), tmp_path / "f.xlsx")
    rep = rejected(cli, wh, path)
    (issue,) = rep["issues"]
    assert (issue["sheet"], issue["row"], issue["column"], issue["value"], issue["code"]) == (
        "AT 2024 par CTN X NAF", HEADER_ROW + 3, "Nombre de salariés", "douze", "non-numeric-count",
    )  # fmt: skip
    assert "douze" in issue["message"]


def test_negative_count(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(set_cell(small, 0, "Décès", "-3"), tmp_path / "f.xlsx"))
    assert codes(rep) == [(HEADER_ROW + 1, "Décès", "negative-count")]


def test_unknown_commune(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(set_cell(small, 5, "Code commune", "31999"), tmp_path / "f.xlsx"))
    assert codes(rep) == [(HEADER_ROW + 6, "Code commune", "unknown-commune")]


def test_departement_outside_the_caisse(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = set_cell(small, 1, "Code commune", "34172")  # Montpellier: Carsat Languedoc-Roussillon
    rep = rejected(cli, wh, write_xlsx(df, tmp_path / "f.xlsx"))
    assert codes(rep) == [(HEADER_ROW + 2, "Code commune", "departement-outside-scope")]
    assert "Carsat Midi-Pyrénées" in rep["issues"][0]["message"]


def test_departement_file_outside_the_caisse(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import fastexcel

    deps = fastexcel.read_excel(CARSAT / "departements-2024.xlsx").load_sheet(0, header_row=3, dtypes="string").to_polars()
    df = set_cell(set_cell(deps, 0, "Département", "34"), 1, "Département", "99")
    rep = rejected(cli, wh, write_xlsx(df, tmp_path / "f.xlsx"))
    assert codes(rep) == [
        (HEADER_ROW + 1, "Département", "departement-outside-scope"),
        (HEADER_ROW + 2, "Département", "unknown-departement"),
    ]


def test_lost_leading_zero_is_repaired(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = set_cell(small, 0, "Code commune", "9122")  # Foix, written as a number
    r = cli("ingest", "carsat-mp", write_xlsx(df, tmp_path / "f.xlsx"), "--warehouse", wh, "--json")
    assert r.exit_code == 0, r.stdout
    out = restricted(tmp_path / "c.parquet")
    assert cli("export", "--no-secret", "-l", "commune", "-w", wh, "-o", out, "-s", "ensemble").exit_code == 0
    assert "09122" in set(pl.read_parquet(out)["geo_code"])


def test_duplicate_key_rows(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = pl.concat([small, small[7]])
    rep = rejected(cli, wh, write_xlsx(df, tmp_path / "f.xlsx"))
    dup = [i for i in rep["issues"] if i["code"] == "duplicate-key"]
    assert sorted(i["row"] for i in dup) == [HEADER_ROW + 8, HEADER_ROW + 61]
    assert f"ligne {HEADER_ROW + 61}" in dup[0]["message"]


def test_missing_column(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(small.drop("AT en 1er règlement"), tmp_path / "f.xlsx"))
    assert codes(rep) == [(HEADER_ROW, "AT en 1er règlement", "missing-column")]


def test_unexpected_column(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(small.with_columns(pl.lit("x").alias("Commentaire")), tmp_path / "f.xlsx"))
    assert codes(rep) == [(HEADER_ROW, "Commentaire", "unexpected-column")]


def test_header_not_found(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(small, tmp_path / "f.xlsx", header=False))
    assert [i["code"] for i in rep["issues"]] == ["header-not-found"]
    assert "Nombre de salariés" in rep["issues"][0]["message"]


def test_wrong_sheet(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_xlsx(small, tmp_path / "f.xlsx", extra_sheets={"Lisez-moi": ["Notes du fournisseur"]})
    rep = rejected(cli, wh, path, "--sheet", "Feuil9")
    assert [i["code"] for i in rep["issues"]] == ["sheet-not-found"]
    assert "Lisez-moi" in rep["issues"][0]["message"] and "AT 2024 par CTN X NAF" in rep["issues"][0]["message"]
    # a sheet without the table
    rep = rejected(cli, wh, path, "--sheet", "Lisez-moi")
    assert [i["code"] for i in rep["issues"]] == ["header-not-found"]


def test_table_found_after_a_read_me_sheet(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_xlsx(small, tmp_path / "f.xlsx", sheet="Données", extra_sheets={"Lisez-moi": ["Notes"]})
    rep = json.loads(cli("ingest", "carsat-mp", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded" and rep["sheet"] == "Données"


def test_only_a_read_me_sheet(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_xlsx(pl.DataFrame(), tmp_path / "f.xlsx", sheet="Lisez-moi", title="Rien ici")
    rep = rejected(cli, wh, path)
    assert [i["code"] for i in rep["issues"]] == ["header-not-found"]


@pytest.mark.parametrize(
    "name,code",
    [("vide.xlsx", "empty-file"), ("pas-un-classeur.xlsx", "not-a-workbook"), ("tronque.xlsx", "corrupt-file")],
)
def test_files_that_cannot_be_read(cli, wh, name, code) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, CARSAT / name)
    assert [i["code"] for i in rep["issues"]] == [code]
    assert rep["issues"][0]["file"] == name


def test_header_without_rows_is_empty(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, write_xlsx(small.head(0), tmp_path / "f.xlsx"))
    assert [i["code"] for i in rep["issues"]] == ["empty-file"]


def test_binary_file_is_not_a_table(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    rep = rejected(cli, wh, path)
    assert [i["code"] for i in rep["issues"]] == ["not-a-workbook"]


def test_every_problem_of_a_file_at_once(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    df = small
    df = set_cell(df, 0, "Nombre de salariés", "abc")
    df = set_cell(df, 1, "Décès", "-1")
    df = set_cell(df, 2, "Code commune", "31999")
    df = set_cell(df, 3, "Code commune", "34172")
    df = set_cell(df, 4, "CTN", "ZZ")
    df = set_cell(df, 5, "Code NAF", "9999Z")
    df = set_cell(df, 6, "Nombre d'heures travaillées", "12,5")  # decimal in a whole count
    df = set_cell(df, 7, "Code NAF38", "ZZ")  # a warning: the file's A38 disagrees with Insee's
    df = pl.concat([df, df[10]])
    rep = rejected(cli, wh, write_xlsx(df, tmp_path / "f.xlsx"))
    got = {(i["row"], i["code"]) for i in rep["issues"]}
    r = HEADER_ROW + 1
    assert got == {
        (r, "non-numeric-count"),
        (r + 1, "negative-count"),
        (r + 2, "unknown-commune"),
        (r + 3, "departement-outside-scope"),
        (r + 4, "unknown-ctn"),
        (r + 5, "unknown-naf"),
        (r + 6, "non-integer-count"),
        (r + 7, "naf-mismatch"),
        (r + 10, "duplicate-key"),
        (r + 60, "duplicate-key"),
    }
    assert [i["severity"] for i in rep["issues"] if i["code"] == "naf-mismatch"] == ["warning"]
    # a code outside NAF rév. 2 is kept in the unknown sector _U by the Carsat sources (schemas/findings.toml)
    assert [i["severity"] for i in rep["issues"] if i["code"] == "unknown-naf"] == ["warning"]
    assert rep["stats"]["rows_rejected"] == 8  # rows with at least one error (both duplicates count)
    # the report can be written to a CSV file for the provider
    out = tmp_path / "rapport.csv"
    r2 = cli("ingest", "carsat-mp", tmp_path / "f.xlsx", "--warehouse", wh, "--report", out)
    assert r2.exit_code == 1
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("file;sheet;row;column;value;code") and len(lines) == 1 + len(rep["issues"])


def test_text_report_names_row_column_value_and_rule(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "carsat-mp", write_xlsx(set_cell(small, 2, "Décès", "beaucoup"), tmp_path / "f.xlsx"), "-w", wh)
    assert r.exit_code == 1
    text = " ".join(r.stdout.split())
    for part in ("7", "Décès", "beaucoup", "non-numeric-count", "Fichier refusé", "Rien n'a été écrit"):
        assert part in text


def test_dry_run_checks_without_writing(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "--warehouse", wh, "--dry-run")
    assert r.exit_code == 0
    assert "Fichier valide" in r.stdout
    assert not wh.exists()


def test_signs_and_french_numbers_in_csv(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    text = (CARSAT / "utf8-bom.csv").read_text(encoding="utf-8-sig").splitlines()
    header = text[2].split(";")
    row = next(csv.reader([text[3]], delimiter=";"))
    row[header.index("Nombre de salariés")] = "1\u202f234"
    row[header.index("Nombre d'heures travaillées")] = "2 000 000"
    row[header.index("Décès")] = "s"
    row[header.index("Nouvelles IP")] = "-"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="").writerow(row)
    text[3] = buf.getvalue()
    path = tmp_path / "f.csv"
    path.write_text("\n".join(text), encoding="utf-8")
    rep = json.loads(cli("ingest", "carsat-mp", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded", rep["issues"]
    import polars as pl2

    facts = pl2.read_parquet(next((wh / "facts").rglob("*.parquet")))
    r = facts.filter(pl2.col("salaries") == 1234)
    assert r.height == 1
    assert r["heures_travaillees"].item() == 2_000_000
    assert r["at_deces"].item() is None and r["at_deces__status"].item() == "s"
    assert r["at_ip"].item() == 0 and r["at_ip__status"].item() == "-"
