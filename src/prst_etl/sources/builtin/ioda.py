"""CREAI-ORS Occitanie, dispositif IODA: declarations of inaptitude and risk profiles.

One row per SPSTI × département × sex × age band × NAF section (A21) gives one
fact table ``inaptitude``: employees followed by the service (``salaries_suivis``),
declarations of inaptitude (``inaptitudes``), and employees with a risk profile
of inaptitude for musculoskeletal disorders (``profil_risque_tms``) or for mental
and behavioural disorders (``profil_risque_psy``). Rates (incidence per 1 000,
shares in %) are computed from these counts by the catalogue, never stored.

Geography: the part of an SPSTI perimeter in one département, level
``spsti-departement``, code ``<spsti>@<département>`` (e.g. ``SPSTI-BTP-MP@31``):
the département must be one the service covers. An employee is followed by one
service only, so cells of different services add up even where the
interprofessional and BTP perimeters overlap.
"""

from __future__ import annotations

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.builtin._health import k, key_checks, key_columns, part_checks
from prst_etl.sources.tabular import Context, Derived, RawCheck, TabularSource, measure_checks, parse_measure

MEASURES = (
    Measure("salaries_suivis", "Salariés suivis par le SPSTI"),
    Measure("inaptitudes", "Déclarations d'inaptitude"),
    Measure("profil_risque_tms", "Salariés présentant un profil à risque d'inaptitude pour TMS"),
    Measure("profil_risque_psy", "Salariés présentant un profil à risque d'inaptitude pour troubles mentaux et du comportement"),
)


@register_source
class Ioda(TabularSource):
    id = "ioda"
    provider = "CREAI-ORS Occitanie (dispositif IODA)"
    title = "Inaptitudes et profils à risque d'inaptitude par SPSTI, département, sexe, âge et secteur"
    description = (
        "Extraction annuelle du dispositif IODA (CREAI-ORS Occitanie) : une ligne par SPSTI × département × "
        "sexe × tranche d'âge × section NAF (A21), avec les salariés suivis, les déclarations d'inaptitude et "
        "les salariés présentant un profil à risque d'inaptitude pour TMS ou pour troubles mentaux et du "
        "comportement. Le département doit être couvert par le SPSTI (liste des SPSTI d'Occitanie) ; une "
        "case vide est une erreur (écrire 0, ou s pour un secret)."
    )
    geo_levels = ("spsti-departement",)
    scope = geography.DEPARTEMENTS_OCCITANIE
    series = "ioda"
    tables = (TableSpec("inaptitude", "Inaptitudes et profils à risque d'inaptitude (IODA)", MEASURES),)

    def key_columns(self, ctx: Context) -> list[Derived]:
        return key_columns(ctx)

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        parts = [("inaptitudes", "salaries_suivis"), ("profil_risque_tms", "salaries_suivis"), ("profil_risque_psy", "salaries_suivis")]
        return key_checks(ctx) + measure_checks(ctx) + part_checks(ctx, parts)

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):  # type: ignore[no-untyped-def]
        mapping = ctx.mapping
        keys = raw.select(
            ctx.year_key(),
            pl.lit("spsti-departement").alias("geo_level"),
            (k("spsti") + "@" + k("dep")).alias("geo_code"),
            pl.lit("a21").alias("sector_level"),
            k("section").alias("sector_code"),
            k("sex").alias("sex"),
            k("age").alias("age_band"),
        )
        values = raw.select([e for m in MEASURES for e in parse_measure(mapping.column(m.id), mapping)])
        coverage = sorted(raw["_k_dep"].unique().drop_nulls().to_list())
        return {"inaptitude": pl.concat([keys, values], how="horizontal")}, "spsti-departement", coverage
