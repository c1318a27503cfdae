"""The command line: help that teaches, trusted exit codes, --json equal to the library."""

from __future__ import annotations

import json
import re

import pytest

from conftest import CARSAT, NATIONAL
from prst_etl import __version__
from prst_etl.cli import app
from prst_etl.pipeline.ingest import ingest as ingest_lib

COMMANDS = [["ingest"], ["aggregate"], ["export"], ["indicators"], ["indicators", "show"], ["sources"], ["sources", "show"],
            ["sources", "template"], ["loads"], ["loads", "revert"], ["diff-years"], ["release", "create"], ["release", "list"],
            ["release", "show"], ["publish"], ["portrait"], ["chiffres-cles"], ["tableau-de-bord"], ["site"], ["demo"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_french_help_with_an_example(cli, cmd) -> None:  # type: ignore[no-untyped-def]
    r = cli(*cmd, "--help")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    assert re.search(r"Exemples? ?:", text), text[:300]
    assert "prst " in text


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"prst {__version__}"


def test_unknown_source_lists_the_known_ones(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "carsat-xx", NATIONAL, "-w", wh)
    assert r.exit_code == 2
    assert "carsat-xx" in r.stderr and "ameli-at" in r.stderr and "carsat-mp" in r.stderr


def test_unknown_level_is_a_usage_error(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    r = cli("export", "--no-secret", "--level", "canton", "-w", wh)
    assert r.exit_code == 2 and "zone-emploi" in r.stderr


def test_ingest_json_equals_the_library_report(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = CARSAT / "communes-2024-extrait.xlsx"
    a = json.loads(cli("ingest", "carsat-mp", path, "-w", tmp_path / "a", "--dry-run", "--json").stdout)
    b = ingest_lib("carsat-mp", path, warehouse=tmp_path / "b", dry_run=True).to_dict()
    assert a == json.loads(json.dumps(b, default=str))


def test_sources_lists_the_plugins(cli) -> None:  # type: ignore[no-untyped-def]
    rows = json.loads(cli("sources", "--json").stdout)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids) and {"ameli-at", "carsat-mp", "carsat-lr"} <= set(ids)
    mp = next(r for r in rows if r["id"] == "carsat-mp")
    # one named mapping per sheet of the workbook (AT, MP, Trajet)
    assert mp["mapping_versions"] == ["2024", "mp-2024", "trajet-2024"] and mp["origin"] == "prst" and mp["geo_levels"] == ["commune", "departement"]


def test_sources_show_describes_the_layout(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("sources", "show", "carsat-lr")
    assert r.exit_code == 0
    text = " ".join(r.stdout.split())
    for part in ("Carsat Languedoc-Roussillon", "11 30 34 48 66", "Code commune", "Tranche d'âge", "AT en 1er règlement"):
        assert part in text
    data = json.loads(cli("sources", "show", "carsat-lr", "--json").stdout)
    cols = data["mappings"][0]["columns"]
    assert cols["sexe"]["required"] is False and "Sexe" in cols["sexe"]["headers"]


def test_loads_lists_what_was_ingested(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    rows = json.loads(cli("loads", "-w", wh, "--json").stdout)
    assert [(r["load_id"], r["source"], r["file_name"], r["years"]) for r in rows] == [
        (1, "ameli-at", NATIONAL.name, [2024]),
        (2, "carsat-mp", "departements-2024.xlsx", [2024]),
    ]
    text = " ".join(cli("loads", "-w", wh).stdout.split())
    assert "departements-2024.xlsx" in text and "courant" in text
    only = json.loads(cli("loads", "-w", wh, "--source", "carsat-mp", "--json").stdout)
    assert [r["load_id"] for r in only] == [2]


def test_help_of_the_app_lists_every_command(cli) -> None:  # type: ignore[no-untyped-def]
    text = cli("--help").stdout
    registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    assert registered == {"ingest", "aggregate", "export", "diff-years", "indicators", "sources", "loads", "release", "publish", "demo",
                          "portrait", "chiffres-cles", "tableau-de-bord", "site"}
    for name in registered:
        assert name in text


def test_every_command_accepts_the_warehouse_option(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    rows = json.loads(cli("sources", "--warehouse", wh, "--json").stdout)
    assert next(r for r in rows if r["id"] == "carsat-mp")["years_loaded"] == [2024]
    assert next(r for r in rows if r["id"] == "ameli-at")["years_loaded"] == []
    r = cli("sources", "show", "carsat-mp", "--warehouse", wh)
    assert "Années chargées dans l'entrepôt : 2024" in r.stdout
    for cmd in COMMANDS:
        if cmd in (["release"], ["sources", "template"]):  # the template reads no warehouse
            continue
        assert "--warehouse" in cli(*cmd, "--help").stdout, cmd
