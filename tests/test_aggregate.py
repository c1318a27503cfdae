"""prst aggregate: incremental, atomic; sources of a series combined with their coverage; SPSTI perimeters."""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from conftest import CARSAT, FIXTURES, restricted
from prst_etl.testing import samples
from prst_etl.warehouse import open_warehouse

PERIMETRES = FIXTURES / "sources/spsti-perimetres/exemple.csv"


def agg_rows(wh) -> list[tuple]:  # type: ignore[no-untyped-def]
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        return con.sql("SELECT load_id, table_name, year, geo_level, path FROM aggregates ORDER BY ALL").fetchall()
    finally:
        con.close()


def export(cli, wh, level, out, *extra) -> pl.DataFrame:  # type: ignore[no-untyped-def]
    r = cli("export", "--level", level, "-w", wh, "-o", out, "--no-secret", *extra)
    assert r.exit_code == 0, r.stdout + r.stderr
    return pl.read_parquet(restricted(out))


def totals(df: pl.DataFrame, indicator: str) -> pl.DataFrame:
    return df.filter(
        (pl.col("indicator") == indicator) & (pl.col("sector_level") == "ensemble") & (pl.col("ctn") == "_T")
        & (pl.col("risk_family") == "_T") & (pl.col("sex") == "_T") & (pl.col("age_band") == "_T")
    )  # fmt: skip


def test_aggregate_is_incremental(cli, wh, tmp_path, small) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    first = json.loads(cli("aggregate", "-w", wh, "--json").stdout)
    assert {r["geo_level"] for r in first["computed"]} == {"commune", "zone-emploi", "departement", "region"}
    before = agg_rows(wh)
    # nothing new: nothing done
    again = cli("aggregate", "-w", wh)
    assert again.exit_code == 0 and "rien à recalculer" in again.stdout
    assert agg_rows(wh) == before
    # a new load recomputes only what it touches
    assert cli("ingest", "carsat-lr", _lr_file(tmp_path), "-w", wh).exit_code == 0
    second = json.loads(cli("aggregate", "-w", wh, "--json").stdout)
    assert {(r["source"], r["geo_level"]) for r in second["computed"]} == {("carsat-lr", "departement"), ("carsat-lr", "region")}
    assert set(before) <= set(agg_rows(wh))


def _lr_file(tmp_path, drop: str | None = None):  # type: ignore[no-untyped-def]
    """A small département-level Carsat Languedoc-Roussillon file (optionally without one département)."""
    nat = samples.read_national(CARSAT.parent / "ameli-at/2024-stat-nationales-at-ctn-naf.xlsx")
    df = samples.to_departements(samples.spread_over_communes(nat, "carsat-lr", seed=9))
    df = df.filter(pl.col("AT en 1er règlement") > 0).group_by("Département").head(15)
    if drop:
        df = df.filter(pl.col("Département") != drop)
    return samples.write_workbook(df, tmp_path / f"lr-{drop or 'all'}.xlsx", year=2024)


def test_interrupted_aggregate_leaves_the_warehouse_as_it_was(cli, wh, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    for point in ("after-aggregate-write:raise", "inside-aggregate-commit:raise"):
        monkeypatch.setenv("PRST_FAULT", point)
        with pytest.raises(RuntimeError):
            cli("aggregate", "-w", wh)
        monkeypatch.delenv("PRST_FAULT")
        assert agg_rows(wh) == []
    with open_warehouse(wh, write=True):
        pass  # the next writer removes the orphan files
    assert not (wh / "aggregates").exists() or not any((wh / "aggregates").rglob("*.parquet"))
    assert cli("aggregate", "-w", wh).exit_code == 0 and len(agg_rows(wh)) == 4


def test_export_brings_stale_aggregates_up_to_date(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    assert cli("aggregate", "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", _lr_file(tmp_path), "-w", wh).exit_code == 0
    r = cli("export", "-l", "region", "-w", wh, "-o", tmp_path / "r.parquet", "--no-secret")
    assert r.exit_code == 0 and "Agrégats mis à jour d'abord" in r.stderr
    r = cli("export", "-l", "region", "-w", wh, "-o", tmp_path / "r.parquet", "--no-secret")
    assert "mis à jour" not in r.stderr


def test_two_caisses_make_the_region_and_a_missing_departement_is_partial(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    mp = samples.spread_over_communes(samples.read_national(CARSAT.parent / "ameli-at/2024-stat-nationales-at-ctn-naf.xlsx"), "carsat-mp", seed=4)
    mp = mp.filter(pl.col("AT en 1er règlement") > 0).head(400)
    mp_file = samples.write_workbook(mp, tmp_path / "mp.xlsx", year=2024)
    assert cli("ingest", "carsat-mp", mp_file, "-w", wh).exit_code == 0  # commune level
    assert cli("ingest", "carsat-lr", _lr_file(tmp_path, drop="48"), "-w", wh).exit_code == 0  # département level, no Lozère
    reg = totals(export(cli, wh, "region", tmp_path / "r.parquet", "-s", "ensemble"), "at_1er_reglement")
    dep = totals(export(cli, wh, "departement", tmp_path / "d.parquet"), "at_1er_reglement")
    (row,) = reg.iter_rows(named=True)
    assert row["sources"] == "carsat-lr+carsat-mp"
    assert row["coverage"] == "partiel : 12/13 départements"
    assert row["value"] == dep["value"].sum()  # a commune-level and a département-level source mix at département level and above
    assert set(dep["coverage"]) == {"complet"}
    assert "48" not in set(dep["geo_code"])


@pytest.fixture(scope="module")
def perimeters(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The SPSTI perimeters and the same generated Carsat Midi-Pyrénées communes (Ariège and
    Haute-Garonne: the 20 communes that move from 31-B to 31-A on 1 January 2024 are there) for
    2023 and 2024, aggregated once; read by the tests below (exports write outside it)."""
    from conftest import Cli

    cli, tmp = Cli(), tmp_path_factory.mktemp("perimeters")
    wh = tmp / "warehouse"
    nat = samples.read_national(CARSAT.parent / "ameli-at/2024-stat-nationales-at-ctn-naf.xlsx")
    mp = samples.spread_over_communes(nat, "carsat-mp", seed=6, old_codes=False)
    mp = mp.filter(pl.col("Code commune").str.slice(0, 2).is_in(["09", "31"]))
    # the perimeters of those two départements (title lines kept): a third of the file, as quick to load
    lines = PERIMETRES.read_text(encoding="utf-8").splitlines(keepends=True)
    perimeters = tmp / "perimetres.csv"
    perimeters.write_text("".join(lines[:3] + [x for x in lines[3:] if x.split(";")[3][:2] in ("09", "31")]), encoding="utf-8")
    assert cli("ingest", "spsti-perimetres", perimeters, "-w", wh).exit_code == 0
    for year in (2023, 2024):  # CSV: written and read in a fraction of the time of a workbook
        assert cli("ingest", "carsat-mp", samples.write_csv(mp, tmp / f"mp{year}.csv", year=year), "-w", wh).exit_code == 0
    assert cli("aggregate", "-w", wh).exit_code == 0
    return wh, mp, perimeters


def test_spsti_perimeters(cli, perimeters, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh, mp, file = perimeters
    sp = export(cli, wh, "spsti", tmp_path / "s.parquet", "-s", "ensemble", "-y", "2024")
    perim = pl.read_csv(file, separator=";", skip_rows=2, schema_overrides={"Code commune": pl.String})
    # valid in 2024: the 20 communes moved on 1 January 2024 belong to 31-A, no longer to 31-B
    valid = perim.filter(~((pl.col("Code SPSTI") == "SPSTI-31-B") & pl.col("Date de fin").is_not_null()))
    # the file's communes are current codes (old_codes=False): sum them straight from the input
    at = mp.group_by("Code commune").agg(pl.col("AT en 1er règlement").sum().alias("value"))
    want = valid.join(at, on="Code commune").group_by("Code SPSTI").agg(pl.col("value").sum())
    got = totals(sp, "at_1er_reglement")
    inter = want.filter(~pl.col("Code SPSTI").str.contains("BTP"))
    assert set(inter["Code SPSTI"]) >= {"SPSTI-09-A", "SPSTI-31-A", "SPSTI-31-B"}
    # each interprofessional service gets the full sum of its communes of 2024 (perimeters overlap the BTP ones)
    joined = inter.join(got.select(pl.col("geo_code").alias("Code SPSTI"), pl.col("value").alias("got")), on="Code SPSTI")
    assert joined.height == inter.height and (joined["value"] == joined["got"]).all()
    # a BTP service counts construction (NAF section F) only
    btp = got.filter(pl.col("geo_code") == "SPSTI-BTP-MP")["value"].item()
    f_rows = mp.filter(pl.col("Code NAF").str.slice(0, 2).is_in(["41", "42", "43"]))["AT en 1er règlement"].sum()
    assert btp == f_rows > 0
    # SPSTI totals are never added into the région, and labels come from the perimeter file
    assert got.filter(pl.col("geo_code") == "SPSTI-31-A")["geo_label"].item().startswith("Service de prévention")
    reg = totals(export(cli, wh, "region", tmp_path / "r.parquet", "-s", "ensemble", "-y", "2024"), "at_1er_reglement")["value"].item()
    assert got["value"].sum() > reg  # overlapping perimeters: their sum exceeds the région's total


def test_perimeter_valid_that_year(cli, perimeters, tmp_path) -> None:  # type: ignore[no-untyped-def]
    wh, _, _ = perimeters
    sp = totals(export(cli, wh, "spsti", tmp_path / "s.parquet", "-s", "ensemble"), "salaries")
    by = {(r["geo_code"], r["year"]): r["value"] for r in sp.iter_rows(named=True)}
    # same data both years, but 20 communes moved from 31-B to 31-A on 1 January 2024
    assert by[("SPSTI-31-A", 2024)] > by[("SPSTI-31-A", 2023)]
    assert by[("SPSTI-31-A", 2024)] - by[("SPSTI-31-A", 2023)] == by[("SPSTI-31-B", 2023)] - by[("SPSTI-31-B", 2024)]
    assert by[("SPSTI-09-A", 2024)] == by[("SPSTI-09-A", 2023)]


def test_nothing_derived_downwards(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-lr", _lr_file(tmp_path), "-w", wh).exit_code == 0
    for level in ("commune", "zone-emploi"):
        out = restricted(tmp_path / f"{level}.parquet")
        r = cli("export", "-l", level, "-w", wh, "-o", out, "--no-secret")
        assert r.exit_code == 0 and "ne peut pas en être déduit" in r.stderr
        assert pl.read_parquet(out).height == 0
    # and a regional source gives no France total
    r = cli("export", "-l", "france", "-w", wh, "-o", restricted(tmp_path / "fr.parquet"), "--no-secret")
    assert "pas de total France" in r.stderr and pl.read_parquet(restricted(tmp_path / "fr.parquet")).height == 0


def test_rates_ci_and_significance(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    df = export(cli, wh, "commune", tmp_path / "c.parquet", "-s", "ensemble")
    tf = totals(df, "at_tf")
    at = totals(df, "at_1er_reglement").select("geo_code", pl.col("value").alias("k"))
    h = totals(df, "heures_travaillees").select("geo_code", pl.col("value").alias("h"))
    j = tf.join(at, on="geo_code").join(h, on="geo_code")
    ok = j.filter(pl.col("value").is_not_null())
    assert ((ok["value"] - ok["k"] / ok["h"] * 1e6).abs() < 1e-9).all()
    assert ((ok["ci_low"] <= ok["value"]) & (ok["value"] <= ok["ci_high"])).all()
    # below the minimum denominator the rate is flagged « ns » (non significatif), its value kept
    small = j.filter(pl.col("h") < 3_000_000)
    assert small.height > 0 and set(small["status"]) == {"ns"} and small["value"].is_not_null().all()
    from scipy.stats import chi2

    r = ok.row(0, named=True)
    assert r["ci_high"] == pytest.approx(chi2.ppf(0.975, 2 * r["k"] + 2) / 2 / r["h"] * 1e6)
    # a share gets a Wilson interval inside [0, 100]
    part = df.filter((pl.col("indicator") == "part_at_risque") & pl.col("value").is_not_null())
    assert part.height and (part["ci_low"] >= 0).all() and (part["ci_high"] <= 100).all()
    assert "_T" not in set(part["risk_family"])


def test_own_level_cube_built_by_groups_equals_the_whole(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The commune cube is built département by département to save memory: same cells as in one go."""
    from prst_etl.pipeline.aggregate import cube, write_cube
    from prst_etl.reference.territories import spsti_map
    from prst_etl.sources import get_source

    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    with open_warehouse(wh) as w:
        part = w.current_parts().filter(pl.col("table_name") == "at")["path"].item()
        facts = pl.scan_parquet(w.abs(part))
    assert facts.select(pl.col("geo_code").str.slice(0, 2).n_unique()).collect().item() > 1
    spec = get_source("carsat-mp").table("at")
    spsti = spsti_map(None, 2024)
    write_cube(facts, spec, "commune", "commune", spsti, tmp_path / "grouped.parquet", grouped_from=0)
    grouped = pl.read_parquet(tmp_path / "grouped.parquet")
    whole = cube(facts, spec, "commune", "commune", spsti).collect()
    keys = [c for c in whole.columns if whole[c].dtype == pl.String or c == "year"]
    assert grouped.height == whole.height > 0
    assert grouped.sort(keys).equals(whole.select(grouped.columns).sort(keys))
