"""Rates computed at read time: Σ numerator / Σ denominator × multiplier, with their 95 % interval.

Exact (Garwood) Poisson intervals for rates per population or per hour, Wilson intervals for
shares; ``ns`` (non significatif) below the indicator's minimum denominator; a rate whose
numerator or denominator is hidden by the secrecy is hidden.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from prst_etl.model.codes import HIDDEN, NO_VALUE, SECONDARY, SECRET, STATUS_ABSENT, STATUS_PROVISIONAL, TOTAL
from prst_etl.model.facts import KEY_COLUMNS
from prst_etl.model.indicators import Indicator

Z95 = 1.959963984540054

STATUS_NS = "ns"
"""Status of a rate whose denominator is below the indicator's minimum (non significatif)."""



def poisson_interval(k: np.ndarray, den: np.ndarray, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) 95 % interval of a Poisson count ``k``, divided by ``den`` × ``mult``."""
    from scipy.stats import chi2

    k = np.asarray(k, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, chi2.ppf(0.025, 2 * k) / 2, 0.0)
        high = chi2.ppf(0.975, 2 * k + 2) / 2
        return low / den * mult, high / den * mult



def wilson_interval(k: np.ndarray, n: np.ndarray, mult: float) -> tuple[np.ndarray, np.ndarray]:
    """Wilson 95 % interval of a share ``k / n``, × ``mult``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        z2 = Z95**2
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n**2)) / (1 + z2 / n)
        return np.clip(centre - half, 0, 1) * mult, np.clip(centre + half, 0, 1) * mult



def rate(ind: Indicator, num: pl.DataFrame, den: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Rows of one rate from the long rows of its numerator and denominator, joined on ``keys``
    (a dimension the denominator does not break down applies to every category of the numerator)."""
    broadcast = list(ind.denominator_total_of)
    if broadcast:
        # a share within a breakdown: the denominator is the breakdown's total; the total's own
        # share (always 100 %) is not published
        den = den.filter(pl.all_horizontal([pl.col(d) == TOTAL for d in broadcast]))
        num = num.filter(pl.any_horizontal([pl.col(d) != TOTAL for d in broadcast]))
    for d in ["sex", "age_band", *[k for k in keys if k not in KEY_COLUMNS and k != "series"]]:
        if d in broadcast or d not in den.columns:
            continue
        # the denominator does not break this dimension down: it applies to every category
        if den[d].unique().to_list() == [TOTAL] and num[d].unique().to_list() != [TOTAL]:
            broadcast.append(d)
    on = [k for k in keys if k not in broadcast]
    d = den.select(*on, pl.col("value").alias("_den"), pl.col("status").alias("_dst")).unique(on, keep="first")
    r = num.join(d, on=on, how="inner")
    if r.height == 0:
        return r
    k, n = r["value"].to_numpy().astype(float), r["_den"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, k / n * ind.multiplier, np.nan)
    if ind.ci == "poisson":
        low, high = poisson_interval(k, n, ind.multiplier)
    elif ind.ci == "wilson":
        low, high = wilson_interval(k, n, ind.multiplier)
    else:
        low = high = np.full(len(k), np.nan)
    nst, dst = pl.col("status"), pl.col("_dst")
    no_n, no_d = nst.is_in(NO_VALUE + HIDDEN).fill_null(False), dst.is_in(NO_VALUE + HIDDEN).fill_null(False)
    missing = no_n | no_d | pl.col("value").is_null() | pl.col("_den").is_null() | (pl.col("_den") == 0)
    status = (
        # a rate whose numerator or denominator is hidden is hidden
        pl.when((nst == SECRET) | (dst == SECRET)).then(pl.lit(SECRET))
        .when(nst.is_in(HIDDEN) | dst.is_in(HIDDEN)).then(pl.lit(SECONDARY))
        .when(no_n).then(nst)
        .when(no_d).then(dst)
        .when(pl.col("_den").is_null() | (pl.col("_den") == 0)).then(pl.lit(STATUS_ABSENT))
        .when(pl.lit(ind.min_denominator is not None) & (pl.col("_den") < (ind.min_denominator or 0))).then(pl.lit(STATUS_NS))
        .when((nst == STATUS_PROVISIONAL) | (dst == STATUS_PROVISIONAL)).then(pl.lit(STATUS_PROVISIONAL))
        .otherwise(None)
    )  # fmt: skip
    r = r.with_columns(
        pl.Series("_v", value).fill_nan(None), pl.Series("_lo", low).fill_nan(None), pl.Series("_hi", high).fill_nan(None)
    )
    return r.with_columns(
        pl.lit(ind.id).alias("indicator"),
        pl.when(missing).then(None).otherwise(pl.col("_v")).alias("value"),
        status.alias("status"),
        pl.when(missing).then(None).otherwise(pl.col("_lo")).alias("ci_low"),
        pl.when(missing).then(None).otherwise(pl.col("_hi")).alias("ci_high"),
    ).drop("_den", "_dst", "_v", "_lo", "_hi")



