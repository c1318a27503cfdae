"""Mutualité sociale agricole (MSA): occupational accidents and diseases of agricultural employees.

A workbook with two sheets (each optional), one row per département (Occitanie) ×
secteur MSA × sexe × tranche d'âge:

* « AT-Trajet » → table ``msa``: employees, hours worked, accidents du travail with
  stoppage, their days of temporary incapacity, commuting accidents;
* « MP » → table ``msa_mp``: occupational diseases recognised, by tableau of the régime
  agricole (dimension ``mp_tableau_ra``: RA tableaux are numbered differently from the
  régime général ones, RA 39 ≈ RG 57) and ``cause_family``, mapped from the tableau by
  the crosswalk ``sources/msa/familles-causes.toml`` (data).

MSA sectors are their own classification (dimension ``secteur_msa``, code list
``sources/msa/secteurs.toml``); the NAF sector of these facts is ``ensemble`` / ``_T``.
"""

from __future__ import annotations

import tomllib
from functools import cache

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl import reference
from prst_etl.model.codes import TOTAL, age_band_expr, sex_expr, status_dtype
from prst_etl.model.facts import SECTOR_TOTAL_LEVEL, status_col
from prst_etl.sources.readers import norm_header, norm_header_expr
from prst_etl.resources import data_dir
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.causes import crosswalk, tableau_code_expr
from prst_etl.sources.tabular import (
    KEY_PREFIX,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    measure_checks,
    parse_measure,
)

MSA_TABLE = TableSpec(
    "msa",
    "Salariés agricoles : effectifs, heures, accidents du travail et de trajet",
    (
        Measure("msa_salaries", "Salariés agricoles"),
        Measure("msa_heures_travaillees", "Heures travaillées (salariés agricoles)", "heures"),
        Measure("msa_at", "Accidents du travail avec arrêt (régime agricole)"),
        Measure("msa_at_journees_it", "Journées d'incapacité temporaire des AT (régime agricole)", "journées"),
        Measure("msa_trajet", "Accidents de trajet avec arrêt (régime agricole)"),
    ),
    ("secteur_msa",),
)
MSA_MP_TABLE = TableSpec(
    "msa_mp",
    "Maladies professionnelles des salariés agricoles par tableau du régime agricole et famille de cause",
    (Measure("msa_mp", "Maladies professionnelles reconnues (régime agricole)"),),
    ("secteur_msa", "mp_tableau_ra", "cause_family"),
)


@cache
def sectors() -> dict[str, str]:
    """Accepted spellings of MSA sectors (normalised: no case, accents, extra spaces) → code."""
    with (data_dir("sources") / "msa" / "secteurs.toml").open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, str] = {}
    for c in data["code"]:
        for text in [c["code"], c["label"], *c.get("aliases", [])]:
            out[norm_header(text)] = c["code"]
    return out


@cache
def sector_labels() -> dict[str, str]:
    with (data_dir("sources") / "msa" / "secteurs.toml").open("rb") as fh:
        return {c["code"]: c["label"] for c in tomllib.load(fh)["code"]}


def _sector_expr(expr: pl.Expr) -> pl.Expr:
    s = norm_header_expr(expr.cast(pl.String)).str.replace(r"[\s*:]+$", "")
    return s.replace_strict(sectors(), default=None, return_dtype=pl.String)


def _clean_departement(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d$")).then(s.str.zfill(2)).otherwise(s)


@register_source
class Msa(TabularSource):
    id = "msa"
    provider = "Mutualité sociale agricole (MSA)"
    title = "Sinistralité des salariés agricoles (AT, trajet, MP) par département, secteur MSA, sexe et âge"
    description = (
        "Classeur de la MSA pour les salariés agricoles d'Occitanie : une feuille « AT-Trajet » (salariés, heures, "
        "accidents du travail avec arrêt et leurs journées d'arrêt, accidents de trajet) et une feuille « MP » "
        "(maladies professionnelles reconnues par tableau du régime agricole), chacune facultative, une ligne par "
        "département × secteur MSA × sexe × tranche d'âge. Les tableaux du régime agricole (RA 39 ≈ RG 57…) sont "
        "ramenés aux familles de cause communes par la table sources/msa/familles-causes.toml ; les secteurs MSA "
        "sont leur propre nomenclature (sources/msa/secteurs.toml), pas la NAF."
    )
    geo_levels = ("departement",)
    scope = geography.DEPARTEMENTS_OCCITANIE
    series = "regime-agricole"
    tables = (MSA_TABLE, MSA_MP_TABLE)

    def key_columns(self, ctx: Context) -> list[Derived]:
        keys = [
            Derived(KEY_PREFIX + "geo", "departement", _clean_departement),
            Derived(KEY_PREFIX + "secteur", "secteur", _sector_expr),
        ]
        if ctx.has("sexe"):
            keys.append(Derived(KEY_PREFIX + "sex", "sexe", sex_expr))
        if ctx.has("tranche_age"):
            keys.append(Derived(KEY_PREFIX + "age", "tranche_age", age_band_expr))
        if ctx.layout == "mp":
            keys.append(Derived(KEY_PREFIX + "tableau", "tableau", tableau_code_expr))
        return keys

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        k = lambda name: pl.col(KEY_PREFIX + name)  # noqa: E731
        known = reference.departements()["code"].to_list()
        scope = list(self.scope or ())
        checks = [
            RawCheck("missing-key", "departement", pl.col("departement").is_not_null(), lambda v: "Code département manquant."),
            RawCheck(
                "unknown-departement",
                "departement",
                pl.col("departement").is_null() | k("geo").is_in(known),
                lambda v: f"« {v} » n'est pas un code de département.",
            ),
            RawCheck(
                "departement-outside-scope",
                "departement",
                ~k("geo").is_in(known) | k("geo").is_in(scope),
                lambda v: f"Le département « {v} » n'est pas en Occitanie ({' '.join(scope)}).",
            ),
            RawCheck("missing-key", "secteur", pl.col("secteur").is_not_null(), lambda v: "Secteur MSA manquant."),
            RawCheck(
                "unknown-msa-sector",
                "secteur",
                pl.col("secteur").is_null() | k("secteur").is_not_null(),
                lambda v: f"« {v} » n'est pas un secteur MSA connu. Secteurs acceptés (libellé ou code) : "
                + " ; ".join(f"{label} ({code})" for code, label in sector_labels().items())
                + ".",
            ),
        ]
        if ctx.has("sexe"):
            checks.append(
                RawCheck("invalid-sex", "sexe", k("sex").is_not_null(), lambda v: f"« {v} » n'est pas un sexe reconnu (H/F, Hommes/Femmes, 1/2).")
            )
        if ctx.has("tranche_age"):
            checks.append(
                RawCheck(
                    "invalid-age-band",
                    "tranche_age",
                    k("age").is_not_null(),
                    lambda v: f"« {v} » n'est pas une tranche d'âge reconnue (ex. « Moins de 30 ans », « 30 à 49 ans », « 50 ans et plus »).",
                )
            )
        if ctx.layout == "mp":
            checks += [
                RawCheck("missing-key", "tableau", pl.col("tableau").is_not_null(), lambda v: "Tableau de MP manquant."),
                RawCheck(
                    "unknown-mp-tableau",
                    "tableau",
                    pl.col("tableau").is_null() | k("tableau").is_not_null(),
                    lambda v: f"« {v} » n'est pas un tableau de maladie professionnelle du régime agricole (ex. 39, 57 bis, RA 47 bis, Hors tableau).",
                ),
            ]
        return checks + measure_checks(ctx)

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):
        k = lambda name: pl.col(KEY_PREFIX + name)  # noqa: E731
        keys = raw.select(
            pl.lit(ctx.year, dtype=pl.Int32).alias("year"),
            pl.lit("departement").alias("geo_level"),
            k("geo").alias("geo_code"),
            pl.lit(SECTOR_TOTAL_LEVEL).alias("sector_level"),
            pl.lit(TOTAL).alias("sector_code"),
            (k("sex") if ctx.has("sexe") else pl.lit(TOTAL)).alias("sex"),
            (k("age") if ctx.has("tranche_age") else pl.lit(TOTAL)).alias("age_band"),
            k("secteur").alias("secteur_msa"),
        )
        if ctx.layout == "mp":
            spec = MSA_MP_TABLE
            extra = raw.select(
                k("tableau").alias("mp_tableau_ra"),
                crosswalk("msa").expr(k("tableau")).alias("cause_family"),
            )
            keys = pl.concat([keys, extra], how="horizontal")
        else:
            spec = MSA_TABLE
        exprs: list[pl.Expr] = []
        for m in spec.measure_ids:
            col = next((c for c in ctx.mapping.by_role("measure") if c.measure == m), None)
            if col is not None and ctx.has(col.name):
                exprs += list(parse_measure(col, ctx.mapping))
            else:
                exprs += [pl.lit(None, dtype=pl.Float64).alias(m), pl.lit("nd", dtype=status_dtype()).alias(status_col(m))]
        table = pl.concat([keys, raw.select(exprs)], how="horizontal")  # cells are unique (raw key check)
        coverage = sorted(keys["geo_code"].unique().drop_nulls().to_list())
        return {spec.name: table}, "departement", coverage
