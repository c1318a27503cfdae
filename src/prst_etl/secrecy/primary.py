"""Primary suppression rules, rate patterns and the audit table."""

from __future__ import annotations

import polars as pl

from .rules import Rules

REASONS = ("frequence", "seuil-sante", "dominance")


def primary_reasons(
    cells: pl.DataFrame,
    rules: Rules,
    *,
    value: str = "value",
    n_units: str = "n_units",
    top_contributors: list[str] | None = None,
) -> pl.DataFrame:
    """One Boolean column per rule (``frequence``, ``seuil-sante``,
    ``dominance``): True where the rule makes the cell secret.

    - frequence: ``1 ≤ n_units < min_units`` (empty cells are not secret; a
      null unit count does not trigger the rule);
    - seuil-sante: ``0 < value < min_count``;
    - dominance (n, k): the ``n`` first columns of ``top_contributors`` (largest
      contribution first) add up to more than ``k`` % of a positive value.
    """
    if value not in cells.columns:
        raise ValueError(f"cells lack the value column {value!r}")
    v = pl.col(value).cast(pl.Float64)
    exprs = []
    if rules.min_units is not None:
        if n_units not in cells.columns:
            raise ValueError(
                f"the frequency rule (min_units={rules.min_units}) needs a unit-count column {n_units!r}; "
                "pass n_units=… or set min_units = false for this source"
            )
        u = pl.col(n_units)
        exprs.append(((u >= 1) & (u < rules.min_units)).fill_null(False).alias("frequence"))
    else:
        exprs.append(pl.lit(False).alias("frequence"))
    if rules.min_count is not None:
        exprs.append(((v > 0) & (v < rules.min_count)).fill_null(False).alias("seuil-sante"))
    else:
        exprs.append(pl.lit(False).alias("seuil-sante"))
    if rules.dominance is not None and top_contributors:
        n, k = rules.dominance
        if n > len(top_contributors):
            raise ValueError(f"dominance ({n}, {k}) needs {n} contributor columns, got {top_contributors}")
        missing = [c for c in top_contributors[:n] if c not in cells.columns]
        if missing:
            raise ValueError(f"cells lack contributor columns {missing}")
        top = pl.sum_horizontal([pl.col(c).cast(pl.Float64).fill_null(0.0) for c in top_contributors[:n]])
        exprs.append(((v > 0) & (top > k / 100.0 * v)).fill_null(False).alias("dominance"))
    else:
        exprs.append(pl.lit(False).alias("dominance"))
    return cells.with_columns(exprs).select(list(REASONS))  # literals broadcast to every cell


def primary_suppression(
    cells: pl.DataFrame,
    rules: Rules,
    *,
    value: str = "value",
    n_units: str = "n_units",
    top_contributors: list[str] | None = None,
) -> pl.Series:
    """Cells that break a rule (Boolean Series named ``primary``)."""
    r = primary_reasons(cells, rules, value=value, n_units=n_units, top_contributors=top_contributors)
    return r.select(pl.any_horizontal(pl.all()).alias("primary")).to_series()


def rate_pattern(num_status: pl.Series, den_status: pl.Series) -> pl.Series:
    """Status of a rate from those of its numerator and denominator: hidden
    when either is. Boolean patterns give a Boolean; status strings give
    ``"secret"`` if either is ``"secret"``, else ``"secret-secondaire"`` if either
    is hidden, else null."""
    if len(num_status) != len(den_status):
        raise ValueError("numerator and denominator patterns differ in length")
    if num_status.dtype == pl.Boolean and den_status.dtype == pl.Boolean:
        return (num_status.fill_null(False) | den_status.fill_null(False)).alias("rate")
    df = pl.DataFrame({"n": _as_status(num_status), "d": _as_status(den_status)})
    out = df.select(
        pl.when((pl.col("n") == "secret") | (pl.col("d") == "secret")).then(pl.lit("secret"))
        .when(pl.col("n").is_not_null() | pl.col("d").is_not_null()).then(pl.lit("secret-secondaire"))
        .otherwise(pl.lit(None, dtype=pl.String))
        .alias("rate")
    )
    return out.to_series()


def _as_status(s: pl.Series) -> pl.Series:
    if s.dtype == pl.Boolean:
        return pl.Series(s.name, ["secret" if b else None for b in s.fill_null(False).to_list()], dtype=pl.String)
    return s.cast(pl.String)


def audit(
    cells: pl.DataFrame,
    dims: list[str],
    status: pl.Series,
    rules: Rules,
    *,
    value: str = "value",
    n_units: str = "n_units",
    top_contributors: list[str] | None = None,
) -> pl.DataFrame:
    """One row per hidden cell: its codes, value, status and the rule that hid
    it: ``frequence``, ``seuil-sante``, ``dominance`` (comma-joined when several
    fire), ``conserve`` (kept hidden from a previous publication, no rule
    fires), ``secondaire``."""
    if len(status) != cells.height:
        raise ValueError("status and cells differ in length")
    reasons = primary_reasons(cells, rules, value=value, n_units=n_units, top_contributors=top_contributors)
    fired = pl.concat_list(
        [pl.when(pl.col(r)).then(pl.lit(r)).otherwise(pl.lit(None, dtype=pl.String)) for r in REASONS]
    ).list.drop_nulls().list.join(",")
    df = pl.concat([cells.select(*dims, pl.col(value).cast(pl.Float64).alias("value")), reasons], how="horizontal")
    df = df.with_columns(status.cast(pl.String).alias("status"), fired.alias("_fired"))
    df = df.filter(pl.col("status").is_not_null()).with_columns(
        pl.when(pl.col("status") == "secret-secondaire").then(pl.lit("secondaire"))
        .when(pl.col("_fired") != "").then(pl.col("_fired"))
        .otherwise(pl.lit("conserve"))
        .alias("rule")
    )
    return df.select(*dims, "value", "status", "rule").sort(dims)
