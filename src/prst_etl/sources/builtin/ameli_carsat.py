"""Assurance Maladie « AT / Trajet / MP par CTN et code NAF » workbooks: national
(``ameli-at``, ``ameli-mp``) and regional, from the two Carsat of Occitanie
(``carsat-mp``, ``carsat-lr``), whose workbook may hold an AT, a Trajet and an MP sheet.

*AT* (layout ``""``/``at``): one row per CTN × NAF sub-class [× commune or département
× sex × age band], giving the fact table ``at``: employees, hours, establishments, the
accident counts, and the accidents by risk family (measure ``at_risque``, dimension
``risk_family``, stored pivoted). The 12 family columns split only the accidents coded
by cause (4 days off or more); the remainder ``non-code`` = AT en 1er règlement − Σ
families is added so that the families add up to ``at_1er_reglement``.

*Trajet* (layout ``trajet``): the same layout for commuting accidents, table ``trajet``.

*MP* (layout ``mp``): one row per CTN × NAF × MP tableau × syndrome. The disease counts
go to table ``mp`` (dimensions ``ctn, mp_tableau, mp_syndrome, mp_psy, cause_family``). The
employees, hours and establishments of a CTN × NAF are *repeated* on each of its
tableau × syndrome rows: they are checked to be identical there (``inconsistent-effectifs``)
and stored once per CTN × NAF in table ``mp_effectifs`` — never summed across rows (the
ledger says how much the repetition adds). A CTN × NAF with no disease has one row with an
empty tableau and syndrome: its employees go to ``mp_effectifs``, nothing to ``mp``.
``cause_family`` partitions the rows through a crosswalk kept as data
(``sources/ameli-mp/familles-causes.toml``, see :mod:`prst_etl.sources.causes`);
``mp_psy`` is the kind of psychic disorder the column « Top MP psy alinéa 7 » names
(dépression, anxiété et stress, autre; ``_Z`` for a disease that is not one).

A NAF code that is not a NAF rév. 2 sub-class (the 2024 MP workbook has three) is, for
these sources, a warning (``schemas/findings.toml``): the row goes to the unknown sector ``_U``.
Rows that fall on the same cell once old commune codes are mapped to the current COG are
added up (for the effectifs: once per old commune's CTN × NAF, then added up).
"""

from __future__ import annotations

from functools import cache

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography, sectors
from prst_etl import reference
from prst_etl.model.codes import STATUS_ZERO, TOTAL, UNKNOWN, age_band_expr, age_label, sex_expr, status_dtype
from prst_etl.model.facts import status_col
from prst_etl.sources.mapping import Mapping
from prst_etl.sources.readers import IssueFactory
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, Pivot, TableSpec
from prst_etl.errors import severity_of
from prst_etl.sources.causes import NOT_APPLICABLE, crosswalk, flag_expr, kind_expr, tableau_code_expr
from prst_etl.sources.tabular import (
    DERIVED_PREFIX,
    KEY_PREFIX,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    measure_checks,
    merge_cells,
    parse_measure,
    record_zone_moves,
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


TRAJET_MEASURES = (
    Measure("trajet_salaries", "Salariés (fichier trajet)"),
    Measure("trajet_heures_travaillees", "Heures travaillées (fichier trajet)", "heures"),
    Measure("trajet_etablissements", "Établissements (SIRET, fichier trajet)"),
    Measure("trajet_1er_reglement", "Accidents de trajet en 1er règlement"),
    Measure("trajet_4j_plus", "dont accidents de trajet avec 4 jours d'arrêt ou plus"),
    Measure("trajet_ip", "Nouvelles incapacités permanentes (trajet)"),
    Measure("trajet_deces", "Décès par accident de trajet"),
    Measure("trajet_journees_it", "Journées d'incapacité temporaire (trajet)", "journées"),
    Measure("trajet_somme_taux_ip", "Somme des taux d'IP (trajet)", "points de taux"),
)
MP_MEASURES = (
    Measure("mp_1er_reglement", "Maladies professionnelles en 1er règlement"),
    Measure("mp_ip", "Nouvelles incapacités permanentes (MP)"),
    Measure("mp_ip_lt10", "dont IP avec taux < 10 % (MP)"),
    Measure("mp_ip_ge10", "dont IP avec taux ≥ 10 % (MP)"),
    Measure("mp_deces", "Décès par maladie professionnelle"),
    Measure("mp_journees_it", "Journées d'incapacité temporaire (MP)", "journées"),
    Measure("mp_somme_taux_ip", "Somme des taux d'IP (MP)", "points de taux"),
    Measure("mp_somme_taux_ip_lt10", "Somme des taux d'IP < 10 % (MP)", "points de taux"),
    Measure("mp_somme_taux_ip_ge10", "Somme des taux d'IP ≥ 10 % (MP)", "points de taux"),
)
MP_EFFECTIFS_MEASURES = (
    Measure("mp_salaries", "Salariés (fichier MP, une fois par CTN × NAF)"),
    Measure("mp_heures_travaillees", "Heures travaillées (fichier MP, une fois par CTN × NAF)", "heures"),
    Measure("mp_etablissements", "Établissements (fichier MP, une fois par CTN × NAF)"),
)
MP_FLAGS = ("top_tms", "top_biologie", "top_chimique", "top_cancers", "top_cancers_hors_tableau", "top_psy")
"""Mapping columns of the « Top » flags of the MP layout (inputs of ``cause_family``)."""
MP_PARTS = (("mp_ip", ("mp_ip_lt10", "mp_ip_ge10")), ("mp_somme_taux_ip", ("mp_somme_taux_ip_lt10", "mp_somme_taux_ip_ge10")))
"""Totals and their « dont » parts in the MP layout (Σ parts ≤ total)."""
EFFECTIF_COLUMNS = ("salaries", "heures_travaillees", "etablissements")
"""Mapping columns of the MP layout repeated on each tableau × syndrome row of a CTN × NAF."""
CROSSWALK_SOURCE = "ameli-mp"
"""Source folder of the régime général cause-family crosswalk (shared by the Carsat MP sheets)."""

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


AT_TABLE = TableSpec(
    "at",
    "Sinistralité AT (salariés, heures, accidents, familles de risque)",
    AT_MEASURES + tuple(Measure(col, f"AT en 1er règlement — {label}") for col, _, label in RISK_COLUMNS),
    ("ctn",),
    (RISK_PIVOT,),
)
TRAJET_TABLE = TableSpec("trajet", "Accidents de trajet (salariés, heures, accidents)", TRAJET_MEASURES, ("ctn",))
MP_TABLE = TableSpec(
    "mp",
    "Maladies professionnelles par tableau, syndrome, type d'affection psychique et famille de cause",
    MP_MEASURES,
    ("ctn", "mp_tableau", "mp_syndrome", "mp_psy", "cause_family"),
)
EFFECTIFS_ONCE = "répétés sur chaque ligne tableau × syndrome d'un même CTN × NAF, comptés une fois"
"""Ledger reason of the repeated effectifs of the MP layout."""
MP_EFFECTIFS_TABLE = TableSpec(
    "mp_effectifs",
    "Effectifs du fichier MP (salariés, heures, établissements), une fois par CTN × NAF",
    MP_EFFECTIFS_MEASURES,
    ("ctn",),
)
LAYOUT_TABLES = {"at": ("at",), "trajet": ("trajet",), "mp": ("mp", "mp_effectifs")}
HEADLINE = {"at": ("salaries", "at_1er_reglement"), "trajet": ("trajet_salaries", "trajet_1er_reglement"), "mp": ("mp_1er_reglement",)}
"""Counts a report shows for rows that move to another zone d'emploi (the effectifs of the MP
layout are repeated on its rows: summing them would say nothing)."""


class AtWorkbook(TabularSource):
    """Common reading of the « AT / Trajet / MP par CTN et code NAF » layouts."""

    provider = "Assurance Maladie – Risques professionnels"
    series = "regime-general-atmp"
    tables = (AT_TABLE,)
    default_layout = "at"
    """Layout of a mapping that names none."""

    def layout_of(self, ctx: Context) -> str:
        return ctx.layout or self.default_layout

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
        if self.layout_of(ctx) == "mp":
            keys.append(Derived(KEY_PREFIX + "tableau", "tableau", tableau_code_expr))
            keys.append(Derived(KEY_PREFIX + "syndrome", "syndrome", _clean_syndrome))
            keys += [Derived(DERIVED_PREFIX + f, f, flag_expr) for f in MP_FLAGS if ctx.has(f) and f != "top_psy"]
            if ctx.has("top_psy"):
                kinds = {str(k): str(v) for k, v in ctx.mapping.options.get("psy_kinds", {}).items()}
                keys.append(Derived(KEY_PREFIX + "psy", "top_psy", lambda e, kinds=kinds: kind_expr(e, kinds)))
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
                (lambda v: f"« {v} » n'est pas une sous-classe de la NAF rév. 2 : la ligne est comptée dans le secteur "
                 "inconnu (_U), comme les lignes « xxxxx ».")
                if severity_of("unknown-naf", self.id) == "warning"
                else (lambda v: f"« {v} » n'est pas une sous-classe de la NAF rév. 2 (ex. 0111Z ou 01.11Z ; xxxxx si inconnue)."),
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
        layout = self.layout_of(ctx)
        if layout == "at":
            checks += self.remainder_checks(ctx)
        elif layout == "mp":
            checks += self.mp_checks(ctx)
        return checks

    def mp_checks(self, ctx: Context) -> list[RawCheck]:
        """Rules of the MP layout: tableau, flags, « dont » parts, effectifs repeated identically."""
        checks = [
            RawCheck(
                "missing-key",
                "tableau",
                pl.col("tableau").is_not_null() | self._no_disease(ctx),
                lambda v: "Code du tableau de MP manquant sur une ligne qui compte des maladies professionnelles "
                "(une ligne sans tableau ni syndrome ne donne que les effectifs d'un CTN × NAF sans MP).",
            ),
            RawCheck(
                "unknown-mp-tableau",
                "tableau",
                pl.col("tableau").is_null() | pl.col(KEY_PREFIX + "tableau").is_not_null(),
                lambda v: f"« {v} » n'est pas un tableau de maladie professionnelle (ex. 057A, 57, 30 bis, Hors tableau).",
            ),
        ]
        if ctx.has("top_psy"):
            header = ctx.mapping.column("top_psy").headers[0]
            kinds = ", ".join(dict.fromkeys(ctx.mapping.options.get("psy_kinds", {})))
            checks.append(
                RawCheck(
                    "invalid-flag",
                    "top_psy",
                    pl.col("top_psy").is_null() | pl.col(KEY_PREFIX + "psy").is_not_null(),
                    lambda v, h=header, kn=kinds: f"« {v} » dans « {h} » : type d'affection psychique attendu ({kn}) ou case vide.",
                )
            )
        for f in MP_FLAGS:
            if ctx.has(f) and f != "top_psy":
                header = ctx.mapping.column(f).headers[0]
                checks.append(
                    RawCheck(
                        "invalid-flag",
                        f,
                        pl.col(f).is_null() | pl.col(DERIVED_PREFIX + f).is_not_null(),
                        lambda v, h=header: f"« {v} » dans « {h} » : « oui » ou case vide attendu.",
                    )
                )
        for total_id, part_ids in MP_PARTS:
            total_col = self._column_of(ctx.mapping, total_id)
            parts = [self._column_of(ctx.mapping, p) for p in part_ids]
            if total_col is None or not ctx.has(total_col.name) or any(p is None or not ctx.has(p.name) for p in parts):
                continue
            total = parse_measure(total_col, ctx.mapping)[0]
            values = [parse_measure(p, ctx.mapping)[0] for p in parts]  # type: ignore[arg-type]
            ok = total.is_null() | ~pl.all_horizontal([v.is_not_null() for v in values]) | (pl.sum_horizontal(values) <= total + 1e-9)
            names = " + ".join(f"« {p.headers[0]} »" for p in parts)  # type: ignore[union-attr]
            checks.append(
                RawCheck(
                    "parts-exceed-total",
                    total_col.name,
                    ok,
                    lambda v, n=names, h=total_col.headers[0]: f"{n} dépasse « {h} » ({v}).",
                )
            )
        # The effectifs of a CTN × NAF are repeated on each of its tableau × syndrome rows: a row whose
        # value is not the one most rows of its CTN × NAF share (strict majority) is reported.
        cell = [pl.col(KEY_PREFIX + k) for k in ("geo", "sex", "age") if KEY_PREFIX + k in self._key_names(ctx)]
        cell += [pl.col(KEY_PREFIX + "ctn"), pl.col(KEY_PREFIX + "naf")]
        where = "de la même commune ou du même département, " if ctx.has("commune") or ctx.has("departement") else ""
        for name in EFFECTIF_COLUMNS:
            if not ctx.has(name):
                continue
            col = ctx.mapping.column(name)
            value, status = parse_measure(col, ctx.mapping)
            text = pl.concat_str([value.cast(pl.String).fill_null(""), status.cast(pl.String).fill_null("")], separator="|")
            n = pl.len().over(cell)
            same = pl.len().over([*cell, text])
            ok = (text.n_unique().over(cell) == 1) | (2 * same > n)
            label = col.label.split(" (")[0] if col.label else col.headers[0]
            checks.append(
                RawCheck(
                    "inconsistent-effectifs",
                    name,
                    ok,
                    lambda v, lab=label, w=where: (
                        f"{lab} : « {v} » diffère des autres lignes {w}du même CTN × code NAF. Cette valeur est répétée "
                        "sur chaque ligne tableau × syndrome et doit y être identique (elle n'est comptée qu'une fois)."
                    ),
                )
            )
        return checks

    def _no_disease(self, ctx: Context) -> pl.Expr:
        """A row that counts no occupational disease (every MP count zero or empty, no sign)."""
        cols = [c for c in ctx.mapping.by_role("measure") if c.table == "mp" and ctx.has(c.name)]
        if not cols:
            return pl.lit(True)
        return pl.all_horizontal(
            [(pl.col(f"_v_{c.name}").fill_null(0.0) == 0) & pl.col(f"_s_{c.name}").is_null() for c in cols]
        )

    # -- ledger -----------------------------------------------------------------------
    def read_amounts(self, ctx: Context) -> dict[tuple[str, str], pl.Expr]:
        out = super().read_amounts(ctx)
        if self.layout_of(ctx) == "at":
            total_col = self._column_of(ctx.mapping, "at_1er_reglement")
            families = [c for c in self._family_columns(ctx.mapping) if ctx.has(c.name)]
            if total_col is not None and ctx.has(total_col.name) and families:
                total = parse_measure(total_col, ctx.mapping)[0]
                values = [parse_measure(c, ctx.mapping)[0] for c in families]
                known = pl.all_horizontal([v.is_not_null() for v in [total, *values]])
                out[("at", REMAINDER)] = pl.when(known).then(total - pl.sum_horizontal(values)).otherwise(0.0)
        return out

    def derived_measures(self) -> dict[str, str]:
        return {REMAINDER: "AT en 1er règlement − somme des familles de risque du fichier"}

    def _key_names(self, ctx: Context) -> set[str]:
        return {d.name for d in self.key_columns(ctx)}

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
        df, level, coverage = self.geo_keys(raw, ctx)
        if level == "commune":
            counts = {}
            for m in HEADLINE[self.layout_of(ctx)]:
                col = self._column_of(ctx.mapping, m)
                if col is not None and ctx.has(col.name):
                    counts[m] = parse_measure(col, ctx.mapping)[0].fill_null(0.0)
            record_zone_moves(out, ctx, df, LAYOUT_TABLES[self.layout_of(ctx)], counts)
        keys = df.select(
            pl.lit(ctx.year, dtype=pl.Int32).alias("year"),
            "geo_level",
            "geo_code",
            pl.lit("naf732").alias("sector_level"),
            # a code outside NAF rév. 2 (kept with a warning) counts in the unknown sector
            pl.when(pl.col(DERIVED_PREFIX + "a38").is_not_null())
            .then(pl.col(KEY_PREFIX + "naf"))
            .otherwise(pl.lit(UNKNOWN))
            .alias("sector_code"),
            (pl.col(KEY_PREFIX + "sex") if ctx.has("sexe") else pl.lit(TOTAL)).alias("sex"),
            (pl.col(KEY_PREFIX + "age") if ctx.has("tranche_age") else pl.lit(TOTAL)).alias("age_band"),
            pl.col(KEY_PREFIX + "ctn").alias("ctn"),
        )
        layout = self.layout_of(ctx)
        if layout == "mp":
            tables = self._normalise_mp(df, keys, ctx, out)
        elif layout == "trajet":
            tables = {"trajet": pl.concat([keys, df.select(self._measure_exprs(TRAJET_TABLE, ctx))], how="horizontal")}
        else:
            tables = {"at": self._normalise_at(df, keys, ctx)}

        # Rows that fall on the same cell (old commune codes merged since, codes outside the NAF
        # counted in _U) are added up
        for name, table in tables.items():
            spec = self.table(name)
            dims = list(keys.columns) + [d for d in spec.extra_dims if d not in keys.columns]
            tables[name], merged = merge_cells(table, dims, spec.measure_ids, out, name)
            if name in LAYOUT_TABLES[layout][:1]:
                out.stats.rows_merged += merged
        return tables, level, coverage

    def _measure_exprs(self, spec: TableSpec, ctx: Context, skip: tuple[str, ...] = ()) -> list[pl.Expr]:
        """Value and status of each measure of a table; a measure the file lacks is « nd » (not available)."""
        exprs: list[pl.Expr] = []
        for m in spec.measure_ids:
            col = self._column_of(ctx.mapping, m)
            if col is not None and ctx.has(col.name):
                exprs += list(parse_measure(col, ctx.mapping))
            elif m not in skip:
                exprs += [pl.lit(None, dtype=pl.Float64).alias(m), pl.lit("nd", dtype=status_dtype()).alias(status_col(m))]
        return exprs

    def _normalise_at(self, df: pl.DataFrame, keys: pl.DataFrame, ctx: Context) -> pl.DataFrame:
        spec = AT_TABLE
        at = pl.concat([keys, df.select(self._measure_exprs(spec, ctx, skip=(REMAINDER,)))], how="horizontal")

        # Remainder of the risk families: AT − Σ families (no value if any of them has none)
        families = [c.measure for c in self._family_columns(ctx.mapping)]
        total = "at_1er_reglement"
        known = pl.all_horizontal([pl.col(m).is_not_null() for m in [total, *families]])
        signs = [pl.when(pl.col(status_col(m)) != STATUS_ZERO).then(pl.col(status_col(m))) for m in [total, *families]]
        return at.with_columns(
            pl.when(known).then(pl.col(total) - pl.sum_horizontal(families)).alias(REMAINDER),
            pl.when(~known).then(pl.min_horizontal(signs)).cast(status_dtype()).alias(status_col(REMAINDER)),
        ).select(keys.columns + [c for m in spec.measure_ids for c in (m, status_col(m))])

    def _normalise_mp(self, df: pl.DataFrame, keys: pl.DataFrame, ctx: Context, out: Extraction) -> dict[str, pl.DataFrame]:
        code = pl.col(KEY_PREFIX + "tableau")
        psy = pl.col(KEY_PREFIX + "psy").fill_null(NOT_APPLICABLE) if ctx.has("top_psy") else pl.lit(NOT_APPLICABLE)
        flags = {f: pl.col(DERIVED_PREFIX + f).fill_null(False) for f in MP_FLAGS if ctx.has(f) and f != "top_psy"}  # empty: no
        flags["top_psy"] = psy != NOT_APPLICABLE  # a psychic disorder of any kind
        families = crosswalk(CROSSWALK_SOURCE)
        mp_dims = df.select(
            code.alias("mp_tableau"),
            pl.col(KEY_PREFIX + "syndrome").fill_null(UNKNOWN).alias("mp_syndrome"),
            psy.alias("mp_psy"),
            families.expr(code, flags).alias("cause_family"),
        )
        mp = pl.concat([keys, mp_dims, df.select(self._measure_exprs(MP_TABLE, ctx))], how="horizontal")
        # a CTN × NAF without any disease (empty tableau: checked to count none) gives its effectifs only
        mp = mp.filter(df[KEY_PREFIX + "tableau"].is_not_null())

        # Effectifs: once per CTN × NAF of the file (the raw rules checked they are the same on all
        # its rows), i.e. per cell as written — old commune codes of one merged commune are then added
        written = [c for c in (KEY_PREFIX + k for k in ("geo", "sex", "age", "ctn", "naf")) if c in df.columns]
        measures = MP_EFFECTIFS_TABLE.measure_ids
        every = pl.concat([keys, df.select(written), df.select(self._measure_exprs(MP_EFFECTIFS_TABLE, ctx))], how="horizontal")
        once = every.unique(subset=written, keep="first", maintain_order=True)
        repeated = every.select([pl.col(m).sum() for m in measures]).row(0)
        counted = once.select([pl.col(m).sum() for m in measures]).row(0)
        for m, a, b in zip(measures, repeated, counted):
            out.ledger.set_aside("mp_effectifs", m, EFFECTIFS_ONCE, float(a or 0.0) - float(b or 0.0))
        return {"mp": mp, "mp_effectifs": once.drop(written)}


def _clean_syndrome(expr: pl.Expr) -> pl.Expr:
    """Syndrome or CIM-10 code as written, trimmed and upper-cased (``m75.1`` → ``M75.1``)."""
    s = expr.cast(pl.String).str.strip_chars().str.to_uppercase().str.replace_all(r"\s+", " ")
    return pl.when(s == "").then(None).otherwise(s)


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
    """A Carsat's regional file: a geography column (commune or département) before CTN.

    The workbook may hold an AT sheet, a Trajet sheet and an MP sheet (any of them): each
    is recognised by its headers and read with its own mapping (layouts ``""``, ``trajet``,
    ``mp``); a file with only an MP sheet loads tables ``mp`` and ``mp_effectifs`` only.
    """

    geo_levels = ("commune", "departement")
    tables = (AT_TABLE, TRAJET_TABLE, MP_TABLE, MP_EFFECTIFS_TABLE)

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
class AmeliMp(AtWorkbook):
    id = "ameli-mp"
    title = "Maladies professionnelles nationales par CTN et code NAF"
    description = (
        "Classeur national de l'Assurance Maladie « MP par CTN et code NAF » : une ligne par CTN (ou compte "
        "spécial MP, ZC) × sous-classe NAF × tableau de MP × syndrome, France entière. Les MP vont dans la table "
        "mp (dimensions ctn, mp_tableau, mp_syndrome et cause_family, tirée des repères « Top » et des tableaux "
        "par la table de correspondance sources/ameli-mp/familles-causes.toml) ; les salariés, heures et "
        "établissements, répétés sur chaque ligne d'un même CTN × NAF, doivent y être identiques et ne sont "
        "comptés qu'une fois (table mp_effectifs)."
    )
    geo_levels = ("france",)
    tables = (MP_TABLE, MP_EFFECTIFS_TABLE)
    default_layout = "mp"


@register_source
class CarsatMp(CarsatAt):
    id = "carsat-mp"
    provider = "Carsat Midi-Pyrénées"
    title = "Sinistralité AT, trajet et MP régionale – Carsat Midi-Pyrénées"
    description = (
        "Statistiques AT, trajet et MP de la Carsat Midi-Pyrénées : un classeur avec une feuille AT (format "
        "« AT par CTN et code NAF »), une feuille Trajet et une feuille MP (format « MP par CTN et code NAF »), "
        "chacune facultative, avec une colonne géographique (« Code commune », tout millésime du COG, ou "
        "« Département ») avant « CTN », et facultativement « Sexe » et « Tranche d'âge ». "
        "Départements : 09 12 31 32 46 65 81 82."
    )
    scope = geography.CAISSES["carsat-mp"]


@register_source
class CarsatLr(CarsatAt):
    id = "carsat-lr"
    provider = "Carsat Languedoc-Roussillon"
    title = "Sinistralité AT, trajet et MP régionale – Carsat Languedoc-Roussillon"
    description = (
        "Statistiques AT, trajet et MP de la Carsat Languedoc-Roussillon : feuilles AT, Trajet et MP (chacune "
        "facultative) au format de l'Assurance Maladie, avec une colonne géographique (« Code commune » ou "
        "« Département ») avant « CTN », et facultativement « Sexe » et « Tranche d'âge ». "
        "Départements : 11 30 34 48 66."
    )
    scope = geography.CAISSES["carsat-lr"]


__all__ = ["AmeliAt", "AmeliMp", "CarsatLr", "CarsatMp", "RISK_FAMILIES", "age_label"]
