"""Reading provider cells: headers, numbers, signs, codes (unit and property tests)."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from prst_etl.model.codes import age_band_expr, age_bounds, age_code, number_expr, sex_expr, sign_expr
from prst_etl.errors import ISSUE_TYPES
from prst_etl.sources.readers import excel_letter, norm_header


def test_header_matching_ignores_case_accents_spaces_and_line_breaks() -> None:
    assert norm_header("Nombre d'heures\ntravaillées* ") == norm_header("NOMBRE  D’HEURES TRAVAILLEES")
    assert norm_header("dont IP avec taux ≥ 10% ") == "dont ip avec taux ≥ 10%"


def _eval(expr: pl.Expr, values: list) -> list:  # type: ignore[type-arg]
    return pl.DataFrame({"v": values}, schema={"v": pl.String}).select(expr.alias("o"))["o"].to_list()


def test_french_numbers() -> None:
    got = _eval(number_expr(pl.col("v")), ["1 234", "1\u00a0234,5", "1.234,5", "12.5", "1e3", "abc", "", "inf", None])
    assert got == [1234.0, 1234.5, 1234.5, 12.5, 1000.0, None, None, None, None]


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from([" ", "\u00a0", "\u202f", ""]))
def test_thousands_separators_never_change_a_number(n: int, sep: str) -> None:
    text = f"{n:,}".replace(",", sep)
    assert _eval(number_expr(pl.col("v")), [text]) == [float(n)]


def test_signs() -> None:
    assert _eval(sign_expr(pl.col("v")), ["s", " S ", "nd", "n.d.", "...", "///", "-", "12", None]) == [
        "s", "s", "nd", "nd", "nd", "///", "-", None, None,
    ]  # fmt: skip


def test_sexes() -> None:
    assert _eval(sex_expr(pl.col("v")), ["H", "f", "Hommes", "Femmes", "1", "2", "1.0", "X", None]) == [
        "M", "F", "M", "F", "M", "F", "M", None, None,
    ]  # fmt: skip


def test_age_bands() -> None:
    got = _eval(
        age_band_expr(pl.col("v")),
        ["Moins de 20 ans", "20 à 29 ans", "30-39 ans", "60 ans et plus", "60 ans ou plus", "60+", "< 20 ans", "Y20T29", "vieux"],
    )
    assert got == ["Y_LT20", "Y20T29", "Y30T39", "Y_GE60", "Y_GE60", "Y_GE60", "Y_LT20", "Y20T29", None]


@given(st.integers(0, 120), st.integers(1, 80))
def test_age_codes_carry_their_bounds(lower: int, width: int) -> None:
    upper = lower + width
    assert age_bounds(age_code(lower, upper)) == (lower, upper)


def test_excel_letters() -> None:
    assert [excel_letter(i) for i in (0, 25, 26, 32, 701, 702)] == ["A", "Z", "AA", "AG", "ZZ", "AAA"]


def test_every_issue_code_used_in_the_code_is_catalogued() -> None:
    import re
    from pathlib import Path

    src = Path(__file__).parents[1] / "src" / "prst_etl"
    used = set()
    for p in src.rglob("*.py"):
        text = p.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:issue|RawCheck)\(\s*"([a-z-]+)"', text))
    assert used, "the pattern must find the issue codes"
    assert used <= set(ISSUE_TYPES), used - set(ISSUE_TYPES)


def test_contract_snapshots_match_the_code() -> None:
    from prst_etl import contracts

    assert contracts.drift() == {}, "run: python -m prst_etl.contracts --write (and note it in CHANGELOG « Schema »)"
