"""ioda: inaptitudes by SPSTI × département × sex × age band × NAF section (CREAI-ORS Occitanie)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import FIXTURES, Cli
from workbooks import number, read_table, write_sheet

FOLDER = FIXTURES / "sources/ioda"
SAMPLE = FOLDER / "exemple.xlsx"
MEASURES = {
    "salaries_suivis": "Salariés suivis",
    "inaptitudes": "Déclarations d'inaptitude",
    "profil_risque_tms": "Salariés avec profil à risque d'inaptitude TMS",
    "profil_risque_psy": "Salariés avec profil à risque d'inaptitude psychique",
}
AGES = {"Moins de 30 ans": "Y_LT30", "30 à 39 ans": "Y30T39", "40 à 49 ans": "Y40T49", "50 à 59 ans": "Y50T59", "60 ans et plus": "Y_GE60"}
HEADERS = ["Code SPSTI", "Département", "Sexe", "Tranche d'âge", "Section NAF (A21)", *MEASURES.values()]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("ioda") / "warehouse"
    rep = Cli().json("ingest", "ioda", SAMPLE, "-w", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    facts = pl.read_parquet(next((wh / "facts/current/ioda/inaptitude/year=2024").glob("*.parquet")))
    return rep, facts


def test_sample_is_loaded_cell_for_cell(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, facts = loaded
    raw = read_table(SAMPLE)
    assert rep["years"] == [2024] and rep["tables"] == {"inaptitude": raw.height} == {"inaptitude": 1180}
    # the expected facts, computed from the sample without prst's cleaners
    want = raw.select(
        (pl.col("Code SPSTI") + "@" + pl.col("Département")).alias("geo_code"),
        pl.col("Section NAF (A21)").alias("sector_code"),
        pl.col("Sexe").replace_strict({"H": "M", "F": "F"}).alias("sex"),
        pl.col("Tranche d'âge").replace_strict(AGES).alias("age_band"),
        *[number(h).alias(m) for m, h in MEASURES.items()],
    )
    keys = ["geo_code", "sector_code", "sex", "age_band"]
    got = facts.select(*keys, *MEASURES)
    assert got.sort(keys).equals(want.sort(keys))
    assert set(facts["geo_level"]) == {"spsti-departement"} and set(facts["sector_level"]) == {"a21"}
    assert facts["year"].unique().to_list() == [2024] and facts["load_id"].unique().to_list() == [1]


def test_totals_and_secret_cells(loaded) -> None:  # type: ignore[no-untyped-def]
    _, facts = loaded
    raw = read_table(SAMPLE)
    for m, h in MEASURES.items():
        assert facts[m].sum() == raw.select(number(h).sum()).item()
        secret = (facts[m + "__status"] == "s").sum() if m + "__status" in facts.columns else 0
        assert secret == (raw[h] == "s").sum()
    assert "salaries_suivis__status" not in facts.columns  # no sign written in that column
    secret = facts.filter(pl.col("inaptitudes__status") == "s")
    assert secret.height == (raw["Déclarations d'inaptitude"] == "s").sum() > 0
    assert secret["inaptitudes"].null_count() == secret.height and (secret["salaries_suivis"] < 40).all()


def test_btp_services_overlap_the_interprofessional_ones(loaded) -> None:  # type: ignore[no-untyped-def]
    _, facts = loaded
    btp = facts.filter(pl.col("geo_code").str.starts_with("SPSTI-BTP"))
    assert sorted(btp["geo_code"].unique()) == sorted(
        [f"SPSTI-BTP-MP@{d}" for d in ("09", "12", "31", "32", "46", "65", "81", "82")]
        + [f"SPSTI-BTP-LR@{d}" for d in ("11", "30", "34", "48", "66")]
    )
    assert set(btp["sector_code"]) == {"F"}
    # Haute-Garonne: two interprofessional services and the BTP one
    assert sorted(c for c in facts["geo_code"].unique() if c.endswith("@31")) == ["SPSTI-31-A@31", "SPSTI-31-B@31", "SPSTI-BTP-MP@31"]


def test_broken_copy_lists_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "ioda", FOLDER / "exemple-errone.xlsx", "-w", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (5, "Code SPSTI", "unknown-spsti"),
        (6, "Département", "spsti-departement-mismatch"),
        (7, "Sexe", "invalid-sex"),
        (8, "Tranche d'âge", "invalid-age-band"),
        (9, "Section NAF (A21)", "unknown-naf"),
        (10, "Salariés suivis", "non-numeric-count"),
        (11, "Déclarations d'inaptitude", "negative-count"),
        (12, "Salariés avec profil à risque d'inaptitude TMS", "parts-exceed-total"),
        (13, "Salariés avec profil à risque d'inaptitude psychique", "missing-value"),
        (17, None, "duplicate-key"),
        (45, None, "duplicate-key"),
    ]
    assert rep["issues"][0]["value"] == "SPSTI-99-Z" and rep["issues"][0]["sheet"] == "Données IODA"
    assert rep["stats"]["rows_rejected"] == 11
    assert not wh.exists()


def test_codes_written_by_people(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ["spsti 31 a", "31", "Femmes", "50-59 ans", "Q - Santé humaine et action sociale", 1200, 9, 150, 80],
        ["SPSTI_BTP_LR", 9, "1", "< 30 ans", "f", 300, 1, 40, 5],  # département 9 of an LR service…
        ["SPSTI-BTP-LR", "11.0", "H", "60 ans ou plus", "Non renseigné", 50, "-", 6, 2],
        ["SPSTI-66-A", "66", "H", "30 à 39 ans", "Section C", 900, 2, 90, 40],
    ]
    path = write_sheet(tmp_path / "ioda-2024.xlsx", HEADERS, rows, title="Dispositif IODA — année 2024")
    rep = json.loads(cli("ingest", "ioda", path, "-w", wh, "--json").stdout)
    # …is refused: 09 is not covered by the BTP service of Languedoc-Roussillon
    assert [(i["row"], i["code"]) for i in rep["issues"]] == [(6, "spsti-departement-mismatch")]
    rows[1][1] = "30"
    path = write_sheet(tmp_path / "ioda-2024.xlsx", HEADERS, rows, title="Dispositif IODA — année 2024")
    rep = json.loads(cli("ingest", "ioda", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded", rep["issues"]
    facts = pl.read_parquet(next(wh.rglob("*.parquet"))).sort("geo_code")
    assert facts.select("geo_code", "sector_code", "sex", "age_band").rows() == [
        ("SPSTI-31-A@31", "Q", "F", "Y50T59"),
        ("SPSTI-66-A@66", "C", "M", "Y30T39"),
        ("SPSTI-BTP-LR@11", "_U", "M", "Y_GE60"),
        ("SPSTI-BTP-LR@30", "F", "M", "Y_LT30"),  # sex 1 = men (Insee code)
    ]
    assert facts.filter(pl.col("sector_code") == "_U").select("inaptitudes", "inaptitudes__status").row(0) == (0.0, "-")
