"""Direction générale du travail: regional extract of the annual activity report of the SPSTI.

One row per service (SPSTI) gives one fact table ``activite``: employees followed
(``spsti_salaries_suivis``), declarations of inaptitude (``spsti_inaptitudes``)
and visits by type — measure ``spsti_visites``, dimension ``visit_type``
(``vip`` visite d'information et de prévention, ``sir`` examen d'aptitude du suivi
individuel renforcé, ``reprise``, ``pre-reprise``, ``demande`` à la demande du
salarié, de l'employeur ou du médecin, ``autres``), stored pivoted (one column per
type) like the AT risk families. A « Total des visites » column, when present,
is checked against the sum of the types and not stored.

Geography: level ``spsti``, code of the service (reference list of the SPSTI of
Occitanie). The DGT renamed several headers in its 2025 model: that is mapping
version 2025, not new code.
"""

from __future__ import annotations

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl.model.codes import TOTAL
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, Pivot, TableSpec
from prst_etl.sources.builtin._health import k, key_checks, key_columns, part_checks, spsti_departements_of
from prst_etl.sources.tabular import Context, Derived, RawCheck, TabularSource, measure_checks, parse_measure

VISIT_TYPES = {
    "vip": "Visites d'information et de prévention (VIP)",
    "sir": "Examens médicaux d'aptitude (suivi individuel renforcé)",
    "reprise": "Visites de reprise",
    "pre-reprise": "Visites de pré-reprise",
    "demande": "Visites à la demande (salarié, employeur, médecin)",
    "autres": "Autres visites (mi-carrière, fin de carrière…)",
}
VISIT_COLUMNS = tuple((f"spsti_visites_{code.replace('-', '_')}", code, label) for code, label in VISIT_TYPES.items())
VISIT_PIVOT = Pivot("visit_type", "spsti_visites", "Visites et examens par type", VISIT_COLUMNS)
MEASURES = (
    Measure("spsti_salaries_suivis", "Salariés suivis par le SPSTI"),
    Measure("spsti_inaptitudes", "Avis d'inaptitude prononcés"),
) + tuple(Measure(col, f"Visites — {label}", "visites") for col, _, label in VISIT_COLUMNS)


@register_source
class DgtSpsti(TabularSource):
    id = "dgt-spsti"
    provider = "Direction générale du travail (rapport annuel d'activité des SPSTI)"
    title = "Activité des SPSTI : salariés suivis, visites par type, inaptitudes"
    description = (
        "Extrait régional (Occitanie) du rapport annuel d'activité des services de prévention et de santé au "
        "travail interentreprises (SPSTI) transmis à la DGT : une ligne par SPSTI (code de la liste des SPSTI "
        "d'Occitanie), avec les salariés suivis, les visites par type (VIP, SIR, reprise, pré-reprise, à la "
        "demande, autres) et les avis d'inaptitude. L'année est lue dans le titre. La colonne « Total des "
        "visites », facultative, est contrôlée contre la somme des types. Modèles 2024 et 2025 (en-têtes renommés)."
    )
    geo_levels = ("spsti",)
    scope = geography.DEPARTEMENTS_OCCITANIE
    series = "dgt-spsti"
    tables = (TableSpec("activite", "Activité des SPSTI (salariés suivis, visites par type, inaptitudes)", MEASURES, (), (VISIT_PIVOT,)),)

    def key_columns(self, ctx: Context) -> list[Derived]:
        return key_columns(ctx)

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        checks = key_checks(ctx) + measure_checks(ctx) + part_checks(ctx, [("spsti_inaptitudes", "spsti_salaries_suivis")])
        totals = [c for c in ctx.mapping.by_role("check") if c.kind == "total" and ctx.has(c.name)]
        if totals:
            col = totals[0].name
            parts = [f"_v_{c.name}" for c in ctx.mapping.by_role("measure") if c.measure in VISIT_PIVOT.storage and ctx.has(c.name)]
            given = pl.col(col).cast(pl.String).str.replace_all(r"[\s\u00a0\u202f]", "").cast(pl.Float64, strict=False)
            known = pl.all_horizontal([pl.col(p).is_not_null() for p in parts])
            checks.append(
                RawCheck(
                    "total-mismatch",
                    col,
                    given.is_null() | ~known | (pl.sum_horizontal([pl.col(p) for p in parts]) == given),
                    lambda v: f"Le total des visites ({v}) ne vaut pas la somme des visites par type de la ligne.",
                )
            )
        return checks

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):  # type: ignore[no-untyped-def]
        mapping = ctx.mapping
        keys = raw.select(
            ctx.year_key(),
            pl.lit("spsti").alias("geo_level"),
            k("spsti").alias("geo_code"),
            pl.lit("ensemble").alias("sector_level"),
            pl.lit(TOTAL).alias("sector_code"),
            pl.lit(TOTAL).alias("sex"),
            pl.lit(TOTAL).alias("age_band"),
        )
        by_measure = {c.measure: c for c in mapping.by_role("measure")}
        values = raw.select([e for m in MEASURES for e in parse_measure(by_measure[m.id], mapping)])
        coverage = spsti_departements_of(raw["_k_spsti"].unique().drop_nulls().to_list())
        return {"activite": pl.concat([keys, values], how="horizontal")}, "spsti", coverage
