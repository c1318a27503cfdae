"""dgt-spsti: activity report of the SPSTI; two header layouts (mapping versions 2024 and 2025)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import FIXTURES
from workbooks import number, read_table

FOLDER = FIXTURES / "sources/dgt-spsti"
VISITS_2024 = {
    "vip": "Visites d'information et de prévention (VIP)",
    "sir": "Examens médicaux d'aptitude (SIR)",
    "reprise": "Visites de reprise",
    "pre-reprise": "Visites de pré-reprise",
    "demande": "Visites à la demande",
    "autres": "Autres visites",
}
VISITS_2025 = VISITS_2024 | {"vip": "VIP (initiales et périodiques)", "sir": "Suivi individuel renforcé : examens d'aptitude"}
FOLLOWED = {"2024": "Salariés suivis", "2025": "Effectif suivi"}
INAPT = {"2024": "Avis d'inaptitude", "2025": "Inaptitudes prononcées"}


def facts(wh, year: int) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    return pl.read_parquet(next((wh / f"facts/current/dgt-spsti/activite/year={year}").glob("*.parquet")))


@pytest.mark.parametrize("version,name", [("2024", "exemple.xlsx"), ("2025", "exemple-2025.xlsx")])
def test_either_layout_ingests_and_records_its_mapping(cli, wh, version, name) -> None:  # type: ignore[no-untyped-def]
    rep = json.loads(cli("ingest", "dgt-spsti", FOLDER / name, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    year = int(version)
    assert rep["years"] == [year]
    (load,) = json.loads(cli("loads", "-w", wh, "--json").stdout)
    assert load["mapping_version"] == version
    # cell for cell, from the file read without prst
    raw = read_table(FOLDER / name)
    visits = VISITS_2024 if version == "2024" else VISITS_2025
    want = raw.select(
        pl.col("Code SPSTI").alias("geo_code"),
        number(FOLLOWED[version]).alias("spsti_salaries_suivis"),
        number(INAPT[version]).alias("spsti_inaptitudes"),
        *[number(h).alias(f"spsti_visites_{code.replace('-', '_')}") for code, h in visits.items()],
    ).sort("geo_code")
    got = facts(wh, year)
    assert got.select(want.columns).sort("geo_code").equals(want)
    assert got.height == 17 and set(got["geo_level"]) == {"spsti"}
    assert got.select("sector_level", "sector_code", "sex", "age_band").unique().rows() == [("ensemble", "_T", "_T", "_T")]
    total = "Total des visites" if version == "2024" else "Ensemble des visites"
    assert got.select(pl.sum_horizontal(pl.col("^spsti_visites_.*$")).sum()).item() == raw.select(number(total).sum()).item()


def test_sources_show_lists_both_versions_and_their_headers(cli) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(cli("sources", "show", "dgt-spsti", "--json").stdout)
    v24, v25 = data["mappings"]
    assert (v24["version"], v25["version"]) == ("2024", "2025") and v25["extends"] == "dgt-spsti/2024"
    assert v24["columns"]["spsti_salaries_suivis"]["headers"][0] == "Salariés suivis"
    assert v25["columns"]["spsti_salaries_suivis"]["headers"][0] == "Effectif suivi"
    assert v24["columns"]["visites_reprise"] == v25["columns"]["visites_reprise"]  # unchanged columns come from 2024
    assert data["tables"]["activite"][:2] == ["spsti_salaries_suivis", "spsti_inaptitudes"]
    text = " ".join(cli("sources", "show", "dgt-spsti").stdout.split())
    for part in ("Mapping 2024", "Mapping 2025", "reprend dgt-spsti/2024", "Effectif suivi", "Salariés suivis", "Origine : prst"):
        assert part in text, part


def test_a_layout_can_be_forced(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = json.loads(cli("ingest", "dgt-spsti", FOLDER / "exemple-2025.xlsx", "-w", wh, "--mapping", "2024", "--json").stdout)
    assert rep["outcome"] == "rejected"
    missing = sorted(i["column"] for i in rep["issues"] if i["code"] == "missing-column")
    assert missing == sorted(["Salariés suivis", VISITS_2024["vip"], VISITS_2024["sir"], "Avis d'inaptitude"])
    r = cli("ingest", "dgt-spsti", FOLDER / "exemple.xlsx", "-w", wh, "--mapping", "2023")
    assert r.exit_code == 2 and "2024" in r.stderr and "2025" in r.stderr


def test_visit_types_are_a_pivoted_dimension() -> None:
    from prst_etl.sources import get_source

    (table,) = get_source("dgt-spsti").tables
    (pivot,) = table.pivots
    assert (pivot.dimension, pivot.measure) == ("visit_type", "spsti_visites")
    assert [code for _, code, _ in pivot.columns] == ["vip", "sir", "reprise", "pre-reprise", "demande", "autres"]


def test_broken_copy_lists_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "dgt-spsti", FOLDER / "exemple-errone.xlsx", "-w", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (5, "Code SPSTI", "unknown-spsti"),
        (6, "Total des visites", "total-mismatch"),
        (7, "Total des visites", "total-mismatch"),  # the negative count below breaks the total too
        (7, "Visites de reprise", "negative-count"),
        (8, "Avis d'inaptitude", "parts-exceed-total"),
        (9, "Avis d'inaptitude", "non-integer-count"),
        (10, "Visites de pré-reprise", "missing-value"),
        (13, None, "duplicate-key"),
        (22, None, "duplicate-key"),
    ]
    assert not wh.exists()
