"""Sectors: NAF code cleaning, roll-ups and labels."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from prst_etl import reference
from prst_etl.reference import sectors as sec


def clean(values: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(sec.clean_naf_code(pl.col("x")))["x"].to_list()


def test_levels() -> None:
    assert sec.SECTOR_LEVELS == ("naf732", "naf615", "naf272", "a88", "a64", "a38", "a21", "a17", "a10", "ensemble")
    assert (sec.TOTAL, sec.UNKNOWN) == ("_T", "_U")


@pytest.mark.parametrize("raw", ["01.11Z", "0111Z", "0111z", " 0111Z ", "01.11z", "111Z"])
def test_clean_naf_code_equivalent_forms(raw: str) -> None:
    assert clean([raw]) == ["0111Z"]


@pytest.mark.parametrize("raw", ["xxxxx", "XXXXX", "xx", " xxxxx "])
def test_clean_naf_code_unknown(raw: str) -> None:
    assert clean([raw]) == ["_U"]


def test_clean_naf_code_keeps_other_values() -> None:
    assert clean(["01.11", "AZ", "_U", None]) == ["01.11", "AZ", "_U", None]


@given(st.lists(st.one_of(st.none(), st.text(max_size=7), st.from_regex(r"\s*\d\d\.?\d\d[a-zA-Z]\s*", fullmatch=True))))
def test_clean_naf_code_is_idempotent(values: list[str | None]) -> None:
    once = clean(values)
    assert clean(once) == once


def test_is_known_naf() -> None:
    df = pl.DataFrame({"x": ["01.11Z", "0111Z", "9999Z", "xxxxx", None]})
    assert df.select(sec.is_known_naf(pl.col("x")))["x"].to_list() == [True, True, False, False, False]
    assert reference.naf().select(sec.is_known_naf(pl.col("code")))["code"].all()


def test_rollup_map_from_subclass() -> None:
    m = sec.rollup_map()
    assert m.columns == ["code", "level", "target"]
    codes = set(reference.naf()["code"]) | {"_U"}
    for level in sec.SECTOR_LEVELS:
        part = m.filter(pl.col("level") == level)
        assert set(part["code"]) == codes and part.height == 733, level
    targets = dict(m.filter(pl.col("code") == "0111Z").select("level", "target").iter_rows())
    assert targets == {
        "naf732": "0111Z",
        "naf615": "01.11",
        "naf272": "01.1",
        "a88": "01",
        "a64": "AZ1",
        "a38": "AZ",
        "a21": "A",
        "a17": "AZ",
        "a10": "AZ",
        "ensemble": "_T",
    }
    unknown = m.filter(pl.col("code") == "_U")
    assert dict(unknown.select("level", "target").iter_rows()) == {
        lvl: ("_T" if lvl == "ensemble" else "_U") for lvl in sec.SECTOR_LEVELS
    }
    assert set(m.filter(pl.col("level") == "ensemble")["target"]) == {"_T"}


def test_rollup_map_never_goes_finer() -> None:
    assert set(sec.rollup_map("a38")["level"]) == {"a38", "a21", "a17", "a10", "ensemble"}
    assert set(sec.rollup_map("a21")["level"]) == {"a21", "a10", "ensemble"}  # a21 -> a17 is not a function
    a88 = sec.rollup_map("a88")
    assert "naf272" not in set(a88["level"])
    assert a88.group_by("code", "level").len()["len"].max() == 1
    with pytest.raises(ValueError):
        sec.rollup_map("a129")  # type: ignore[arg-type]


def test_labels() -> None:
    lab = sec.labels()
    assert lab.columns == ["sector_level", "sector_code", "sector_label"]
    assert lab.select("sector_level", "sector_code").is_unique().all()
    get = {(r[0], r[1]): r[2] for r in lab.iter_rows()}
    assert get[("naf732", "0111Z")].startswith("Culture de céréales")
    assert get[("a21", "F")] == "Construction"
    assert get[("ensemble", "_T")] == sec.TOTAL_LABEL
    for level in sec.SECTOR_LEVELS[:-1]:
        assert get[(level, "_U")] == "Secteur inconnu (NAF non renseigné)"
    # every code reachable by the roll-up has a label
    m = sec.rollup_map()
    keys = set(m.select("level", "target").unique().iter_rows())
    assert keys <= set(get)
