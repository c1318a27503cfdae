"""Releases, time travel, revert, migrations, and diff-years."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from conftest import CARSAT, FIXTURES, NATIONAL, restricted
from prst_etl.testing import samples

FROZEN_V1 = FIXTURES / "warehouses/format-1"


@functools.cache
def _national() -> pl.DataFrame:
    """1 000 rows of the national AT workbook, read once: enough for every département, quick to load."""
    nat = samples.read_national(NATIONAL)
    return nat.sample(n=1000, seed=5).sort(nat.columns[:3])


def _lr(tmp_path: Path, year: int, *, factor: float = 1.0, seed: int = 9) -> Path:
    nat = _national()
    df = samples.to_departements(samples.spread_over_communes(nat, "carsat-lr", seed=seed))
    df = df.filter(pl.col("Nombre de salariés") > 50)
    if factor != 1.0:
        df = df.with_columns((pl.col("AT en 1er règlement") * factor).floor().cast(pl.Int64))
    return samples.write_workbook(df, tmp_path / f"lr-{year}-{factor}-{seed}.xlsx", year=year)


def test_release_export_is_byte_identical_after_later_loads(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    r = cli("release", "create", "diagnostic-2025", "--note", "Chiffres clés", "-w", wh)
    assert r.exit_code == 0 and "diagnostic-2025" in r.stdout
    a = restricted(tmp_path / "a.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", wh, "--as-of", "diagnostic-2025", "-o", a).exit_code == 0
    # later: a corrected file for the same year, another source, another year
    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh, "--yes").exit_code == 0
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2024), "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2023), "-w", wh).exit_code == 0
    b = restricted(tmp_path / "b.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", wh, "--as-of", "diagnostic-2025", "-o", b).exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    cur = restricted(tmp_path / "c.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", wh, "-o", cur).exit_code == 0
    assert cur.read_bytes() != a.read_bytes()
    # as of a load number and as of a date give the same state
    c = restricted(tmp_path / "by-load.parquet")
    assert cli("export", "--no-secret", "-l", "departement", "-w", wh, "--as-of", "1", "-o", c).exit_code == 0
    assert c.read_bytes() == a.read_bytes()
    rel = json.loads(cli("release", "show", "diagnostic-2025", "-w", wh, "--json").stdout)
    assert rel["loads"] == [1] and rel["note"] == "Chiffres clés" and rel["prst_version"]
    assert [x["name"] for x in json.loads(cli("release", "list", "-w", wh, "--json").stdout)] == ["diagnostic-2025"]
    # a release is immutable
    r = cli("release", "create", "diagnostic-2025", "-w", wh)
    assert r.exit_code == 3 and "immuable" in r.stderr


def test_as_of_errors_are_clear(cli, wh) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    r = cli("export", "--no-secret", "-l", "region", "-w", wh, "--as-of", "inconnue")
    assert r.exit_code == 2 and "ni une publication" in r.stderr
    r = cli("export", "--no-secret", "-l", "region", "-w", wh, "--as-of", "2001-01-01")
    assert r.exit_code == 2 and "vide" in r.stderr


def test_revert_restores_the_earlier_exports(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2024), "-w", wh).exit_code == 0
    before = restricted(tmp_path / "before.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", before).exit_code == 0
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2024, factor=1.5), "-w", wh, "--yes").exit_code == 0
    changed = restricted(tmp_path / "changed.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", changed).exit_code == 0
    assert changed.read_bytes() != before.read_bytes()
    rep = json.loads(cli("loads", "revert", "2", "-w", wh, "--json", "--note", "erreur").stdout)
    assert rep["restored"] == [1]
    after = restricted(tmp_path / "after.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", after).exit_code == 0
    assert after.read_bytes() == before.read_bytes()
    loads = json.loads(cli("loads", "-w", wh, "--json").stdout)
    assert [(x["load_id"], x["current"], x["reverted"]) for x in loads] == [(1, True, False), (2, False, True)]
    # the history is kept: the reverted state can still be read
    asof = restricted(tmp_path / "asof.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "--as-of", "2", "-o", asof).exit_code == 0
    assert asof.read_bytes() == changed.read_bytes()


def test_revert_refused_while_a_release_needs_it(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2024), "-w", wh).exit_code == 0
    assert cli("release", "create", "observatoire-2026-T2", "-w", wh).exit_code == 0
    r = cli("loads", "revert", "1", "-w", wh)
    assert r.exit_code == 3 and "observatoire-2026-T2" in r.stderr
    assert cli("loads", "revert", "1", "-w", wh, "--force").exit_code == 0
    rel = restricted(tmp_path / "rel.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", wh, "--as-of", "observatoire-2026-T2", "-o", rel).exit_code == 0
    assert pl.read_parquet(rel).height > 0  # the release is still reproducible


def test_a_warehouse_of_an_older_format_opens(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh = tmp_path / "old"
    shutil.copytree(FROZEN_V1, wh)
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    assert con.sql("SELECT value FROM prst_meta").fetchall() == [("1",)]
    con.close()
    out = restricted(tmp_path / "r.parquet")
    r = cli("export", "--no-secret", "-l", "region", "-w", wh, "-o", out)
    assert r.exit_code == 0, r.stderr
    reg = pl.read_parquet(out).filter(
        (pl.col("indicator") == "at_1er_reglement") & (pl.col("sector_level") == "ensemble") & (pl.col("ctn") == "_T")
        & (pl.col("risk_family") == "_T")
    )  # fmt: skip
    assert reg["value"].item() > 0
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        versions = [v for (v,) in con.sql("SELECT version FROM prst_migrations ORDER BY version").fetchall()]
        assert versions[0] == 1 and versions == list(range(1, len(versions) + 1)) and len(versions) >= 3
        assert con.sql("SELECT count(*) FROM loads").fetchall() == [(1,)]
    finally:
        con.close()


def test_diff_years_finds_the_planted_changes(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two generated years: one département with far more accidents, the others with noise."""
    nat = _national()
    base = samples.to_departements(samples.spread_over_communes(nat, "carsat-lr", seed=21))
    y23 = samples.write_workbook(base, tmp_path / "lr23.xlsx", year=2023)
    planted = base.with_columns(
        pl.when(pl.col("Département") == "34").then((pl.col("AT en 1er règlement") * 1.5).floor())
        .otherwise(pl.col("AT en 1er règlement")).cast(pl.Int64).alias("AT en 1er règlement")
    )  # fmt: skip
    # small noise elsewhere: ±1 accident on a few rows of another département
    noise = pl.int_range(pl.len()) % 7 == 0
    planted = planted.with_columns(
        pl.when((pl.col("Département") == "11") & noise & (pl.col("AT en 1er règlement") > 5))
        .then(pl.col("AT en 1er règlement") - 1).otherwise(pl.col("AT en 1er règlement")).alias("AT en 1er règlement")
    )  # fmt: skip
    y24 = samples.write_workbook(planted, tmp_path / "lr24.xlsx", year=2024)
    assert cli("ingest", "carsat-lr", y23, "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", y24, "-w", wh).exit_code == 0
    out = restricted(tmp_path / "d.parquet")
    r = cli("diff-years", "--no-secret", "2023", "2024", "--level", "departement", "--indicator", "at_1er_reglement",
            "--indicator", "at_tf", "-s", "ensemble", "-w", wh, "--format", "parquet", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = pl.read_parquet(out).filter((pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T"))
    sig = d.filter(pl.col("significant"))
    assert set(sig["geo_code"]) == {"34"}  # exactly the planted change
    assert set(sig["indicator"]) == {"at_1er_reglement", "at_tf"}
    assert d.filter(pl.col("geo_code") == "11")["significant"].to_list() == [False, False]  # noise inside the intervals
    assert d["geo_code"][0] == "34"  # the largest significant moves come first
    assert d.filter(pl.col("geo_code").is_in(["30", "48", "66"]))["change"].abs().max() == 0
    # the frequency indicator flags the series break only when the years cross it
    assert d["flags"].fill_null("").str.contains("rupture").sum() == 0
    # the terminal table: the planted change first; rows equal to zero both years stay in the file
    r = cli("diff-years", "--no-secret", "2023", "2024", "--level", "departement", "--indicator", "at_1er_reglement",
            "-s", "ensemble", "-w", wh, "--top", "40")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("│")]
    assert "Hérault" in rows[0] and "oui" in rows[0]
    assert not any(re.search(r"│\s+0 │\s+0 │", line) for line in rows)
    text = " ".join(cli("diff-years", "--no-secret", "2023", "2024", "-l", "departement", "-i", "at_tf", "-s", "ensemble", "-w", wh).stdout.split())
    assert "Hérault" in text and "oui" in text


def test_diff_years_flags_breaks_missing_sources_and_revisions(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2019), "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2021, seed=3), "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh, "--year", "2024").exit_code == 0
    assert cli("release", "create", "avant-revision", "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2021, factor=1.2, seed=3), "-w", wh, "--yes").exit_code == 0
    out = restricted(tmp_path / "d.csv")
    assert cli("diff-years", "--no-secret", "2019", "2021", "-w", wh, "-s", "ensemble", "--format", "csv", "-o", out).exit_code == 0
    d = pl.read_csv(out, separator=";")
    tf = d.filter((pl.col("indicator") == "at_if") & (pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T") & (pl.col("sex") == "_T"))
    assert "rupture de série : 2020" in tf["flags"][0]
    assert "valeur révisée en 2021" in tf["flags"][0]
    # a source present in one year only
    out2 = restricted(tmp_path / "d2.csv")
    assert cli("diff-years", "--no-secret", "2021", "2024", "-w", wh, "-s", "ensemble", "-i", "at_1er_reglement", "--format", "csv", "-o", out2).exit_code == 0
    d2 = pl.read_csv(out2, separator=";").filter((pl.col("ctn") == "_T") & (pl.col("risk_family") == "_T"))
    assert "sources différentes : carsat-lr (2021) / carsat-mp (2024)" in d2["flags"][0]
    assert "couverture différente : partiel : 5/13 départements / partiel : 8/13 départements" in d2["flags"][0]
    # revisions of 2021 between two states, cell by cell
    out3 = restricted(tmp_path / "rev.parquet")
    r = cli("diff-years", "--no-secret", "2021", "2021", "--from", "avant-revision", "--to", "4", "-w", wh, "-s", "ensemble",
            "-i", "at_1er_reglement", "--format", "parquet", "-o", out3)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rev = pl.read_parquet(out3)
    assert rev.height > 0 and (rev["value_2"] > rev["value_1"]).all()
    assert rev["significant"].null_count() == rev.height
    assert rev["flags"].str.contains("révision").all()


def test_dry_run_shows_the_plan_of_a_corrected_file(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-lr", _lr(tmp_path, 2024), "-w", wh).exit_code == 0
    rep = json.loads(cli("ingest", "carsat-lr", _lr(tmp_path, 2024, factor=2.0), "-w", wh, "--dry-run", "--json").stdout)
    plan = {p["measure"]: p for p in rep["plan"]}
    assert plan["at_1er_reglement"]["changed"] > 0 and plan["at_1er_reglement"]["level"] == "departement"
    assert "salaries" not in plan
    with pytest.raises(KeyError):
        plan["heures_travaillees"]
