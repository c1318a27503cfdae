"""Rules per source and per measure, from TOML."""

from __future__ import annotations

import pytest

from prst_etl.secrecy import Rules, RulesError, load_rulebook, load_rules

TOML = """
[defaults]
min_units = 3
dominance = [1, 85]
protection = 0.10

[measures.n_at_deces]
min_count = 11

[sources.carsat-atmp]
min_units = false
dominance = false
min_count = 5

[sources.carsat-atmp.measures.n_mp]
min_count = 11
protection = 0.15
min_protection = 1
"""


def test_precedence(tmp_path):
    path = tmp_path / "secret.toml"
    path.write_text(TOML, encoding="utf-8")
    assert load_rules(path) == Rules(min_units=3, dominance=(1, 85.0), protection=0.10)
    assert load_rules(path, "urssaf-etab", "effectif") == Rules(min_units=3, dominance=(1, 85.0))
    assert load_rules(path, "carsat-atmp", "n_at") == Rules(min_units=None, min_count=5.0, dominance=None)
    assert load_rules(path, "carsat-atmp", "n_mp") == Rules(
        min_units=None, min_count=11.0, dominance=None, protection=0.15, min_protection=1.0
    )
    # a measure rule applies whatever the source, a source section overrides it
    assert load_rules(path, "msa", "n_at_deces").min_count == 11.0
    assert load_rules(path, "carsat-atmp", "n_at_deces").min_count == 5.0


def test_builtin_defaults_and_flat_tables():
    assert load_rules({}) == Rules(min_units=3, dominance=(1, 85.0))
    assert load_rules({"min_units": 5, "protection": 0.2}) == Rules(min_units=5, dominance=(1, 85.0), protection=0.2)
    book = load_rulebook({"sources": {"insee-rp": {"dominance": False}}})
    assert book.get("insee-rp").dominance is None


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"defaults": {"min_unit": 3}}, "unknown rule 'min_unit'"),
        ({"defaults": {"dominance": [0, 85]}}, "dominance"),
        ({"sources": {"x": {"protection": 2}}}, r"sources.x: protection"),
        ({"sources": {"x": {"measures": {"m": {"min_count": -1}}}}}, r"sources.x.measures.m: min_count"),
        ({"defaults": {}, "min_units": 3}, "unknown top-level keys"),
    ],
)
def test_errors_say_where(bad, match):
    with pytest.raises(RulesError, match=match):
        load_rulebook(bad)
