"""The wide shape of an export: one row per territory, one column per indicator × breakdown × year.

It is how observatory tools of the Géoclip family import data. Column names are built from
codes only, so that they stay the same from one update to the next:

``<indicator>[_<sector level><sector code>][_<sex>][_<age band>][_<dimension tag><code>…]_<year>``

e.g. ``at_tf_2024``, ``at_1er_reglement_F_2024``, ``at_if_a38CA_YLT20_2024``,
``at_risque_rfchute_2024``; a total (``_T``) is left out of the name. Characters other than
letters and digits are dropped from codes (``Y_GE60`` → ``YGE60``). Values are the long
export's (secrecy applied, the catalogue's decimals in CSV and workbooks); a hidden cell is
empty, and its status is in the companion frame of the same shape (``statuts``); the
dictionary says what each column is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import polars as pl

from prst_etl.model.codes import TOTAL
from prst_etl.model.indicators import catalogue

ID_COLUMNS = ["geo_level", "geo_code", "geo_label"]
MAX_COLUMNS = 16_384 - len(ID_COLUMNS)
"""Value columns of a wide file at most: what an Excel sheet holds beside the territory columns."""
DIM_TAGS = {
    "ctn": "ctn", "risk_family": "rf", "cause_family": "cf", "size_band": "", "mp_tableau": "tab", "mp_tableau_ra": "tabra",
    "mp_syndrome": "syn", "secteur_msa": "msa", "visit_type": "vis",
}  # fmt: skip
"""Short tag written before the code of a source dimension in a column name (a dimension not
listed uses its own name; size bands need none: their codes start with ``E``)."""


@dataclass
class Wide:
    values: pl.DataFrame
    """``geo_level, geo_code, geo_label`` then one Float64 column per indicator × breakdown × year."""
    statuses: pl.DataFrame
    """Same rows and columns; the status of each cell (empty: a value is present)."""
    dictionary: pl.DataFrame
    """One row per value column: what it is, its unit, sources, definition, caveats."""
    digits: dict[str, int]
    """Decimals of each value column (the catalogue's)."""


def code_order(code: str) -> tuple[float, float, str]:
    """Bands in the order of their bounds (``Y_LT20 < Y20T29 < … < Y_GE60``, ``E0 < E1T9 < E10T19``),
    other codes as text; totals first."""
    if code == TOTAL:
        return (-1.0, -1.0, "")
    nums = [float(n) for n in re.findall(r"\d+", code)]
    if "_LT" in code and nums:
        return (-0.5, nums[0], code)
    if "_GE" in code and nums:
        return (nums[0], float("inf"), code)
    if nums and re.fullmatch(r"[A-Z]\d+(T\d+)?", code):
        return (nums[0], nums[-1], code)
    return (float("inf"), 0.0, code)


def _token(code: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", code)


def column_name(indicator: str, year: int, sector_level: str, sector_code: str, sex: str, age_band: str, extras: dict[str, str]) -> str:
    parts = [indicator]
    if sector_level != "ensemble" or sector_code != TOTAL:
        parts.append(_token(sector_level) + _token(sector_code))
    if sex != TOTAL:
        parts.append(_token(sex))
    if age_band != TOTAL:
        parts.append(_token(age_band))
    for dim, code in extras.items():
        if code != TOTAL:
            parts.append(DIM_TAGS.get(dim, _token(dim)) + _token(code))
    parts.append(str(year))
    return "_".join(parts)


@cache
def measure_labels() -> dict[str, str]:
    """Label of every measure of the registered sources (for the dictionary's definitions)."""
    from prst_etl.sources import all_sources

    out: dict[str, str] = {}
    for cls in all_sources().values():
        for t in cls.tables:
            for m in t.measures:
                out.setdefault(m.id, m.label)
            for p in t.pivots:
                out.setdefault(p.measure, p.label)
    return out


def _number(x: float) -> str:
    """``1000000`` → ``1 000 000`` (French thousands separator), ``2.5`` → ``2,5``."""
    if float(x).is_integer():
        return f"{int(x):,}".replace(",", "\u202f")
    return str(x).replace(".", ",")


def _label(measure: str) -> str:
    """A measure's label within a sentence (« heures travaillées », but « AT en 1er règlement »)."""
    text = measure_labels().get(measure, measure)
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def definition(indicator: str) -> str:
    """How a column's value is computed, in words (French)."""
    ind = catalogue().get(indicator)
    if ind is None:
        return f"Comptage additif : {_label(indicator)} (somme au niveau du territoire)"
    if not ind.is_rate:
        return f"Comptage additif : {_label(ind.numerator)} (somme au niveau du territoire)"
    total = f", dénominateur pris au total « _T » de {', '.join(ind.denominator_total_of)}" if ind.denominator_total_of else ""
    return (
        f"Σ {_label(ind.numerator)} / Σ {_label(ind.denominator or '')} × {_number(ind.multiplier)}{total}, "
        "calculé au niveau du territoire"
    )


def decimals_of(indicator: str) -> int:
    """Digits published for an indicator: the catalogue's, else 0 for a count outside it."""
    ind = catalogue().get(indicator)
    if ind is None:
        return 0
    if ind.decimals is not None:
        return ind.decimals
    return 2 if ind.is_rate else 0


def _round_half_away(a: np.ndarray, d: int) -> np.ndarray:
    """Round half away from zero, as publications do (numpy rounds half to even)."""
    k = 10.0**d
    return np.sign(a) * np.floor(np.abs(a) * k + 0.5) / k


def widen(long: pl.DataFrame, extras: list[str], territories: pl.DataFrame | None = None) -> Wide:
    """The wide frames of a long export (one key, one row: see :func:`~prst_etl.pipeline.export.export`).

    ``territories``: ``geo_level, geo_code, geo_label`` of the rows to hold even without data
    (default: the territories of the long frame)."""
    # Name the columns
    dims = ["sector_level", "sector_code", "sex", "age_band", *extras]
    keys = long.select("indicator", "year", *dims).unique()
    names = {
        r: column_name(r[0], r[1], r[2], r[3], r[4], r[5], dict(zip(extras, r[6:], strict=True)))
        for r in keys.iter_rows()
    }
    named = keys.with_columns(
        pl.Series("column", [names[r] for r in keys.iter_rows()], dtype=pl.String)
    )
    if named.height > MAX_COLUMNS:
        from prst_etl.errors import UsageError

        raise UsageError(
            f"Forme large : {named.height} colonnes de valeurs (indicateurs × déclinaisons × années), au-delà de ce "
            f"qu'Excel ou un outil d'import ouvre ({MAX_COLUMNS}).",
            hint="Filtrez : --indicator, --family, --year, --sex, --age-band, --sector-level ; ou la forme longue.",
        )
    dup = named.filter(pl.col("column").is_duplicated())
    if dup.height:  # two breakdowns with the same name would silently overwrite each other
        raise ValueError(f"wide column names collide: {sorted(set(dup['column']))[:5]}")
    # Order: indicator; the total, then one breakdown at a time (by sex, by age band…), then the
    # crossed ones; bands by their bounds; the years of a breakdown side by side
    split = ("sex", "age_band", *extras)
    order = sorted(
        named.iter_rows(named=True),
        key=lambda r: (r["indicator"], r["sector_level"] != "ensemble", r["sector_level"], r["sector_code"],
                       sum(r[d] != TOTAL for d in split), tuple(r[d] == TOTAL for d in split),
                       *[code_order(r[d]) for d in split], r["year"]),
    )  # fmt: skip
    order = pl.DataFrame(order, schema=named.schema)
    columns = order["column"].to_list()

    # Pivot values and statuses (numpy: a frame of thousands of columns is built once, not joined)
    present = long.select(ID_COLUMNS).unique()
    rows = pl.concat([territories.select(ID_COLUMNS), present]) if territories is not None else present
    rows = rows.unique(["geo_level", "geo_code"], keep="first", maintain_order=True).sort("geo_code")
    cells = long.join(named, on=["indicator", "year", *dims], how="left", nulls_equal=True)
    where = cells.join(rows.select("geo_code").with_row_index("_i"), on="geo_code", how="left").join(
        pl.DataFrame({"column": columns}).with_row_index("_j"), on="column", how="left"
    )
    i, j = where["_i"].to_numpy(), where["_j"].to_numpy()
    grid = np.full((rows.height, len(columns)), np.nan)
    grid[i, j] = where["value"].to_numpy(allow_copy=True).astype(float)
    sgrid = np.full((rows.height, len(columns)), None, dtype=object)
    sgrid[i, j] = where["status"].to_numpy(allow_copy=True)

    def frame(data: np.ndarray, dtype: pl.DataType) -> pl.DataFrame:
        if dtype == pl.Float64:
            series = [pl.Series(c, data[:, k], dtype=dtype, nan_to_null=True) for k, c in enumerate(columns)]
        else:
            series = [pl.Series(c, data[:, k].tolist(), dtype=dtype) for k, c in enumerate(columns)]
        return pl.concat([rows.select(ID_COLUMNS), pl.DataFrame(series)], how="horizontal") if series else rows.select(ID_COLUMNS)

    digits = {c: decimals_of(ind) for c, ind in zip(order["column"], order["indicator"], strict=True)}
    for d in set(digits.values()):
        cols = [k for k, c in enumerate(columns) if digits[c] == d]
        grid[:, cols] = _round_half_away(grid[:, cols], d)
    values = frame(grid, pl.Float64())
    statuses = frame(sgrid, pl.String())
    return Wide(values, statuses, dictionary(order, cells, extras), digits)


def dictionary(order: pl.DataFrame, cells: pl.DataFrame, extras: list[str]) -> pl.DataFrame:
    """One row per value column: indicator, label, unit, year, breakdown, sources, definition, caveats…"""
    from prst_etl.reference import sectors

    cat = catalogue()
    stats = cells.group_by("column").agg(
        pl.col("sources").drop_nulls().str.split("+").list.explode().unique().sort().str.join(", ").alias("sources"),
        pl.col("value").is_not_null().sum().alias("n_valeurs"),
        pl.col("status").is_in(["secret", "secret-secondaire"]).sum().alias("n_secret"),
        (pl.col("coverage").is_not_null() & (pl.col("coverage") != "complet")).sum().alias("_partial"),
    )
    meta = pl.DataFrame(
        [
            {"indicator": i, "label": cat[i].label if i in cat else measure_labels().get(i, i),
             "family": cat[i].family if i in cat else "", "unit": cat[i].unit if i in cat else "",
             "definition": definition(i), "caveats": cat[i].caveats if i in cat else "",
             "breaks": "; ".join(cat[i].breaks) if i in cat else "", "decimals": decimals_of(i)}
            for i in order["indicator"].unique().sort()
        ],
        schema={"indicator": pl.String, "label": pl.String, "family": pl.String, "unit": pl.String, "definition": pl.String,
                "caveats": pl.String, "breaks": pl.String, "decimals": pl.Int64},
    )  # fmt: skip
    out = (
        order.select("column", "indicator", "year", "sector_level", "sector_code", "sex", "age_band", *extras)
        .join(meta, on="indicator", how="left")
        .join(sectors.labels(), on=["sector_level", "sector_code"], how="left")
        .join(stats, on="column", how="left")
        .with_columns(
            pl.when(pl.col("_partial") > 0)
            .then(pl.lit("partielle pour ") + pl.col("_partial").cast(pl.String) + pl.lit(" territoire(s) : voir l'export long, colonne coverage"))
            .otherwise(pl.lit("complète"))
            .alias("coverage")
        )
    )
    return out.select(
        "column", "indicator", "label", "family", "unit", "year", "sector_level", "sector_code", "sector_label", "sex", "age_band",
        *extras, "sources", "definition", "caveats", "breaks", "decimals", "n_valeurs", "n_secret", "coverage",
    )  # fmt: skip


def with_status_columns(w: Wide, suffix: str = "__statut") -> pl.DataFrame:
    """Values and statuses in one frame: each value column followed by its status column."""
    cols = [c for c in w.values.columns if c not in ID_COLUMNS]
    joined = w.values.join(
        w.statuses.select("geo_level", "geo_code", *[pl.col(c).alias(c + suffix) for c in cols]), on=["geo_level", "geo_code"], how="left"
    )
    return joined.select(*ID_COLUMNS, *[x for c in cols for x in (c, c + suffix)])
