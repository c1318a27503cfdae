"""Assurance Maladie « AT par CTN et code NAF » workbooks: national (``ameli-at``)
and regional, from the two Carsat of Occitanie (``carsat-mp``, ``carsat-lr``).

One row per CTN × NAF sub-class [× commune or département × sex × age band].
Two fact tables come out of a file:

* ``at``: employees, hours, establishments and the accident counts;
* ``at_risque``: accidents by risk family (extra dimension ``risk_family``). The
  12 family columns split only the accidents coded by cause (4 days off or more);
  the remainder ``non-code`` = AT en 1er règlement − Σ families is added so that
  the families add up to ``at_1er_reglement``.
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
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.tabular import (
    KEY_PREFIX,
    Context,
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
        TableSpec("at", "Sinistralité AT (salariés, heures, accidents)", AT_MEASURES, ("ctn",)),
        TableSpec(
            "at_risque",
            "AT en 1er règlement par famille de risque",
            (Measure("at_risque", "AT en 1er règlement par famille de risque"),),
            ("ctn", "risk_family"),
        ),
    )

    # -- keys -------------------------------------------------------------------------
    def key_columns(self, ctx: Context) -> list[pl.Expr]:
        keys = [
            pl.col("ctn").str.strip_chars().str.to_uppercase().replace_strict(_ctn_codes(), default=None)
            .alias(KEY_PREFIX + "ctn"),
            sectors.clean_naf_code(pl.col("naf")).alias(KEY_PREFIX + "naf"),
        ]  # fmt: skip
        if ctx.has("commune"):
            keys.append(geography.clean_commune_code(pl.col("commune")).alias(KEY_PREFIX + "geo"))
        elif ctx.has("departement"):
            keys.append(_clean_departement(pl.col("departement")).alias(KEY_PREFIX + "geo"))
        if ctx.has("sexe"):
            keys.append(sex_expr(pl.col("sexe")).alias(KEY_PREFIX + "sex"))
        if ctx.has("tranche_age"):
            keys.append(age_band_expr(pl.col("tranche_age")).alias(KEY_PREFIX + "age"))
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
                pl.col("naf").is_null() | sectors.is_known_naf(pl.col("naf")) | (k("naf") == sectors.UNKNOWN),
                lambda v: f"« {v} » n'est pas une sous-classe de la NAF rév. 2 (ex. 0111Z ou 01.11Z ; xxxxx si inconnue).",
            ),
        ]
        levels = _naf_levels()
        a38 = k("naf").replace_strict(dict(zip(levels["code"], levels["a38"])), default=None)
        a88 = k("naf").replace_strict(dict(zip(levels["code"], levels["a88"])), default=None)
        if ctx.has("naf38"):
            given = pl.col("naf38").str.strip_chars().str.to_uppercase()
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
            given = _clean_departement(pl.col("naf2"))
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
        rem = ctx.mapping.options.get("remainder")
        if not rem or not ctx.has(rem["total"]):
            return []
        parts = [c for c in self._family_columns(ctx.mapping) if ctx.has(c.name)]
        total = parse_measure(ctx.mapping.column(rem["total"]), ctx.mapping)[0]
        sums = pl.sum_horizontal([parse_measure(c, ctx.mapping)[0] for c in parts])
        all_known = pl.all_horizontal([parse_measure(c, ctx.mapping)[0].is_not_null() for c in parts])
        ok = total.is_null() | ~all_known | (sums <= total)
        header = ctx.mapping.column(rem["total"]).headers[0]
        return [
            RawCheck(
                "parts-exceed-total",
                rem["total"],
                ok,
                lambda v: f"La somme des familles de risque dépasse « {header} » ({v}).",
            )
        ]

    def _family_columns(self, mapping: Mapping) -> list:
        rem = mapping.options.get("remainder", {})
        return [c for c in mapping.by_role("measure") if c.table == rem.get("table")]

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

        # Table « at »: one column per measure
        spec_at = self.table("at")
        exprs = []
        for m in spec_at.measures:
            col = next((c for c in mapping.by_role("measure") if c.measure == m.id and c.table == "at"), None)
            if col is None or not ctx.has(col.name):
                exprs += [pl.lit(None, dtype=pl.Float64).alias(m.id), pl.lit("nd", dtype=STATUS_DTYPE).alias(status_col(m.id))]
            else:
                exprs += list(parse_measure(col, mapping))
        at = pl.concat([keys, df.select(exprs)], how="horizontal")
        summed = sum_cells(at, dims, spec_at.measure_ids)
        out.stats.rows_merged = at.height - summed.height
        tables["at"] = summed

        # Table « at_risque »: the family columns stacked, plus the remainder
        families = [c for c in self._family_columns(mapping) if ctx.has(c.name)]
        if families:
            parts = []
            values = []
            for c in families:
                v, s = parse_measure(c, mapping)
                values.append((v, s))
                code = dict(c.dims)["risk_family"]
                parts.append(
                    pl.concat(
                        [keys, df.select(pl.lit(code).alias("risk_family"), v.alias("at_risque"), s.alias("at_risque__status"))],
                        how="horizontal",
                    )
                )
            rem = mapping.options["remainder"]
            tv, ts = parse_measure(mapping.column(rem["total"]), mapping)
            rem_value = tv - pl.sum_horizontal([v for v, _ in values])
            rem_value = pl.when(pl.all_horizontal([tv.is_not_null()] + [v.is_not_null() for v, _ in values])).then(rem_value)
            signs = [pl.when(s != STATUS_ZERO).then(s) for s in [ts] + [s for _, s in values]]
            rem_status = pl.when(rem_value.is_null()).then(pl.min_horizontal(signs)).cast(STATUS_DTYPE)
            parts.append(
                pl.concat(
                    [keys, df.select(pl.lit(rem["code"]).alias("risk_family"), rem_value.alias("at_risque"), rem_status.alias("at_risque__status"))],
                    how="horizontal",
                )
            )
            risk = pl.concat(parts)
            tables["at_risque"] = sum_cells(risk, dims + ["risk_family"], ["at_risque"])
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
            dep_of = geo.replace_strict(_commune_departements(), default=None)
            dep = pl.coalesce(dep_of, geography.departement_of_code(geo))
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
