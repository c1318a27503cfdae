"""Helpers shared by the socio-economic sources (Insee, URSSAF, DARES).

Their files are often national: a commune of another région is not an error
but a row outside prst's territory, skipped and counted. A commune code that
looks like an Occitanie code but is not in the COG (any recent vintage) is an
error. Old codes of merged communes are mapped to COG 2025 and added up.
"""

from __future__ import annotations

from functools import cache

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl import reference
from prst_etl.model.codes import TOTAL
from prst_etl.model.facts import status_col
from prst_etl.sources.base import Extraction
from prst_etl.sources.tabular import DERIVED_PREFIX, KEY_PREFIX, Context, Derived, RawCheck

OUTSIDE = "communes hors Occitanie (fichier national)"


@cache
def commune_departements() -> dict[str, str]:
    """Every known Occitanie commune code (any vintage) → département of its current commune."""
    cur = reference.communes(2025).select("code", "departement")
    p = reference.commune_passage().join(cur, left_on="code_cog2025", right_on="code", how="left")
    return dict(zip(p["code_source"], p["departement"]))


@cache
def departement_codes() -> list[str]:
    return reference.departements()["code"].to_list()


def clean_departement(expr: pl.Expr) -> pl.Expr:
    """``9`` → ``09``, ``972.0`` → ``972``, `` 2a `` → ``2A`` (other text kept as is)."""
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d$")).then(s.str.zfill(2)).otherwise(s)


def commune_keys(column: str) -> list[Derived]:
    """``_k_geo`` (cleaned code), ``_x_known_dep`` (known Occitanie code), ``_x_prefix_dep``."""
    clean = geography.clean_commune_code
    return [
        Derived(KEY_PREFIX + "geo", column, clean),
        Derived(DERIVED_PREFIX + "known_dep", column, lambda e: clean(e).replace_strict(commune_departements(), default=None)),
        Derived(DERIVED_PREFIX + "prefix_dep", column, lambda e: geography.departement_of_code(clean(e))),
    ]


def commune_checks(column: str) -> list[RawCheck]:
    """A commune code is present and known (rows outside Occitanie were skipped before)."""
    known = pl.col(DERIVED_PREFIX + "known_dep")
    return [
        RawCheck("missing-key", column, pl.col(column).is_not_null(), lambda v: "Code commune manquant."),
        RawCheck(
            "unknown-commune",
            column,
            pl.col(column).is_null() | known.is_not_null(),
            lambda v: f"« {v} » n'est pas un code commune d'Occitanie connu (COG 2025, COG 2024 ou ancien code de commune fusionnée).",
        ),
    ]


def skip_outside_occitanie(raw: pl.DataFrame, out: Extraction) -> pl.DataFrame:
    """Drop (and count) the rows of communes of another région: their code has a known
    département prefix outside Occitanie and is not an Occitanie code of any vintage."""
    prefix = pl.col(DERIVED_PREFIX + "prefix_dep")
    outside = pl.col(DERIVED_PREFIX + "known_dep").is_null() & prefix.is_not_null() & ~prefix.is_in(
        list(geography.DEPARTEMENTS_OCCITANIE)
    )
    mask = raw.select(outside.fill_null(False).alias("m"))["m"]
    n = int(mask.sum())
    if n:
        out.stats.rows_skipped += n
        out.stats.skipped_detail[OUTSIDE] = out.stats.skipped_detail.get(OUTSIDE, 0) + n
        raw = raw.filter(~mask)
    return raw


def commune_geo(raw: pl.DataFrame) -> tuple[pl.DataFrame, list[str], int]:
    """Add ``geo_level``/``geo_code`` (COG 2025); return the frame, the départements covered and
    the number of rows written under an old code that share their current commune with other rows."""
    mapped = geography.normalise_communes(raw[KEY_PREFIX + "geo"])
    df = raw.with_columns(geo_level=pl.lit("commune"), geo_code=mapped["code"])
    coverage = sorted(mapped["departement"].unique().drop_nulls().to_list())
    pairs = df.select(pl.col(KEY_PREFIX + "geo").alias("raw"), pl.col("geo_code")).unique()
    shared = pairs.filter(pl.len().over("geo_code") > 1).filter(pl.col("raw") != pl.col("geo_code"))
    merged = int(df[KEY_PREFIX + "geo"].is_in(shared["raw"].implode()).sum()) if shared.height else 0
    return df, coverage, merged


def flagged(value: pl.Expr, status: pl.Expr, keep: pl.Expr, name: str) -> list[pl.Expr]:
    """A measure that counts ``value`` on the rows where ``keep`` holds (0 elsewhere)."""
    return [
        pl.when(keep).then(value).otherwise(0.0).alias(name),
        pl.when(keep).then(status).alias(status_col(name)),
    ]


def given_total_checks(dim_key: str, group_keys: list[str], columns: list[str], what: str) -> list[RawCheck]:
    """Rows whose dimension ``dim_key`` is ``_T`` (« Ensemble », « Total ») are totals given by
    the source: each must equal the sum of the detailed rows that share its other keys (one
    rule per count column; judged only when every part has a number). They are not stored."""
    is_total = pl.col(dim_key) == TOTAL
    checks = []
    for c in columns:
        v = pl.col(f"_v_{c}")
        parts = pl.when(~is_total).then(v).sum().over(group_keys)
        missing = (~is_total & v.is_null()).any().over(group_keys)
        ok = ~is_total | v.is_null() | missing | ((v - parts).abs() < 0.5)
        checks.append(
            RawCheck(
                "total-mismatch",
                c,
                ok,
                lambda x, w=what: f"Ligne de total ({w}) : {x} n'est pas la somme des lignes détaillées correspondantes.",
            )
        )
    return checks


def drop_given_totals(raw: pl.DataFrame, dim_keys: list[str], out: Extraction, ctx: Context) -> pl.DataFrame:
    """Leave out the checked total rows (``_T`` in one of ``dim_keys``): counted as rows, and
    what they give set aside in the ledger."""
    mask = raw.select(pl.any_horizontal([pl.col(d) == TOTAL for d in dim_keys]).fill_null(False).alias("m"))["m"]
    n = int(mask.sum())
    if n:
        label = "lignes de total de la source (contrôlées, non stockées)"
        ctx.set_aside(out, raw.filter(mask), label)
        out.stats.rows_skipped += n
        out.stats.rows_kept -= n
        out.stats.skipped_detail[label] = out.stats.skipped_detail.get(label, 0) + n
        raw = raw.filter(~mask)
    return raw
