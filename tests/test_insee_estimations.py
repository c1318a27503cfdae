"""insee-estimations: the real Insee workbook (one sheet per year, 1975–2023), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, Cli
from prst_etl import reference
from prst_etl.warehouse import open_warehouse

HERE = FIXTURES / "sources/insee-estimations"
SAMPLE = HERE / "exemple.xls"
BROKEN = HERE / "exemple-errone.xlsx"
BANDS = ["Y_LT20", "Y20T39", "Y40T59", "Y60T74", "Y_GE75"]


def facts(wh: Path) -> pl.DataFrame:
    with open_warehouse(wh) as w:
        lf = w.scan_facts("insee-estimations", "estimations")
        assert lf is not None
        return lf.collect()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("estim") / "warehouse"
    rep = Cli().json("ingest", "insee-estimations", SAMPLE, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return rep, facts(wh)


@pytest.fixture(scope="module")
def sheets() -> dict[str, pl.DataFrame]:
    """Every sheet of the workbook, read independently of prst (raw cells as text)."""
    import fastexcel

    reader = fastexcel.read_excel(SAMPLE)
    return {n: reader.load_sheet(n, header_row=None, dtypes="string").to_polars() for n in reader.sheet_names}


def _row(sheet: pl.DataFrame, label: str) -> list[float]:
    """The 18 numbers of the row whose first cell is ``label`` (trailing spaces ignored)."""
    first = sheet.columns[0]
    row = sheet.filter(pl.col(first).str.strip_chars() == label).row(0)
    return [float(v) for v in row[2:20]]


def test_one_file_gives_every_year(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, df = loaded
    assert rep["years"] == list(range(1975, 2024))
    assert sorted(df["year"].unique()) == list(range(1975, 2024))
    st = rep["stats"]
    assert st["skipped_detail"] == {
        "lignes vides": 49,
        "notes (une seule cellule de texte)": 65,  # « Source : … » ×49, « NB: … » ×15, « (*) Population au recensement de 1990 »
        "lignes de total de la source (contrôlées, non stockées)": 15 * 1 + 34 * 3,
    }
    assert st["rows_kept"] == 15 * 96 + 24 * 100 + 10 * 101  # départements: métropole, + 4 DOM from 1990, + Mayotte from 2014
    assert st["rows_read"] == st["rows_kept"] + st["rows_skipped"]
    assert df.height == st["rows_kept"] * 10  # 2 sexes × 5 bands: totals are not stored


def test_known_checksums(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    hg = df.filter((pl.col("year") == 2023) & (pl.col("geo_code") == "31"))
    assert hg["population_estimee"].sum() == 1_470_367
    assert hg.filter(pl.col("sex") == "M")["population_estimee"].sum() == 714_871
    assert hg.filter(pl.col("sex") == "F")["population_estimee"].sum() == 755_496


def test_each_year_adds_up_to_the_totals_the_file_gives(loaded, sheets) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    by_year = df.group_by("year").agg(pl.col("population_estimee").sum()).sort("year")
    for year, total in by_year.iter_rows():
        sheet = sheets[str(year)]
        label = "France métropolitaine et DOM" if year >= 1990 else "France métropolitaine"
        given = _row(sheet, label)
        assert total == given[5], year  # « Ensemble, Total »
        men = df.filter((pl.col("year") == year) & (pl.col("sex") == "M"))
        assert [men.filter(pl.col("age_band") == b)["population_estimee"].sum() for b in BANDS] == given[6:11]


def test_provisional_years_have_status_p(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    status = df.group_by("year").agg(pl.col("population_estimee__status").unique().alias("s")).sort("year")
    p = {y for y, s in status.iter_rows() if s == ["p"]}
    assert p == {2021, 2022, 2023}
    assert status.filter(pl.col("year") < 2021)["s"].to_list() == [[None]] * 46
    assert df["population_estimee"].null_count() == 0  # a provisional value keeps its value


def test_geography_and_dimensions(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    assert set(df["geo_level"]) == {"departement"}
    assert set(df["geo_code"]) <= set(reference.departements()["code"])
    dom = df.filter(pl.col("geo_code").str.starts_with("97"))
    assert dom["year"].min() == 1990  # the DOM are estimated from 1990, Mayotte from 2014
    assert dom.filter(pl.col("geo_code") == "976")["year"].min() == 2014
    assert {"2A", "2B", "09", "971", "972"} <= set(df["geo_code"])  # DOM codes were stored as numbers
    assert set(df["sex"]) == {"F", "M"} and set(df["age_band"]) == set(BANDS)
    assert set(df["sector_level"]) == {"ensemble"}
    occ = df.filter((pl.col("year") == 2023) & pl.col("geo_code").is_in(list(reference.departements().filter(pl.col("region") == "76")["code"])))
    assert occ["geo_code"].n_unique() == 13


def test_year_option_keeps_one_sheet(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("ingest", "insee-estimations", SAMPLE, "--year", "2022", "--warehouse", wh)
    assert rep["outcome"] == "loaded" and rep["years"] == [2022]
    df = facts(wh)
    assert set(df["year"]) == {2022} and set(df["population_estimee__status"]) == {"p"}
    rep = cli.json("ingest", "insee-estimations", SAMPLE, "--year", "1960", "--warehouse", wh, "--dry-run")
    assert [i["code"] for i in rep["issues"]] == ["year-not-found"]


def test_broken_copy_is_rejected_with_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "insee-estimations", BROKEN, "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    got = sorted((i["sheet"], i["row"], i["column"], i["code"]) for i in rep["issues"])
    assert got == [
        ("2021", 103, "Ensemble, Total", "missing-value"),  # Guadeloupe
        ("2021", 112, "Départements", "unknown-departement"),  # « 99 » below the footnote
        ("2022", 2, None, "year-mismatch"),  # titled « Année 2020 »
        ("2023", 14, "Femmes, 75 ans et plus", "non-numeric-count"),  # Ariège « n.c. »
        ("2023", 37, "Ensemble, 20 à 39 ans", "total-mismatch"),  # Haute-Garonne, hommes 20-39 ans + 1000 …
        ("2023", 37, "Hommes, Total", "total-mismatch"),
        ("2023", 102, "Hommes, 20 à 39 ans", "total-mismatch"),  # … so « France métropolitaine »
        ("2023", 109, "Hommes, 20 à 39 ans", "total-mismatch"),  # and « France métropolitaine et DOM » no longer add up
    ]
    assert not wh.exists()


def _small_workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """A workbook in the Insee layout: title, « Année N », merged group header, bands, rows."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, "Estimation de population au 1er janvier, par département, sexe et grande classe d'âge")
        ws.write_string(1, 0, f"Année {name}")
        ws.write_string(3, 0, "Départements")
        for g, group in enumerate(["Ensemble", "Hommes", "Femmes"]):
            ws.merge_range(3, 2 + 6 * g, 3, 7 + 6 * g, group)
            for b, band in enumerate(["0 à 19 ans", "20 à 39 ans", "40 à 59 ans", "60 à 74 ans", "75 ans et plus", "Total"]):
                ws.write_string(4, 2 + 6 * g + b, band)
        for i, row in enumerate(rows, start=5):
            for j, v in enumerate(row):
                ws.write(i, j, v)
    wb.close()
    return path


def _dep_row(code: object, name: str, men: list[int], women: list[int]) -> list[object]:
    both = [m + w for m, w in zip(men, women)]
    return [code, name, *both, sum(both), *men, sum(men), *women, sum(women)]


def test_small_workbook_traps(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Sheets out of order, a DOM code stored as a number, trailing spaces, a département twice."""
    lot = _dep_row("46", "Lot", [30, 31, 32, 33, 34], [35, 36, 37, 38, 39])
    rows = [
        _dep_row("31", "Haute-Garonne ", [100, 110, 120, 80, 40], [98, 112, 125, 90, 60]),
        lot,
        _dep_row(972, "Martinique ", [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]),
    ]
    path = _small_workbook(tmp_path / "estim.xlsx", {"2020": rows, "2019": rows[:2]})
    rep = cli.json("ingest", "insee-estimations", path, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"]
    df = facts(wh)
    assert sorted(df["year"].unique()) == [2019, 2020]
    assert set(df.filter(pl.col("year") == 2020)["geo_code"]) == {"31", "46", "972"}
    assert df.filter((pl.col("year") == 2020) & (pl.col("geo_code") == "972"))["population_estimee"].sum() == 145
    assert "population_estimee__status" not in df.columns  # nothing provisional, no sign: no status column

    dup = _small_workbook(tmp_path / "dup.xlsx", {"2020": [*rows, lot]})
    rep = cli.json("ingest", "insee-estimations", dup, "--warehouse", tmp_path / "w2", "--dry-run")
    assert [(i["sheet"], i["row"], i["code"]) for i in rep["issues"]] == [("2020", 7, "duplicate-key"), ("2020", 9, "duplicate-key")]
    assert "ligne 9 de la feuille 2020" in rep["issues"][0]["message"]
