"""``prst diff-years``: real change, revisions and breaks between two years (or two states).

Two comparisons share one engine:

* two years of the same state (``diff-years 2023 2024``): for each indicator and
  territory, both values, absolute and relative change, and whether the change is
  significant given the confidence intervals (Poisson for counts);
* the same year in two states (``diff-years 2023 2023 --from A --to B``): what a
  provider revised, cell by cell.

Flags, each explained in the ``flags`` column: series breaks of the catalogue (2020
frequency indicators; DSN 2017–2018), nomenclature changes (``schemas/ruptures.toml``),
commune geography changed between the years (harmonised to COG 2025), SPSTI perimeter
changed, a source present in one year only, a coverage that differs, a value that is a
revision of an earlier load.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import polars as pl

from prst_etl import reference
from prst_etl.errors import UsageError
from prst_etl.model.facts import BASE_COLUMNS
from prst_etl.model.levels import EXPORT_LEVELS
from prst_etl.pipeline.export import frame_as_of
from prst_etl.pipeline.rates import Z95
from prst_etl.model.indicators import catalogue
from prst_etl.resources import data_dir
from prst_etl.warehouse import open_warehouse

VALUE_KEYS = ["value", "status", "ci_low", "ci_high", "coverage", "sources"]


@dataclass(frozen=True)
class Break:
    first: int
    last: int
    label: str
    dims: tuple[str, ...] = ()
    """Dimension columns whose detail is affected (empty: every cell)."""
    levels: tuple[str, ...] = ()
    """Geographic levels affected (empty: all)."""

    def crosses(self, y1: int, y2: int) -> bool:
        lo, hi = min(y1, y2), max(y1, y2)
        return self.first <= hi and self.last >= lo and not (lo == hi and not self.first <= lo <= self.last)


def _parse_break(text: str) -> Break | None:
    m = re.match(r"^\s*(\d{4})(?:\s*-\s*(\d{4}))?\s*:\s*(.+)$", text)
    if not m:
        return None
    a = int(m.group(1))
    return Break(a, int(m.group(2) or a), m.group(3).strip())


@cache
def nomenclature_breaks() -> tuple[Break, ...]:
    path = data_dir("schemas") / "ruptures.toml"
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return tuple(
        Break(int(b["first"]), int(b.get("last", b["first"])), b["label"], tuple(b.get("dims", ())), tuple(b.get("levels", ())))
        for b in data.get("rupture", [])
    )


@cache
def merged_communes() -> frozenset[str]:
    """COG 2025 communes whose composition changed since COG 2024 (mergers of 1 January 2025)."""
    c24 = set(reference.communes(2024).filter(pl.col("type") == "commune-actuelle")["code"])
    p = reference.commune_passage()
    moved = p.filter(pl.col("code_source").is_in(list(c24)) & (pl.col("code_source") != pl.col("code_cog2025")))
    return frozenset(moved["code_cog2025"])


def _geo_changed(level: str) -> set[str]:
    merged = merged_communes()
    if level == "commune":
        return set(merged)
    if level == "zone-emploi":
        ze = reference.commune_ze()
        return set(ze.filter(pl.col("code").is_in(list(merged)))["ze_code"])
    return set()


def _spsti_changed(warehouse, y1: int, y2: int, as_of: str | None) -> set[str]:  # type: ignore[no-untyped-def]
    from prst_etl.reference.territories import spsti_map

    with open_warehouse(warehouse, as_of=as_of) as wh:
        rows = wh.perimeter_rows()
    if rows is None:
        return set()
    a, b = spsti_map(rows, y1), spsti_map(rows, y2)
    sa = a.group_by("spsti").agg(pl.col("commune").sort())
    sb = b.group_by("spsti").agg(pl.col("commune").sort())
    j = sa.join(sb, on="spsti", how="full", coalesce=True)
    return {r[0] for r in j.iter_rows() if r[1] is None or r[2] is None or r[1].to_list() != r[2].to_list()}


def _revised(warehouse, year: int, as_of: str | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Sources whose current figures for ``year`` replaced an earlier load: source → explanation."""
    with open_warehouse(warehouse, as_of=as_of) as wh:
        cur = wh.current_parts().filter(pl.col("year") == year)
        out = {}
        for r in cur.iter_rows(named=True):
            older = wh.earlier_loads(r["source"], r["table_name"], year, r["load_id"])
            if older:
                out[r["source"]] = f"valeur révisée en {year} : chargement n° {r['load_id']} (remplace n° {', '.join(map(str, older))})"
    return out


def diff(
    y1: int,
    y2: int,
    *,
    warehouse: Path | str | None = None,
    level: str = "region",
    indicators: list[str] | None = None,
    sector_levels: list[str] | None = None,
    as_of: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    secret: bool = True,
) -> tuple[pl.DataFrame, list[str]]:
    """One row per indicator × cell: both values, change, significance and flags; most important first."""
    if level not in EXPORT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(EXPORT_LEVELS))
    for i in indicators or []:
        if i not in catalogue():
            from prst_etl.errors import UnknownName

            raise UnknownName("indicateur", i, list(catalogue()))
    revision = from_state is not None or to_state is not None
    if revision and (from_state is None or to_state is None):
        raise UsageError("--from et --to vont ensemble : les deux états à comparer.")
    if revision and as_of is not None:
        raise UsageError("--as-of ne se combine pas avec --from/--to.")
    left_state, right_state = (from_state, to_state) if revision else (as_of, as_of)
    sector_levels = sector_levels or ["a38", "a21", "ensemble"]
    if revision or y1 == y2:
        a, notes_a, _, _ = frame_as_of(warehouse, level, [y1], sector_levels, left_state, secret=secret)
        b, notes_b, _, _ = frame_as_of(warehouse, level, [y2], sector_levels, right_state, secret=secret)
    else:
        both, notes_a, _, _ = frame_as_of(warehouse, level, [y1, y2], sector_levels, as_of, secret=secret)
        a, b, notes_b = both.filter(pl.col("year") == y1), both.filter(pl.col("year") == y2), []
    if indicators:
        a, b = a.filter(pl.col("indicator").is_in(indicators)), b.filter(pl.col("indicator").is_in(indicators))
    extras = [c for c in a.columns if c not in BASE_COLUMNS and c not in ("year", "indicator", *VALUE_KEYS)]
    keys = [c for c in BASE_COLUMNS if c not in ("geo_label", "sector_label")] + extras + ["indicator"]
    left = a.select(*keys, "geo_label", "sector_label", *[pl.col(c).alias(f"{c}_1") for c in VALUE_KEYS])
    right = b.select(*keys, pl.col("geo_label").alias("_gl"), pl.col("sector_label").alias("_sl"), *[pl.col(c).alias(f"{c}_2") for c in VALUE_KEYS])
    df = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
    df = df.with_columns(pl.coalesce("geo_label", "_gl").alias("geo_label"), pl.coalesce("sector_label", "_sl").alias("sector_label")).drop("_gl", "_sl")

    # Change and significance
    v1, v2 = pl.col("value_1"), pl.col("value_2")
    se1 = (pl.col("ci_high_1") - pl.col("ci_low_1")) / (2 * Z95)
    se2 = (pl.col("ci_high_2") - pl.col("ci_low_2")) / (2 * Z95)
    has_ci = pl.col("ci_low_1").is_not_null() & pl.col("ci_low_2").is_not_null()
    # counts of events (accidents, diseases…: « ci = poisson » in the catalogue) are tested as Poisson
    # counts; exposures (employees, hours, population) are not random counts and get no test
    events = [i.id for i in catalogue().values() if not i.is_rate and i.ci == "poisson"]
    is_event = pl.col("indicator").is_in(events)
    z = (
        pl.when(has_ci & ((se1**2 + se2**2) > 0)).then((v2 - v1) / (se1**2 + se2**2).sqrt())
        .when(is_event & ((v1 + v2) > 0)).then((v2 - v1) / (v1 + v2).sqrt())
        .when(is_event & v1.is_not_null() & v2.is_not_null() & (v1 == v2)).then(0.0)
    )  # fmt: skip
    df = df.with_columns(
        (v2 - v1).alias("change"),
        pl.when(v1 != 0).then((v2 - v1) / v1.abs() * 100).alias("change_pct"),
        z.alias("z"),
    )
    if revision:
        df = df.with_columns(pl.lit(None, dtype=pl.Boolean).alias("significant"))
        df = df.filter(
            ~(v1.eq_missing(v2) & pl.col("status_1").eq_missing(pl.col("status_2")))
        )  # a revision lists only what changed
    else:
        df = df.with_columns(pl.when(pl.col("z").is_not_null()).then(pl.col("z").abs() >= Z95).alias("significant"))

    # Flags
    df = df.with_columns(_flags(df, y1, y2, level, warehouse, left_state, right_state, revision).alias("flags"))
    order_key = pl.col("z").abs().fill_null(-1.0)
    df = df.with_columns(_sig_rank=pl.col("significant").fill_null(False).cast(pl.Int8)).sort(
        ["_sig_rank", order_key, pl.col("change_pct").abs().fill_null(-1.0), *keys],
        descending=[True, True, True, *[False] * len(keys)],
        nulls_last=True,
    ).drop("_sig_rank")
    cols = [*[c for c in BASE_COLUMNS], *extras, "indicator", "value_1", "value_2", "change", "change_pct", "z",
            "significant", "status_1", "status_2", "ci_low_1", "ci_high_1", "ci_low_2", "ci_high_2",
            "coverage_1", "coverage_2", "sources_1", "sources_2", "flags"]  # fmt: skip
    df = df.select(cols).with_columns(pl.lit(y1, dtype=pl.Int32).alias("year_1"), pl.lit(y2, dtype=pl.Int32).alias("year_2"))
    return df, sorted(set(notes_a) | set(notes_b))


def _flags(df: pl.DataFrame, y1: int, y2: int, level: str, warehouse, left_state, right_state, revision: bool) -> pl.Expr:  # type: ignore[no-untyped-def]
    parts: list[pl.Expr] = []
    # Series breaks of the catalogue
    if y1 != y2:
        for ind in catalogue().values():
            msgs = [f"rupture de série : {b.first}{'-' + str(b.last) if b.last != b.first else ''} {b.label}"
                    for b in map(_parse_break, ind.breaks) if b and b.crosses(y1, y2)]  # fmt: skip
            if msgs:
                parts.append(pl.when(pl.col("indicator") == ind.id).then(pl.lit("; ".join(msgs))))
        for b in nomenclature_breaks():
            if not b.crosses(y1, y2) or (b.levels and level not in b.levels):
                continue
            if b.dims:
                cond = pl.any_horizontal([pl.col(d).is_in(["_T", "ensemble"]).not_() for d in b.dims if d in df.columns])
            else:
                cond = pl.lit(True)
            parts.append(pl.when(cond).then(pl.lit(f"nomenclature : {b.label}")))
        changed = _geo_changed(level) if min(y1, y2) < 2025 <= max(y1, y2) else set()
        if changed:
            parts.append(
                pl.when(pl.col("geo_code").is_in(list(changed))).then(
                    pl.lit("géographie communale modifiée (fusion de communes) : données harmonisées au COG 2025")
                )
            )
        if level == "spsti":
            moved = _spsti_changed(warehouse, y1, y2, right_state)
            if moved:
                parts.append(pl.when(pl.col("geo_code").is_in(list(moved))).then(pl.lit(f"périmètre du SPSTI modifié entre {y1} et {y2}")))
    # Sources and coverage
    s1, s2 = pl.col("sources_1"), pl.col("sources_2")
    parts.append(pl.when(s1.is_null() & s2.is_not_null()).then(pl.lit(f"absent en {y1}")))
    parts.append(pl.when(s2.is_null() & s1.is_not_null()).then(pl.lit(f"absent en {y2}")))
    parts.append(
        pl.when(s1.is_not_null() & s2.is_not_null() & (s1 != s2)).then(
            pl.lit("sources différentes : ") + s1 + pl.lit(f" ({y1}) / ") + s2 + pl.lit(f" ({y2})")
        )
    )
    h1 = pl.col("status_1").is_in(["secret", "secret-secondaire"]).fill_null(False)
    h2 = pl.col("status_2").is_in(["secret", "secret-secondaire"]).fill_null(False)
    parts.append(pl.when(h1 & ~h2).then(pl.lit(f"secret statistique : cachée en {y1}, publiée en {y2}")))
    parts.append(pl.when(~h1 & h2).then(pl.lit(f"secret statistique : publiée en {y1}, cachée en {y2}")))
    c1, c2 = pl.col("coverage_1"), pl.col("coverage_2")
    parts.append(pl.when(c1.is_not_null() & c2.is_not_null() & (c1 != c2)).then(pl.lit("couverture différente : ") + c1 + " / " + c2))
    # Revisions
    if not revision:
        for year in sorted({y1, y2}):
            for src, why in _revised(warehouse, year, right_state).items():
                col = "sources_2" if year == y2 else "sources_1"
                parts.append(pl.when(pl.col(col).str.contains(re.escape(src))).then(pl.lit(why)))
    else:
        parts.append(pl.lit(f"révision : état « {left_state} » → « {right_state} »"))
    return pl.concat_str(parts, separator=" | ", ignore_nulls=True)

