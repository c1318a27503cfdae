"""Closed code lists shared by every source: totals, sexes, age bands, conventional signs.

Age bands are coded the SDMX way used by Insee's and Eurostat's APIs, so that a
code carries its bounds: ``Y_LT20`` (under 20), ``Y20T29`` (20 to 29),
``Y_GE60`` (60 and over), ``_T`` (all ages). Whether one band nests in another
is computed from the bounds, never listed by hand.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from prst_etl._lazy import polars as pl

from prst_etl.model.text import norm_header_expr

TOTAL = "_T"
"""Code meaning « all » in every dimension (SDMX convention)."""
UNKNOWN = "_U"
"""Code of an unknown category (e.g. the NAF ``xxxxx`` rows of the Assurance Maladie)."""

Sex = Literal["F", "M", "_T"]
SEXES = ("F", "M", TOTAL)
SEX_LABELS = {"F": "Femmes", "M": "Hommes", TOTAL: "Ensemble"}

SEX_VALUES: dict[str, str] = {
    "h": "M", "homme": "M", "hommes": "M", "m": "M", "masculin": "M", "1": "M",
    "f": "F", "femme": "F", "femmes": "F", "feminin": "F", "2": "F",
}  # fmt: skip
"""Accepted spellings of sex in provider files (compared without case or accents)."""

# --- conventional signs -----------------------------------------------------------
STATUS_SECRET = "s"
STATUS_NA = "nd"
STATUS_ABSENT = "///"
STATUS_ZERO = "-"
STATUS_PROVISIONAL = "p"
STATUSES = (STATUS_SECRET, STATUS_NA, STATUS_ABSENT, STATUS_ZERO, STATUS_PROVISIONAL)
"""Signs a source may write in a cell, strongest first. ``-`` is « résultat nul » (a known
zero, Insee convention): its value is 0 and the sign is kept; ``p`` (provisional) keeps
its value; ``s``, ``nd`` and ``///`` have no value."""
NO_VALUE = (STATUS_SECRET, STATUS_NA, STATUS_ABSENT)
"""Signs meaning « no number »: a sum or a rate that includes such a cell has none either."""


@cache
def status_dtype() -> pl.Enum:
    """The polars type of a status column: an enum of :data:`STATUSES` (built on first use)."""
    return pl.Enum(list(STATUSES))


SECRET = "secret"
"""Status of a published cell hidden by the primary secrecy (a rule of ``schemas/secret.toml``)."""
SECONDARY = "secret-secondaire"
"""Status of a published cell hidden so that no primary cell can be recovered (secondary secrecy)."""
HIDDEN = (SECRET, SECONDARY)
SIGN_VALUES: dict[str, str] = {
    "s": STATUS_SECRET, "secret": STATUS_SECRET, "c": STATUS_SECRET,
    "nd": STATUS_NA, "n.d.": STATUS_NA, "n.d": STATUS_NA, "...": STATUS_NA, "…": STATUS_NA, "na": STATUS_NA,
    "///": STATUS_ABSENT,
    "-": STATUS_ZERO, "–": STATUS_ZERO, "—": STATUS_ZERO,
}  # fmt: skip
# « p » is not read from count cells (a lone letter p is more likely a typo); sources that flag
# provisional years (Insee estimations) set it themselves.
STATUS_LABELS = {
    STATUS_SECRET: "secret statistique à la source",
    STATUS_NA: "non disponible",
    STATUS_ABSENT: "absence de résultat due à la nature des choses",
    STATUS_ZERO: "résultat nul",
    STATUS_PROVISIONAL: "résultat provisoire",
}

# --- age bands -------------------------------------------------------------------
_AGE_CODE = re.compile(r"^(?:Y_LT(\d+)|Y(\d+)T(\d+)|Y_GE(\d+)|_T)$")
AGE_MAX = 200


def age_bounds(code: str) -> tuple[int, int]:
    """Bounds ``[lower, upper)`` in years of an age-band code."""
    m = _AGE_CODE.match(code)
    if not m:
        raise ValueError(f"not an age-band code: {code!r}")
    lt, lo, hi, ge = m.groups()
    if lt is not None:
        return 0, int(lt)
    if lo is not None:
        return int(lo), int(hi) + 1
    if ge is not None:
        return int(ge), AGE_MAX
    return 0, AGE_MAX


def age_code(lower: int, upper: int) -> str:
    """Inverse of :func:`age_bounds`."""
    if lower == 0 and upper >= AGE_MAX:
        return TOTAL
    if lower == 0:
        return f"Y_LT{upper}"
    if upper >= AGE_MAX:
        return f"Y_GE{lower}"
    return f"Y{lower}T{upper - 1}"


def age_label(code: str) -> str:
    lo, hi = age_bounds(code)
    if code == TOTAL:
        return "Tous âges"
    if lo == 0:
        return f"Moins de {hi} ans"
    if hi >= AGE_MAX:
        return f"{lo} ans et plus"
    return f"{lo} à {hi - 1} ans"


def age_band_expr(expr: pl.Expr) -> pl.Expr:
    """Parse French age-band labels into codes (null when not understood).

    Understands « Moins de 20 ans », « 20 à 29 ans », « 20-29 ans », « 60 ans et plus »,
    « 60 ans ou plus », « 60+ », « < 20 ans », the codes themselves, and « Ensemble ».
    A band starting at 0 (« 0 à 19 ans ») is coded like « moins de 20 ans » (``Y_LT20``).
    """
    s = norm_header_expr(expr)
    lt = s.str.extract(r"^(?:moins de|<)\s*(\d+)\s*(?:ans?)?$", 1)
    rng = s.str.extract_groups(r"^(?:de\s*)?(?P<lo>\d+)\s*(?:a|-|–)\s*(?P<hi>\d+)\s*(?:ans?)?$")
    ge = s.str.extract(r"^(\d+)\s*(?:ans?)?\s*(?:et plus|ou plus|\+|et \+)$", 1)
    ge2 = s.str.extract(r"^(?:>=|≥)\s*(\d+)\s*(?:ans?)?$", 1)
    as_code = expr.str.strip_chars().str.to_uppercase()
    lo, hi = rng.struct.field("lo"), rng.struct.field("hi")
    # « 0 à 19 ans » is the band « moins de 20 ans »: one code per band (Y_LT20, never Y0T19)
    from_zero = pl.lit("Y_LT") + (hi.cast(pl.Int64, strict=False) + 1).cast(pl.String)
    return (
        pl.when(as_code.str.contains(r"^(?:Y_LT\d+|Y\d+T\d+|Y_GE\d+)$"))
        .then(as_code)
        .when(lt.is_not_null())
        .then(pl.lit("Y_LT") + lt)
        .when(lo.is_not_null() & (lo.cast(pl.Int64, strict=False) == 0))
        .then(from_zero)
        .when(lo.is_not_null())
        .then(pl.lit("Y") + lo + pl.lit("T") + hi)
        .when(ge.is_not_null())
        .then(pl.lit("Y_GE") + ge)
        .when(ge2.is_not_null())
        .then(pl.lit("Y_GE") + ge2)
        .otherwise(None)
    )


# --- establishment / company size bands ----------------------------------------------
# Coded like age bands, with their bounds in number of employees: ``E0`` (no employee),
# ``E1T9`` (1 to 9), ``E_LT11`` (fewer than 11), ``E_GE250`` (250 or more), ``_T`` (all sizes).
_SIZE_CODE = re.compile(r"^(?:E0|E_LT(\d+)|E(\d+)T(\d+)|E_GE(\d+)|_T)$")
SIZE_MAX = 10**9
SIZE_PATTERN = r"^(?:E0|E_LT\d+|E\d+T\d+|E_GE\d+|_T)$"


def size_bounds(code: str) -> tuple[int, int]:
    """Bounds ``[lower, upper)`` in employees of a size-band code."""
    m = _SIZE_CODE.match(code)
    if not m:
        raise ValueError(f"not a size-band code: {code!r}")
    if code == "E0":
        return 0, 1
    lt, lo, hi, ge = m.groups()
    if lt is not None:
        return 0, int(lt)
    if lo is not None:
        return int(lo), int(hi) + 1
    if ge is not None:
        return int(ge), SIZE_MAX
    return 0, SIZE_MAX


def size_code(lower: int, upper: int) -> str:
    """Inverse of :func:`size_bounds`."""
    if lower == 0 and upper >= SIZE_MAX:
        return TOTAL
    if lower == 0 and upper == 1:
        return "E0"
    if lower == 0:
        return f"E_LT{upper}"
    if upper >= SIZE_MAX:
        return f"E_GE{lower}"
    return f"E{lower}T{upper - 1}"


def size_label(code: str) -> str:
    lo, hi = size_bounds(code)
    if code == TOTAL:
        return "Toutes tailles"
    if code == "E0":
        return "0 salarié"
    if lo == 0:
        return f"Moins de {hi} salariés"
    if hi >= SIZE_MAX:
        return f"{lo} salariés ou plus"
    if hi - 1 == lo:
        return f"{lo} salarié" + ("s" if lo > 1 else "")
    return f"{lo} à {hi - 1} salariés"


def size_band_expr(expr: pl.Expr) -> pl.Expr:
    """Parse French size-band labels into codes (null when not understood).

    Understands « 0 salarié », « Sans salarié », « 1 à 9 salariés », « De 10 à 19 salariés »,
    « 10-19 », « Moins de 10 salariés », « 250 salariés ou plus », « 250 et plus », « 250+ »,
    « 1 salarié », the codes themselves, and « Ensemble » / « Total » / « Toutes tailles » (``_T``).
    """
    s = norm_header_expr(expr).str.replace_all(r"(\d)[\s.](\d{3})\b", "${1}${2}")
    unit = r"\s*(?:salaries?|sal\.?|personnes?)?"
    zero = s.str.contains(r"^(?:0" + unit + r"|sans salarie|aucun salarie|pas de salarie)$")
    lt = s.str.extract(r"^(?:moins de|<)\s*(\d+)" + unit + r"$", 1)
    rng = s.str.extract_groups(r"^(?:de\s*)?(?P<lo>\d+)" + unit + r"\s*(?:a|-|–)\s*(?P<hi>\d+)" + unit + r"$")
    one = s.str.extract(r"^(\d+)" + unit + r"$", 1)
    ge = s.str.extract(r"^(?:(?:>=|≥)\s*)?(\d+)" + unit + r"\s*(?:et plus|ou plus|\+|et \+|ou \+)$", 1)
    ge2 = s.str.extract(r"^(?:>=|≥)\s*(\d+)" + unit + r"$", 1)
    as_code = expr.str.strip_chars().str.to_uppercase()
    lo, hi = rng.struct.field("lo"), rng.struct.field("hi")
    lo_i, hi_i = lo.cast(pl.Int64, strict=False), hi.cast(pl.Int64, strict=False)
    return (
        pl.when(as_code.str.contains(SIZE_PATTERN) & (as_code != TOTAL))
        .then(as_code)
        .when(s.is_in(["ensemble", "total", "toutes tailles", "tous", "_t"]))
        .then(pl.lit(TOTAL))
        .when(zero)
        .then(pl.lit("E0"))
        .when(lt.is_not_null())
        .then(pl.when(lt == "1").then(pl.lit("E0")).otherwise(pl.lit("E_LT") + lt))
        .when(lo.is_not_null() & (lo_i > hi_i))
        .then(None)
        .when(lo.is_not_null() & (lo_i == 0) & (hi_i == 0))
        .then(pl.lit("E0"))
        .when(lo.is_not_null() & (lo_i == 0))
        .then(pl.lit("E_LT") + (hi_i + 1).cast(pl.String))
        .when(lo.is_not_null())
        .then(pl.lit("E") + lo_i.cast(pl.String) + pl.lit("T") + hi_i.cast(pl.String))
        .when(one.is_not_null())
        .then(pl.when(one.cast(pl.Int64, strict=False) == 0).then(pl.lit("E0")).otherwise(pl.lit("E") + one + pl.lit("T") + one))
        .when(ge.is_not_null())
        .then(pl.lit("E_GE") + ge)
        .when(ge2.is_not_null())
        .then(pl.lit("E_GE") + ge2)
        .otherwise(None)
    )


def sex_expr(expr: pl.Expr) -> pl.Expr:
    """Map sex spellings to ``F``/``M`` (null when not understood)."""
    s = norm_header_expr(expr).str.replace(r"\.0$", "")
    return s.replace_strict(SEX_VALUES, default=None, return_dtype=pl.String)


def sign_expr(expr: pl.Expr) -> pl.Expr:
    """Conventional sign of a text cell (null when the cell is not a sign)."""
    s = expr.str.strip_chars().str.to_lowercase()
    return s.replace_strict(SIGN_VALUES, default=None, return_dtype=pl.String)


def number_expr(expr: pl.Expr) -> pl.Expr:
    """Parse French- or English-formatted numbers written as text (null when not a number).

    ``"1 234"`` (space, no-break space or thin space as thousands separator),
    ``"1234,5"`` (decimal comma), ``"1.234,5"``, ``"1234.5"``, ``"1e3"``.
    """
    s = expr.str.replace_all(r"[\s\u00a0\u202f']", "")
    both = s.str.contains(r"\.") & s.str.contains(",")
    s = pl.when(both).then(s.str.replace_all(r"\.", "")).otherwise(s).str.replace(",", ".")
    return pl.when(s.str.contains(NUMBER_PATTERN)).then(s).otherwise(None).cast(pl.Float64, strict=False)


NUMBER_PATTERN = r"^[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?$"
"""A number once thousands separators are removed and the decimal comma is a point."""


AGE_GROUPINGS: tuple[str, ...] = (
    "Y_LT25", "Y25T49", "Y25T54", "Y50T64", "Y55T64", "Y15T64", "Y_LT30", "Y30T49", "Y_GE50",
    "Y_GE55", "Y_GE65", "Y_LT40", "Y40T59", "Y20T59",
)  # fmt: skip
"""Coarser age bands published when a source's bands nest in them exactly (Insee 15-24/25-49/50-64
style, « moins de 30 ans », « 50 ans et plus »…). A band is never split: a source giving 20-29
does not give « moins de 25 ans »."""


def age_rollup(codes: list[str]) -> list[tuple[str, str]]:
    """(source band, target band) pairs: each band to itself, to every grouping it nests in
    exactly (the source bands inside the grouping tile it, none straddles it) and to ``_T``."""
    bands = sorted({c for c in codes if c != TOTAL}, key=age_bounds)
    if not bands:
        return [(TOTAL, TOTAL)] if TOTAL in codes else []
    pairs = [(b, b) for b in bands]
    bounds = {b: age_bounds(b) for b in bands}
    for g in AGE_GROUPINGS:
        lo, hi = age_bounds(g)
        inside = [b for b in bands if bounds[b][0] >= lo and bounds[b][1] <= hi]
        straddle = [b for b in bands if bounds[b][0] < hi and bounds[b][1] > lo and b not in inside]
        if not inside or straddle or g in bands:
            continue
        edges = [bounds[b] for b in inside]
        if edges[0][0] == lo and edges[-1][1] == hi and all(a[1] == b[0] for a, b in zip(edges, edges[1:])):
            pairs += [(b, g) for b in inside]
    pairs += [(b, TOTAL) for b in bands]
    return pairs
