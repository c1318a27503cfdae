"""Text made comparable: headers and labels written by people (accents, case, spaces)."""

from __future__ import annotations

import re
import unicodedata

from prst_etl._lazy import polars as pl

_SPACES = re.compile(r"\s+")


def norm_header(text: object) -> str:
    """Header text made comparable: no accents, case, line breaks or extra spaces.

    ``"Nombre d'heures\\ntravaillées* "`` → ``"nombre d'heures travaillees"``.
    """
    if text is None:
        return ""
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = s.replace("’", "'").replace("`", "'").casefold()
    s = _SPACES.sub(" ", s).strip()
    return s.rstrip("*: ").strip()


def norm_header_expr(expr: pl.Expr) -> pl.Expr:
    """Vectorised :func:`norm_header` for the values of a column (used on codes such as sex labels)."""
    return (
        expr.str.normalize("NFKD")
        .str.replace_all(r"\p{Mn}", "")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
