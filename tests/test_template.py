"""``prst sources template``: an empty workbook a provider fills, which then ingests."""

from __future__ import annotations

import json

import fastexcel
import polars as pl

from workbooks import fill_rows


def sheet_rows(path, name: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    return fastexcel.read_excel(path).load_sheet(name, header_row=None, dtypes="string").to_polars().rows()


def test_template_describes_the_latest_layout(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "modele.xlsx"
    r = cli("sources", "template", "dgt-spsti", "--year", "2025", "--output", path)
    assert r.exit_code == 0 and "prst ingest dgt-spsti" in " ".join(r.stdout.split())
    assert fastexcel.read_excel(path).sheet_names == ["Lisez-moi", "Activité des SPSTI"]
    data = sheet_rows(path, "Activité des SPSTI")
    assert data[0][0] == "Rapport annuel d'activité des SPSTI — extrait régional Occitanie — année 2025"
    assert [h for h in data[3] if h] == [
        "Code SPSTI", "Nom du SPSTI", "Effectif suivi", "VIP (initiales et périodiques)",
        "Suivi individuel renforcé : examens d'aptitude", "Visites de reprise", "Visites de pré-reprise",
        "Visites à la demande", "Autres visites", "Inaptitudes prononcées",
    ]  # fmt: skip
    text = "\n".join(" | ".join(c or "" for c in row) for row in sheet_rows(path, "Lisez-moi"))
    for part in (
        "Effectif suivi | oui | Salariés suivis par le service",  # one row per column: header, required, content…
        "nombre entier ≥ 0 ; ou signe conventionnel (s, nd, ///, -) ; case vide refusée",
        "« s » secret statistique à la source",
        "Total des visites",  # an optional column, listed apart
        "SPSTI-BTP-LR | Service de prévention et de santé au travail du BTP Languedoc-Roussillon (fictif)",
        "prst ingest dgt-spsti FICHIER.xlsx --dry-run",
        "mapping dgt-spsti/2025",
    ):
        assert part in text, part


def test_filled_template_ingests(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "activite-2025.xlsx"
    assert cli("sources", "template", "dgt-spsti", "-y", "2025", "-o", path).exit_code == 0
    rows = [
        ["SPSTI-09-A", "Service de l'Ariège", 31500, 6000, 2100, 1800, 900, 1700, 2000, 160],
        ["spsti-btp-mp", None, 77000, 9000, 11000, 4200, 2100, 4000, 4900, 410],
        ["SPSTI-48-A", None, 17100, 3100, 1000, "s", 400, 800, 900, "-"],
    ]
    fill_rows(path, 2, rows, first_row=5)
    rep = json.loads(cli("ingest", "dgt-spsti", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded", rep["issues"]
    assert rep["sheet"] == "Activité des SPSTI" and rep["header_row"] == 4 and rep["years"] == [2025]
    assert json.loads(cli("loads", "-w", wh, "--json").stdout)[0]["mapping_version"] == "2025"
    facts = pl.read_parquet(next(wh.rglob("*.parquet"))).sort("geo_code")
    assert facts["geo_code"].to_list() == ["SPSTI-09-A", "SPSTI-48-A", "SPSTI-BTP-MP"]
    assert facts["spsti_salaries_suivis"].to_list() == [31500, 17100, 77000]
    assert facts.filter(pl.col("geo_code") == "SPSTI-48-A").select("spsti_visites_reprise", "spsti_visites_reprise__status", "spsti_inaptitudes").row(0) == (None, "s", 0.0)


def test_template_of_a_multi_year_layout(cli, wh, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    r = cli("sources", "template", "spf-mcp")
    assert r.exit_code == 0
    path = tmp_path / "modele-spf-mcp.xlsx"  # no year in the name: the years are in a column
    assert path.exists()
    assert sheet_rows(path, "Données MCP")[3][:3] == ("Année", "Sexe", "Section NAF (A21)")
    fill_rows(path, 2, [[2024, "F", "Q", None, 300, 12, 9, 2], [2024, "M", "C", None, 250, 5, 11, 3]], first_row=5)
    rep = json.loads(cli("ingest", "spf-mcp", path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded" and rep["years"] == [2024], rep["issues"]


def test_existing_file_and_wrong_suffix(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.xlsx"
    path.write_bytes(b"provider's filled file")
    r = cli("sources", "template", "ioda", "-o", path)
    assert r.exit_code == 2 and "existe déjà" in r.stderr and "--force" in r.stderr
    assert path.read_bytes() == b"provider's filled file"
    assert cli("sources", "template", "ioda", "-o", path, "--force").exit_code == 0
    assert fastexcel.read_excel(path).sheet_names == ["Lisez-moi", "Données IODA"]
    r = cli("sources", "template", "ioda", "-o", tmp_path / "m.csv")
    assert r.exit_code == 2 and ".xlsx" in r.stderr
    assert cli("sources", "template", "inconnue", "-o", tmp_path / "x.xlsx").exit_code == 2


def test_template_of_an_older_layout(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "modele-2024.xlsx"
    assert cli("sources", "template", "dgt-spsti", "--mapping", "2024", "-y", "2024", "-o", path).exit_code == 0
    assert sheet_rows(path, "Activité des SPSTI")[3][2] == "Salariés suivis"
    assert cli("sources", "template", "dgt-spsti", "--mapping", "1999", "-o", tmp_path / "x.xlsx").exit_code == 2
