"""What the catalogue records of each load: the geographic level of its parts (migration 4, backfilled
for older warehouses), its warnings, its measure ledger, its commune moves; « prst loads show ID »."""

from __future__ import annotations

import json
import shutil

import duckdb
import polars as pl

from conftest import CARSAT, FIXTURES, NATIONAL

FROZEN_V1 = FIXTURES / "warehouses/format-1"


def test_older_warehouse_gets_the_level_of_each_part_from_its_files(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh = tmp_path / "old"
    shutil.copytree(FROZEN_V1, wh)
    assert cli("loads", "-w", wh).exit_code == 0  # a reader: the migrations are applied by a writer first
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT table_name, geo_level FROM load_parts").fetchall() == [("at", "commune")]
        from prst_etl.warehouse.migrations import MIGRATIONS

        assert con.sql("SELECT max(version) FROM prst_migrations").fetchall() == [(MIGRATIONS[-1].version,)]
    finally:
        con.close()
    r = cli("loads", "show", "1", "-w", wh)
    assert r.exit_code == 0 and "Comptes par mesure non enregistrés" in r.stdout


def test_aggregate_and_export_read_the_level_from_the_catalogue_not_the_files(cli, wh) -> None:  # type: ignore[no-untyped-def]
    """The part files are not opened to find their level: a damaged one does not stop the plan."""
    from prst_etl.pipeline.aggregate import plan
    from prst_etl.pipeline.export import _impossible_levels
    from prst_etl.warehouse import open_warehouse

    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    part = next((wh / "facts").rglob("*.parquet"))
    part.write_bytes(b"not parquet any more")
    with open_warehouse(wh) as w:
        todo = plan(w)
        notes = _impossible_levels(w, "commune", None)
    assert {t["geo_level"] for t in todo} == {"departement"}
    assert {t["target"] for t in todo} == {"departement", "region"}
    assert notes and "niveau « departement »" in notes[0]


def test_a_reader_refuses_a_warehouse_of_a_newer_format(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    con = duckdb.connect(str(wh / "prst.duckdb"))
    con.execute("UPDATE prst_meta SET value = '99' WHERE key = 'format_version'")
    con.close()
    for args in (("loads",), ("loads", "show", "1"), ("export", "-l", "france", "--no-secret"), ("ingest", "ameli-at", NATIONAL)):
        r = cli(*args, "-w", wh)
        assert r.exit_code == 3, (args, r.stdout, r.stderr)
        assert "format 99" in r.stderr and "plus récent" in r.stderr and "Traceback" not in r.stderr


def test_loads_show_gives_warnings_ledger_and_levels(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.testing.samples_mp import MP_NOTES, write_sheets
    from test_ameli_mp import SHEET, read_sheet

    raw = read_sheet(FIXTURES / "sources/ameli-mp/exemple.xlsx")
    odd = raw.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("4420C")).otherwise(pl.col("Code NAF")).alias("Code NAF")
    )
    path = write_sheets([(SHEET, "Maladies professionnelles 2024", odd, MP_NOTES)], tmp_path / "mp.xlsx", year=2024)
    rep = cli.json("ingest", "ameli-mp", path, "-w", wh)
    assert rep["outcome"] == "loaded" and [i["code"] for i in rep["issues"]] == ["unknown-naf"]
    d = cli.json("loads", "show", str(rep["load_id"]), "-w", wh)
    assert [(f["code"], f["severity"], f["value"], f["row"]) for f in d["findings"]] == [("unknown-naf", "warning", "4420C", 5)]
    assert {(p["table_name"], p["geo_level"]) for p in d["parts"]} == {("mp", "france"), ("mp_effectifs", "france")}
    flows = {(f["table"], f["measure"]): f for f in d["ledger"]}
    assert flows == {(f["table"], f["measure"]): {k: f[k] for k in ("table", "measure", "read", "set_aside", "stored", "derived")}
                     | {"derived": f["derived"] or None} for f in rep["accounting"]}  # fmt: skip
    r = cli("loads", "show", str(rep["load_id"]), "-w", wh)
    assert r.exit_code == 0
    assert "4420C" in r.stdout and "Comptes par mesure" in r.stdout and "comptés une fois" in r.stdout
    r = cli("loads", "show", "99", "-w", wh)
    assert r.exit_code == 2 and "Chargement n° 99 inconnu" in r.stderr
    assert json.loads(cli("loads", "-w", wh, "--json").stdout)[0]["load_id"] == rep["load_id"]
