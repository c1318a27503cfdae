"""``prst_etl.export`` called as a library function (not through the CLI): the result object
says what was written, the files are there with the rows it counts, and the filters keep what
they say. Read from the small warehouses built once per session (tests/shared_warehouses.py)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import shared_warehouses
from prst_etl import export
from prst_etl.errors import UsageError
from prst_etl.pipeline.export import ExportResult, Filters


def test_the_result_says_what_was_written(breakdown: Path, tmp_path: Path) -> None:
    res = export("departement", warehouse=breakdown, secret=False, sector_levels=["ensemble"], output=tmp_path / "d.parquet")
    assert isinstance(res, ExportResult)
    # without secrecy the name says « diffusion restreinte »; nothing else is written beside it
    assert res.path == tmp_path / "d_diffusion-restreinte.parquet"
    assert [p.name for p in tmp_path.iterdir()] == [res.path.name]
    df = pl.read_parquet(res.path)
    assert res.rows == df.height > 0
    assert res.audit is None and res.companions == [] and res.columns is None
    assert set(df["geo_level"].unique()) == {"departement"} and set(df["sector_level"].unique()) == {"ensemble"}
    assert res.sources == sorted(res.sources)
    assert {"carsat-mp", "carsat-lr"} <= set(res.sources)
    assert set(res.sources) == {s for v in df["sources"].drop_nulls().unique() for s in v.split("+")}


def test_a_secret_export_writes_its_audit_beside_it(released: Path, tmp_path: Path) -> None:
    res = export("departement", warehouse=released, output=tmp_path / "d.parquet")
    assert res.path == tmp_path / "d.parquet"  # published: no « diffusion restreinte » in the name
    assert res.audit == tmp_path / "d_secret-audit.parquet" and res.audit.exists()
    df = pl.read_parquet(res.path)
    assert res.rows == df.height > 0
    hidden = df.filter(pl.col("status").is_in(["secret", "secret-secondaire"]))
    assert hidden.height > 0 and hidden["value"].null_count() == hidden.height
    assert pl.read_parquet(res.audit).height > 0


def test_filters_keep_a_subset_of_the_same_rows(breakdown: Path, departements: pl.DataFrame, tmp_path: Path) -> None:
    filters = Filters.of(indicators=["at_tf", "salaries"], codes=["31", "34"], sexes=["_T"])
    res = export("departement", warehouse=breakdown, secret=False, sector_levels=["ensemble"], output=tmp_path / "f.parquet",
                 filters=filters)  # fmt: skip
    part = pl.read_parquet(res.path)
    assert res.rows == part.height > 0
    assert set(part["indicator"].unique()) == {"at_tf", "salaries"}
    assert set(part["geo_code"].unique()) == {"31", "34"} and set(part["sex"].unique()) == {"_T"}
    want = departements.filter(
        pl.col("indicator").is_in(["at_tf", "salaries"]) & pl.col("geo_code").is_in(["31", "34"]) & (pl.col("sex") == "_T")
    )
    key = [c for c in part.columns if c not in ("value", "status", "ci_low", "ci_high", "coverage", "sources")]
    assert part.sort(key).select(want.columns).equals(want.sort(key)), "a filter changes no value"


def test_years_keep_one_year(breakdown: Path, departements: pl.DataFrame, tmp_path: Path) -> None:
    assert set(departements["year"].unique()) >= {2023, 2024}
    res = export("departement", warehouse=breakdown, secret=False, years=[2024], sector_levels=["ensemble"],
                 output=tmp_path / "y.parquet", filters=Filters.of(indicators=["salaries"]))  # fmt: skip
    df = pl.read_parquet(res.path)
    assert set(df["year"].unique()) == {2024} and res.rows == df.height
    assert df.height == departements.filter((pl.col("year") == 2024) & (pl.col("indicator") == "salaries")).height


def test_csv_for_excel(breakdown: Path, tmp_path: Path) -> None:
    res = export("region", warehouse=breakdown, secret=False, fmt="csv", excel=True, sector_levels=["ensemble"],
                 output=tmp_path / "r.csv", filters=Filters.of(indicators=["at_tf"]))  # fmt: skip
    raw = res.path.read_bytes()
    assert res.path.suffix == ".csv" and raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM
    df = pl.read_csv(res.path, separator=";", infer_schema=False)
    assert df.filter(pl.col("indicator") == "at_tf").height == res.rows > 0
    assert df["value"].drop_nulls().str.contains(",").any() and not df["value"].drop_nulls().str.contains(r"\.").any()


def test_the_wide_shape_gives_one_row_per_territory(breakdown: Path, tmp_path: Path) -> None:
    res = export("departement", warehouse=breakdown, secret=False, shape="wide", years=[2024], output=tmp_path / "w.parquet",
                 filters=Filters.of(indicators=["at_tf", "salaries"], sexes=["_T"], age_bands=["_T"]))  # fmt: skip
    df = pl.read_parquet(res.path)
    assert df.height == res.rows and df["geo_code"].is_unique().all()
    assert res.columns is not None and res.columns >= 2 and "at_tf_2024" in df.columns
    assert [p.name for p in res.companions] == [f"w_diffusion-restreinte_{x}.parquet" for x in ("statuts", "dictionnaire")]
    assert all(p.exists() for p in res.companions)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"level": "canton"}, "Niveau inconnu"),
        ({"level": "region", "fmt": "ods"}, "Format inconnu"),
        ({"level": "region", "shape": "square"}, "Forme inconnue"),
        ({"level": "region", "sector_levels": ["a99"]}, "Niveau sectoriel inconnu"),
        ({"level": "region", "secret": False, "keep_pattern": "r1"}, "--keep-pattern"),
        ({"level": "region", "excel": True}, "--excel"),
        ({"level": "region", "status_columns": True}, "--status-columns"),
    ],
)
def test_usage_errors_are_raised_before_anything_is_written(released: Path, tmp_path: Path, kwargs: dict, words: str) -> None:
    level = kwargs.pop("level")
    with pytest.raises(UsageError, match=words):
        export(level, warehouse=released, output=tmp_path / "x.parquet", **kwargs)
    assert list(tmp_path.iterdir()) == []
