"""The indicator catalogue (data: ``schemas/indicators/*.toml``) and rate computation.

A rate is never stored: it is computed from aggregated counts as
Σ numerator / Σ denominator × multiplier, at the level being read.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache

import polars as pl

from prst_etl.model.codes import NO_VALUE, STATUS_ABSENT, status_dtype
from prst_etl.errors import UnknownName
from prst_etl.model.facts import status_col
from prst_etl.resources import data_dir


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    family: str
    unit: str
    numerator: str
    denominator: str | None = None
    multiplier: float = 1.0
    levels: tuple[str, ...] = ()
    min_denominator: float | None = None
    caveats: str = ""
    breaks: tuple[str, ...] = field(default=())
    ci: str = "none"
    """Confidence interval: ``poisson`` (exact, rates per population or per hour), ``wilson`` (shares), ``none``."""
    denominator_total_of: tuple[str, ...] = ()
    """Dimensions at whose ``_T`` total the denominator is read (a share within a breakdown)."""
    sources: tuple[str, ...] = ()
    by: tuple[str, ...] = ()
    """Breakdowns the observatory publishes (informative; every breakdown a source gives is exported)."""
    decimals: int | None = None
    """Digits published after the decimal point (``0`` for counts); None: not rounded."""
    prefer: tuple[str, ...] = ()
    """Sources in order of preference when several give this indicator for the same cell (one
    key, one row: the first present wins; the others are not published under this id)."""

    @property
    def is_rate(self) -> bool:
        return self.denominator is not None


@cache
def catalogue() -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}
    for path in sorted((data_dir("schemas") / "indicators").glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for d in data.get("indicator", []):
            ind = Indicator(
                id=d["id"],
                label=d["label"],
                family=d.get("family", data.get("family", "")),
                unit=d.get("unit", ""),
                numerator=d["numerator"],
                denominator=d.get("denominator"),
                multiplier=float(d.get("multiplier", 1)),
                levels=tuple(d.get("levels", ())),
                min_denominator=d.get("min_denominator"),
                caveats=d.get("caveats", ""),
                breaks=tuple(d.get("breaks", ())),
                ci=d.get("ci", "none"),
                denominator_total_of=tuple(d.get("denominator_total_of", ())),
                sources=tuple(d.get("sources", ())),
                by=tuple(d.get("by", ())),
                decimals=d.get("decimals"),
                prefer=tuple(d.get("prefer", ())),
            )
            if ind.id in out:
                raise ValueError(f"indicator {ind.id} defined twice (in {path.name})")
            out[ind.id] = ind
    return out


@dataclass(frozen=True)
class Identity:
    """``total = Σ parts``, cell by cell, between measures of one table (catalogue ``[[identity]]``)."""

    total: str
    parts: tuple[str, ...]
    exact: bool = False
    """True: the parts always add up to the total; False: they may fall short (never exceed)."""


@dataclass(frozen=True)
class Same:
    """Measures (of one source, or of the ``sources`` listed) that count the same quantity
    (catalogue ``[[same]]``): published with one secrecy pattern, that of the first present."""

    measures: tuple[str, ...]
    sources: tuple[str, ...] = ()


def _relations(kind: str) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for path in sorted((data_dir("schemas") / "indicators").glob("*.toml")):
        with path.open("rb") as fh:
            out.extend(tomllib.load(fh).get(kind, []))
    return out


@cache
def identities() -> tuple[Identity, ...]:
    return tuple(Identity(d["total"], tuple(d["parts"]), bool(d.get("exact", False))) for d in _relations("identity"))


@cache
def same_groups() -> tuple[Same, ...]:
    return tuple(Same(tuple(d["measures"]), tuple(d.get("sources", ()))) for d in _relations("same"))


def get_indicator(ind_id: str) -> Indicator:
    cat = catalogue()
    if ind_id not in cat:
        raise UnknownName("indicateur", ind_id, list(cat))
    return cat[ind_id]


def rate_columns(ind: Indicator) -> list[pl.Expr]:
    """Value and status of a rate from the aggregated numerator and denominator columns.

    No value when the numerator or denominator has none (their sign is kept), or
    when the denominator is 0 (``///``: absent by nature).
    """
    num, den = pl.col(ind.numerator), pl.col(ind.denominator)  # type: ignore[arg-type]
    nst, dst = pl.col(status_col(ind.numerator)), pl.col(status_col(ind.denominator))  # type: ignore[arg-type]
    missing_n = nst.is_in(NO_VALUE).fill_null(False)
    missing_d = dst.is_in(NO_VALUE).fill_null(False)
    value = (
        pl.when(missing_n | missing_d | num.is_null() | den.is_null() | (den == 0))
        .then(None)
        .otherwise(num / den * ind.multiplier)
    )
    status = (
        pl.when(missing_n)
        .then(nst)
        .when(missing_d)
        .then(dst)
        .when(den == 0)
        .then(pl.lit(STATUS_ABSENT, dtype=status_dtype()))
        .otherwise(None)
    )
    return [value.alias(ind.id), status.alias(status_col(ind.id))]
