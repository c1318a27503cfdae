"""Property tests (hypothesis) of aggregation on generated data with the real geography and NAF."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prst_etl import reference
from prst_etl.pipeline.aggregate import GEO_TARGETS, cube, geo_targets
from prst_etl.model.codes import age_bounds
from prst_etl.pipeline.rates import rate as _rate
from prst_etl.model.indicators import Indicator
from prst_etl.sources.base import Measure, TableSpec

SPEC = TableSpec("t", "test", (Measure("num", "numérateur"), Measure("den", "dénominateur")))
COMMUNES = reference.communes(2025).filter(pl.col("type") == "commune-actuelle").select("code", "departement", "region")
ZE = reference.commune_ze().select("code", "ze_code")
NAF = reference.naf()
BANDS = ["Y_LT20", "Y20T29", "Y30T39", "Y40T49", "Y50T59", "Y_GE60"]
NO_SPSTI = pl.DataFrame(schema={"commune": pl.String, "spsti": pl.String, "spsti_nom": pl.String, "champ": pl.String})
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def facts(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 40))
    ci = draw(st.lists(st.integers(0, COMMUNES.height - 1), min_size=n, max_size=n))
    ni = draw(st.lists(st.integers(0, NAF.height - 1), min_size=n, max_size=n))
    sex = draw(st.lists(st.sampled_from(["F", "M"]), min_size=n, max_size=n))
    age = draw(st.lists(st.sampled_from(BANDS), min_size=n, max_size=n))
    num = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    den = draw(st.lists(st.integers(1, 5000), min_size=n, max_size=n))
    df = pl.DataFrame(
        {
            "year": pl.Series([2024] * n, dtype=pl.Int32),
            "geo_level": ["commune"] * n,
            "geo_code": COMMUNES["code"].gather(ci),
            "sector_level": ["naf732"] * n,
            "sector_code": NAF["code"].gather(ni),
            "sex": sex,
            "age_band": age,
            "num": pl.Series(num, dtype=pl.Float64),
            "den": pl.Series(den, dtype=pl.Float64),
        }
    )
    # one row per cell, as the warehouse guarantees
    return df.unique(["geo_code", "sector_code", "sex", "age_band"], keep="first")


def finest(df: pl.DataFrame) -> pl.DataFrame:
    return (
        df.join(COMMUNES, left_on="geo_code", right_on="code")
        .join(ZE, left_on="geo_code", right_on="code")
        .join(NAF.rename({"code": "sector_code"}), on="sector_code")
    )


def cell(c: pl.DataFrame, **keys: str) -> pl.DataFrame:
    cond = pl.lit(True)
    for k, v in {"sector_level": "ensemble", "sector_code": "_T", "sex": "_T", "age_band": "_T", **keys}.items():
        cond &= pl.col(k) == v
    return c.filter(cond)


@SETTINGS
@given(facts())
def test_children_sum_to_their_parent_in_every_hierarchy(df: pl.DataFrame) -> None:
    fine = finest(df)
    for level, key in (("commune", "geo_code"), ("departement", "departement"), ("region", "region"), ("zone-emploi", "ze_code")):
        c = cube(df.lazy(), SPEC, "commune", level, NO_SPSTI).collect()
        want = fine.group_by(key).agg(pl.col("num").sum())
        got = cell(c).select(pl.col("geo_code").alias(key), pl.col("num").alias("got"))
        assert want.join(got, on=key, how="full").filter(pl.col("num") != pl.col("got")).height == 0
        assert set(got[key]) == set(want[key])
        # sector: every A38 cell is the sum of its sub-classes, every level sums to the total
        for slevel in ("a38", "a21", "a10", "naf615"):
            s_want = fine.group_by(key, slevel).agg(pl.col("num").sum())
            s_got = c.filter((pl.col("sector_level") == slevel) & (pl.col("sex") == "_T") & (pl.col("age_band") == "_T"))
            s_got = s_got.select(pl.col("geo_code").alias(key), pl.col("sector_code").alias(slevel), pl.col("num").alias("got"))
            j = s_want.join(s_got, on=[key, slevel], how="full", coalesce=True)
            assert j.filter(pl.col("num") != pl.col("got")).height == 0 and j["num"].null_count() == 0
        # sex and age: the total is the sum of the parts, a coarser band the sum of its bands
        tot = cell(c).select("geo_code", "num")
        by_sex = cell(c, sex="F").select("geo_code", pl.col("num").alias("f")).join(
            cell(c, sex="M").select("geo_code", pl.col("num").alias("m")), on="geo_code", how="full", coalesce=True
        )
        j = tot.join(by_sex, on="geo_code", how="left").fill_null(0)
        assert (j["num"] == j["f"] + j["m"]).all()
        ages = c.filter((pl.col("sector_level") == "ensemble") & (pl.col("sex") == "_T"))
        for coarse in set(ages["age_band"]) - set(BANDS) - {"_T"}:
            lo, hi = age_bounds(coarse)
            inside = [b for b in BANDS if age_bounds(b)[0] >= lo and age_bounds(b)[1] <= hi]
            a = ages.filter(pl.col("age_band").is_in(inside)).group_by("geo_code").agg(pl.col("num").sum())
            b = ages.filter(pl.col("age_band") == coarse).select("geo_code", pl.col("num").alias("c"))
            assert a.join(b, on="geo_code", how="full").filter(pl.col("num") != pl.col("c")).height == 0


@SETTINGS
@given(facts())
def test_a_rate_at_any_level_is_the_ratio_of_the_finest_sums(df: pl.DataFrame) -> None:
    ind = Indicator("r", "taux", "test", "", "num", "den", 1000.0, ci="poisson")
    fine = finest(df)
    for level, key in (("departement", "departement"), ("region", "region"), ("zone-emploi", "ze_code")):
        c = cube(df.lazy(), SPEC, "commune", level, NO_SPSTI).collect()
        keys = ["year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]
        long = {
            m: c.select(*keys, pl.col(m).alias("value"), pl.lit(None, pl.String).alias("status"),
                        pl.lit(None, pl.String).alias("sources"), pl.lit(None, pl.String).alias("coverage"))
            for m in ("num", "den")
        }  # fmt: skip
        r = cell(_rate(ind, long["num"], long["den"], keys))
        want = fine.group_by(key).agg((pl.col("num").sum() / pl.col("den").sum() * 1000).alias("w"))
        j = want.join(r.select(pl.col("geo_code").alias(key), "value"), on=key)
        assert j.height == want.height
        assert ((j["w"] - j["value"]).abs() <= 1e-9 * j["w"].abs().max()).all()


@SETTINGS
@given(facts(), st.lists(st.lists(st.integers(0, 40), min_size=1, max_size=15), min_size=1, max_size=5))
def test_overlapping_perimeters_each_get_the_full_sum_of_their_communes(df: pl.DataFrame, sets: list[list[int]]) -> None:
    communes = df["geo_code"].unique().sort().to_list()
    rows = []
    for i, members in enumerate(sets):
        for m in members:
            if m < len(communes):
                rows.append((communes[m], f"S{i}", f"Service {i}", "interprofessionnel"))
    perim = pl.DataFrame(rows, schema={c: pl.String for c in ("commune", "spsti", "spsti_nom", "champ")}, orient="row").unique()
    c = cube(df.lazy(), SPEC, "commune", "spsti", perim).collect()
    got = cell(c).select(pl.col("geo_code").alias("spsti"), pl.col("num").alias("got"))
    want = perim.join(df.group_by("geo_code").agg(pl.col("num").sum()), left_on="commune", right_on="geo_code").group_by("spsti").agg(pl.col("num").sum())
    j = want.join(got, on="spsti", how="full", coalesce=True)
    assert j.filter(pl.col("num") != pl.col("got")).height == 0 and j.null_count().sum_horizontal().item() == 0


ORDER = ["commune", "spsti-departement", "zone-emploi", "spsti", "departement", "region", "france"]
FINER = {"commune": set(), "zone-emploi": {"commune"}, "departement": {"commune", "zone-emploi"},
         "region": {"commune", "zone-emploi", "departement", "spsti"}, "france": set(ORDER) - {"france"},
         "spsti": {"commune", "spsti-departement", "departement", "region"}, "spsti-departement": {"commune", "zone-emploi"}}  # fmt: skip


@given(st.sampled_from(sorted(GEO_TARGETS)), st.sampled_from([["FR"], ["31"], ["09", "31"]]), st.booleans())
def test_nothing_is_derived_downwards(level: str, coverage: list[str], perimeters: bool) -> None:
    targets = set(geo_targets(level, coverage, perimeters))
    assert level in targets
    assert not targets & FINER[level], (level, targets)
    assert ("france" in targets) <= (coverage == ["FR"] or level == "france")
    if level == "spsti":
        assert targets == {"spsti"}  # SPSTI totals never add up into the région
