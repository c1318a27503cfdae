"""DARES: company agreements and amendments (accords et avenants d'entreprise) by département
× company size band × NAF A38 sector × year (``dares-accords``).

One row per year × département × size band × A38 sector, with the number of agreements and
amendments and the number of companies that concluded at least one (``accords_par_entreprise``
= accords / entreprises_couvertes is computed at read time). The year is a column: one file
holds several years. Rows « Ensemble » (all sizes or all sectors) are totals given by the file:
checked against their detail, not stored.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from prst_etl._lazy import polars as pl

from prst_etl import reference
from prst_etl.model.codes import TOTAL, norm_header_expr, size_band_expr
from prst_etl.sources.mapping import Mapping
from prst_etl.sources.readers import IssueFactory, Sheet
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.builtin._socio import (
    clean_departement,
    departement_codes,
    drop_given_totals,
    given_total_checks,
)
from prst_etl.sources.tabular import (
    KEY_PREFIX,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    measure_checks,
    parse_measure,
)

TOTAL_WORDS = ["ensemble", "total", "tous secteurs", "ensemble des secteurs", "_t"]


@cache
def a38_codes() -> list[str]:
    return sorted(reference.naf()["a38"].unique().to_list())


def clean_a38(expr: pl.Expr) -> pl.Expr:
    """``c1`` → ``C1``, « Ensemble » → ``_T``; a label written after the code (``C1 Fabrication…``) keeps the code."""
    s = expr.cast(pl.String).str.strip_chars()
    code = s.str.to_uppercase().str.extract(r"^([A-Z][A-Z0-9])(?:\s|$|[-–:])", 1)
    return pl.when(norm_header_expr(s).is_in(TOTAL_WORDS)).then(pl.lit(TOTAL)).otherwise(code)


def clean_year(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.strip_chars().str.replace(r"^(\d+)\.0*$", "${1}")


@register_source
class DaresAccords(TabularSource):
    id = "dares-accords"
    provider = "DARES (ministère du Travail)"
    title = "Accords et avenants d'entreprise par département, taille d'entreprise et secteur"
    description = (
        "Tableau de la DARES des accords et avenants d'entreprise déposés : une ligne par année × département "
        "× tranche de taille d'entreprise × secteur (NAF A38), avec le nombre d'accords et avenants et le "
        "nombre d'entreprises en ayant conclu au moins un. Plusieurs années par fichier (colonne « Année » ; "
        "--year en garde une). Tous les départements sont acceptés. Les lignes « Ensemble » (toutes tailles, "
        "tous secteurs) sont des totaux du fichier : contrôlées, non stockées."
    )
    geo_levels = ("departement",)
    series = "dares-accords"
    tables = (
        TableSpec(
            "accords",
            "Accords et avenants d'entreprise",
            (
                Measure("accords", "Accords et avenants d'entreprise", "accords"),
                Measure("entreprises_couvertes", "Entreprises ayant conclu au moins un accord", "entreprises"),
            ),
            ("size_band",),
        ),
    )

    def _find_year(self, mapping: Mapping, sh: Sheet, header_idx: int, path: Path, year: int | None, issue: IssueFactory) -> int | None:
        """The year is a column of the file; ``--year`` keeps that year only (0 = every year)."""
        return year or 0

    def key_columns(self, ctx: Context) -> list[Derived]:
        return [
            Derived(KEY_PREFIX + "year", "annee", clean_year),
            Derived(KEY_PREFIX + "geo", "departement", clean_departement),
            Derived(KEY_PREFIX + "size", "taille", size_band_expr),
            Derived(KEY_PREFIX + "a38", "a38", clean_a38),
        ]

    def skip_rows(self, raw: pl.DataFrame, ctx: Context, out: Extraction) -> pl.DataFrame:
        if not ctx.year:
            return raw
        other = raw.select((pl.col(KEY_PREFIX + "year") != str(ctx.year)).fill_null(False).alias("m"))["m"]
        n = int(other.sum())
        if n:
            label = f"autres années que {ctx.year} (--year)"
            out.stats.rows_skipped += n
            out.stats.skipped_detail[label] = n
        return raw.filter(~other)

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        k = lambda name: pl.col(KEY_PREFIX + name)  # noqa: E731
        year = k("year")
        checks = [
            RawCheck("missing-key", "annee", pl.col("annee").is_not_null(), lambda v: "Année manquante."),
            RawCheck(
                "invalid-year",
                "annee",
                pl.col("annee").is_null()
                | (year.str.contains(r"^\d{4}$") & year.cast(pl.Int32, strict=False).is_between(1950, 2100)).fill_null(False),
                lambda v: f"« {v} » n'est pas une année (quatre chiffres).",
            ),
            RawCheck("missing-key", "departement", pl.col("departement").is_not_null(), lambda v: "Code département manquant."),
            RawCheck(
                "unknown-departement",
                "departement",
                pl.col("departement").is_null() | k("geo").is_in(departement_codes()),
                lambda v: f"« {v} » n'est pas un code de département.",
            ),
            RawCheck("missing-key", "taille", pl.col("taille").is_not_null(), lambda v: "Taille d'entreprise manquante."),
            RawCheck(
                "invalid-size-band",
                "taille",
                pl.col("taille").is_null() | k("size").is_not_null(),
                lambda v: f"« {v} » n'est pas une tranche de taille reconnue (ex. « Moins de 11 salariés », « 11 à 49 salariés », « 300 salariés ou plus »).",
            ),
            RawCheck("missing-key", "a38", pl.col("a38").is_not_null(), lambda v: "Secteur manquant."),
            RawCheck(
                "unknown-naf",
                "a38",
                pl.col("a38").is_null() | k("a38").is_in([*a38_codes(), TOTAL]),
                lambda v: f"« {v} » n'est pas un code de la NAF en 38 postes (A38 : AZ, BZ, CA … RU).",
            ),
        ]
        checks += measure_checks(ctx)
        acc, ent = pl.col("_v_accords"), pl.col("_v_entreprises_couvertes")
        if ctx.has("accords") and ctx.has("entreprises_couvertes"):
            checks += [
                RawCheck(
                    "inconsistent-values",
                    "entreprises_couvertes",
                    ~(ent > acc),
                    lambda v: f"{v} entreprises signataires pour moins d'accords : chaque entreprise compte au moins un accord.",
                ),
                RawCheck(
                    "inconsistent-values",
                    "entreprises_couvertes",
                    ~((ent == 0) & (acc > 0)),
                    lambda v: "Des accords sans aucune entreprise signataire.",
                ),
            ]
        counts = [c for c in ("accords", "entreprises_couvertes") if ctx.has(c)]
        checks += given_total_checks(KEY_PREFIX + "size", [KEY_PREFIX + "year", KEY_PREFIX + "geo", KEY_PREFIX + "a38"], counts, "toutes tailles")
        checks += given_total_checks(KEY_PREFIX + "a38", [KEY_PREFIX + "year", KEY_PREFIX + "geo", KEY_PREFIX + "size"], counts, "tous secteurs")
        return checks

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):
        raw = drop_given_totals(raw, [KEY_PREFIX + "size", KEY_PREFIX + "a38"], out, ctx)
        mapping = ctx.mapping
        exprs = []
        for m in ("accords", "entreprises_couvertes"):
            exprs += list(parse_measure(mapping.column(m), mapping))
        facts = raw.select(
            pl.col(KEY_PREFIX + "year").cast(pl.Int32).alias("year"),
            pl.lit("departement").alias("geo_level"),
            pl.col(KEY_PREFIX + "geo").alias("geo_code"),
            pl.lit("a38").alias("sector_level"),
            pl.col(KEY_PREFIX + "a38").alias("sector_code"),
            pl.lit(TOTAL).alias("sex"),
            pl.lit(TOTAL).alias("age_band"),
            pl.col(KEY_PREFIX + "size").alias("size_band"),
            *exprs,
        )
        coverage = sorted(facts["geo_code"].unique().to_list())
        return {"accords": facts}, "departement", coverage


__all__ = ["DaresAccords"]
