"""Secrecy rules per source and per measure, loaded from TOML.

Format (see ``docs/secret.md``)::

    [defaults]                 # every source and measure
    min_units = 3              # frequency rule; false to disable
    dominance = [1, 85]        # (n, k%); false to disable
    protection = 0.10          # ±10 % protection interval
    min_protection = 0         # absolute floor of the interval

    [measures.n_at_deces]      # a measure, whatever the source
    min_count = 11

    [sources.carsat-atmp]      # a source
    min_units = false
    min_count = 5

    [sources.carsat-atmp.measures.n_mp]   # a measure of a source
    min_count = 11

Precedence: defaults < measures.M < sources.S < sources.S.measures.M. A table
with rule keys only (no section) is one rule set.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping


@dataclass(frozen=True)
class Rules:
    """Primary-suppression rules and protection of one measure of one source."""

    min_units: int | None = 3
    """Frequency rule: a cell with 1 ≤ units < min_units is secret (None: off)."""
    min_count: float | None = None
    """Health-count threshold: a cell with 0 < value < min_count is secret (None: off)."""
    dominance: tuple[int, float] | None = None
    """(n, k): secret when the n largest contributors exceed k % of the cell (None: off)."""
    protection: float = 0.10
    """Relative half-width of the protection interval of a hidden cell."""
    min_protection: float = 0.0
    """Absolute floor of that half-width (e.g. 1 for integer counts)."""


RULE_KEYS = tuple(f.name for f in fields(Rules))

BUILTIN_DEFAULTS = Rules(min_units=3, min_count=None, dominance=(1, 85.0), protection=0.10, min_protection=0.0)
"""Defaults of a rule book without ``[defaults]``: Insee/URSSAF rules."""


class RulesError(ValueError):
    """Invalid secrecy rules."""


def _coerce(key: str, value: Any, where: str) -> Any:
    if key not in RULE_KEYS:
        raise RulesError(f"{where}: unknown rule {key!r}; known: {', '.join(RULE_KEYS)}")
    if key == "min_units":
        if value is False or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RulesError(f"{where}: min_units must be an integer ≥ 1 or false, got {value!r}")
        return value
    if key == "min_count":
        if value is False or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise RulesError(f"{where}: min_count must be a number > 0 or false, got {value!r}")
        return float(value)
    if key == "dominance":
        if value is False or value is None:
            return None
        ok = isinstance(value, (list, tuple)) and len(value) == 2
        if ok:
            n, k = value
            ok = isinstance(n, int) and not isinstance(n, bool) and n >= 1 and isinstance(k, (int, float)) and 0 < k <= 100
        if not ok:
            raise RulesError(f"{where}: dominance must be [n, k] with n ≥ 1 and 0 < k ≤ 100, or false; got {value!r}")
        return (int(value[0]), float(value[1]))
    if key == "protection":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise RulesError(f"{where}: protection must be in (0, 1], got {value!r}")
        return float(value)
    if key == "min_protection":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RulesError(f"{where}: min_protection must be ≥ 0, got {value!r}")
        return float(value)
    raise AssertionError(key)


def _overlay(base: Rules, table: Mapping[str, Any], where: str, allow: tuple[str, ...] = ()) -> Rules:
    changes = {}
    for key, value in table.items():
        if key in allow:
            continue
        changes[key] = _coerce(key, value, where)
    return replace(base, **changes)


@dataclass(frozen=True)
class RuleBook:
    """All the rules of a TOML file."""

    defaults: Rules
    measures: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, Mapping[str, Any]]

    def get(self, source: str | None = None, measure: str | None = None) -> Rules:
        """Rules of ``measure`` of ``source`` (either may be None)."""
        rules = self.defaults
        if measure is not None and measure in self.measures:
            rules = _overlay(rules, self.measures[measure], f"measures.{measure}")
        if source is not None:
            if source not in self.sources:
                return rules
            src = self.sources[source]
            rules = _overlay(rules, src, f"sources.{source}", allow=("measures",))
            per = src.get("measures", {})
            if measure is not None and measure in per:
                rules = _overlay(rules, per[measure], f"sources.{source}.measures.{measure}")
        return rules


def load_rulebook(path_or_dict: str | Path | Mapping[str, Any]) -> RuleBook:
    """Parse and validate a rules file (or its already-parsed dict)."""
    if isinstance(path_or_dict, (str, Path)):
        with open(path_or_dict, "rb") as fh:
            data = tomllib.load(fh)
    elif isinstance(path_or_dict, Mapping):
        data = dict(path_or_dict)
    else:
        raise TypeError("load_rules expects a path or a mapping")
    sections = {"defaults", "measures", "sources"}
    flat = {k: v for k, v in data.items() if k not in sections}
    if flat and set(data) & sections:
        raise RulesError(f"unknown top-level keys {sorted(flat)}; expected sections: defaults, measures, sources")
    if flat:
        return RuleBook(_overlay(BUILTIN_DEFAULTS, flat, "rules"), {}, {})
    defaults = _overlay(BUILTIN_DEFAULTS, data.get("defaults", {}), "defaults")
    measures = data.get("measures", {})
    sources = data.get("sources", {})
    # Validate everything now, so that errors surface when the file is loaded.
    for m, t in measures.items():
        _overlay(defaults, t, f"measures.{m}")
    for s, t in sources.items():
        if not isinstance(t, Mapping):
            raise RulesError(f"sources.{s} must be a table")
        _overlay(defaults, t, f"sources.{s}", allow=("measures",))
        for m, tm in t.get("measures", {}).items():
            _overlay(defaults, tm, f"sources.{s}.measures.{m}")
    return RuleBook(defaults, measures, sources)


def load_rules(path_or_dict: str | Path | Mapping[str, Any], source: str | None = None, measure: str | None = None) -> Rules:
    """Rules of one source and measure from a TOML file or a dict (defaults
    applied; see the module docstring for the format)."""
    return load_rulebook(path_or_dict).get(source, measure)
