"""Carsat workbooks with an AT, a Trajet and an MP sheet (fictitious samples), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, Cli
from prst_etl.reference import geography
from prst_etl.testing import samples, samples_mp
from prst_etl.warehouse import open_warehouse
from test_ameli_mp import COUNTS as MP_COUNTS
from test_ameli_mp import EFFECTIFS as MP_EFFECTIFS
from test_ameli_mp import expected_family, num, read_sheet

MP_FOLDER = FIXTURES / "sources/carsat-mp"
LR_FOLDER = FIXTURES / "sources/carsat-lr"
SHEETS = ["AT 2024 par CTN X NAF", "Trajet 2024", "MP 2024"]
TRAJET = {
    "trajet_salaries": "Nombre de salariés",
    "trajet_heures_travaillees": "Nombre d'heures travaillées",
    "trajet_etablissements": "Nombre de SIRET",
    "trajet_1er_reglement": "Accidents de trajet en 1er règlement",
    "trajet_4j_plus": "dont accidents de trajet avec 4 jours d'arrêt ou plus sur l'année",
    "trajet_ip": "Nouvelles IP",
    "trajet_deces": "Décès",
    "trajet_journees_it": "Journées d'IT",
    "trajet_somme_taux_ip": "Somme des taux d'IP",
}


def facts(wh: Path, source: str, table: str) -> pl.DataFrame:
    with open_warehouse(wh) as w:
        lf = w.scan_facts(source, table)
        assert lf is not None, table
        return lf.collect()


@pytest.fixture(scope="module")
def carsat_mp(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("carsat-sheets") / "warehouse"
    rep = Cli().json("ingest", "carsat-mp", MP_FOLDER / "exemple.xlsx", "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    sheets = {name: read_sheet(MP_FOLDER / "exemple.xlsx", name) for name in SHEETS}
    return rep, wh, sheets


def test_every_sheet_is_read(carsat_mp) -> None:  # type: ignore[no-untyped-def]
    rep, wh, sheets = carsat_mp
    assert rep["sheet"] == ", ".join(SHEETS) and rep["years"] == [2024] and rep["issues"] == []
    assert set(rep["tables"]) == {"at", "trajet", "mp", "mp_effectifs"}
    assert rep["stats"]["rows_read"] == sum(df.height for df in sheets.values())
    assert rep["stats"]["rows_kept"] == rep["stats"]["rows_read"]


def test_the_load_names_the_mapping_of_every_sheet(carsat_mp) -> None:  # type: ignore[no-untyped-def]
    _, wh, _ = carsat_mp
    load = Cli().json("loads", "-w", wh)[0]
    assert load["mapping_version"] == "2024, trajet-2024, mp-2024"  # each sheet's, as --mapping names them


@pytest.mark.parametrize("measure", sorted(TRAJET))
def test_trajet_sheet_totals(carsat_mp, measure) -> None:  # type: ignore[no-untyped-def]
    _, wh, sheets = carsat_mp
    assert facts(wh, "carsat-mp", "trajet")[measure].sum() == sheets["Trajet 2024"].select(num(TRAJET[measure]).sum()).item()


@pytest.mark.parametrize("measure", sorted(MP_COUNTS))
def test_mp_sheet_totals(carsat_mp, measure) -> None:  # type: ignore[no-untyped-def]
    _, wh, sheets = carsat_mp
    assert facts(wh, "carsat-mp", "mp")[measure].sum() == sheets["MP 2024"].select(num(MP_COUNTS[measure]).sum()).item()


def test_mp_effectifs_once_per_commune_ctn_and_naf(carsat_mp) -> None:  # type: ignore[no-untyped-def]
    _, wh, sheets = carsat_mp
    raw = sheets["MP 2024"]
    cell = ["Code commune", "code CTN / Compte spécial MP", "Code NAF"]
    once = raw.unique(subset=cell, keep="first")
    eff = facts(wh, "carsat-mp", "mp_effectifs")
    for measure, col in MP_EFFECTIFS.items():
        assert eff[measure].sum() == once.select(num(col).sum()).item()
        assert raw.select(num(col).sum()).item() > once.select(num(col).sum()).item()  # repeated in the file
    # former commune codes are mapped to COG 2025, like in the AT sheet
    mapped = geography.normalise_communes(once["Code commune"])
    assert (mapped["status"] == "mapped").sum() > 0 and "12076" in set(once["Code commune"])
    assert set(eff["geo_code"]) == set(mapped["code"]) and "12218" in set(eff["geo_code"]) and "12076" not in set(eff["geo_code"])
    assert eff.select("geo_code", "ctn", "sector_code").is_duplicated().sum() == 0


def test_mp_cause_families(carsat_mp) -> None:  # type: ignore[no-untyped-def]
    _, wh, sheets = carsat_mp
    raw = sheets["MP 2024"]
    want = raw.with_columns(expected_family(raw).alias("f")).group_by("f").agg(num("MP en 1er règlement").sum().alias("v"))
    got = facts(wh, "carsat-mp", "mp").group_by("cause_family").agg(pl.col("mp_1er_reglement").sum().alias("v"))
    assert dict(got.iter_rows()) == dict(want.iter_rows())


def test_at_sheet_gives_the_same_facts_as_an_at_only_file(carsat_mp, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Reading the other sheets leaves the AT behaviour unchanged."""
    _, wh, sheets = carsat_mp
    at = sheets["AT 2024 par CTN X NAF"]
    path = samples.write_workbook(at.with_columns(pl.col(samples.COUNT_HEADERS).cast(pl.Int64)), tmp_path / "at.xlsx", year=2024)
    rep = cli.json("ingest", "carsat-mp", path, "--warehouse", tmp_path / "w")
    assert rep["outcome"] == "loaded" and rep["sheet"] == "AT 2024 par CTN X NAF" and set(rep["tables"]) == {"at"}
    keys = ["geo_code", "ctn", "sector_code"]
    alone = facts(tmp_path / "w", "carsat-mp", "at").drop("load_id").sort(keys)
    together = facts(wh, "carsat-mp", "at").drop("load_id").sort(keys)
    assert alone.equals(together.select(alone.columns))


def test_a_file_with_only_an_mp_sheet_supersedes_only_the_mp_tables(carsat_mp, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, wh0, sheets = carsat_mp
    wh = tmp_path / "warehouse"
    assert cli("ingest", "carsat-mp", MP_FOLDER / "exemple.xlsx", "-w", wh).exit_code == 0
    mp = sheets["MP 2024"].head(20)
    path = samples_mp.write_sheets([("Maladies pro", "Maladies professionnelles 2024", mp, {})], tmp_path / "mp.xlsx", year=2024)
    rep = cli.json("ingest", "carsat-mp", path, "-w", wh, "--yes")
    assert rep["outcome"] == "loaded", rep["issues"][:3]
    assert set(rep["tables"]) == {"mp", "mp_effectifs"} and rep["supersedes"] == [1]
    assert {p["table"] for p in rep["plan"]} <= {"mp", "mp_effectifs"}  # the plan names only what changes
    with open_warehouse(wh) as w:
        cur = w.current_parts()
    current = dict(cur.select("table_name", "load_id").iter_rows())
    assert current == {"at": 1, "trajet": 1, "mp": 2, "mp_effectifs": 2}
    assert facts(wh, "carsat-mp", "mp")["mp_1er_reglement"].sum() == mp.select(num("MP en 1er règlement").sum()).item()


def test_sheets_are_recognised_by_their_headers_not_their_names(carsat_mp, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, wh0, sheets = carsat_mp
    order = [("Feuil1", "MP 2024"), ("Feuil2", "AT 2024 par CTN X NAF"), ("Feuil3", "Trajet 2024")]
    path = samples_mp.write_sheets(
        [(new, "Données Carsat 2024", sheets[old], {}) for new, old in order], tmp_path / "f.xlsx", year=2024
    )
    rep = cli.json("ingest", "carsat-mp", path, "-w", tmp_path / "w")
    assert rep["outcome"] == "loaded", rep["issues"][:3]
    assert rep["tables"] == json.loads(json.dumps(carsat_mp[0]["tables"]))
    # --sheet reads that sheet only
    rep = cli.json("ingest", "carsat-mp", path, "-w", tmp_path / "w2", "--sheet", "Feuil3", "--dry-run")
    assert rep["outcome"] == "dry-run" and set(rep["tables"]) == {"trajet"}


def test_two_sheets_of_the_same_layout_read_one_and_say_so(carsat_mp, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, sheets = carsat_mp
    mp = sheets["MP 2024"]
    path = samples_mp.write_sheets(
        [("MP 2024", "Maladies professionnelles 2024", mp, {}), ("MP 2024 (copie)", "Maladies professionnelles 2024", mp.head(5), {})],
        tmp_path / "f.xlsx",
        year=2024,
    )
    rep = cli.json("ingest", "carsat-mp", path, "-w", tmp_path / "w", "--dry-run")
    assert rep["outcome"] == "dry-run" and rep["sheet"] == "MP 2024"
    (issue,) = rep["issues"]
    assert (issue["code"], issue["severity"], issue["sheet"]) == ("sheet-ignored", "warning", "MP 2024 (copie)")


def test_sheets_of_different_years_are_refused(carsat_mp, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, _, sheets = carsat_mp
    path = samples_mp.write_sheets(
        [("AT 2024", "Risque Accident du travail 2024", sheets["AT 2024 par CTN X NAF"], {}),
         ("MP 2023", "Maladies professionnelles 2023", sheets["MP 2024"], {})],
        tmp_path / "f.xlsx",
        year=2024,
    )  # fmt: skip
    r = cli("ingest", "carsat-mp", path, "-w", tmp_path / "w", "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1
    assert [(i["sheet"], i["code"]) for i in rep["issues"]] == [("MP 2023", "year-mismatch")]


def rejected(cli, wh: Path, source: str, path: Path) -> dict:  # type: ignore[no-untyped-def]
    r = cli("ingest", source, path, "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected", rep
    assert not wh.exists()
    return rep


def test_errors_of_every_sheet_are_reported_with_their_sheet(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, "carsat-mp", MP_FOLDER / "exemple-errone.xlsx")
    got = [(i["sheet"], i["row"], i["column"], i["code"]) for i in rep["issues"]]
    assert got == [
        ("AT 2024 par CTN X NAF", 7, "Nombre de salariés", "non-numeric-count"),
        ("MP 2024", 5, "Nombre d'heures travaillées", "inconsistent-effectifs"),
        ("MP 2024", 6, "Nombre d'heures travaillées", "inconsistent-effectifs"),
        ("MP 2024", 6, "code Tableau de MP", "unknown-mp-tableau"),
        ("MP 2024", 7, "Top risque chimique", "invalid-flag"),
        ("MP 2024", 8, "Nouvelles IP", "parts-exceed-total"),
        ("Trajet 2024", 5, "Code commune", "unknown-commune"),
        ("Trajet 2024", 8, "Décès", "negative-count"),
    ]
    assert rep["stats"]["rows_rejected"] == 7  # rows with an error, sheet by sheet
    text = " ".join(cli("ingest", "carsat-mp", MP_FOLDER / "exemple-errone.xlsx", "-w", wh).stdout.split())
    assert "Feuille" in text and "Trajet 2024" in text and "Rien n'a été écrit" in text


# -- carsat-lr: département × sexe × tranche d'âge ------------------------------------------
@pytest.fixture(scope="module")
def carsat_lr(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("carsat-lr") / "warehouse"
    rep = Cli().json("ingest", "carsat-lr", LR_FOLDER / "exemple.xlsx", "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return rep, wh, {name: read_sheet(LR_FOLDER / "exemple.xlsx", name) for name in SHEETS}


def test_departement_sex_and_age_sheets(carsat_lr) -> None:  # type: ignore[no-untyped-def]
    rep, wh, sheets = carsat_lr
    assert rep["issues"] == [] and set(rep["tables"]) == {"at", "trajet", "mp", "mp_effectifs"}
    mp = facts(wh, "carsat-lr", "mp")
    assert set(mp["geo_level"]) == {"departement"} and set(mp["geo_code"]) <= {"11", "30", "34", "48", "66"}
    assert set(mp["sex"]) == {"F", "M"} and "Y_GE60" in set(mp["age_band"])
    raw = sheets["MP 2024"]
    cell = ["Département", "Sexe", "Tranche d'âge", "code CTN / Compte spécial MP", "Code NAF"]
    once = raw.unique(subset=cell, keep="first")
    eff = facts(wh, "carsat-lr", "mp_effectifs")
    assert eff.height == once.height
    for measure, col in MP_EFFECTIFS.items():
        assert eff[measure].sum() == once.select(num(col).sum()).item()
    assert mp["mp_1er_reglement"].sum() == raw.select(num("MP en 1er règlement").sum()).item()
    tr = facts(wh, "carsat-lr", "trajet")
    assert tr["trajet_1er_reglement"].sum() == sheets["Trajet 2024"].select(num(TRAJET["trajet_1er_reglement"]).sum()).item()


def test_carsat_lr_broken_copy(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, "carsat-lr", LR_FOLDER / "exemple-errone.xlsx")
    got = [(i["sheet"], i["row"], i["column"], i["code"]) for i in rep["issues"]]
    assert got == [
        ("AT 2024 par CTN X NAF", 5, "Département", "departement-outside-scope"),
        ("MP 2024", 7, "Nombre d'établissements", "inconsistent-effectifs"),
        ("MP 2024", 8, "Nombre d'établissements", "inconsistent-effectifs"),
        ("MP 2024", 10, None, "duplicate-key"),
        ("MP 2024", 184, None, "duplicate-key"),
        ("Trajet 2024", 6, "Sexe", "invalid-sex"),
    ]
    assert "Languedoc-Roussillon" in rep["issues"][0]["message"]
