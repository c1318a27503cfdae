"""dares-accords: agreements by year × département × company size × A38 sector."""

from __future__ import annotations

import json
from pathlib import Path

import fastexcel
import polars as pl
import pytest

from conftest import FIXTURES, Cli
from prst_etl.model.indicators import catalogue
from prst_etl.sources import get_source
from prst_etl.warehouse import open_warehouse

HERE = FIXTURES / "sources/dares-accords"
SAMPLE = HERE / "exemple.xlsx"
ACC, ENT = "Nombre d'accords et avenants", "Nombre d'entreprises signataires"


def facts(wh: Path) -> pl.DataFrame:
    with open_warehouse(wh) as w:
        lf = w.scan_facts("dares-accords", "accords")
        assert lf is not None
        return lf.collect()


def read_xlsx(path: Path) -> pl.DataFrame:
    return fastexcel.read_excel(path).load_sheet(0, header_row=1, dtypes="string").to_polars()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("dares") / "warehouse"
    rep = Cli().json("ingest", "dares-accords", SAMPLE, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return rep, facts(wh)


def test_one_file_several_years(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, df = loaded
    assert rep["years"] == [2021, 2022, 2023]
    raw = read_xlsx(SAMPLE)
    totals = raw.filter(pl.col("Taille d'entreprise") == "Ensemble").height
    assert totals > 0
    st = rep["stats"]
    assert (st["rows_read"], st["rows_kept"], st["rows_skipped"]) == (raw.height, raw.height - totals, totals)
    assert df.height == raw.height - totals


def test_totals_equal_the_file_and_secrets_stay_secret(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    raw = read_xlsx(SAMPLE).filter(pl.col("Taille d'entreprise") != "Ensemble")
    for year in (2021, 2022, 2023):
        r = raw.filter(pl.col("Année") == str(year))
        d = df.filter(pl.col("year") == year)
        assert d["accords"].sum() == r.filter(pl.col(ACC) != "s")[ACC].cast(pl.Float64).sum()
        assert d["entreprises_couvertes"].sum() == r.filter(pl.col(ENT) != "s")[ENT].cast(pl.Float64).sum()
    secret = df.filter(pl.col("accords__status") == "s")
    assert secret.height == raw.filter(pl.col(ACC) == "s").height > 0
    assert secret["accords"].null_count() == secret.height
    assert (df.filter(pl.col("accords__status").is_null())["accords"] >= df.filter(pl.col("accords__status").is_null())["entreprises_couvertes"]).all()


def test_dimensions(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    assert set(df["size_band"]) == {"E_LT11", "E11T49", "E50T299", "E_GE300"}  # « Ensemble » rows not stored
    assert set(df["sector_level"]) == {"a38"} and {"FZ", "GZ", "QB"} <= set(df["sector_code"])
    assert set(df["geo_level"]) == {"departement"} and df["geo_code"].n_unique() == 13
    assert set(df["sex"]) == {"_T"} and set(df["age_band"]) == {"_T"}


def test_the_file_totals_are_checked_then_left_out(loaded) -> None:  # type: ignore[no-untyped-def]
    _, df = loaded
    given = read_xlsx(SAMPLE).filter(pl.col("Taille d'entreprise") == "Ensemble")
    for r in given.iter_rows(named=True):
        cell = df.filter(
            (pl.col("year") == int(r["Année"])) & (pl.col("geo_code") == r["Département"]) & (pl.col("sector_code") == r["Secteur (A38)"])
        )
        assert cell["accords"].sum() == float(r[ACC])


def test_year_option(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = cli.json("ingest", "dares-accords", SAMPLE, "--year", "2022", "--warehouse", wh)
    assert rep["outcome"] == "loaded" and rep["years"] == [2022]
    assert "autres années que 2022 (--year)" in rep["stats"]["skipped_detail"]
    assert set(facts(wh)["year"]) == {2022}


def test_broken_copy_is_rejected_with_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "dares-accords", HERE / "exemple-errone.xlsx", "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (3, "Année", "invalid-year"),
        (4, "Département", "unknown-departement"),
        (5, "Taille d'entreprise", "invalid-size-band"),
        (6, "Secteur (A38)", "unknown-naf"),
        (7, ENT, "inconsistent-values"),
        (8, ACC, "non-numeric-count"),
        (9, ACC, "non-integer-count"),
        (10, None, "duplicate-key"),
        (12, None, "duplicate-key"),
        (13, ACC, "total-mismatch"),
    ]
    assert not wh.exists()


def test_an_all_sectors_row_is_a_checked_total(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import xlsxwriter

    raw = read_xlsx(SAMPLE).filter((pl.col("Année") == "2022") & (pl.col("Département") == "34"))
    group = raw.filter((pl.col("Taille d'entreprise") == "11 à 49 salariés") & (pl.col(ACC) != "s"))
    sums = [str(int(group[c].cast(pl.Int64).sum())) for c in (ACC, ENT)]
    for wrong, codes in ((False, []), (True, ["total-mismatch"])):
        total = group.head(1).with_columns(
            pl.lit("Ensemble").alias("Secteur (A38)"),
            pl.lit(str(int(sums[0]) + 1) if wrong else sums[0]).alias(ACC),
            pl.lit(sums[1]).alias(ENT),
        )
        df = pl.concat([group, total])
        path = tmp_path / f"total-{wrong}.xlsx"
        wb = xlsxwriter.Workbook(str(path))
        ws = wb.add_worksheet("Accords")
        for j, c in enumerate(df.columns):
            ws.write_string(0, j, c)
        for i, row in enumerate(df.iter_rows(), start=1):
            for j, v in enumerate(row):
                ws.write(i, j, float(v) if j >= 6 else v)
        wb.close()
        rep = cli.json("ingest", "dares-accords", path, "--warehouse", tmp_path / "w", "--dry-run")
        assert [i["code"] for i in rep["issues"]] == codes
        if not wrong:
            assert rep["stats"]["skipped_detail"] == {"lignes de total de la source (contrôlées, non stockées)": 1}
            assert rep["tables"] == {"accords": group.height}


@pytest.mark.parametrize("source", ["insee-rp", "insee-estimations", "urssaf", "urssaf-taille", "dares-accords"])
def test_catalogue_measures_exist_in_their_sources(source: str) -> None:
    """The numerators and denominators the catalogue names for a source are measures of it."""
    measures = {m for t in get_source(source).tables for m in t.measure_ids}
    used = [i for i in catalogue().values() if source in i.sources]
    assert used or source == "urssaf-taille"
    for ind in used:
        assert ind.numerator in measures, (ind.id, ind.numerator)
        assert ind.denominator is None or ind.denominator in measures, (ind.id, ind.denominator)
