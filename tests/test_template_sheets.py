"""Templates of a multi-sheet workbook (Carsat: AT, Trajet, MP), one sheet on demand, mapping names."""

from __future__ import annotations

import fastexcel
import pytest

from prst_etl.sources import get_source


def sheets_of(path) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    r = fastexcel.read_excel(path)
    return {n: r.load_sheet(n, header_row=3, dtypes="string").to_polars().columns for n in r.sheet_names[1:]}


@pytest.mark.parametrize("source", ["carsat-mp", "carsat-lr"])
def test_every_sheet_with_the_geography_before_ctn(cli, tmp_path, source) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "modele.xlsx"
    r = cli("sources", "template", source, "-o", path, "--year", "2024")
    assert r.exit_code == 0, r.stderr
    got = sheets_of(path)
    assert list(got) == ["AT 2024", "Trajet 2024", "MP 2024"]
    for name, cols in got.items():
        assert cols[0] == "Département", (name, cols[:3])
        assert cols.index("Département") < min(i for i, c in enumerate(cols) if "CTN" in c), name
    assert "code Tableau de MP" in got["MP 2024"] and "Accidents de trajet en 1er règlement" in got["Trajet 2024"]


def test_one_sheet_on_demand_and_unknown_sheet(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mp.xlsx"
    assert cli("sources", "template", "carsat-mp", "-o", path, "--sheet", "mp", "--year", "2024").exit_code == 0
    assert list(sheets_of(path)) == ["MP 2024"]
    rep = cli.json("ingest", "carsat-mp", path, "-w", tmp_path / "w", "--dry-run")
    assert [(i["code"], i["sheet"]) for i in rep["issues"]] == [("empty-file", "MP 2024")]
    r = cli("sources", "template", "carsat-mp", "-o", tmp_path / "x.xlsx", "--sheet", "xx")
    assert r.exit_code == 2 and "Feuilles possibles : at, mp, trajet" in r.stderr


def test_mapping_names_choose_a_sheet_layout(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = get_source("carsat-mp")
    assert [m.name for m in src.mappings()] == ["2024", "mp-2024", "trajet-2024"]
    rows = {r["id"]: r for r in cli.json("sources")}
    assert rows["carsat-mp"]["mapping_versions"] == ["2024", "mp-2024", "trajet-2024"]
    path = tmp_path / "t.xlsx"
    assert cli("sources", "template", "carsat-mp", "-o", path, "--mapping", "trajet-2024", "--year", "2024").exit_code == 0
    assert list(sheets_of(path)) == ["Trajet 2024"]
    # an ingest restricted to one sheet's mapping reads that sheet only
    from conftest import FIXTURES

    rep = cli.json("ingest", "carsat-mp", FIXTURES / "sources/carsat-mp/exemple.xlsx", "-w", tmp_path / "w",
                   "--dry-run", "--mapping", "mp-2024")  # fmt: skip
    assert rep["outcome"] == "dry-run" and set(rep["tables"]) == {"mp", "mp_effectifs"}, rep["issues"][:3]
