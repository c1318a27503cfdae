"""What documents say: cells, tables, notes and the words around figures (pure: no I/O).

A cell shows only what the secrecy-applied frame publishes: its value, or the sign of its
status (« s », « nd », « /// ») with the reason in a footnote. Every figure cell carries
``data-*`` attributes naming its indicator, territory, year and dimensions, so that anyone
(and the tests) can check it against ``prst export``.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import polars as pl

from prst_etl.model.codes import SEX_LABELS, age_bounds, age_label, size_label
from prst_etl.publish import fmt
from prst_etl.publish.data import Z95, PublishData, indicator_breaks, series_breaks
from prst_etl.resources import data_dir

TOTAL = "_T"
DIMS = ("sector_level", "sector_code", "sex", "age_band")


@cache
def config(name: str) -> dict[str, Any]:
    """A publication's settings: ``schemas/publications/<name>.toml``."""
    with (data_dir("schemas") / "publications" / f"{name}.toml").open("rb") as fh:
        return tomllib.load(fh)


# -- notes ----------------------------------------------------------------------------------------
@dataclass
class Notes:
    """Footnotes of one document, numbered in order of first use."""

    items: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, key: str, text: str) -> int:
        if key not in self.items:
            self.items[key] = (len(self.items) + 1, text)
        return self.items[key][0]

    def status(self, status: str) -> int:
        return self.add(f"status:{status}", fmt.STATUS_NOTE.get(status, status))

    def listing(self) -> list[tuple[int, str]]:
        return sorted(self.items.values())


@dataclass
class Sources:
    """The loads a document's figures come from, numbered S1, S2… in order of first use."""

    data: PublishData
    items: dict[int, tuple[int, Any, set[int]]] = field(default_factory=dict)

    def refs(self, sources: str | None, year: int) -> list[int]:
        out = []
        for sid in (sources or "").split("+"):
            for ld in self.data.load_for(sid, year):
                if ld.load_id not in self.items:
                    self.items[ld.load_id] = (len(self.items) + 1, ld, set())
                self.items[ld.load_id][2].add(year)
                out.append(self.items[ld.load_id][0])
        return sorted(set(out))

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for n, ld, years in sorted(self.items.values(), key=lambda t: t[0]):
            out.append({"n": n, "load": ld, "years": ", ".join(map(str, sorted(years))), "date": fmt.date_fr(ld.loaded_at)})
        return out


# -- cells ----------------------------------------------------------------------------------------
@dataclass
class Cell:
    text: str
    value: float | None = None
    status: str | None = None
    notes: list[int] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    extra: str = ""
    """Words shown under the number (« non significatif »)."""

    @property
    def empty(self) -> bool:
        return self.value is None and self.status is None


EMPTY = Cell("—")


def is_share(ind) -> bool:  # type: ignore[no-untyped-def]
    return ind.unit.startswith("%")


def value_text(ind, value: float | None, decimals: int) -> str:  # type: ignore[no-untyped-def]
    if value is None:
        return ""
    return fmt.percent(value, decimals) if is_share(ind) else fmt.number(value, decimals)


def make_cell(row: dict[str, Any] | None, ind, notes: Notes, decimals: int, extras: tuple[str, ...] = ()) -> Cell:  # type: ignore[no-untyped-def]
    """One published figure, or its sign and the reason."""
    if row is None:
        return EMPTY
    status = row.get("status")
    value = row.get("value")
    attrs = {
        "data-ind": row["indicator"], "data-level": row["geo_level"], "data-geo": row["geo_code"],
        "data-year": str(row["year"]), "data-sector-level": row["sector_level"], "data-sector": row["sector_code"],
        "data-sex": row["sex"], "data-age": row["age_band"],
    }  # fmt: skip
    dims = [f"{d}={row[d]}" for d in extras if row.get(d) not in (None, TOTAL)]
    if dims:
        attrs["data-dims"] = ";".join(dims)
    if status in fmt.NO_VALUE or value is None:
        sign = fmt.STATUS_SIGN.get(status or "nd", "nd")
        attrs["data-status"] = status or "nd"
        return Cell(sign, None, status or "nd", [notes.status(status or "nd")], attrs)
    attrs["data-value"] = repr(float(value))
    if status:
        attrs["data-status"] = status
    cell = Cell(value_text(ind, value, decimals), float(value), status, [], attrs)
    if status == fmt.STATUS_NS:
        cell.notes.append(notes.status("ns"))
        cell.extra = "non significatif"
    elif status == "p":
        cell.extra = "provisoire"
    return cell


def ci_text(ind, row: dict[str, Any] | None, decimals: int) -> str:  # type: ignore[no-untyped-def]
    if not row or row.get("ci_low") is None or row.get("value") is None or not ind.is_rate:
        return ""
    lo, hi = row["ci_low"], row["ci_high"]
    return f"{value_text(ind, lo, decimals)} à {value_text(ind, hi, decimals)}"


# -- change and significance ----------------------------------------------------------------------
def crosses(first: int, last: int, y1: int, y2: int) -> bool:
    lo, hi = min(y1, y2), max(y1, y2)
    return first <= hi and last >= lo and lo != hi


def breaks_between(ind, level: str, y1: int, y2: int) -> list[str]:  # type: ignore[no-untyped-def]
    out = [f"{a}{'-' + str(b) if b != a else ''} : {label}" for a, b, label in indicator_breaks(ind) if crosses(a, b, y1, y2)]
    out += [
        label for a, b, label, levels in series_breaks()
        if crosses(a, b, y1, y2) and (not levels or level in levels) and not label.startswith("la NAF")
    ]  # fmt: skip
    return out


def significance(ind, r1: dict[str, Any], r2: dict[str, Any]) -> bool | None:  # type: ignore[no-untyped-def]
    """Whether a change is significant at 95 %, as ``prst diff-years`` decides: the two confidence
    intervals for rates; a Poisson test for counts of events; no test for exposures."""
    v1, v2 = r1["value"], r2["value"]
    if ind.is_rate:
        if None in (r1.get("ci_low"), r1.get("ci_high"), r2.get("ci_low"), r2.get("ci_high")):
            return None
        se1 = (r1["ci_high"] - r1["ci_low"]) / (2 * Z95)
        se2 = (r2["ci_high"] - r2["ci_low"]) / (2 * Z95)
        var = se1**2 + se2**2
        return None if var <= 0 else abs(v2 - v1) / math.sqrt(var) >= Z95
    if ind.ci == "poisson":
        if v1 + v2 <= 0:
            return False
        return abs(v2 - v1) / math.sqrt(v1 + v2) >= Z95
    return None


@dataclass
class Change:
    text: str = ""
    words: str = ""
    since: int | None = None
    significant: bool | None = None
    breaks: list[str] = field(default_factory=list)


def change(ind, level: str, r1: dict[str, Any] | None, r2: dict[str, Any] | None, decimals: int) -> Change:  # type: ignore[no-untyped-def]
    """Change from ``r1`` (earlier) to ``r2``: relative for counts and rates, in points for shares."""
    if not r1 or not r2 or r1.get("value") is None or r2.get("value") is None:
        return Change()
    if r1.get("status") in fmt.NO_VALUE or r2.get("status") in fmt.NO_VALUE:
        return Change()
    v1, v2, y1 = float(r1["value"]), float(r2["value"]), int(r1["year"])
    if is_share(ind):
        text = fmt.points(v2 - v1, max(decimals, 1))
    elif v1 == 0:
        text = "+" + value_text(ind, v2, decimals) if v2 else "0"
    else:
        text = fmt.percent((v2 - v1) / abs(v1) * 100, 1, sign=True)
    brk = breaks_between(ind, level, y1, int(r2["year"]))
    sig = significance(ind, r1, r2)
    if brk:
        words = "rupture de série"
    elif sig is None:
        words = ""
    elif sig:
        words = "hausse significative" if v2 > v1 else "baisse significative"
    else:
        words = "évolution non significative"
    return Change(text, words, y1, sig, brk)


# -- indexes over a level frame --------------------------------------------------------------------
ROW_COLUMNS = ("geo_level", "geo_code", "geo_label", "sector_level", "sector_code", "sex", "age_band", "year", "indicator",
               "value", "status", "ci_low", "ci_high", "coverage", "sources")  # fmt: skip


class Index:
    """The published rows of one territory, by indicator, year and dimensions."""

    def __init__(self, df: pl.DataFrame, extras: tuple[str, ...]) -> None:
        self.extras = extras
        dims = [pl.when(pl.col(d) != TOTAL).then(pl.lit(d + "=") + pl.col(d)) for d in extras if d in df.columns]
        dimcol = pl.concat_str(dims, separator=";", ignore_nulls=True) if dims else pl.lit("")
        # a cell given by several series (rare): prefer complete coverage
        df = (
            df.with_columns(dimcol.fill_null("").alias("_dims"), (pl.col("coverage") == "complet").fill_null(False).alias("_full"))
            .sort("_full", descending=True)
        )  # fmt: skip
        self.cols = (*ROW_COLUMNS, *[d for d in extras if d in df.columns])
        self.rows: dict[tuple, tuple] = {}
        self.by_ind: dict[str, list[tuple]] = {}
        ki = [self.cols.index(c) for c in ("indicator", "year", "sector_level", "sector_code", "sex", "age_band")]
        for *row, dkey in df.select(*self.cols, "_dims").iter_rows():
            key = (*(row[i] for i in ki), dkey)
            if key not in self.rows:
                self.rows[key] = tuple(row)
                self.by_ind.setdefault(row[8], []).append(key)

    def _dict(self, row: tuple | None) -> dict[str, Any] | None:
        return None if row is None else dict(zip(self.cols, row))

    def get(self, ind: str, year: int, sector_level: str = "ensemble", sector: str = TOTAL, sex: str = TOTAL,
            age: str = TOTAL, dims: tuple = ()) -> dict[str, Any] | None:  # fmt: skip
        dkey = ";".join(f"{d}={c}" for d, c in dims if c != TOTAL)
        return self._dict(self.rows.get((ind, year, sector_level, sector, sex, age, dkey)))

    def years(self, ind: str, sex: str = TOTAL, dims: tuple = ()) -> list[int]:
        dkey = ";".join(f"{d}={c}" for d, c in dims if c != TOTAL)
        return sorted({k[1] for k in self.by_ind.get(ind, []) if k[3] == TOTAL and k[4] == sex and k[5] == TOTAL and k[6] == dkey})

    def latest(self, ind: str, year: int | None, sex: str = TOTAL, dims: tuple = ()) -> dict[str, Any] | None:
        ys = [y for y in self.years(ind, sex, dims) if year is None or y <= year]
        return self.get(ind, ys[-1], sex=sex, dims=dims) if ys else None

    def rows_of(self, ind: str) -> list[dict[str, Any]]:
        return [dict(zip(self.cols, self.rows[k])) for k in self.by_ind.get(ind, [])]

    def all_years(self) -> list[int]:
        return sorted({k[1] for keys in self.by_ind.values() for k in keys})


class LevelIndex:
    """Indexes of the territories of a level, each built on first use."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df
        self.extras = tuple(c for c in df.columns if c not in (*ROW_COLUMNS, "sector_label"))
        self._parts: dict[str, pl.DataFrame] | None = None
        self._idx: dict[str, Index] = {}

    @property
    def parts(self) -> dict[str, pl.DataFrame]:
        if self._parts is None:
            self._parts = {k[0]: v for k, v in self.df.partition_by("geo_code", as_dict=True).items()} if self.df.height else {}
        return self._parts

    @cached_property
    def sector_labels(self) -> dict[str, str]:
        df = self.df.filter(pl.col("sector_level") != "ensemble").select("sector_code", "sector_label").unique("sector_code")
        return dict(df.iter_rows())

    def __call__(self, code: str) -> Index:
        if code not in self._idx:
            df = self.parts.get(code)
            self._idx[code] = Index(df if df is not None else self.df.clear(), self.extras)
        return self._idx[code]

    def codes(self) -> list[str]:
        return sorted(self.parts)

    def totals(self, ind: str, year: int | None = None) -> pl.DataFrame:
        """The « all » cells of one indicator for every territory (maps)."""
        cond = (pl.col("indicator") == ind) & (pl.col("sector_code") == TOTAL) & (pl.col("sex") == TOTAL) & (pl.col("age_band") == TOTAL)
        for d in self.extras:
            cond &= pl.col(d).fill_null(TOTAL) == TOTAL
        if year is not None:
            cond &= pl.col("year") == year
        return self.df.filter(cond)


# -- words ----------------------------------------------------------------------------------------
def dim_label(data: PublishData, dim: str, code: str) -> str:
    if code == TOTAL:
        return "Ensemble"
    if dim == "size_band":
        try:
            return size_label(code)
        except ValueError:
            return code
    if dim == "age_band":
        return age_label(code)
    if dim == "sex":
        return SEX_LABELS.get(code, code)
    return data.extra_labels.get((dim, code), code)


def age_sort_key(code: str) -> tuple[int, int]:
    return (10**6, 0) if code == TOTAL else age_bounds(code)


def finest_bands(codes: list[str]) -> list[str]:
    """The age bands that contain no other band of the list (the finest partition), youngest first."""
    bands = [c for c in codes if c != TOTAL]
    keep = []
    for b in bands:
        lo, hi = age_bounds(b)
        inner = [c for c in bands if c != b and lo <= age_bounds(c)[0] and age_bounds(c)[1] <= hi]
        if not inner:
            keep.append(b)
    return sorted(keep, key=age_sort_key)


def coverage_words(data: PublishData, row: dict[str, Any] | None, level: str) -> str:
    """« données de la seule Carsat Midi-Pyrénées (2 départements sur 3) » for a partial coverage."""
    if not row:
        return ""
    cov = row.get("coverage") or ""
    m = re.match(r"partiel\s*:\s*(\d+)/(\d+)", cov)
    if not m:
        return ""
    k, n = int(m.group(1)), int(m.group(2))
    providers, shared = [], False
    for sid in (row.get("sources") or "").split("+"):
        lds = data.load_for(sid, int(row["year"]))
        providers.append(lds[0].provider if lds else sid)
        shared |= data.series_size.get(sid, 1) > 1
    who = " et ".join(dict.fromkeys(providers))
    where = {"zone-emploi": " de la zone", "spsti": " du périmètre", "region": " de la région"}.get(level, "")
    part = f"{k} département{'s' if k > 1 else ''} sur {n}{where}"
    if shared:
        return f"chiffre partiel : données de la seule {who} ({part})."
    return f"chiffre partiel : la source ({who}) ne couvre que {part}."


def alt_text_bars(title: str, items: list[tuple[str, float | None, str]], table_ref: str) -> str:
    """A text alternative for a bar chart: what it shows, the highest and lowest bars, where the data is."""
    shown = [(label, v, t) for label, v, t in items if v is not None]
    hidden = [label for label, v, _ in items if v is None]
    parts = [f"Graphique en barres : {title}."]
    if shown:
        hi = max(shown, key=lambda t: t[1])
        lo = min(shown, key=lambda t: t[1])
        parts.append(f"Valeur la plus élevée : {hi[0]} ({hi[2]}) ; la plus basse : {lo[0]} ({lo[2]}).")
    if hidden:
        parts.append(f"{len(hidden)} valeur(s) sous le secret statistique ou non disponible(s), sans barre.")
    parts.append(f"Toutes les valeurs sont dans le {table_ref}.")
    return " ".join(parts)
