"""Santé publique France, programme de surveillance des maladies à caractère professionnel (MCP).

During the « quinzaines MCP », occupational physicians report every work-related
disease they see. The regional file gives, by year × sex × NAF section (A21), the
employees seen (``mcp_salaries_vus``) and the employees with a reported MCP by
group: mental suffering (``mcp_souffrance_psychique``), musculoskeletal disorders
(``mcp_tms``), others (``mcp_autres``). One employee may be reported in several
groups, so the groups do not add up to a total. Several years in one file (a
column « Année »). Région level (Occitanie, ``76``).

The prevalence columns (%) the file may carry are *checked* against
numerator / ``mcp_salaries_vus`` (a warning when they disagree) and *not stored*:
the catalogue computes the prevalence at the level read (DESIGN: a rate given by
a source is never stored as a count).
"""

from __future__ import annotations

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl.model.codes import TOTAL, number_expr, sign_expr
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.builtin._health import k, key_checks, key_columns, part_checks
from prst_etl.sources.tabular import (
    DERIVED_PREFIX,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    measure_checks,
    parse_measure,
)

DENOMINATOR = "mcp_salaries_vus"
MEASURES = (
    Measure(DENOMINATOR, "Salariés vus pendant les quinzaines MCP"),
    Measure("mcp_souffrance_psychique", "Salariés avec un signalement de souffrance psychique liée au travail"),
    Measure("mcp_tms", "Salariés avec un signalement de TMS lié au travail"),
    Measure("mcp_autres", "Salariés avec un signalement d'une autre maladie à caractère professionnel"),
)


def _decimals_tolerance(expr: pl.Expr) -> pl.Expr:
    """Half a unit of the last decimal written (``5,3`` → 0.05; ``5`` → 0.5), at least 1e-6."""
    s = expr.cast(pl.String).str.strip_chars()
    decimals = s.str.extract(r"[.,](\d+)\s*%?$", 1).str.len_chars().fill_null(0)
    return pl.max_horizontal(pl.lit(10.0).pow(-decimals.cast(pl.Float64)) / 2, pl.lit(1e-6))


@register_source
class SpfMcp(TabularSource):
    id = "spf-mcp"
    provider = "Santé publique France (programme MCP)"
    title = "Maladies à caractère professionnel : salariés vus et signalements par année, sexe et secteur"
    description = (
        "Résultats régionaux du programme de surveillance des maladies à caractère professionnel (MCP) de "
        "Santé publique France : une ligne par année × sexe × section NAF (A21), avec les salariés vus "
        "pendant les quinzaines et les salariés ayant un signalement de souffrance psychique, de TMS ou "
        "d'une autre MCP. Plusieurs années par fichier (colonne « Année »). Les colonnes de prévalence (%) "
        "éventuelles sont contrôlées (avertissement si elles ne valent pas signalements / salariés vus) "
        "mais ne sont pas stockées : prst recalcule les prévalences."
    )
    geo_levels = ("region",)
    scope = geography.DEPARTEMENTS_OCCITANIE
    series = "spf-mcp"
    tables = (TableSpec("mcp", "Maladies à caractère professionnel (salariés vus et signalements)", MEASURES),)

    def _rate_columns(self, ctx: Context) -> list[tuple[str, str]]:
        """(rate column, numerator measure) of the prevalence columns present in the file."""
        return [(c.name, c.measure) for c in ctx.mapping.by_role("check") if c.kind == "rate" and ctx.has(c.name)]

    def key_columns(self, ctx: Context) -> list[Derived]:
        keys = key_columns(ctx)
        for col, _ in self._rate_columns(ctx):
            keys += [
                Derived(DERIVED_PREFIX + "rate_" + col, col, lambda e: number_expr(e.cast(pl.String).str.replace(r"\s*%$", ""))),
                Derived(DERIVED_PREFIX + "sign_" + col, col, sign_expr),
                Derived(DERIVED_PREFIX + "tol_" + col, col, _decimals_tolerance),
            ]
        return keys

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        parts = [(m.id, DENOMINATOR) for m in MEASURES[1:]]
        return key_checks(ctx) + measure_checks(ctx) + part_checks(ctx, parts) + self._rate_checks(ctx)

    def _rate_checks(self, ctx: Context) -> list[RawCheck]:
        checks = []
        den = pl.col(f"_v_{DENOMINATOR}")
        for col, numerator in self._rate_columns(ctx):
            given = pl.col(DERIVED_PREFIX + "rate_" + col)
            sign = pl.col(DERIVED_PREFIX + "sign_" + col)
            tol = pl.col(DERIVED_PREFIX + "tol_" + col)
            computed = pl.col(f"_v_{numerator}") / den * 100
            label = ctx.mapping.column(numerator).headers[0] if ctx.has(numerator) else numerator
            den_label = ctx.mapping.column(DENOMINATOR).headers[0]
            checks += [
                RawCheck(
                    "rate-mismatch",
                    col,
                    pl.col(col).is_null() | given.is_not_null() | sign.is_not_null(),
                    lambda v: f"« {v} » n'est pas un pourcentage lisible : il n'est pas contrôlé.",
                ),
                RawCheck(
                    "rate-mismatch",
                    col,
                    given.is_null() | computed.is_null() | (den == 0) | ((given - computed).abs() <= tol),
                    lambda v, n=label, d=den_label: f"La prévalence {v} % ne vaut pas « {n} » / « {d} » × 100 "
                    "(valeur recalculée par prst ; la colonne n'est pas stockée).",
                ),
            ]
        return checks

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):  # type: ignore[no-untyped-def]
        mapping = ctx.mapping
        keys = raw.select(
            ctx.year_key(),
            pl.lit("region").alias("geo_level"),
            pl.lit(geography.REGION_OCCITANIE).alias("geo_code"),
            pl.lit("a21").alias("sector_level"),
            k("section").alias("sector_code"),
            k("sex").alias("sex"),
            pl.lit(TOTAL).alias("age_band"),
        )
        values = raw.select([e for m in MEASURES for e in parse_measure(mapping.column(m.id), mapping)])
        return {"mcp": pl.concat([keys, values], how="horizontal")}, "region", list(geography.DEPARTEMENTS_OCCITANIE)
