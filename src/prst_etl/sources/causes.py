"""Occupational-disease tableaux and cause families: crosswalks kept as data.

The dimension ``cause_family`` (``tms``, ``cancers``, ``psy``, ``chimique``,
``biologique``, ``autres``) partitions the rows of an MP table. Which family a row
belongs to is read from a crosswalk file, ``sources/<source>/familles-causes.toml``:
an ordered list of families, each with the tableaux and/or the « Top » flag columns
that put a row in it; the first family whose rule a row meets wins (the order is
the documented priority), and a row meeting none gets the crosswalk's default.

Tableau codes are normalised the way the Assurance Maladie writes them: three
digits and a letter, ``A`` for the tableau itself, ``B`` for « bis », ``T`` for
« ter » (``057A``, ``030B`` = 30 bis, ``015T`` = 15 ter, as in the national MP
workbook; ``C`` is read as ter too); ``HT`` is « hors tableau » (alinéa 7). The
agricultural regime (MSA) numbers its tableaux differently (RA 39 ≈ RG 57): its
codes are written the same way but kept in their own dimension.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from prst_etl._lazy import polars as pl

from prst_etl.model.text import norm_header_expr
from prst_etl.resources import data_dir

HORS_TABLEAU = "HT"
"""Code of « hors tableau » (diseases recognised outside the tableaux, alinéa 7)."""
MAX_TABLEAU = 120
"""Highest tableau number accepted (the régime général has about 100, the régime agricole about 60)."""

FLAG_VALUES = {"oui": True, "o": True, "x": True, "1": True, "non": False, "n": False, "0": False}
"""Accepted spellings of a « Top » flag (compared without case or accents); an empty cell is « non »."""

_SUFFIX = {"": "A", "A": "A", "BIS": "B", "B": "B", "TER": "T", "T": "T", "C": "T", "QUATER": "D", "D": "D"}
"""Suffix of a tableau number → letter of the code (Assurance Maladie: B bis, T ter)."""


def tableau_code_expr(expr: pl.Expr) -> pl.Expr:
    """Normalise a tableau code (null when not understood).

    ``057A``, ``57A``, ``57``, ``57 A``, ``30 bis``, ``RG 30 bis``, ``015T``, ``15 ter``, ``Tableau n° 42``,
    ``RA 39`` → ``057A``, ``057A``, ``057A``, ``057A``, ``030B``, ``030B``, ``015T``, ``015T``, ``042A``, ``039A``;
    « Hors tableau », ``HT``, « Alinéa 7 » → ``HT``.
    """
    s = norm_header_expr(expr.cast(pl.String)).str.replace(r"\.0$", "")
    s = s.str.replace(r"^(?:tableau|tab\.?)\s*", "").str.replace(r"^(?:rg|ra)\s*", "")
    s = s.str.replace(r"^(?:n°|no|n)\s*", "").str.replace(r"^0*", "")
    parts = s.str.extract_groups(r"^(?P<num>\d{1,3})\s*(?P<suf>[a-dt]|bis|ter|quater)?$")
    num = parts.struct.field("num").cast(pl.Int32, strict=False)
    suffix = parts.struct.field("suf").fill_null("").str.to_uppercase().replace_strict(_SUFFIX, default=None)
    code = num.cast(pl.String).str.zfill(3) + suffix
    hors = s.str.contains(r"^(?:hors[ -]tableaux?.*|ht|alinea 7|al\.? ?7|hors tab\.?)$")
    return (
        pl.when(hors)
        .then(pl.lit(HORS_TABLEAU))
        .when(num.is_between(1, MAX_TABLEAU))
        .then(code)
        .otherwise(None)
    )


def tableau_number_expr(code: pl.Expr) -> pl.Expr:
    """Number of a normalised tableau code (``057A`` → 57; null for ``HT``)."""
    return code.str.slice(0, 3).cast(pl.Int32, strict=False)


NOT_APPLICABLE = "_Z"
"""Code of a dimension that does not apply to a row (SDMX ``_Z``), e.g. the kind of psychic
disorder of a disease that is not one."""


def kind_expr(expr: pl.Expr, kinds: dict[str, str]) -> pl.Expr:
    """A cell naming a kind (e.g. « dépression » in « Top MP psy alinéa 7 ») → its code:
    ``kinds`` maps accepted spellings (compared without case or accents) to codes; an empty
    cell is :data:`NOT_APPLICABLE`; anything else is null (reported)."""
    table = {norm: code for text, code in kinds.items() if (norm := _norm_text(text))}
    s = norm_header_expr(expr.cast(pl.String))
    return pl.when(expr.is_null() | (s == "")).then(pl.lit(NOT_APPLICABLE)).otherwise(
        s.replace_strict(table, default=None, return_dtype=pl.String)
    )


def _norm_text(text: str) -> str:
    return pl.select(norm_header_expr(pl.lit(text, dtype=pl.String))).item() or ""


def flag_expr(expr: pl.Expr) -> pl.Expr:
    """A « Top » flag cell as a boolean: ``oui`` → true, empty → false, not understood → null."""
    s = norm_header_expr(expr.cast(pl.String)).str.replace(r"\.0$", "")
    return pl.when(expr.is_null() | (s == "")).then(False).otherwise(
        s.replace_strict(FLAG_VALUES, default=None, return_dtype=pl.Boolean)
    )


@dataclass(frozen=True)
class Family:
    code: str
    label: str
    flags: tuple[str, ...] = ()
    """Flag columns (mapping column names) that put a row in this family."""
    tableaux: tuple[str, ...] = ()
    """Tableaux of this family: a number (``"57"``, any suffix) or a code (``"47 bis"``, exactly)."""


@dataclass(frozen=True)
class Crosswalk:
    path: Path
    dimension: str
    default: str
    families: tuple[Family, ...]
    tableau_labels: tuple[tuple[str, str], ...] = ()
    """(normalised code, label) of the tableaux the file documents."""

    @property
    def labels(self) -> dict[str, str]:
        return {f.code: f.label for f in self.families}

    def expr(self, code: pl.Expr, flags: dict[str, pl.Expr] | None = None) -> pl.Expr:
        """Family of each row from its normalised tableau code and its flags (first rule met wins)."""
        flags = flags or {}
        number = tableau_number_expr(code)
        chain = None
        for f in self.families:
            numbers = [int(t) for t in f.tableaux if t.isdigit()]
            codes = [_normalise_code(t) for t in f.tableaux if not t.isdigit()]
            conds = [flags[name] for name in f.flags if name in flags]
            if numbers:
                conds.append(number.is_in(numbers))
            if codes:
                conds.append(code.is_in(codes))
            if not conds:
                continue
            cond = pl.any_horizontal(conds).fill_null(False)
            chain = pl.when(cond).then(pl.lit(f.code)) if chain is None else chain.when(cond).then(pl.lit(f.code))
        return pl.lit(self.default) if chain is None else chain.otherwise(pl.lit(self.default))

    def family_of(self, code: str, flags: dict[str, bool] | None = None) -> str:
        """Same as :meth:`expr` for one row (tests, sample generation)."""
        df = pl.DataFrame({"code": [code], **{k: [v] for k, v in (flags or {}).items()}})
        return df.select(self.expr(pl.col("code"), {k: pl.col(k) for k in flags or {}}))[0, 0]


def _normalise_code(text: str) -> str:
    out = pl.select(tableau_code_expr(pl.lit(text)))[0, 0]
    if out is None:
        raise ValueError(f"not a tableau code: {text!r}")
    return out


@cache
def crosswalk(source_id: str, name: str = "familles-causes") -> Crosswalk:
    """The cause-family crosswalk of a source (``sources/<source_id>/<name>.toml``)."""
    path = data_dir("sources") / source_id / f"{name}.toml"
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    families = tuple(
        Family(
            code=f["code"],
            label=f["label"],
            flags=tuple(f.get("flags", ())),
            tableaux=tuple(str(t) for t in f.get("tableaux", ())),
        )
        for f in data["family"]
    )
    labels = tuple((_normalise_code(k), v["label"] if isinstance(v, dict) else str(v)) for k, v in data.get("tableaux", {}).items())
    return Crosswalk(path=path, dimension=data.get("dimension", "cause_family"), default=data["default"], families=families, tableau_labels=labels)
