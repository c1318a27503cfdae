"""The warehouse's files read from outside: a glob over ``facts/current/`` never counts a year twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import FIXTURES, restricted
from prst_etl.warehouse import open_warehouse

FROZEN_V3 = FIXTURES / "warehouses/format-3"


def glob_total(wh: Path, pattern: str = "facts/current/carsat-mp/at/**/*.parquet") -> dict[int, float]:
    """What an outside reader gets: DuckDB over a glob, with Hive partitions."""
    rows = duckdb.sql(
        f"SELECT year, sum(at_1er_reglement) FROM read_parquet('{wh / pattern}', hive_partitioning = true) GROUP BY year"
    ).fetchall()
    return {int(y): float(v) for y, v in rows}


def files(wh: Path, tree: str) -> list[str]:
    return sorted(p.relative_to(wh / "facts" / tree).as_posix() for p in (wh / "facts" / tree).rglob("*.parquet"))


@pytest.fixture
def two_versions(small, tmp_path) -> tuple[Path, Path, float]:  # type: ignore[no-untyped-def]
    from test_bad_input import set_cell, write_xlsx

    first = write_xlsx(small, tmp_path / "v1.xlsx")
    fixed = write_xlsx(set_cell(small, 0, "AT en 1er règlement", "1000"), tmp_path / "v2.xlsx")
    at = small["AT en 1er règlement"].cast(pl.Float64)
    return first, fixed, float(at.sum() - at[0] + 1000)


def test_a_glob_over_current_facts_gives_the_corrected_totals(cli, wh, small, two_versions) -> None:  # type: ignore[no-untyped-def]
    first, fixed, corrected = two_versions
    assert cli("ingest", "carsat-mp", first, "-w", wh).exit_code == 0
    original = float(small["AT en 1er règlement"].cast(pl.Float64).sum())
    assert glob_total(wh) == {2024: original}
    assert cli("ingest", "carsat-mp", fixed, "-w", wh, "--yes").exit_code == 0
    # the corrected year once, not twice; the superseded part kept under history/
    assert glob_total(wh) == {2024: corrected}
    assert files(wh, "current") == ["carsat-mp/at/year=2024/load-2.parquet"]
    assert files(wh, "history") == ["carsat-mp/at/year=2024/load-1.parquet"]
    assert files(wh, "staging") == []
    assert glob_total(wh, "facts/history/carsat-mp/at/**/*.parquet") == {2024: original}
    # the catalogue and its Parquet copy name the files where they are
    parts = pl.read_parquet(wh / "catalogue/parts.parquet").sort("load_id")
    assert parts.select("path", "current").rows() == [
        ("facts/history/carsat-mp/at/year=2024/load-1.parquet", False),
        ("facts/current/carsat-mp/at/year=2024/load-2.parquet", True),
    ]
    # the past state is still read from history/
    out = restricted(wh.parent / "avant.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", out, "-s", "ensemble", "--as-of", "1").exit_code == 0
    reg = pl.read_parquet(out).filter(
        (pl.col("indicator") == "at_1er_reglement") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )
    assert reg["value"].item() == original


def test_a_revert_moves_the_parts_back(cli, wh, small, two_versions) -> None:  # type: ignore[no-untyped-def]
    first, fixed, corrected = two_versions
    cli("ingest", "carsat-mp", first, "-w", wh)
    cli("ingest", "carsat-mp", fixed, "-w", wh, "--yes")
    assert cli("loads", "revert", "2", "-w", wh).exit_code == 0
    assert files(wh, "current") == ["carsat-mp/at/year=2024/load-1.parquet"]
    assert files(wh, "history") == ["carsat-mp/at/year=2024/load-2.parquet"]
    assert glob_total(wh) == {2024: float(small["AT en 1er règlement"].cast(pl.Float64).sum())}


def test_a_move_interrupted_after_the_commit_is_finished_by_the_next_writer(cli, wh, two_versions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first, fixed, corrected = two_versions
    cli("ingest", "carsat-mp", first, "-w", wh)
    monkeypatch.setenv("PRST_FAULT", "after-commit:raise")
    with pytest.raises(RuntimeError, match="fault injected"):
        cli("ingest", "carsat-mp", fixed, "-w", wh, "--yes")
    monkeypatch.delenv("PRST_FAULT")
    # recorded, not moved yet: readers find the files where they are
    assert files(wh, "staging") == ["carsat-mp/at/year=2024/load-2.parquet"]
    with open_warehouse(wh) as w:
        assert w.scan_facts("carsat-mp", "at").select(pl.col("at_1er_reglement").sum()).collect().item() == corrected
    # the next command that writes finishes the move before anything else
    with open_warehouse(wh, write=True):
        pass
    assert files(wh, "staging") == []
    assert files(wh, "current") == ["carsat-mp/at/year=2024/load-2.parquet"]
    assert glob_total(wh) == {2024: corrected}


def test_the_layout_migration_moves_the_files_of_an_older_warehouse(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Format 3 (one folder per year, current and superseded parts side by side): loads 1, 3, 4
    of 2024 (4 reverted, so 3 is current) and load 2 of 2023."""
    wh = tmp_path / "old"
    shutil.copytree(FROZEN_V3, wh)
    old = sorted(p.relative_to(wh / "facts").as_posix() for p in (wh / "facts").rglob("*.parquet"))
    assert old == [f"carsat-mp/at/year=2023/load-2.parquet"] + [f"carsat-mp/at/year=2024/load-{i}.parquet" for i in (1, 3, 4)]
    with open_warehouse(wh) as w:  # a reader: the writer it calls migrates first
        assert w.format_version() >= 4
        paths = w.query("SELECT load_id, path FROM load_parts ORDER BY load_id").rows()
        current = w.current_parts()["load_id"].to_list()
    assert current == [2, 3]
    assert paths == [
        (1, "facts/history/carsat-mp/at/year=2024/load-1.parquet"),
        (2, "facts/current/carsat-mp/at/year=2023/load-2.parquet"),
        (3, "facts/current/carsat-mp/at/year=2024/load-3.parquet"),
        (4, "facts/history/carsat-mp/at/year=2024/load-4.parquet"),
    ]
    assert all((wh / p).exists() for _, p in paths)
    assert sorted(p.name for p in (wh / "facts").iterdir()) == ["current", "history"]  # the old folders are gone
    assert set(pl.read_parquet(wh / "catalogue/parts.parquet")["path"]) == {p for _, p in paths}
    totals = glob_total(wh)
    assert sorted(totals) == [2023, 2024]
    with open_warehouse(wh) as w:
        assert totals[2024] == w.scan_facts("carsat-mp", "at", [2024]).select(pl.col("at_1er_reglement").sum()).collect().item()
    # the reverted load's state is still readable
    out = restricted(tmp_path / "etat-4.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", out, "-s", "ensemble", "-y", "2024", "--as-of", "4").exit_code == 0
    reg = pl.read_parquet(out).filter(
        (pl.col("indicator") == "at_1er_reglement") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T")
    )
    assert reg["value"].item() == totals[2024] + 1000  # load 4 set the first cell to 2000, load 3 to 1000
