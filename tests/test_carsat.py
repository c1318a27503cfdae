"""Carsat regional files: commune level rolled up to zone d'emploi, département and région."""

from __future__ import annotations


import polars as pl
import pytest

from conftest import CARSAT, Cli, restricted
from prst_etl.reference import geography
from prst_etl import reference

MEASURES = {
    "salaries": "Nombre de salariés",
    "heures_travaillees": "Nombre d'heures travaillées",
    "at_1er_reglement": "AT en 1er règlement",
    "at_journees_it": "Journées d'IT",
}


@pytest.fixture(scope="module")
def exports(carsat_communes_xlsx, tmp_path_factory):  # type: ignore[no-untyped-def]
    cli = Cli()
    wh = tmp_path_factory.mktemp("carsat") / "warehouse"
    r = cli("ingest", "carsat-mp", carsat_communes_xlsx, "--warehouse", wh)
    assert r.exit_code == 0, r.stdout
    out = {}
    for level in ("commune", "zone-emploi", "departement", "region"):
        path = restricted(wh.parent / f"{level}.parquet")
        r = cli("export", "--no-secret", "--level", level, "--warehouse", wh, "--output", path, "--sector-level", "ensemble")
        assert r.exit_code == 0, r.stderr
        out[level] = pl.read_parquet(path).filter(
            (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T") & pl.col("indicator").is_in(list(MEASURES))
        )
    return out


def _expected(carsat_communes: pl.DataFrame, level: str) -> pl.DataFrame:
    """Sums computed straight from the file: communes mapped to COG 2025, then grouped."""
    mapped = geography.normalise_communes(carsat_communes["Code commune"])
    cur = reference.commune_ze().select(pl.col("code"), pl.col("ze_code").alias("zone-emploi"))
    df = carsat_communes.with_columns(commune=mapped["code"], departement=mapped["departement"], region=pl.lit("76"))
    df = df.join(cur, left_on="commune", right_on="code", how="left")
    long = df.unpivot(index=[level], on=list(MEASURES.values()), variable_name="col", value_name="v")
    names = {v: k for k, v in MEASURES.items()}
    return (
        long.group_by(level, "col")
        .agg(pl.col("v").sum().cast(pl.Float64))
        .select(pl.col(level).alias("geo_code"), pl.col("col").replace_strict(names).alias("indicator"), "v")
    )


@pytest.mark.parametrize("level", ["commune", "zone-emploi", "departement", "region"])
def test_each_level_equals_the_sum_of_its_communes(exports, carsat_communes, level) -> None:  # type: ignore[no-untyped-def]
    got = exports[level].select("geo_code", "indicator", "value")
    want = _expected(carsat_communes, level)
    joined = want.join(got, on=["geo_code", "indicator"], how="full", coalesce=True)
    assert joined.filter(pl.col("v").is_null() | pl.col("value").is_null()).height == 0
    assert (joined["v"] == joined["value"]).all()
    assert got["value"].sum() == pytest.approx(want["v"].sum())


def test_old_commune_codes_are_mapped_to_cog_2025(exports, carsat_communes) -> None:  # type: ignore[no-untyped-def]
    old = geography.normalise_communes(carsat_communes["Code commune"])
    assert (old["status"] == "mapped").sum() > 0  # the sample writes some merged communes under a former code
    codes = set(exports["commune"]["geo_code"])
    current = set(reference.communes(2025).filter(pl.col("type") == "commune-actuelle")["code"])
    assert codes <= current
    assert not codes & set(old.filter(pl.col("status") == "mapped")["input"]) - current


def test_interregional_zones_are_labelled_as_occitanie_parts(exports) -> None:  # type: ignore[no-untyped-def]
    ze = exports["zone-emploi"].select("geo_code", "geo_label").unique()
    assert ze.filter(pl.col("geo_code").str.contains("-")).height == 0  # carsat-mp covers no interregional zone
    labels = geography.labels().filter(pl.col("geo_level") == "zone-emploi")
    assert labels.filter(pl.col("geo_code") == "0052-76")["geo_label"].item() == "Arles (partie Occitanie)"


def test_departement_file_cannot_give_zones(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "--warehouse", wh).exit_code == 0
    out = restricted(wh.parent / "ze.csv")
    r = cli("export", "--no-secret", "--level", "zone-emploi", "--warehouse", wh, "--output", out, "--format", "csv")
    assert r.exit_code == 0
    assert "ne peut pas en être déduit" in r.stderr
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    assert len(out.read_text(encoding="utf-8-sig").splitlines()) == 1  # header only


@pytest.fixture(scope="module")
def extract_sums() -> pl.DataFrame:
    """Département sums of the commune extract, computed straight from the workbook (not by prst)."""
    import fastexcel

    df = fastexcel.read_excel(CARSAT / "communes-2024-extrait.xlsx").load_sheet(0, header_row=3, dtypes="string").to_polars()
    df = df.with_columns(pl.col(list(MEASURES.values())).str.replace_all(r"\s", "").cast(pl.Float64))
    return _expected(df, "departement").sort("geo_code", "indicator")


@pytest.mark.parametrize("name", ["latin1-point-virgule.csv", "utf8-bom.csv", "communes-2024-extrait.xlsx"])
def test_csv_and_workbook_give_the_same_facts(cli, tmp_path, name, extract_sums) -> None:  # type: ignore[no-untyped-def]
    """The same 60 rows as a Latin-1 CSV, a UTF-8 CSV with BOM and a workbook: each gives the
    département sums of the workbook (computed from the file, once for the three)."""
    wh = tmp_path / name / "warehouse"
    rep = cli.json("ingest", "carsat-mp", CARSAT / name, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"]
    notes = 1 if name.endswith(".csv") else 0  # the CSV ends with a « Source : … » line
    st = rep["stats"]
    assert (st["rows_read"], st["rows_kept"], st["rows_skipped"], st["rows_rejected"]) == (60 + notes, 60, notes, 0)
    out = restricted(tmp_path / name / "dep.parquet")
    assert cli("export", "--no-secret", "--level", "departement", "--warehouse", wh, "--output", out, "-s", "ensemble").exit_code == 0
    df = pl.read_parquet(out).filter(
        (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T") & (pl.col("sex") == "_T") & (pl.col("age_band") == "_T")
        & pl.col("indicator").is_in(list(MEASURES))
    ).sort("geo_code", "indicator")  # fmt: skip
    assert df.height == extract_sums.height > 0
    assert df.select("geo_code", "indicator", pl.col("value").alias("v")).equals(extract_sums.select("geo_code", "indicator", "v"))


def test_sex_and_age_band_columns(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.testing import samples

    df = samples.split_sex_age(small.with_columns(pl.col(samples.COUNT_HEADERS).cast(pl.Int64)))
    df = df.with_columns(
        pl.col("Sexe").replace({"H": "Hommes", "F": "2"}),  # two spellings in one file
    )
    path = samples.write_workbook(df, tmp_path / "sexe-age.xlsx", year=2024)
    rep = cli.json("ingest", "carsat-mp", path, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:3]
    out = restricted(tmp_path / "r.parquet")
    assert cli("export", "--no-secret", "--level", "region", "--warehouse", wh, "--output", out, "-s", "ensemble").exit_code == 0
    r = pl.read_parquet(out).filter(
        (pl.col("indicator") == "salaries") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )
    assert set(r["sex"]) == {"F", "M", "_T"}
    given = {"Y_LT20", "Y20T29", "Y30T39", "Y40T49", "Y50T59", "Y_GE60"}
    assert set(r["age_band"]) == given | {"_T", "Y_LT30", "Y30T49", "Y_GE50", "Y_LT40", "Y40T59", "Y20T59"}
    # a coarser band is the sum of the bands it groups
    by_age = dict(r.filter((pl.col("sex") == "_T")).select("age_band", "value").iter_rows())
    assert by_age["Y_GE50"] == by_age["Y50T59"] + by_age["Y_GE60"]
    assert sum(by_age[b] for b in given) == by_age["_T"]
    total = r.filter((pl.col("sex") == "_T") & (pl.col("age_band") == "_T"))["value"].item()
    assert total == df["Nombre de salariés"].sum()
    by_sex = r.filter((pl.col("sex") != "_T") & (pl.col("age_band") == "_T"))["value"].sum()
    assert by_sex == total
    assert r.filter(pl.col("sex") == "_T")["coverage"].unique().to_list() == ["partiel : 8/13 départements"]


def test_signs_are_kept_as_status_never_as_numbers(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.testing import samples

    df = small.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("s")).otherwise(pl.col("AT en 1er règlement")).alias("AT en 1er règlement"),
        pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("nd")).otherwise(pl.col("Décès")).alias("Décès"),
    )
    path = samples.write_workbook(df, tmp_path / "signes.xlsx", year=2024)
    rep = cli.json("ingest", "carsat-mp", path, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:3]
    out = restricted(tmp_path / "c.parquet")
    assert cli("export", "--no-secret", "--level", "commune", "--warehouse", wh, "--output", out, "-s", "ensemble").exit_code == 0
    e = pl.read_parquet(out).filter((pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T"))
    secret = e.filter((pl.col("indicator") == "at_1er_reglement") & (pl.col("status") == "s"))
    assert secret.height == 1 and secret["value"].is_null().all()
    # the rate built on a secret numerator is not published either
    code = secret["geo_code"].item()
    tf = e.filter((pl.col("indicator") == "at_tf") & (pl.col("geo_code") == code))
    assert tf["value"].is_null().all() and tf["status"].item() == "s"
    # and the département it belongs to carries the sign instead of a wrong sum
    dep = restricted(tmp_path / "d.parquet")
    assert cli("export", "--no-secret", "--level", "departement", "--warehouse", wh, "--output", dep, "-s", "ensemble").exit_code == 0
    d = pl.read_parquet(dep).filter(
        (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T") & (pl.col("indicator") == "at_1er_reglement")
    )
    assert d.filter(pl.col("status") == "s").height == 1
    assert d.filter(pl.col("status") == "s")["value"].is_null().all()
    nd = e.filter((pl.col("indicator") == "at_deces") & (pl.col("status") == "nd"))
    assert nd.height == 1 and nd["value"].is_null().all()
