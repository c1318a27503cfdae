"""spf-mcp: maladies à caractère professionnel (Santé publique France), several years per file."""

from __future__ import annotations

import json

import polars as pl
import pytest

from conftest import FIXTURES, Cli
from workbooks import number, read_table, write_sheet

FOLDER = FIXTURES / "sources/spf-mcp"
SAMPLE = FOLDER / "exemple.xlsx"
MEASURES = {
    "mcp_salaries_vus": "Salariés vus",
    "mcp_souffrance_psychique": "Salariés avec signalement de souffrance psychique",
    "mcp_tms": "Salariés avec signalement de TMS",
    "mcp_autres": "Salariés avec signalement d'autres MCP",
}
RATES = ["Prévalence souffrance psychique (%)", "Prévalence TMS (%)", "Prévalence autres MCP (%)"]
HEADERS = ["Année", "Sexe", "Section NAF (A21)", *MEASURES.values(), *RATES]


def facts_of(wh) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    """Current facts (the last load of each year), as the warehouse serves them."""
    from prst_etl.warehouse import open_warehouse

    with open_warehouse(wh) as w:
        return w.scan_facts("spf-mcp", "mcp").collect()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("mcp") / "warehouse"
    rep = Cli().json("ingest", "spf-mcp", SAMPLE, "-w", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    return rep, facts_of(wh), wh


def test_three_years_in_one_file(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, facts, wh = loaded
    assert rep["years"] == [2021, 2022, 2023]
    assert sorted(p.name for p in (wh / "facts/current/spf-mcp/mcp").iterdir()) == ["year=2021", "year=2022", "year=2023"]
    raw = read_table(SAMPLE)
    want = (
        raw.with_columns(pl.col("Année").cast(pl.Int32).alias("year"), *[number(h).alias(m) for m, h in MEASURES.items()])
        .group_by("year")
        .agg(pl.col(list(MEASURES)).sum())
        .sort("year")
    )
    got = facts.group_by("year").agg(pl.col(list(MEASURES)).sum()).sort("year")
    assert got.equals(want)
    assert want.filter(pl.col("year") == 2022)["mcp_salaries_vus"].item() == raw.filter(pl.col("Année") == "2022").select(number("Salariés vus").sum()).item()


def test_cells_and_keys(loaded) -> None:  # type: ignore[no-untyped-def]
    _, facts, _ = loaded
    raw = read_table(SAMPLE)
    assert facts.height == raw.height == 120
    assert set(facts["geo_level"]) == {"region"} and set(facts["geo_code"]) == {"76"}
    assert set(facts["sector_level"]) == {"a21"} and set(facts["age_band"]) == {"_T"}
    assert set(facts["sector_code"]) == set("ABCDEFGHIJKLMNOPQRS") | {"_U"}  # « Non renseigné » is _U
    assert set(facts["sex"]) == {"F", "M"}
    cell = facts.filter((pl.col("year") == 2023) & (pl.col("sex") == "F") & (pl.col("sector_code") == "Q"))
    row = raw.filter((pl.col("Année") == "2023") & (pl.col("Sexe") == "Femmes") & (pl.col("Section NAF (A21)") == "Q"))
    assert cell.select(list(MEASURES)).rows() == row.select([number(h) for h in MEASURES.values()]).rows()


def test_prevalences_are_checked_not_stored(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, facts, _ = loaded
    assert rep["issues"] == []  # every prevalence of the sample agrees with its counts
    assert not [c for c in facts.columns if "preval" in c]
    stored = {c for c in facts.columns if not c.endswith("__status")}
    assert stored == {"load_id", "year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band", *MEASURES}


def test_a_wrong_prevalence_is_a_warning(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        [2022, "F", "Q", 400, 20, 12, 4, "5,0", 3.0, "1"],  # 5 %, 3 %, 1 %: right
        [2022, "M", "Q", 150, 6, 9, 1, 4.0, "6 %", 0.7],  # 4 %, 6 %, 0.67 %: right to the digits written
        [2022, "M", "F", 300, 6, 12, 3, 2.0, 9.9, "nd"],  # TMS: 4 %, not 9.9 %
        [2022, "F", "F", 12, 0, 1, 0, "n.c.", "nd", "s"],  # unreadable rate: said, not checked
    ]
    path = write_sheet(tmp_path / "mcp.xlsx", HEADERS, rows, title="MCP Occitanie")
    rep = json.loads(cli("ingest", "spf-mcp", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded"
    assert [(i["row"], i["column"], i["code"], i["severity"]) for i in rep["issues"]] == [
        (7, "Prévalence TMS (%)", "rate-mismatch", "warning"),
        (8, "Prévalence souffrance psychique (%)", "rate-mismatch", "warning"),
    ]
    assert rep["issues"][0]["value"] == "9.9" and "4" not in rep["issues"][0]["message"].split("ne vaut")[0]
    assert rep["issues"][1]["value"] == "n.c." and "pas un pourcentage lisible" in rep["issues"][1]["message"]
    assert facts_of(wh)["mcp_tms"].sum() == 34


def test_a_revised_year_replaces_only_that_year(loaded, cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, before, wh = loaded
    rows = [[2022, "F", "Q", 500, 30, 20, 5, 6.0, 4.0, 1.0]]
    path = write_sheet(tmp_path / "mcp-2022-revise.xlsx", HEADERS, rows, title="MCP Occitanie — révision 2022")
    rep = json.loads(cli("ingest", "spf-mcp", path, "-w", wh, "--json", "--yes").stdout)
    assert rep["outcome"] == "loaded" and rep["years"] == [2022] and rep["supersedes"] == [1]
    after = facts_of(wh)
    assert after.filter(pl.col("year") == 2022).height == 1
    for y in (2021, 2023):  # still read from the first load
        assert after.filter(pl.col("year") == y).equals(before.filter(pl.col("year") == y))
    loads = json.loads(cli("loads", "-w", wh, "--json").stdout)
    assert [(r["load_id"], r["years"], r["current"]) for r in loads] == [(1, [2021, 2022, 2023], True), (2, [2022], True)]


def test_year_option_must_match_the_year_column(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = json.loads(cli("ingest", "spf-mcp", SAMPLE, "-w", wh, "--year", "2022", "--json").stdout)
    assert rep["outcome"] == "rejected"
    assert {i["code"] for i in rep["issues"]} == {"year-mismatch"} and len(rep["issues"]) == 80  # the 2021 and 2023 rows
    assert not wh.exists()


def test_broken_copy_lists_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "spf-mcp", FOLDER / "exemple-errone.xlsx", "-w", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1
    m = MEASURES
    assert [(i["row"], i["column"], i["code"]) for i in rep["issues"]] == [
        (5, "Année", "invalid-year"),
        (6, "Sexe", "invalid-sex"),
        (7, m["mcp_souffrance_psychique"], "parts-exceed-total"),
        (8, m["mcp_tms"], "non-numeric-count"),
        (9, RATES[0], "rate-mismatch"),  # warning
        (10, RATES[2], "rate-mismatch"),  # warning: 2.5 signals do not give the prevalence written
        (10, m["mcp_autres"], "non-integer-count"),
        (15, None, "duplicate-key"),
        (35, None, "duplicate-key"),
    ]
    assert [i["severity"] for i in rep["issues"] if i["code"] == "rate-mismatch"] == ["warning", "warning"]
    assert not wh.exists()
