"""French numbers and the words for statuses, for documents people read.

Numbers follow the French convention (babel ``fr_FR``): decimal comma, groups of three
digits separated by a narrow no-break space (U+202F), « 12 345,6 ». Rounding is half up
(« arrondi au plus proche »), as in Insee publications, not Python's half-even.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

LOCALE = "fr_FR"
NNBSP = "\u202f"
"""Narrow no-break space: the French group separator, and the space before « % »."""

HIDDEN = ("secret", "secret-secondaire")
"""Statuses of cells hidden by prst's statistical secrecy (primary, secondary)."""
NO_VALUE = ("s", "nd", "///", *HIDDEN)
STATUS_NS = "ns"

STATUS_SIGN = {"secret": "s", "secret-secondaire": "s", "s": "s", "nd": "nd", "///": "///"}
"""What a table cell shows instead of a number."""
STATUS_NOTE = {
    "secret": "secret statistique : la case repose sur trop peu d'établissements ou de cas pour être publiée "
    "(règle de fréquence ou seuil des données de santé).",
    "secret-secondaire": "secret statistique secondaire : case masquée pour qu'une case secrète ne puisse pas être "
    "retrouvée par différence avec les totaux publiés.",
    "s": "secret statistique appliqué par le fournisseur des données.",
    "nd": "non disponible.",
    "///": "sans objet (dénominateur nul).",
    "ns": "non significatif : l'effectif sous ce taux est trop petit pour qu'il soit interprété seul "
    "(voir l'intervalle de confiance).",
}
"""Footnote of each status (the « reason » beside an « s »)."""


@cache
def _pattern(decimals: int, sign: bool) -> str:
    body = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return f"+{body};-{body}" if sign else body


def number(value: float | None, decimals: int = 0, *, sign: bool = False) -> str:
    """``12 345,6`` (U+202F between groups); ``+3,2`` with ``sign``; empty for None."""
    from babel.numbers import format_decimal

    if value is None:
        return ""
    q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)  # no « -0,0 »
    text = format_decimal(q, format=_pattern(decimals, sign), locale=LOCALE, decimal_quantization=True)
    if sign and q == 0:
        text = text.lstrip("+")
    return text


def percent(value: float | None, decimals: int = 1, *, sign: bool = False) -> str:
    """``12,5 %`` (narrow no-break space before the sign)."""
    return "" if value is None else f"{number(value, decimals, sign=sign)}{NNBSP}%"


def points(value: float | None, decimals: int = 1) -> str:
    """A change of a share: ``+1,2 pt``."""
    return "" if value is None else f"{number(value, decimals, sign=True)}{NNBSP}pt"


def decimals_for(indicator: object, overrides: dict[str, int] | None = None) -> int:
    """Decimals shown for an indicator: the catalogue's ``decimals`` when it has one, else the
    publication's setting, else 0 for counts and 1 for rates."""
    ind_id = getattr(indicator, "id", "")
    dec = getattr(indicator, "decimals", None)
    if dec is not None:
        return int(dec)
    if overrides and ind_id in overrides:
        return int(overrides[ind_id])
    return 1 if getattr(indicator, "is_rate", False) else 0


def date_fr(value: object) -> str:
    """``12 mars 2025`` from a date or datetime (UTC, as stored)."""
    from babel.dates import format_date

    return "" if value is None else format_date(value, format="long", locale=LOCALE)  # type: ignore[arg-type]


def plural(n: int, one: str, many: str) -> str:
    return f"{number(n)} {one if n < 2 else many}"


def note_mark(n: int) -> str:
    """Footnotes are lettered (a, b… z, aa…): a digit after a number would read as an exponent."""
    out = ""
    while n > 0:
        n, r = divmod(n - 1, 26)
        out = chr(97 + r) + out
    return out
