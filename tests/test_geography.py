"""Geography: commune code cleaning, COG mapping, roll-ups and labels."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prst_etl.reference import geography as geo
from prst_etl import reference


def clean(values: list[str | None]) -> list[str | None]:
    return (
        pl.DataFrame({"x": values}, schema={"x": pl.String}).select(geo.clean_commune_code(pl.col("x")))["x"].to_list()
    )


def test_constants() -> None:
    assert geo.GEO_LEVELS == ("commune", "zone-emploi", "departement", "region", "france")
    assert len(geo.DEPARTEMENTS_OCCITANIE) == 13
    caisses = geo.CAISSES["carsat-mp"] + geo.CAISSES["carsat-lr"]
    assert sorted(caisses) == sorted(geo.DEPARTEMENTS_OCCITANIE)
    dep = reference.departements()
    assert sorted(dep.filter(pl.col("region") == geo.REGION_OCCITANIE)["code"]) == sorted(geo.DEPARTEMENTS_OCCITANIE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9001", "09001"),
        ("9001.0", "09001"),
        ("9001 ", "09001"),
        (" 31555\u00a0", "31555"),
        ("2a004", "2A004"),
        ("2B033", "2B033"),
        ("31555", "31555"),
        ("123", "123"),
        ("abc", "ABC"),
        (None, None),
    ],
)
def test_clean_commune_code(raw: str | None, expected: str | None) -> None:
    assert clean([raw]) == [expected]


def test_clean_commune_code_on_numeric_columns() -> None:
    ints = pl.DataFrame({"x": [9001, 31555]}).select(geo.clean_commune_code(pl.col("x")))["x"]
    floats = pl.DataFrame({"x": [9001.0]}).select(geo.clean_commune_code(pl.col("x")))["x"]
    assert ints.to_list() == ["09001", "31555"]
    assert floats.to_list() == ["09001"]


@given(
    st.lists(
        st.one_of(st.none(), st.text(max_size=8), st.integers(0, 99999).map(str), st.from_regex(r"\s*\d{4}(\.0)?\s*"))
    )
)
def test_clean_commune_code_is_idempotent(values: list[str | None]) -> None:
    once = clean(values)
    assert clean(once) == once
    assert len(once) == len(values)


def test_normalise_communes() -> None:
    inputs = [
        "9001",
        "09001",
        "12076",
        "12218",
        "2A004",
        "2b033",
        "31999",
        "75056",
        "97105",
        "ZZZ",
        None,
        "09255",
        "32413",
    ]
    out = geo.normalise_communes(pl.Series("whatever", inputs))
    assert out.columns == ["input", "code", "departement", "status"]
    assert out["input"].to_list() == inputs
    rows = {r["input"]: r for r in out.iter_rows(named=True) if r["input"] is not None}
    assert (rows["9001"]["code"], rows["9001"]["status"], rows["9001"]["departement"]) == ("09001", "ok", "09")
    assert (rows["12076"]["code"], rows["12076"]["status"]) == ("12218", "mapped")
    assert (rows["12218"]["code"], rows["12218"]["status"]) == ("12218", "ok")
    assert (rows["09255"]["code"], rows["09255"]["status"]) == ("09056", "mapped")
    assert (rows["32413"]["code"], rows["32413"]["departement"]) == ("32365", "32")
    # outside the Occitanie reference: unknown, département from the prefix
    assert (rows["2A004"]["code"], rows["2A004"]["departement"], rows["2A004"]["status"]) == (None, "2A", "unknown")
    assert rows["2b033"]["departement"] == "2B"
    assert (rows["31999"]["status"], rows["31999"]["departement"]) == ("unknown", "31")
    assert rows["75056"]["departement"] == "75"
    assert rows["97105"]["departement"] == "971"
    assert (rows["ZZZ"]["status"], rows["ZZZ"]["departement"]) == ("unknown", None)
    assert out.row(10, named=True) == {"input": None, "code": None, "departement": None, "status": "unknown"}


def test_normalise_every_passage_code_maps_to_a_current_commune() -> None:
    p = reference.commune_passage()
    out = geo.normalise_communes(p["code_source"])
    assert out["code"].to_list() == p["code_cog2025"].to_list()
    assert out.filter(pl.col("status") == "unknown").height == 0
    assert set(out["status"]) == {"ok", "mapped"}


def test_departement_of_code() -> None:
    s = pl.DataFrame({"c": ["09001", "2A004", "97411", "98735", "20001", "0900", None]})
    got = s.select(geo.departement_of_code(pl.col("c")))["c"].to_list()
    assert got == ["09", "2A", "974", "987", None, None, None]


def test_rollup_from_commune() -> None:
    m = geo.rollup_map()
    assert m.columns == ["code", "level", "target"]
    cur = reference.communes(2025).filter(pl.col("type") == "commune-actuelle")["code"]
    for level in geo.GEO_LEVELS:
        part = m.filter(pl.col("level") == level)
        assert part.height == 4446 and set(part["code"]) == set(cur), level
        assert part["target"].null_count() == 0
    targets = {(r[1]): r[2] for r in m.filter(pl.col("code") == "31555").iter_rows()}
    assert targets == {"commune": "31555", "zone-emploi": "7625", "departement": "31", "region": "76", "france": "FR"}
    assert (m.filter(pl.col("level") == "commune")["code"] == m.filter(pl.col("level") == "commune")["target"]).all()
    assert set(m.filter(pl.col("level") == "region")["target"]) == {"76"}


def test_rollup_from_coarser_levels_never_goes_finer() -> None:
    dep = geo.rollup_map("departement")
    assert set(dep["level"]) == {"departement", "region", "france"}
    assert dict(dep.filter(pl.col("code") == "34").select("level", "target").iter_rows())["region"] == "76"
    ze = geo.rollup_map("zone-emploi")
    assert set(ze["level"]) == {"zone-emploi", "region", "france"}
    assert ze.filter(pl.col("level") == "zone-emploi").height == 27
    assert set(geo.rollup_map("region")["level"]) == {"region", "france"}
    assert geo.rollup_map("france").rows() == [("FR", "france", "FR")]
    with pytest.raises(ValueError):
        geo.rollup_map("canton")  # type: ignore[arg-type]


def test_zones_cross_departements() -> None:
    # why département -> zone d'emploi is not a roll-up: some zones span several départements
    m = geo.rollup_map().pivot(on="level", index="code", values="target")
    spans = m.group_by("zone-emploi").agg(pl.col("departement").n_unique())
    assert spans["departement"].max() > 1


def test_labels() -> None:
    lab = geo.labels()
    assert lab.columns == ["geo_level", "geo_code", "geo_label"]
    assert lab.select("geo_level", "geo_code").is_unique().all()
    counts = dict(lab.group_by("geo_level").len().iter_rows())
    assert counts["commune"] == 4446 and counts["zone-emploi"] == 27 and counts["france"] == 1
    get = {(r[0], r[1]): r[2] for r in lab.iter_rows()}
    assert get[("commune", "12218")] == "Conques-en-Rouergue"
    assert get[("zone-emploi", "0053-76")] == "Avignon (partie Occitanie)"
    assert get[("zone-emploi", "7625")] == "Toulouse"
    assert get[("departement", "2A")] == "Corse-du-Sud"
    assert get[("region", "76")] == "Occitanie"
    assert get[("france", "FR")] == "France"
