"""The indicator catalogue (data) and ``prst indicators``."""

from __future__ import annotations

import json

import polars as pl

from conftest import restricted
from prst_etl import reference
from prst_etl.model.indicators import catalogue

FAMILIES = {"socio-economique", "sinistralite", "inaptitude", "sante-travail"}


def test_catalogue_covers_the_three_families_of_the_observatory() -> None:
    cat = catalogue()
    assert len(cat) >= 40
    assert {i.family for i in cat.values()} == FAMILIES
    for need in ("at_if", "at_tf", "at_tg", "at_ig", "trajet_if", "mp_if", "mp_tg", "taux_emploi",
                 "part_etablissements_taille", "accords_par_entreprise", "incidence_inaptitudes",
                 "part_profil_risque_tms", "part_profil_risque_psy", "part_at_risque", "part_mp_cause"):  # fmt: skip
        assert need in cat, need


def test_every_indicator_is_complete() -> None:
    for i in catalogue().values():
        assert i.label and i.unit and i.numerator and i.levels, i.id
        assert i.ci in {"poisson", "wilson", "none"}
        if i.is_rate:
            assert i.multiplier > 0
            if i.ci == "wilson":
                assert i.multiplier == 100, i.id  # shares are percentages
        else:
            assert i.id == i.numerator, "a count indicator is named after its measure"
    assert any("2020" in b for b in catalogue()["at_if"].breaks)
    assert any("DSN" in b for b in catalogue()["at_tf"].breaks)


def test_indicators_command(cli) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(cli("indicators", "--json").stdout)
    assert len(rows) == len(catalogue())
    inap = json.loads(cli("indicators", "--family", "inaptitude", "--json").stdout)
    assert {r["family"] for r in inap} == {"inaptitude"}
    r = cli("indicators", "show", "at_tf")
    text = " ".join(r.stdout.split())
    assert "Σ at_1er_reglement / Σ heures_travaillees × 1e+06" in text and "Poisson" in text and "2020" in text
    r = cli("indicators", "show", "inconnu")
    assert r.exit_code == 2 and "at_tf" in r.stderr


def test_zone_totals_include_communes_given_under_a_2022_code(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_bad_input import set_cell, write_xlsx

    # 12076 (Conques-en-Rouergue until 2024) is 12218 in COG 2025, in zone 7621 (Rodez)
    df = set_cell(set_cell(small, 0, "Code commune", "12076"), 1, "Code commune", "12218")
    df = df.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(pl.lit("100")).otherwise(pl.col("Nombre de salariés")).alias("Nombre de salariés"))
    assert cli("ingest", "carsat-mp", write_xlsx(df, tmp_path / "f.xlsx"), "-w", wh).exit_code == 0
    ze = reference.commune_ze().filter(pl.col("code") == "12218")["ze_code"].item()
    out = restricted(tmp_path / "ze.parquet")
    assert cli("export", "--no-secret", "-l", "zone-emploi", "-w", wh, "-o", out).exit_code == 0
    got = pl.read_parquet(out).filter(
        (pl.col("geo_code") == ze) & (pl.col("indicator") == "salaries") & (pl.col("sector_level") == "ensemble")
        & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )["value"].item()  # fmt: skip
    codes = small["Code commune"].to_list()
    zmap = dict(reference.commune_ze().select("code", "ze_code").iter_rows())
    want = 200 + sum(float(v) for c, v in zip(codes[2:], small["Nombre de salariés"].to_list()[2:]) if zmap.get(c) == ze)
    assert got == want
