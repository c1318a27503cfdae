"""Assurance Maladie « AT par CTN et code NAF » workbooks: national (``ameli-at``)
and regional, from the two Carsat of Occitanie (``carsat-mp``, ``carsat-lr``).

One row per CTN × NAF sub-class [× commune or département × sex × age band],
giving one fact table ``at``: employees, hours, establishments, the accident
counts, and the accidents by risk family (measure ``at_risque``, dimension
``risk_family``, stored pivoted). The 12 family columns split only the accidents
coded by cause (4 days off or more); the remainder ``non-code`` = AT en 1er
règlement − Σ families is added so that the families add up to ``at_1er_reglement``.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from prst_etl import geography, reference, sectors
from prst_etl.dimensions import STATUS_DTYPE, STATUS_ZERO, TOTAL, age_band_expr, age_label, sex_expr
from prst_etl.facts import status_col
from prst_etl.mapping import Mapping
from prst_etl.readers import IssueFactory
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, Pivot, TableSpec
from prst_etl.sources.tabular import (
    DERIVED_PREFIX,
    KEY_PREFIX,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    measure_checks,
    parse_measure,
    sum_cells,
)

AT_MEASURES = (
    Measure("salaries", "Salariés"),
    Measure("heures_travaillees", "Heures travaillées", "heures"),
    Measure("etablissements", "Établissements (SIRET)"),
    Measure("at_1er_reglement", "Accidents du travail en 1er règlement"),
    Measure("at_4j_plus", "dont AT avec 4 jours d'arrêt ou plus"),
    Measure("at_ip", "Nouvelles incapacités permanentes (AT)"),
    Measure("at_ip_lt10", "dont IP avec taux < 10 %"),
    Measure("at_ip_ge10", "dont IP avec taux ≥ 10 %"),
    Measure("at_deces", "Décès par accident du travail"),
    Measure("at_journees_it", "Journées d'incapacité temporaire (AT)", "journées"),
    Measure("at_somme_taux_ip_lt10", "Somme des taux d'IP < 10 % (AT)", "points de taux"),
    Measure("at_somme_taux_ip", "Somme des taux d'IP (AT)", "points de taux"),
)
RISK_FAMILIES = {
    "outillage-main": "Outillage à main",
    "chute-plain-pied": "Chutes de plain-pied",
    "manutention-manuelle": "Manutention manuelle",
    "machines": "Risque machines",
    "chute-hauteur": "Chutes de hauteur",
    "physique-electrique": "Risque physique dont risque électrique",
    "routier": "Risque routier",
    "agressions": "Agressions (y compris par animaux)",
    "autres": "Autres risques",
    "chimique": "Risque chimique",
    "manutention-mecanique": "Manutention mécanique",
    "autres-vehicules": "Autres véhicules de transport",
    "non-code": "Non codé (AT de moins de 4 jours ou sans cause codée)",
}


RISK_COLUMNS = tuple((f"at_risque_{code.replace('-', '_')}", code, label) for code, label in RISK_FAMILIES.items())
RISK_PIVOT = Pivot("risk_family", "at_risque", "AT en 1er règlement par famille de risque", RISK_COLUMNS)
REMAINDER = "at_risque_non_code"


@cache
def _ctn_codes() -> dict[str, str]:
    """Accepted CTN spellings (``AA`` and ``A``) → the doubled code of the Ameli files."""
    t = reference.ctn()
    out = {c: c for c in t["code"]}
    out.update(dict(zip(t["alias"], t["code"])))
    return out


@cache
def _commune_departements() -> dict[str, str]:
    """Every known commune code (any vintage) → département of its current commune."""
    cur = reference.communes(2025).select("code", "departement")
    p = reference.commune_passage().join(cur, left_on="code_cog2025", right_on="code", how="left")
    return dict(zip(p["code_source"], p["departement"]))


@cache
def _naf_levels() -> pl.DataFrame:
    return reference.naf().select("code", "a88", "a38")


def _clean_departement(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d$")).then(s.str.zfill(2)).otherwise(s)


class AtWorkbook(TabularSource):
    """Common reading of the « AT par CTN et code NAF » layout."""

    provider = "Assurance Maladie – Risques professionnels"
    series = "regime-general-atmp"
    tables = (
        TableSpec(
            "at",
            "Sinistralité AT (salariés, heures, accidents, familles de risque)",
            AT_MEASURES + tuple(Measure(col, f"AT en 1er règlement — {label}") for col, _, label in RISK_COLUMNS),
            ("ctn",),
            (RISK_PIVOT,),
        ),
    )

    # -- keys -------------------------------------------------------------------------
    def key_columns(self, ctx: Context) -> list[Derived]:
        levels = _naf_levels()
        a38 = dict(zip(levels["code"], levels["a38"]))
        a88 = dict(zip(levels["code"], levels["a88"]))
        ctn = lambda e: e.str.strip_chars().str.to_uppercase().replace_strict(_ctn_codes(), default=None)  # noqa: E731
        keys = [
            Derived(KEY_PREFIX + "ctn", "ctn", ctn),
            Derived(KEY_PREFIX + "naf", "naf", sectors.clean_naf_code),
            Derived(DERIVED_PREFIX + "a38", "naf", lambda e: sectors.clean_naf_code(e).replace_strict(a38, default=None)),
            Derived(DERIVED_PREFIX + "a88", "naf", lambda e: sectors.clean_naf_code(e).replace_strict(a88, default=None)),
        ]
        if ctx.has("naf38"):
            keys.append(Derived(DERIVED_PREFIX + "naf38", "naf38", lambda e: e.str.strip_chars().str.to_uppercase()))
        if ctx.has("naf2"):
            keys.append(Derived(DERIVED_PREFIX + "naf2", "naf2", _clean_departement))
        if ctx.has("commune"):
            clean = geography.clean_commune_code
            keys += [
                Derived(KEY_PREFIX + "geo", "commune", clean),
                Derived(DERIVED_PREFIX + "known_dep", "commune", lambda e: clean(e).replace_strict(_commune_departements(), default=None)),
                Derived(DERIVED_PREFIX + "prefix_dep", "commune", lambda e: geography.departement_of_code(clean(e))),
            ]
        elif ctx.has("departement"):
            keys.append(Derived(KEY_PREFIX + "geo", "departement", _clean_departement))
        if ctx.has("sexe"):
            keys.append(Derived(KEY_PREFIX + "sex", "sexe", sex_expr))
        if ctx.has("tranche_age"):
            keys.append(Derived(KEY_PREFIX + "age", "tranche_age", age_band_expr))
        return keys

    # -- rules ------------------------------------------------------------------------
    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        k = lambda name: pl.col(KEY_PREFIX + name)  # noqa: E731
        checks = [
            RawCheck("missing-key", "ctn", pl.col("ctn").is_not_null(), lambda v: "Code CTN manquant."),
            RawCheck(
                "unknown-ctn",
                "ctn",
                pl.col("ctn").is_null() | k("ctn").is_not_null(),
                lambda v: f"« {v} » n'est pas un code CTN (AA, BB … II ; ou A … I).",
            ),
            RawCheck("missing-key", "naf", pl.col("naf").is_not_null(), lambda v: "Code NAF manquant."),
            RawCheck(
                "unknown-naf",
                "naf",
                pl.col("naf").is_null() | pl.col(DERIVED_PREFIX + "a38").is_not_null() | (k("naf") == sectors.UNKNOWN),
                lambda v: f"« {v} » n'est pas une sous-classe de la NAF rév. 2 (ex. 0111Z ou 01.11Z ; xxxxx si inconnue).",
            ),
        ]
        x = lambda name: pl.col(DERIVED_PREFIX + name)  # noqa: E731
        a38, a88 = x("a38"), x("a88")
        if ctx.has("naf38"):
            given = x("naf38")
            checks.append(
                RawCheck(
                    "naf-mismatch",
                    "naf38",
                    a38.is_null() | given.is_null() | (given == a38),
                    lambda v: f"Le code NAF38 « {v} » ne correspond pas à la sous-classe NAF de la ligne (nomenclature Insee).",
                    severity="warning",
                )
            )
        if ctx.has("naf2"):
            given = x("naf2")
            checks.append(
                RawCheck(
                    "naf-mismatch",
                    "naf2",
                    a88.is_null() | given.is_null() | (given == a88),
                    lambda v: f"Le code NAF2 « {v} » ne correspond pas à la division de la sous-classe NAF de la ligne.",
                    severity="warning",
                )
            )
        checks += self.geo_checks(ctx)
        if ctx.has("sexe"):
            checks.append(
                RawCheck(
                    "invalid-sex",
                    "sexe",
                    k("sex").is_not_null(),
                    lambda v: f"« {v} » n'est pas un sexe reconnu (H/F, Hommes/Femmes, 1/2).",
                )
            )
        if ctx.has("tranche_age"):
            checks.append(
                RawCheck(
                    "invalid-age-band",
                    "tranche_age",
                    k("age").is_not_null(),
                    lambda v: f"« {v} » n'est pas une tranche d'âge reconnue (ex. « Moins de 20 ans », « 20 à 29 ans », « 60 ans et plus »).",
                )
            )
        checks += measure_checks(ctx)
        checks += self.remainder_checks(ctx)
        return checks

    def geo_checks(self, ctx: Context) -> list[RawCheck]:
        return []

    def remainder_checks(self, ctx: Context) -> list[RawCheck]:
        total_col = self._column_of(ctx.mapping, "at_1er_reglement")
        parts = [c for c in self._family_columns(ctx.mapping) if ctx.has(c.name)]
        if total_col is None or not ctx.has(total_col.name) or not parts:
            return []
        total = parse_measure(total_col, ctx.mapping)[0]
        values = [parse_measure(c, ctx.mapping)[0] for c in parts]
        ok = total.is_null() | ~pl.all_horizontal([v.is_not_null() for v in values]) | (pl.sum_horizontal(values) <= total)
        header = total_col.headers[0]
        return [
            RawCheck(
                "parts-exceed-total",
                total_col.name,
                ok,
                lambda v: f"La somme des familles de risque dépasse « {header} » ({v}).",
            )
        ]

    @staticmethod
    def _column_of(mapping: Mapping, measure: str):  # type: ignore[no-untyped-def]
        return next((c for c in mapping.by_role("measure") if c.measure == measure), None)

    def _family_columns(self, mapping: Mapping) -> list:
        return [c for c in mapping.by_role("measure") if c.measure in RISK_PIVOT.storage and c.measure != REMAINDER]

    # -- normalisation ----------------------------------------------------------------
    def geo_keys(self, raw: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, str, list[str]]:
        """Add ``geo_level`` and ``geo_code``; return the frame, the level and the coverage."""
        return raw.with_columns(geo_level=pl.lit("france"), geo_code=pl.lit(geography.FRANCE)), "france", ["FR"]

    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):
        mapping = ctx.mapping
        df, level, coverage = self.geo_keys(raw, ctx)
        keys = df.select(
            pl.lit(ctx.year, dtype=pl.Int32).alias("year"),
            "geo_level",
            "geo_code",
            pl.lit("naf732").alias("sector_level"),
            pl.col(KEY_PREFIX + "naf").alias("sector_code"),
            (pl.col(KEY_PREFIX + "sex") if ctx.has("sexe") else pl.lit(TOTAL)).alias("sex"),
            (pl.col(KEY_PREFIX + "age") if ctx.has("tranche_age") else pl.lit(TOTAL)).alias("age_band"),
            pl.col(KEY_PREFIX + "ctn").alias("ctn"),
        )
        dims = keys.columns
        tables: dict[str, pl.DataFrame] = {}

        # One column per measure; a measure the file lacks is « nd » (not available)
        spec = self.table("at")
        exprs = []
        for m in spec.measure_ids:
            col = self._column_of(mapping, m)
            if col is not None and ctx.has(col.name):
                exprs += list(parse_measure(col, mapping))
            elif m != REMAINDER:
                exprs += [pl.lit(None, dtype=pl.Float64).alias(m), pl.lit("nd", dtype=STATUS_DTYPE).alias(status_col(m))]
        at = pl.concat([keys, df.select(exprs)], how="horizontal")

        # Remainder of the risk families: AT − Σ families (no value if any of them has none)
        families = [c.measure for c in self._family_columns(mapping)]
        total = "at_1er_reglement"
        known = pl.all_horizontal([pl.col(m).is_not_null() for m in [total, *families]])
        signs = [pl.when(pl.col(status_col(m)) != STATUS_ZERO).then(pl.col(status_col(m))) for m in [total, *families]]
        at = at.with_columns(
            pl.when(known).then(pl.col(total) - pl.sum_horizontal(families)).alias(REMAINDER),
            pl.when(~known).then(pl.min_horizontal(signs)).cast(STATUS_DTYPE).alias(status_col(REMAINDER)),
        ).select(keys.columns + [c for m in spec.measure_ids for c in (m, status_col(m))])

        # Rows that fall on the same cell (old commune codes merged since) are added up
        if at.select(pl.struct(dims).is_duplicated().any()).item():
            summed = sum_cells(at, dims, spec.measure_ids)
            out.stats.rows_merged = at.height - summed.height
            at = summed
        tables = {"at": at}
        return tables, level, coverage


@register_source
class AmeliAt(AtWorkbook):
    id = "ameli-at"
    title = "Sinistralité AT nationale par CTN et code NAF"
    description = (
        "Classeur national publié par l'Assurance Maladie (ameli.fr, « Statistiques AT par CTN et code NAF ») : "
        "une ligne par CTN × sous-classe NAF, France entière, sans géographie. Les lignes de NAF inconnue "
        "(xxxxx) sont conservées (secteur _U)."
    )
    geo_levels = ("france",)


class CarsatAt(AtWorkbook):
    """A Carsat's regional file: a geography column (commune or département) before CTN."""

    geo_levels = ("commune", "departement")

    def check_column_set(self, mapping: Mapping, found: set[str], row: int, issue: IssueFactory) -> bool:
        if "commune" in found and "departement" in found:
            issue(
                "ambiguous-geography",
                "Le fichier a une colonne « Code commune » et une colonne « Département » : n'en gardez qu'une.",
                row=row,
            )
            return False
        if "commune" not in found and "departement" not in found:
            issue(
                "missing-column",
                "Colonne géographique absente : « Code commune » ou « Département » est attendue avant « CTN ».",
                row=row,
                column="Code commune / Département",
            )
            return False
        return True

    def geo_checks(self, ctx: Context) -> list[RawCheck]:
        scope = list(self.scope or ())
        scope_text = ", ".join(scope)
        geo = pl.col(KEY_PREFIX + "geo")
        if ctx.has("commune"):
            dep_of = pl.col(DERIVED_PREFIX + "known_dep")
            dep = pl.coalesce(dep_of, pl.col(DERIVED_PREFIX + "prefix_dep"))
            return [
                RawCheck("missing-key", "commune", pl.col("commune").is_not_null(), lambda v: "Code commune manquant."),
                RawCheck(
                    "unknown-commune",
                    "commune",
                    pl.col("commune").is_null() | dep_of.is_not_null() | (dep.is_not_null() & ~dep.is_in(scope)),
                    lambda v: f"« {v} » n'est pas un code commune d'Occitanie connu (COG 2025, COG 2024 ou ancien code de commune fusionnée).",
                ),
                RawCheck(
                    "departement-outside-scope",
                    "commune",
                    dep.is_null() | dep.is_in(scope),
                    lambda v: f"La commune « {v} » est hors du périmètre de la {self.provider} (départements {scope_text}).",
                ),
            ]
        known = reference.departements()["code"].to_list()
        return [
            RawCheck("missing-key", "departement", pl.col("departement").is_not_null(), lambda v: "Code département manquant."),
            RawCheck(
                "unknown-departement",
                "departement",
                pl.col("departement").is_null() | geo.is_in(known),
                lambda v: f"« {v} » n'est pas un code de département.",
            ),
            RawCheck(
                "departement-outside-scope",
                "departement",
                ~geo.is_in(known) | geo.is_in(scope),
                lambda v: f"Le département « {v} » est hors du périmètre de la {self.provider} ({scope_text}).",
            ),
        ]

    def geo_keys(self, raw: pl.DataFrame, ctx: Context) -> tuple[pl.DataFrame, str, list[str]]:
        geo = raw[KEY_PREFIX + "geo"]
        if ctx.has("commune"):
            mapped = geography.normalise_communes(geo)
            df = raw.with_columns(geo_level=pl.lit("commune"), geo_code=mapped["code"])
            coverage = sorted(mapped["departement"].unique().drop_nulls().to_list())
            return df, "commune", coverage
        df = raw.with_columns(geo_level=pl.lit("departement"), geo_code=geo)
        return df, "departement", sorted(geo.unique().drop_nulls().to_list())


@register_source
class CarsatMp(CarsatAt):
    id = "carsat-mp"
    provider = "Carsat Midi-Pyrénées"
    title = "Sinistralité AT régionale – Carsat Midi-Pyrénées"
    description = (
        "Statistiques AT de la Carsat Midi-Pyrénées au format « AT par CTN et code NAF », avec une colonne "
        "géographique (« Code commune », tout millésime du COG, ou « Département ») avant « CTN », et "
        "facultativement « Sexe » et « Tranche d'âge ». Départements : 09 12 31 32 46 65 81 82."
    )
    scope = geography.CAISSES["carsat-mp"]


@register_source
class CarsatLr(CarsatAt):
    id = "carsat-lr"
    provider = "Carsat Languedoc-Roussillon"
    title = "Sinistralité AT régionale – Carsat Languedoc-Roussillon"
    description = (
        "Statistiques AT de la Carsat Languedoc-Roussillon au format « AT par CTN et code NAF », avec une "
        "colonne géographique (« Code commune » ou « Département ») avant « CTN », et facultativement "
        "« Sexe » et « Tranche d'âge ». Départements : 11 30 34 48 66."
    )
    scope = geography.CAISSES["carsat-lr"]


__all__ = ["AmeliAt", "CarsatLr", "CarsatMp", "RISK_FAMILIES", "age_label"]
