"""The warehouse: loads, re-ingest, supersession, atomicity, locking, readable Parquet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import CARSAT, NATIONAL, restricted
from prst_etl.errors import WarehouseBusy
from prst_etl.warehouse import _FileLock, open_warehouse


def snapshot(wh: Path) -> dict[str, bytes]:
    """Every file of the warehouse except the lock file, with its content."""
    return {str(p.relative_to(wh)): p.read_bytes() for p in sorted(wh.rglob("*")) if p.is_file() and p.name != ".lock"}


def catalogue(wh: Path) -> dict[str, list]:
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        return {t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall() for t in ("loads", "load_parts", "events")}
    finally:
        con.close()


def test_a_load_records_its_lineage(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh, "--note", "premier essai").exit_code == 0
    with open_warehouse(wh) as w:
        loads = w.loads()
    (load,) = loads.to_dicts()
    assert load["source"] == "ameli-at" and load["mapping_version"] == "2024" and load["plugin_version"] == "1"
    assert load["file_name"] == NATIONAL.name and load["file_size"] == NATIONAL.stat().st_size
    import hashlib

    assert load["sha256"] == hashlib.sha256(NATIONAL.read_bytes()).hexdigest()
    assert (load["rows_read"], load["rows_kept"], load["rows_skipped"], load["rows_rejected"]) == (4498, 4498, 0, 0)
    assert load["years"] == [2024] and load["current"] and load["note"] == "premier essai"
    assert load["prst_version"] and load["created_at"] is not None and load["geo_vintage"] == "COG2025"
    # every fact row carries its load id, in Parquet any tool can read
    (part,) = (wh / "facts").rglob("*.parquet")
    facts = pl.read_parquet(part)
    assert facts["load_id"].unique().to_list() == [load["load_id"]]
    assert duckdb.sql(f"SELECT sum(at_1er_reglement) FROM read_parquet('{part}')").fetchall() == [(549614.0,)]
    # the catalogue has Parquet copies for tools without DuckDB
    parts = pl.read_parquet(wh / "catalogue/parts.parquet")
    assert parts["current"].to_list() == [True]


def test_same_file_again_is_a_no_op(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    before = snapshot(wh)
    r = cli("ingest", "ameli-at", NATIONAL, "-w", wh)
    assert r.exit_code == 0
    assert "déjà chargé" in r.stdout
    assert snapshot(wh) == before


def test_corrected_file_supersedes_the_earlier_load(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_bad_input import set_cell, write_xlsx

    first = write_xlsx(small, tmp_path / "v1.xlsx")
    fixed = write_xlsx(set_cell(small, 0, "AT en 1er règlement", "1000"), tmp_path / "v2.xlsx")
    assert cli("ingest", "carsat-mp", first, "-w", wh).exit_code == 0
    # a script must say --yes: without it, the plan is shown and nothing is written
    before = snapshot(wh)
    r = cli("ingest", "carsat-mp", fixed, "-w", wh)
    assert r.exit_code == 2 and "--yes" in r.stderr and "modifiées" in r.stderr
    assert snapshot(wh) == before
    r = cli("ingest", "carsat-mp", fixed, "-w", wh, "--json", "--yes")
    rep = json.loads(r.stdout)
    plan = {p["measure"]: p for p in rep["plan"]}
    assert set(plan) == {"at_1er_reglement", "at_risque_non_code"}  # the corrected cell and the remainder it feeds
    p = plan["at_1er_reglement"]
    assert (p["added"], p["removed"], p["changed"]) == (0, 0, 1)
    assert p["total_after"] - p["total_before"] == 1000 - float(small["AT en 1er règlement"][0])
    assert rep["outcome"] == "loaded" and rep["load_id"] == 2 and rep["supersedes"] == [1]
    with open_warehouse(wh) as w:
        loads = w.loads()
        assert loads.select("load_id", "current").rows() == [(1, False), (2, True)]
        assert w.scan_facts("carsat-mp", "at").collect()["load_id"].unique().to_list() == [2]
    # the earlier load stays in history, on disk
    assert len(list((wh / "facts").rglob("*.parquet"))) == 2
    out = restricted(tmp_path / "r.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", out, "-s", "ensemble").exit_code == 0
    reg = pl.read_parquet(out).filter(
        (pl.col("indicator") == "at_1er_reglement") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )
    at = small["AT en 1er règlement"].cast(pl.Float64)
    assert reg["value"].item() == at.sum() - at[0] + 1000
    # ingesting the first file again makes it current again (a new load, history kept)
    rep = json.loads(cli("ingest", "carsat-mp", first, "-w", wh, "--json", "--yes").stdout)
    assert rep["outcome"] == "loaded" and rep["supersedes"] == [2]


def test_another_year_does_not_supersede(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_bad_input import write_xlsx

    a = write_xlsx(small, tmp_path / "a.xlsx")
    b = write_xlsx(small, tmp_path / "b.xlsx", title="Risque Accident du travail 2023 par CTN et code NAF", sheet="AT 2023")
    assert cli("ingest", "carsat-mp", a, "-w", wh).exit_code == 0
    rep = json.loads(cli("ingest", "carsat-mp", b, "-w", wh, "--json").stdout)
    assert rep["years"] == [2023] and rep["supersedes"] == []
    with open_warehouse(wh) as w:
        assert w.loads()["current"].to_list() == [True, True]


@pytest.mark.parametrize("point", ["after-data-write:raise", "before-commit:raise", "inside-commit:raise"])
def test_failure_in_the_middle_leaves_the_warehouse_as_it_was(cli, wh, point, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    before, cat = snapshot(wh), catalogue(wh)
    monkeypatch.setenv("PRST_FAULT", point)
    with pytest.raises(RuntimeError, match="fault injected"):
        cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh)
    monkeypatch.delenv("PRST_FAULT")
    assert catalogue(wh) == cat
    # the orphan Parquet file is invisible, then removed by the next command that writes
    with open_warehouse(wh) as w:
        assert w.current_parts()["source"].to_list() == ["ameli-at"]
    with open_warehouse(wh, write=True):
        pass
    after = snapshot(wh)
    assert {k for k in after if k.startswith("facts")} == {k for k in before if k.startswith("facts")}
    assert catalogue(wh) == cat


def test_killed_ingest_leaves_the_warehouse_as_it_was(cli, wh) -> None:  # type: ignore[no-untyped-def]
    """A kill -9 after the data files are written but before the load is recorded."""
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    cat = catalogue(wh)
    env = dict(os.environ, PRST_FAULT="after-data-write")
    p = subprocess.run(
        [sys.executable, "-m", "prst_etl", "ingest", "carsat-mp", str(CARSAT / "communes-2024-extrait.xlsx"), "-w", str(wh)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 137, p.stderr
    assert any("carsat-mp" in str(f) for f in (wh / "facts").rglob("*.parquet"))  # the data was written…
    assert catalogue(wh) == cat  # … but never recorded
    r = cli("loads", "-w", wh, "--json")
    assert [x["source"] for x in json.loads(r.stdout)] == ["ameli-at"]
    # and the next ingest works and cleans up
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    with open_warehouse(wh) as w:
        assert sorted(w.current_parts()["source"].to_list()) == ["ameli-at", "carsat-mp"]
    assert len(list((wh / "facts").rglob("*.parquet"))) == 2


def test_second_writer_gets_warehouse_in_use(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    before = snapshot(wh)
    lock = _FileLock(wh / ".lock")
    lock.acquire()  # another process writing
    try:
        r = cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh)
        assert r.exit_code == 3
        assert "en cours d'utilisation" in r.stderr
        with pytest.raises(WarehouseBusy):
            with open_warehouse(wh, write=True):
                pass
    finally:
        lock.release()
    assert snapshot(wh) == before
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0


def test_lock_held_by_another_process(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time; from prst_etl.warehouse import _FileLock; from pathlib import Path;"
         "l=_FileLock(Path(sys.argv[1])); l.acquire(); print('ok', flush=True); time.sleep(30)", str(wh / ".lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ok"
        r = cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh)
        assert r.exit_code == 3 and f"pid {holder.pid}" in r.stderr.replace("\n", " ")
    finally:
        holder.kill()
        holder.wait()


def test_warehouse_location_from_environment(cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "ailleurs"
    r = cli("ingest", "ameli-at", NATIONAL, env={"PRST_WAREHOUSE": str(target)})
    assert r.exit_code == 0
    assert (target / "prst.duckdb").exists()
    monkeypatch.chdir(tmp_path)
    assert cli("ingest", "ameli-at", NATIONAL, "--dry-run").exit_code == 0
    assert not (tmp_path / "warehouse").exists()


def test_default_warehouse_is_in_the_working_directory(cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx").exit_code == 0
    assert (tmp_path / "warehouse" / "prst.duckdb").exists()
    r = cli("export", "--level", "departement", "--format", "csv", "--secret")
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "warehouse/exports/prst_departement_toutes-annees.csv").exists()
    assert (tmp_path / "warehouse/exports/prst_departement_toutes-annees_secret-audit.csv").exists()


def test_missing_warehouse_is_a_clear_error(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("export", "--no-secret", "--level", "region", "-w", wh)
    assert r.exit_code == 3
    assert "Aucun entrepôt prst" in r.stderr
    assert not wh.exists()


def test_refuses_a_folder_that_is_not_a_warehouse(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mes-documents"
    folder.mkdir()
    (folder / "rapport.docx").write_text("x")
    r = cli("ingest", "ameli-at", NATIONAL, "-w", folder)
    assert r.exit_code == 3 and "pas un entrepôt prst" in r.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["rapport.docx"]


def test_migrations_are_recorded(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        rows = con.sql("SELECT version, name FROM prst_migrations ORDER BY version").fetchall()
        assert rows[0] == (1, "initial catalogue: loads, parts, events")
        fmt = con.sql("SELECT value FROM prst_meta WHERE key = 'format_version'").fetchall()
        assert fmt == [(str(rows[-1][0]),)]
    finally:
        con.close()
