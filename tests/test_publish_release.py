"""``prst publish``: a release any engine reads, described by a valid Data Package, byte-identical
when published again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from prst_etl import __version__


@pytest.fixture(scope="session")
def published(released, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from prst_etl.publish.release import publish

    out = tmp_path_factory.mktemp("publish") / "r1"
    publish("r1", out, warehouse=released)
    return out


def frictionless_validate(target):  # type: ignore[no-untyped-def]
    """frictionless-py reads Parquet through pandas, row by row; with the text columns of pandas 3
    (Arrow strings) that is twice as slow as with Python strings, which its reader expects."""
    import warnings

    import pandas as pd
    from frictionless import Package, validate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pd.option_context("future.infer_string", False):
            return validate(target) if not isinstance(target, tuple) else Package(target[0]).get_resource(target[1]).validate()


def files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_duckdb_reads_the_totals_of_prst_export(cli, released, published, tmp_path) -> None:  # type: ignore[no-untyped-def]
    got = duckdb.sql(
        f"SELECT geo_level, year, indicator, count(*) AS n, count(value) AS nv, sum(value) AS total "
        f"FROM read_parquet('{published}/data/**/*.parquet', hive_partitioning = true) GROUP BY ALL"
    ).pl()
    levels = sorted(set(got["geo_level"]))
    assert levels == ["departement", "region", "zone-emploi"]  # communes are not published under secrecy; no SPSTI here
    exports = []
    for level in levels:
        out = tmp_path / f"{level}.parquet"
        assert cli("export", "-l", level, "-w", released, "-o", out, "--secret", "--as-of", "r1").exit_code == 0
        exports.append(pl.read_parquet(out))
    want = pl.concat(exports, how="diagonal_relaxed").group_by("geo_level", "year", "indicator").agg(
        pl.len().alias("n"), pl.col("value").count().alias("nv"), pl.col("value").sum().alias("total")
    )
    j = got.with_columns(pl.col("year").cast(pl.Int32)).join(want, on=["geo_level", "year", "indicator"], how="full", coalesce=True)
    assert j.height == got.height == want.height
    assert j.filter((pl.col("n") != pl.col("n_right")) | (pl.col("nv") != pl.col("nv_right"))).height == 0
    assert j.filter((pl.col("total") - pl.col("total_right")).abs() > 1e-9 * pl.col("total_right").abs()).height == 0
    # hidden cells are published without a value
    hidden = duckdb.sql(f"SELECT count(*), count(value) FROM read_parquet('{published}/data/**/*.parquet') "
                        "WHERE status IN ('secret', 'secret-secondaire')").fetchall()  # fmt: skip
    assert hidden[0][0] > 0 and hidden[0][1] == 0


def test_pyarrow_dataset_reads_the_partitions(published) -> None:  # type: ignore[no-untyped-def]
    d = ds.dataset(published / "data", format="parquet", partitioning="hive")
    assert d.schema.names[-2:] == ["geo_level", "year"]  # from the path, not from the files
    assert "geo_level" not in pq.read_schema(next((published / "data").rglob("*.parquet"))).names
    t = d.to_table(filter=(ds.field("geo_level") == "departement") & (ds.field("year") == 2024))
    manifest = json.loads((published / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["path"] == "data/geo_level=departement/year=2024/part-0.parquet")
    assert t.num_rows == entry["rows"] > 0
    assert d.count_rows() == manifest["rows"]


def test_files_are_sorted_with_statistics(published) -> None:  # type: ignore[no-untyped-def]
    path = published / "data/geo_level=departement/year=2024/part-0.parquet"
    meta = pq.ParquetFile(path).metadata
    rg = meta.row_group(0)
    assert rg.column(0).statistics is not None and rg.column(0).statistics.has_min_max
    assert [meta.schema.column(c.column_index).name for c in rg.sorting_columns][:3] == ["geo_code", "sector_level", "sector_code"]
    df = pl.read_parquet(path)
    key = ["geo_code", "sector_level", "sector_code", "sex", "age_band", "indicator"]
    extras = [c for c in df.columns if c not in (*key, "geo_label", "sector_label", "value", "status", "ci_low", "ci_high", "coverage", "sources")]
    full = key[:5] + extras + ["indicator"]
    assert df.equals(df.sort(full)) and not df.select(pl.struct(full).is_duplicated().any()).item()


def test_the_package_is_valid_for_frictionless(published) -> None:  # type: ignore[no-untyped-def]
    report = frictionless_validate(published / "datapackage.json")
    assert report.valid, report.flatten(["resourcePath", "type", "note"])[:5]
    dp = json.loads((published / "datapackage.json").read_text())
    assert dp["$schema"].startswith("https://datapackage.org/profiles/2.0/")
    assert dp["licenses"][0]["name"] == "etalab-2.0" and dp["sources"]
    res = {r["name"]: r for r in dp["resources"]}
    dep = res["departement-2024"]
    assert dep["schema"]["primaryKey"] == ["geo_code", "sector_level", "sector_code", "sex", "age_band", "ctn", "risk_family",
                                           "size_band", "indicator"]  # the source dimensions of the tables published
    assert dep["prst:partition"] == {"geo_level": "departement", "year": 2024}
    sha = hashlib.sha256((published / dep["path"]).read_bytes()).hexdigest()
    assert dep["hash"] == f"sha256:{sha}"
    assert "indicateurs" in res and (published / "indicateurs.csv").exists()


def test_a_broken_file_makes_the_package_invalid(published, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The validation checks something: a file with a duplicated row fails it."""
    import shutil

    copy = tmp_path / "copie"
    shutil.copytree(published, copy)
    path = copy / "data/geo_level=departement/year=2024/part-0.parquet"
    df = pl.read_parquet(path)
    pq.write_table(pl.concat([df, df.head(1)]).to_arrow(), path)
    report = frictionless_validate((copy / "datapackage.json", "departement-2024"))
    assert not report.valid
    assert {"primary-key", "row-count"} <= {e[0] for e in report.flatten(["type"])}


def test_the_manifest_says_where_every_figure_comes_from(published, released) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.warehouse import open_warehouse

    m = json.loads((published / "manifest.json").read_text())
    assert m["release"]["name"] == "r1" and m["release"]["note"] == "publication de test"
    assert m["published_with"]["prst_version"] == __version__
    assert m["reference"] == {"cog": 2025, "zones_emploi": 2020, "naf": "NAF rév. 2"}
    with open_warehouse(released) as w:
        loads = w.loads()
    assert [x["sha256"] for x in m["loads"]] == loads.sort("load_id")["sha256"].to_list()
    assert [x["source"] for x in m["loads"]] == ["carsat-mp", "urssaf", "urssaf-taille"]
    for f in m["files"]:
        data = (published / f["path"]).read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
    assert m["rows"] == sum(f["rows"] for f in m["files"] if f["path"].startswith("data/"))
    assert m["secrecy"]["applied"] is True


def test_publishing_again_gives_the_same_bytes(cli, released, published, tmp_path) -> None:  # type: ignore[no-untyped-def]
    again = tmp_path / "again"
    r = cli("publish", "r1", "-w", released, "-o", again, "--json")
    assert r.exit_code == 0, r.stderr
    assert files(again) == files(published)
    # into the same folder: replaced by the same bytes, nothing left beside it
    r = cli("publish", "r1", "-w", released, "-o", again)
    assert r.exit_code == 0 and files(again) == files(published)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]


def test_json_equals_the_library_result(cli, released, published, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.publish.release import publish

    r = cli("publish", "r1", "-w", released, "-o", tmp_path / "a", "--json")
    lib = publish("r1", tmp_path / "b", warehouse=released).to_dict()
    got = json.loads(r.stdout)
    assert {k: v for k, v in got.items() if k != "output"} == {k: v for k, v in lib.items() if k != "output"}
    assert got["rows"] > 0 and len(got["files"]) >= 4


def test_publish_refuses_an_unknown_release_and_a_foreign_folder(cli, released, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("publish", "r9", "-w", released, "-o", tmp_path / "x")
    assert r.exit_code == 2 and "r9" in r.stderr and "r1" in r.stderr
    other = tmp_path / "documents"
    other.mkdir()
    (other / "rapport.docx").write_text("…")
    r = cli("publish", "r1", "-w", released, "-o", other)
    assert r.exit_code == 3 and "pas une publication" in r.stderr
    assert [p.name for p in other.iterdir()] == ["rapport.docx"]
