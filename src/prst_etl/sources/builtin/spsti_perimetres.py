"""SPSTI perimeters (reference source ``spsti-perimetres``).

One row per SPSTI × commune, with the service's code, name, sector scope
(« champ » : interprofessionnel, BTP…) and validity dates. Perimeters may
overlap (a BTP service covers the communes of interprofessional ones) and may
change between years: the aggregates of year Y use the rows valid on 1 July of Y.
SPSTI totals are never added up into the région.

Stored as a fact table of memberships (measure ``membre`` = 1) so that it is
validated, versioned and superseded like any load; ``aggregate`` reads it.
"""

from __future__ import annotations


from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl.model.codes import TOTAL
from prst_etl.model.text import norm_header_expr
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.readers import ROW
from prst_etl.sources.tabular import DERIVED_PREFIX, KEY_PREFIX, Context, Derived, RawCheck, TabularSource

OPEN_END = "9999-12-31"
"""``date_fin`` of a perimeter with no end date."""
CHAMPS = {"interprofessionnel": "interprofessionnel", "interpro": "interprofessionnel", "btp": "btp",
          "batiment": "btp", "batiment et travaux publics": "btp", "agricole": "agricole", "autre": "autre"}  # fmt: skip
SPSTI_CODE = r"^[A-Z0-9][A-Z0-9-]{1,30}$"


def _current_commune(expr: pl.Expr) -> pl.Expr:
    """COG 2025 code of a commune code of any recent vintage (null when unknown)."""
    from prst_etl import reference

    p = reference.commune_passage()
    return geography.clean_commune_code(expr).replace_strict(p["code_source"], p["code_cog2025"], default=None)


def parse_date_expr(expr: pl.Expr) -> pl.Expr:
    """ISO (``2024-01-01``, with or without a time), French (``01/01/2024``) or Excel serial dates → ``YYYY-MM-DD``."""
    s = expr.cast(pl.String).str.strip_chars()
    iso = s.str.extract(r"^(\d{4}-\d{2}-\d{2})", 1)
    fr = s.str.extract_groups(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$")
    fr_iso = fr.struct.field("y") + "-" + fr.struct.field("m").str.zfill(2) + "-" + fr.struct.field("d").str.zfill(2)
    serial = s.cast(pl.Float64, strict=False)
    excel = (pl.date(1899, 12, 30) + pl.duration(days=serial.cast(pl.Int64, strict=False))).cast(pl.String)
    out = pl.coalesce(iso, fr_iso, pl.when(serial.is_between(20000, 80000)).then(excel))
    # reject impossible dates (31/02/2024)
    return pl.when(out.str.to_date("%Y-%m-%d", strict=False).is_not_null()).then(out)


@register_source
class SpstiPerimetres(TabularSource):
    id = "spsti-perimetres"
    provider = "DREETS Occitanie (à partir des agréments des SPSTI)"
    title = "Périmètres des SPSTI (référentiel)"
    description = (
        "Référentiel des périmètres des services de prévention et de santé au travail interentreprises : "
        "une ligne par SPSTI × commune, avec le nom du service, son champ (interprofessionnel, BTP…) et ses dates "
        "de validité. Les périmètres peuvent se recouvrir et changer d'une année à l'autre : les agrégats d'une "
        "année utilisent les lignes valides au 1er juillet de cette année. Les SPSTI ne s'additionnent jamais en région."
    )
    geo_levels = ("commune",)
    series = "spsti-perimetres"
    reference = True
    tables = (
        TableSpec(
            "perimetres",
            "Appartenance d'une commune au périmètre d'un SPSTI",
            (Measure("membre", "Appartenance (1)"),),
            ("spsti", "spsti_nom", "champ", "date_debut", "date_fin"),
        ),
    )

    def read_amounts(self, ctx: Context) -> dict[tuple[str, str], pl.Expr]:
        """Each row of the file is one membership (measure ``membre`` = 1)."""
        return {("perimetres", "membre"): pl.col(ROW).is_not_null().cast(pl.Float64)}

    def key_columns(self, ctx: Context) -> list[Derived]:
        keys = [
            Derived(KEY_PREFIX + "spsti", "code_spsti", lambda e: e.str.strip_chars().str.to_uppercase()),
            Derived(KEY_PREFIX + "commune", "commune", geography.clean_commune_code),
            Derived(KEY_PREFIX + "debut", "date_debut", parse_date_expr),
            Derived(DERIVED_PREFIX + "fin", "date_fin", parse_date_expr) if ctx.has("date_fin") else None,
            Derived(DERIVED_PREFIX + "champ", "champ", lambda e: norm_header_expr(e).replace_strict(CHAMPS, default=None)),
            Derived(DERIVED_PREFIX + "commune_cog", "commune", _current_commune),
        ]
        return [d for d in keys if d is not None]

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        k = lambda n: pl.col(KEY_PREFIX + n)  # noqa: E731
        x = lambda n: pl.col(DERIVED_PREFIX + n)  # noqa: E731
        checks = [
            RawCheck("missing-key", "code_spsti", pl.col("code_spsti").is_not_null(), lambda v: "Code SPSTI manquant."),
            RawCheck(
                "unknown-code", "code_spsti", pl.col("code_spsti").is_null() | k("spsti").str.contains(SPSTI_CODE),
                lambda v: f"« {v} » n'est pas un code de SPSTI valide (lettres, chiffres et tirets, ex. SPSTI-31-A).",
            ),
            RawCheck("missing-key", "nom_spsti", pl.col("nom_spsti").is_not_null(), lambda v: "Nom du SPSTI manquant."),
            RawCheck(
                "unknown-code", "champ", x("champ").is_not_null(),
                lambda v: f"« {v} » n'est pas un champ reconnu (interprofessionnel, BTP, agricole, autre).",
            ),
            RawCheck("missing-key", "commune", pl.col("commune").is_not_null(), lambda v: "Code commune manquant."),
            RawCheck(
                "unknown-commune", "commune", pl.col("commune").is_null() | x("commune_cog").is_not_null(),
                lambda v: f"« {v} » n'est pas un code commune d'Occitanie connu (COG 2025, 2024 ou ancien code).",
            ),
            RawCheck(
                "invalid-date", "date_debut", k("debut").is_not_null(),
                lambda v: f"« {v} » n'est pas une date de début reconnue.",
            ),
        ]
        if ctx.has("date_fin"):
            checks += [
                RawCheck(
                    "invalid-date", "date_fin", pl.col("date_fin").is_null() | x("fin").is_not_null(),
                    lambda v: f"« {v} » n'est pas une date de fin reconnue.",
                ),
                RawCheck(
                    "invalid-period", "date_fin", x("fin").is_null() | k("debut").is_null() | (x("fin") >= k("debut")),
                    lambda v: f"La date de fin {v} précède la date de début.",
                ),
            ]
        return checks

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):  # type: ignore[no-untyped-def]
        fin = pl.col(DERIVED_PREFIX + "fin").fill_null(OPEN_END) if ctx.has("date_fin") else pl.lit(OPEN_END)
        df = raw.select(
            pl.lit(ctx.year, dtype=pl.Int32).alias("year"),
            pl.lit("commune").alias("geo_level"),
            pl.col(DERIVED_PREFIX + "commune_cog").alias("geo_code"),
            pl.lit("ensemble").alias("sector_level"),
            pl.lit(TOTAL).alias("sector_code"),
            pl.lit(TOTAL).alias("sex"),
            pl.lit(TOTAL).alias("age_band"),
            pl.col(KEY_PREFIX + "spsti").alias("spsti"),
            pl.col("nom_spsti").str.strip_chars().alias("spsti_nom"),
            pl.col(DERIVED_PREFIX + "champ").alias("champ"),
            pl.col(KEY_PREFIX + "debut").alias("date_debut"),
            fin.alias("date_fin"),
            pl.lit(1.0).alias("membre"),
        )
        # two old codes of one merged commune give the same membership once
        n = df.height
        df = df.unique(maintain_order=True)
        out.stats.rows_merged = n - df.height
        out.ledger.set_aside(
            "perimetres", "membre", "anciens codes d'une même commune fusionnée dans un même périmètre (appartenance comptée une fois)",
            float(n - df.height),
        )
        deps = geography.normalise_communes(df["geo_code"])["departement"]
        return {"perimetres": df}, "commune", sorted(deps.unique().drop_nulls().to_list())


from prst_etl.reference.territories import perimeters  # noqa: E402,F401 (moved; kept importable)
