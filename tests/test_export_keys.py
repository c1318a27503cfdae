"""One key, one row: every export of the test warehouses has a unique key; the catalogue's
``prefer`` decides which source publishes a count two sources give."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest

from conftest import restricted
from prst_etl.model.facts import BASE_COLUMNS, TAIL_COLUMNS
from prst_etl.model.indicators import catalogue
from prst_etl.demo import DEMO_EXPORTS
from prst_etl.model.levels import EXPORT_LEVELS
from prst_etl.pipeline.combine import one_row_per_key
from prst_etl.sources import all_sources


def key_of(df: pl.DataFrame) -> list[str]:
    extras = [c for c in df.columns if c not in BASE_COLUMNS + TAIL_COLUMNS + ["diffusion"]]
    return ["geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band", *extras, "year", "indicator"]


@pytest.mark.parametrize(("level", "sectors"), [(lv, s) for lv, s, _ in DEMO_EXPORTS])
def test_every_export_of_the_demo_has_one_row_per_key(cli, breakdown, tmp_path, level, sectors) -> None:  # type: ignore[no-untyped-def]
    """The exports ``prst demo`` writes (levels and sector levels), on a warehouse of the demo's
    sources' samples (the demo's own warehouse takes minutes to build)."""
    out = restricted(tmp_path / f"{level}.parquet")
    r = cli("export", "--no-secret", "-l", level, "-w", breakdown, "-o", out, *[x for s in sectors for x in ("-s", s)])
    assert r.exit_code == 0, r.stderr
    df = pl.read_parquet(out)
    assert df.height > 0
    assert df.select(pl.struct(key_of(df)).is_duplicated().sum()).item() == 0
    assert "sans ordre de préférence" not in r.stderr  # every collision of the demo sources is decided by the catalogue


def test_the_demo_exports_every_level() -> None:
    assert sorted(lv for lv, _, _ in DEMO_EXPORTS) == sorted(EXPORT_LEVELS)


def test_the_catalogue_decides_which_urssaf_file_publishes_employer_establishments(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "r.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", breakdown, "-o", out, "-s", "ensemble", "-i", "etablissements_employeurs").exit_code == 0
    df = pl.read_parquet(out)
    total = df.filter(pl.col("size_band") == "_T")
    assert total.height == 1 and total["sources"].item() == "urssaf"  # prefer = ["urssaf", "urssaf-taille"]
    # the size bands only urssaf-taille gives stay published under the same indicator
    bands = df.filter(pl.col("size_band") != "_T")
    assert bands.height > 3 and set(bands["sources"]) == {"urssaf-taille"}
    assert catalogue()["etablissements_employeurs"].prefer == ("urssaf", "urssaf-taille")


def test_a_collision_the_catalogue_does_not_decide_is_resolved_and_reported() -> None:
    df = pl.DataFrame({"k": [1, 1, 2], "series": ["b", "a", "a"], "sources": ["b", "a", "a"], "value": [1.0, 2.0, 3.0]})
    kept, note = one_row_per_key(df, ["k"], ())
    assert kept.sort("k")["value"].to_list() == [2.0, 3.0]  # alphabetical series: never the reading order
    assert note is not None and "(a, b)" in note and "prefer" in note
    kept, note = one_row_per_key(df, ["k"], ("b", "a"))
    assert kept.sort("k")["value"].to_list() == [1.0, 3.0] and note is None
    # a combined row « a+c » ranks as its best source
    df2 = pl.DataFrame({"k": [1, 1], "series": ["s1", "s2"], "sources": ["a+c", "b"], "value": [1.0, 2.0]})
    assert one_row_per_key(df2, ["k"], ("c", "b"))[0]["value"].to_list() == [1.0]


def test_the_published_release_has_one_row_per_key(cli, released, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "pub"
    assert cli("publish", "r1", "-w", released, "-o", out).exit_code == 0
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{out}/data/**/*.parquet', hive_partitioning = true)").pl()
    assert rel.height > 0
    assert rel.select(pl.struct(key_of(rel)).is_duplicated().sum()).item() == 0


def test_prefer_names_registered_sources_and_every_indicator_has_its_decimals() -> None:
    known = set(all_sources())
    for ind in catalogue().values():
        assert set(ind.prefer) <= known, ind.id
        assert ind.decimals is not None and 0 <= ind.decimals <= 3, ind.id
        if not ind.is_rate:
            assert ind.decimals == 0, ind.id  # counts are published as integers
