"""Export and diff-years filters: indicators, families, sexes, age bands, territory codes."""

from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal
import pytest

from conftest import restricted
from prst_etl.model.indicators import catalogue


def test_filters_keep_exactly_the_rows_asked_for(cli, breakdown, departements, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "f.parquet")
    r = cli("export", "--no-secret", "-l", "departement", "-w", breakdown, "-o", out, "-s", "ensemble", "--indicator", "at_if", "--indicator",
            "at_1er_reglement", "--sex", "F", "--age-band", "Y20T29", "--age-band", "_T", "--code", "11", "--code", "34")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    got = pl.read_parquet(out)
    want = departements.filter(
        pl.col("indicator").is_in(["at_if", "at_1er_reglement"]) & (pl.col("sex") == "F") & pl.col("age_band").is_in(["Y20T29", "_T"])
        & pl.col("geo_code").is_in(["11", "34"])
    )  # fmt: skip
    assert got.height > 0 and set(got["geo_code"]) == {"11", "34"}
    keys = [c for c in got.columns if c not in ("value", "status", "ci_low", "ci_high", "coverage", "sources")]
    assert_frame_equal(got.sort(keys), want.sort(keys))  # same values: rates are computed before filtering


def test_family_keeps_its_indicators(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "f.parquet")
    assert cli("export", "--no-secret", "-l", "region", "-w", breakdown, "-o", out, "-s", "ensemble", "--family", "socio-economique").exit_code == 0
    got = set(pl.read_parquet(out)["indicator"])
    cat = catalogue()
    assert "etablissements_employeurs" in got and all(cat[i].family == "socio-economique" for i in got)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--indicator", "at_iff"], ["at_iff", "at_if"]),
        (["--family", "sinistre"], ["sinistre", "sinistralite"]),
        (["--sex", "H"], ["« H »", "F, M, _T"]),
        (["--age-band", "20-29"], ["20-29", "Y20T29"]),
        (["--code", "999"], ["« departement »", "999", "01"]),
    ],
)
def test_a_filter_that_cannot_match_lists_the_valid_values(cli, breakdown, args, words) -> None:  # type: ignore[no-untyped-def]
    r = cli("export", "--no-secret", "-l", "departement", "-w", breakdown, *args)
    assert r.exit_code == 2
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_a_filtered_export_hides_the_same_cells(cli, released, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Secrecy is computed on the whole warehouse whatever the filters: filtering reveals nothing more."""
    full, part = tmp_path / "full.parquet", tmp_path / "part.parquet"
    assert cli("export", "-l", "zone-emploi", "-w", released, "-o", full, "--secret").exit_code == 0
    everything = pl.read_parquet(full)
    # the territory and indicator with the most hidden cells
    hidden = everything.filter(pl.col("status").is_in(["secret", "secret-secondaire"]))
    ind, code = hidden.group_by("indicator", "geo_code").len().sort("len", "indicator", "geo_code", descending=True).row(0)[:2]
    assert cli("export", "-l", "zone-emploi", "-w", released, "-o", part, "--secret", "-i", ind, "--code", code).exit_code == 0
    a = everything.filter((pl.col("indicator") == ind) & (pl.col("geo_code") == code))
    b = pl.read_parquet(part)
    assert b.height > 0 and b["status"].is_in(["secret", "secret-secondaire"]).any()
    assert_frame_equal(a.sort(a.columns), b.sort(b.columns))
    audit = pl.read_parquet(tmp_path / "part_secret-audit.parquet")
    i = catalogue().get(ind)
    measures = {ind} | ({i.numerator, i.denominator} if i is not None and i.is_rate else set())  # a rate is hidden by its counts
    assert set(audit["geo_code"]) == {code} and set(audit["indicator"]) <= measures


def test_diff_years_takes_the_same_filters(cli, breakdown, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "d.parquet")
    r = cli("diff-years", "--no-secret", "2023", "2024", "-w", breakdown, "-l", "departement", "-s", "ensemble", "--family", "socio-economique",
            "--code", "31", "--sex", "_T", "--format", "parquet", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = pl.read_parquet(out)
    assert d.height > 0 and set(d["geo_code"]) == {"31"} and set(d["sex"]) == {"_T"}
    assert {catalogue()[i].family for i in d["indicator"]} == {"socio-economique"}
    assert cli("diff-years", "--no-secret", "2023", "2024", "-w", breakdown, "--code", "xx").exit_code == 2
