"""Primary rules, rate patterns, audit."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_series_equal

from prst_etl.secrecy import Rules, audit, primary_reasons, primary_suppression, rate_pattern


def cells() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "geo": ["a", "b", "c", "d", "e", "f", "g"],
            "value": [0.0, 4.0, 120.0, 50.0, 3.0, 1000.0, None],
            "n_units": [0, 1, 2, 3, 5, 10, None],
            "top1": [0.0, 4.0, 60.0, 44.0, 1.0, 900.0, None],
            "top2": [0.0, 0.0, 60.0, 5.0, 1.0, 50.0, None],
        }
    )


def test_frequency_rule_ignores_empty_and_unknown_cells():
    p = primary_suppression(cells(), Rules(min_units=3))
    assert p.name == "primary"
    assert p.to_list() == [False, True, True, False, False, False, False]


def test_health_threshold():
    p = primary_suppression(cells(), Rules(min_units=None, min_count=5))
    assert p.to_list() == [False, True, False, False, True, False, False]


def test_dominance_one_and_two_largest():
    r1 = primary_suppression(cells(), Rules(min_units=None, dominance=(1, 85)), top_contributors=["top1", "top2"])
    assert r1.to_list() == [False, True, False, True, False, True, False]
    r2 = primary_suppression(cells(), Rules(min_units=None, dominance=(2, 95)), top_contributors=["top1", "top2"])
    assert r2.to_list() == [False, True, True, True, False, False, False]
    # without contributor columns the rule cannot apply
    assert not primary_suppression(cells(), Rules(min_units=None, dominance=(1, 85))).any()
    with pytest.raises(ValueError, match="2 contributor columns"):
        primary_suppression(cells(), Rules(min_units=None, dominance=(2, 85)), top_contributors=["top1"])


def test_frequency_rule_needs_units():
    with pytest.raises(ValueError, match="min_units = false"):
        primary_suppression(cells().drop("n_units"), Rules(min_units=3))


def test_rules_combine():
    r = primary_reasons(cells(), Rules(min_units=3, min_count=5, dominance=(1, 85)), top_contributors=["top1"])
    assert r.columns == ["frequence", "seuil-sante", "dominance"]
    assert r.row(1) == (True, True, True)
    assert r.row(5) == (False, False, True)


def test_rate_hidden_when_numerator_or_denominator_is():
    num = pl.Series([None, "secret", None, "secret-secondaire", None], dtype=pl.String)
    den = pl.Series([None, None, "secret-secondaire", "secret", None], dtype=pl.String)
    assert rate_pattern(num, den).to_list() == [None, "secret", "secret-secondaire", "secret", None]
    assert_series_equal(
        rate_pattern(pl.Series([True, False, False]), pl.Series([False, False, True])),
        pl.Series("rate", [True, False, True]),
    )
    mixed = rate_pattern(pl.Series([True, False]), pl.Series([None, "secret-secondaire"], dtype=pl.String))
    assert mixed.to_list() == ["secret", "secret-secondaire"]


def test_audit_names_the_rule():
    c = cells()
    status = pl.Series(["secret", "secret", None, "secret-secondaire", "secret", None, None], dtype=pl.String)
    a = audit(c, ["geo"], status, Rules(min_units=3, min_count=5, dominance=(1, 85)), top_contributors=["top1"])
    assert a.columns == ["geo", "value", "status", "rule"]
    assert a.select("geo", "rule").rows() == [
        ("a", "conserve"),
        ("b", "frequence,seuil-sante,dominance"),
        ("d", "secondaire"),
        ("e", "seuil-sante"),
    ]
