"""Key cleaners and rules shared by the occupational-health sources (IODA, MCP, DGT).

These sources count by SPSTI, département, NAF section (A21), sex and age band.
Each cleaner is a polars expression meant for :class:`~prst_etl.sources.tabular.Derived`
(evaluated on the distinct values of a column only); each rule builder returns
:class:`~prst_etl.sources.tabular.RawCheck` records on the cleaned keys.
"""

from __future__ import annotations

from functools import cache

from prst_etl._lazy import polars as pl

from prst_etl.reference import geography
from prst_etl import reference
from prst_etl.model.codes import UNKNOWN, age_band_expr, sex_expr
from prst_etl.sources.tabular import KEY_PREFIX, Context, Derived, RawCheck

UNKNOWN_SECTION_SPELLINGS = ("_u", "nr", "non renseigne", "non renseignee", "inconnu", "inconnue", "x", "xx", "z")
"""How providers write an unknown NAF section (compared without case or accents) → ``_U``."""


def k(name: str) -> pl.Expr:
    """A cleaned key column ``_k_<name>``."""
    return pl.col(KEY_PREFIX + name)


# -- cleaners -------------------------------------------------------------------------
def clean_departement(expr: pl.Expr) -> pl.Expr:
    """``9``, ``09``, ``9.0``, `` 31 `` → ``09``, ``31`` (other values kept, upper-cased)."""
    s = expr.cast(pl.String).str.replace_all(r"\s", "").str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d$")).then(s.str.zfill(2)).otherwise(s)


def clean_spsti(expr: pl.Expr) -> pl.Expr:
    """``spsti 31 a``, ``SPSTI_31_A``, `` SPSTI-31-A `` → ``SPSTI-31-A`` (known or not)."""
    return expr.cast(pl.String).str.strip_chars().str.to_uppercase().str.replace_all(r"[\s_\u2010-\u2013]+", "-")


def section_expr(expr: pl.Expr) -> pl.Expr:
    """A NAF rév. 2 section (A21) as written by people → ``A`` … ``U``, ``_U`` if unknown, null if not understood.

    Accepts ``C``, ``c``, ``Section C``, ``C - Industrie manufacturière``, ``C : …``; an
    unknown section is written « Non renseigné », « NR », « Inconnu », ``xx`` or ``_U``.
    """
    from prst_etl.model.text import norm_header_expr

    s = norm_header_expr(expr.cast(pl.String))
    letter = s.str.extract(r"^(?:section\s*)?([a-u])(?:$|\s*[-–:.)]|\s+\D)", 1).str.to_uppercase()
    return (
        pl.when(s.is_in(UNKNOWN_SECTION_SPELLINGS))
        .then(pl.lit(UNKNOWN))
        .when(letter.is_in(sections()))
        .then(letter)
        .otherwise(pl.lit(None, dtype=pl.String))
    )


@cache
def sections() -> list[str]:
    """The 21 section codes of the NAF rév. 2 (A21)."""
    return sorted(reference.naf()["a21"].unique().to_list())


@cache
def spsti_codes() -> list[str]:
    return reference.spsti()["code"].to_list()


@cache
def spsti_pairs() -> list[str]:
    """``<spsti>@<département>`` for every département each SPSTI covers."""
    p = reference.spsti_departements()
    return (p["code"] + "@" + p["departement"]).to_list()


@cache
def departement_codes() -> list[str]:
    return reference.departements()["code"].to_list()


def spsti_departements_of(codes: list[str]) -> list[str]:
    """Départements covered by the given SPSTI (sorted)."""
    p = reference.spsti_departements().filter(pl.col("code").is_in(codes))
    return sorted(p["departement"].unique().to_list())


# -- keys -------------------------------------------------------------------------------
def key_columns(ctx: Context) -> list[Derived]:
    """Cleaned keys of the columns of kind spsti, departement, a21, sex and age_band present in the file."""
    cleaners = {
        "spsti": ("spsti", clean_spsti),
        "departement": ("dep", clean_departement),
        "a21": ("section", section_expr),
        "sex": ("sex", sex_expr),
        "age_band": ("age", age_band_expr),
    }
    out = []
    for c in ctx.mapping.columns:
        if c.kind in cleaners and ctx.has(c.name):
            key, fn = cleaners[c.kind]
            out.append(Derived(KEY_PREFIX + key, c.name, fn))
    return out


# -- rules --------------------------------------------------------------------------------
def key_checks(ctx: Context) -> list[RawCheck]:
    """A value on every key cell, and a known code (SPSTI, département, section, sex, age band)."""
    checks: list[RawCheck] = []
    by_kind = {c.kind: c.name for c in ctx.mapping.columns if ctx.has(c.name)}
    for kind, what in (("spsti", "Code SPSTI"), ("departement", "Code département"), ("a21", "Section NAF"),
                       ("sex", "Sexe"), ("age_band", "Tranche d'âge")):  # fmt: skip
        if kind in by_kind:
            col = by_kind[kind]
            checks.append(RawCheck("missing-key", col, pl.col(col).is_not_null(), lambda v, w=what: f"{w} manquant(e)."))
    if "spsti" in by_kind:
        col = by_kind["spsti"]
        known = spsti_codes()
        checks.append(
            RawCheck(
                "unknown-spsti",
                col,
                pl.col(col).is_null() | k("spsti").is_in(known),
                lambda v: f"« {v} » n'est pas un code de SPSTI d'Occitanie (ex. SPSTI-31-A, SPSTI-BTP-MP).",
            )
        )
    if "departement" in by_kind:
        col = by_kind["departement"]
        occ = list(geography.DEPARTEMENTS_OCCITANIE)
        checks += [
            RawCheck(
                "unknown-departement",
                col,
                pl.col(col).is_null() | k("dep").is_in(departement_codes()),
                lambda v: f"« {v} » n'est pas un code de département.",
            ),
            RawCheck(
                "departement-outside-scope",
                col,
                ~k("dep").is_in(departement_codes()) | k("dep").is_in(occ),
                lambda v: f"Le département « {v} » n'est pas en Occitanie ({' '.join(occ)}).",
            ),
        ]
    if "spsti" in by_kind and "departement" in by_kind:
        known, occ = spsti_codes(), list(geography.DEPARTEMENTS_OCCITANIE)
        both = k("spsti").is_in(known) & k("dep").is_in(occ)
        checks.append(
            RawCheck(
                "spsti-departement-mismatch",
                by_kind["departement"],
                ~both | (k("spsti") + "@" + k("dep")).is_in(spsti_pairs()),
                lambda v: f"Le département « {v} » n'est pas couvert par le SPSTI de la ligne (voir la liste des SPSTI).",
            )
        )
    if "a21" in by_kind:
        col = by_kind["a21"]
        checks.append(
            RawCheck(
                "unknown-naf",
                col,
                pl.col(col).is_null() | k("section").is_not_null(),
                lambda v: f"« {v} » n'est pas une section de la NAF rév. 2 (A … U ; « Non renseigné » si inconnue).",
            )
        )
    if "sex" in by_kind:
        checks.append(
            RawCheck(
                "invalid-sex",
                by_kind["sex"],
                pl.col(by_kind["sex"]).is_null() | k("sex").is_not_null(),
                lambda v: f"« {v} » n'est pas un sexe reconnu (H/F, Hommes/Femmes, 1/2) ; les lignes de total ne sont pas attendues.",
            )
        )
    if "age_band" in by_kind:
        checks.append(
            RawCheck(
                "invalid-age-band",
                by_kind["age_band"],
                pl.col(by_kind["age_band"]).is_null() | k("age").is_not_null(),
                lambda v: f"« {v} » n'est pas une tranche d'âge reconnue (ex. « Moins de 30 ans », « 30 à 39 ans », « 60 ans et plus »).",
            )
        )
    return checks


def part_checks(ctx: Context, pairs: list[tuple[str, str]]) -> list[RawCheck]:
    """``part ≤ total`` for each (part column, total column) pair present (numbers only; signs are not compared)."""
    checks = []
    for part, total in pairs:
        if not (ctx.has(part) and ctx.has(total)):
            continue
        header = ctx.mapping.column(total).headers[0]
        checks.append(
            RawCheck(
                "parts-exceed-total",
                part,
                pl.col(f"_v_{part}") <= pl.col(f"_v_{total}"),
                lambda v, h=header: f"{v} dépasse « {h} » de la même ligne.",
            )
        )
    return checks
