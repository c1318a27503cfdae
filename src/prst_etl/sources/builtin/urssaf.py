"""URSSAF open-data extracts: employer establishments and salaried employees by commune ×
APE (``urssaf``), and employer establishments by commune × APE × size band (``urssaf-taille``).

The files have **one column per year and measure** (« Nombre d'établissements 2021 »,
« Effectifs salariés 2021 », « Nombre d'établissements 2022 »…): the set of years is read
from the header, not fixed in the mapping. The mapping gives header *templates* with an
``{année}`` placeholder (``[year_columns.<measure>]``); each file's layout is expanded from
the years its header holds, then the year columns are unpivoted into one ``year`` key.

The extracts are national: rows of communes outside Occitanie are skipped and counted.
In ``urssaf-taille`` a row whose size band is « Ensemble » / « Total » is a total given by
the file: it is checked against the sum of the size bands and not stored.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from pathlib import Path

from prst_etl._lazy import polars as pl

from prst_etl import reference
from prst_etl.reference import sectors
from prst_etl.model.codes import TOTAL, size_band_expr
from prst_etl.sources.mapping import ColumnSpec, Mapping
from prst_etl.sources.readers import HEADER_SCAN_ROWS, ROW, IssueFactory, Sheet, norm_header
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.builtin._socio import (
    commune_checks,
    commune_geo,
    commune_keys,
    drop_given_totals,
    given_total_checks,
    skip_outside_occitanie,
)
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

YEAR = "{année}"
YEAR_RE = r"((?:19|20)\d\d)"


@cache
def _a38_of() -> dict[str, str]:
    n = reference.naf()
    return dict(zip(n["code"], n["a38"]))


def year_of(spec: ColumnSpec) -> int:
    return int(dict(spec.dims)["year"])


def expand_year_columns(mapping: Mapping, sh: Sheet | None, years_given: list[int] | None = None) -> Mapping:
    """Add one measure column per (measure, year) whose header the sheet's first rows hold
    (or per year of ``years_given``, for the provider's template)."""
    templates: dict[str, dict] = mapping.options.get("year_columns", {})
    if not templates:
        return mapping
    patterns = []
    for measure, spec in templates.items():
        for h in spec.get("headers", []):
            norm = norm_header(h.replace(YEAR, "0000"))
            regex = "^" + re.escape(norm).replace("0000", YEAR_RE) + "$"
            patterns.append((measure, re.compile(regex)))
    years: set[int] = set(years_given or [])
    cells = [] if sh is None else [v for row in sh.frame.head(HEADER_SCAN_ROWS).drop(ROW).rows() for v in row if isinstance(v, str)]
    for text in {norm_header(v) for v in cells}:
        for _, rx in patterns:
            m = rx.match(text)
            if m:
                years.add(int(m.group(1)))
    extra = []
    for year in sorted(years):
        for measure, spec in templates.items():
            extra.append(
                ColumnSpec(
                    name=f"{measure}_{year}",
                    headers=tuple(h.replace(YEAR, str(year)) for h in spec.get("headers", [])),
                    role="measure",
                    kind="count",
                    table=spec.get("table", ""),
                    measure=measure,
                    integer=bool(spec.get("integer", False)),
                    required=True,
                    dims=(("year", str(year)),),
                    label=f"{spec.get('label', measure)} {year}",
                )
            )
    return replace(mapping, columns=mapping.columns + tuple(extra))


class UrssafExtract(TabularSource):
    """Common reading of the URSSAF commune × APE extracts with year columns."""

    provider = "URSSAF"
    geo_levels = ("commune",)
    size_column: str | None = None

    # -- layout -----------------------------------------------------------------------
    def layout_for_sheet(self, mapping: Mapping, sh: Sheet) -> Mapping:
        return expand_year_columns(mapping, sh)

    def template_mapping(self, mapping: Mapping, year: int) -> Mapping:
        """The template has the two columns of the year asked for."""
        return expand_year_columns(mapping, None, [year])

    def check_column_set(self, mapping: Mapping, found: set[str], row: int, issue: IssueFactory) -> bool:
        if any(c.role == "measure" and c.name in found for c in mapping.columns):
            return True
        for measure, spec in mapping.options.get("year_columns", {}).items():
            header = spec.get("headers", [measure])[0]
            issue(
                "missing-column",
                f"Aucune colonne « {header} » (une par année, ex. « {header.replace(YEAR, '2023')} ») dans l'en-tête.",
                row=row,
                column=header,
            )
        return False

    def _find_year(self, mapping: Mapping, sh: Sheet, header_idx: int, path: Path, year: int | None, issue: IssueFactory) -> int | None:
        """The years are the file's year columns; ``--year`` keeps one of them (0 = all)."""
        years = sorted({year_of(c) for c in mapping.by_role("measure")})
        if year is None:
            return 0
        if year not in years:
            issue(
                "year-mismatch",
                f"--year {year} mais le fichier donne les années {', '.join(map(str, years))}.",
                value=str(year),
            )
            return None
        return year

    def years_of(self, ctx: Context) -> list[int]:
        years = sorted({year_of(c) for c in ctx.mapping.by_role("measure") if ctx.has(c.name)})
        return [ctx.year] if ctx.year else years

    # -- keys and rules ---------------------------------------------------------------
    def key_columns(self, ctx: Context) -> list[Derived]:
        keys = commune_keys("commune") + [
            Derived(KEY_PREFIX + "naf", "naf", sectors.clean_naf_code),
            Derived(DERIVED_PREFIX + "a38", "naf", lambda e: sectors.clean_naf_code(e).replace_strict(_a38_of(), default=None)),
        ]
        if self.size_column:
            keys.append(Derived(KEY_PREFIX + "size", self.size_column, size_band_expr))
        return keys

    def skip_rows(self, raw: pl.DataFrame, ctx: Context, out: Extraction) -> pl.DataFrame:
        return skip_outside_occitanie(raw, out)

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        checks = list(commune_checks("commune"))
        checks += [
            RawCheck("missing-key", "naf", pl.col("naf").is_not_null(), lambda v: "Code APE manquant."),
            RawCheck(
                "unknown-naf",
                "naf",
                pl.col("naf").is_null() | pl.col(DERIVED_PREFIX + "a38").is_not_null() | (pl.col(KEY_PREFIX + "naf") == sectors.UNKNOWN),
                lambda v: f"« {v} » n'est pas une sous-classe de la NAF rév. 2 (ex. 4711D ou 47.11D).",
            ),
        ]
        if self.size_column:
            col = self.size_column
            checks += [
                RawCheck("missing-key", col, pl.col(col).is_not_null(), lambda v: "Tranche d'effectif manquante."),
                RawCheck(
                    "invalid-size-band",
                    col,
                    pl.col(col).is_null() | pl.col(KEY_PREFIX + "size").is_not_null(),
                    lambda v: f"« {v} » n'est pas une tranche d'effectif reconnue (ex. « 0 salarié », « 1 à 9 salariés », « 250 salariés ou plus »).",
                ),
            ]
        checks += measure_checks(ctx)
        checks += self.consistency_checks(ctx)
        if self.size_column:
            columns = [c.name for c in ctx.mapping.by_role("measure") if ctx.has(c.name)]
            checks += given_total_checks(
                KEY_PREFIX + "size", [KEY_PREFIX + "geo", KEY_PREFIX + "naf"], columns, "toutes tailles"
            )
        return checks

    def consistency_checks(self, ctx: Context) -> list[RawCheck]:
        return []

    def _col(self, ctx: Context, measure: str, year: int) -> ColumnSpec | None:
        name = f"{measure}_{year}"
        return ctx.mapping.column(name) if ctx.has(name) else None

    # -- normalisation ----------------------------------------------------------------
    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):
        if self.size_column:
            raw = drop_given_totals(raw, [KEY_PREFIX + "size"], out, ctx)
        df, coverage, merged = commune_geo(raw)
        spec = self.tables[0]
        counts = {f"{c.measure} {year_of(c)}": parse_measure(c, ctx.mapping)[0].fill_null(0.0)
                  for c in ctx.mapping.by_role("measure") if ctx.has(c.name) and year_of(c) in self.years_of(ctx)}  # fmt: skip
        record_zone_moves(out, ctx, df, spec.name, counts)
        extra = [pl.col(KEY_PREFIX + "size").alias("size_band")] if self.size_column else []
        parts = []
        for year in self.years_of(ctx):
            exprs = []
            for m in spec.measure_ids:
                col = self._col(ctx, m, year)
                exprs += list(parse_measure(col, ctx.mapping, alias=m))  # type: ignore[arg-type]
            parts.append(
                df.select(
                    pl.lit(year, dtype=pl.Int32).alias("year"),
                    "geo_level",
                    "geo_code",
                    pl.lit("naf732").alias("sector_level"),
                    pl.col(KEY_PREFIX + "naf").alias("sector_code"),
                    pl.lit(TOTAL).alias("sex"),
                    pl.lit(TOTAL).alias("age_band"),
                    *extra,
                    *exprs,
                )
            )
        facts = pl.concat(parts, how="vertical")
        # the year columns --year leaves out are read, not stored
        kept = set(self.years_of(ctx))
        for c in ctx.mapping.by_role("measure"):
            if ctx.has(c.name) and year_of(c) not in kept:
                amount = df.select(parse_measure(c, ctx.mapping)[0].sum()).item() or 0.0
                out.ledger.set_aside(spec.name, c.measure, f"colonnes des autres années du fichier (--year {ctx.year})", amount)
        dims = ["year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band", *spec.extra_dims]
        facts, _ = merge_cells(facts, dims, spec.measure_ids, out, spec.name)
        out.stats.rows_merged = merged
        return {spec.name: facts}, "commune", coverage


@register_source
class Urssaf(UrssafExtract):
    id = "urssaf"
    title = "Établissements employeurs et effectifs salariés par commune et APE"
    description = (
        "Extraction open data de l'URSSAF (secteur privé) « établissements employeurs et effectifs salariés "
        "au niveau commune × APE », CSV « ; » ou classeur : une ligne par commune × code APE (sous-classe NAF), "
        "une paire de colonnes par année (« Nombre d'établissements 2021 », « Effectifs salariés 2021 », …) ; "
        "toutes les années du fichier sont chargées (--year en garde une). Les communes hors d'Occitanie sont "
        "ignorées et comptées."
    )
    series = "urssaf-etablissements"
    tables = (
        TableSpec(
            "etablissements",
            "Établissements employeurs et effectifs salariés au 31 décembre",
            (
                Measure("etablissements_employeurs", "Établissements employeurs", "établissements"),
                Measure("effectifs_salaries", "Effectifs salariés au 31 décembre", "salariés"),
            ),
        ),
    )

    def consistency_checks(self, ctx: Context) -> list[RawCheck]:
        checks = []
        for year in sorted({year_of(c) for c in ctx.mapping.by_role("measure") if ctx.has(c.name)}):
            etab = self._col(ctx, "etablissements_employeurs", year)
            eff = self._col(ctx, "effectifs_salaries", year)
            if etab is None or eff is None:
                continue
            n_etab, n_eff = pl.col(f"_v_{etab.name}"), pl.col(f"_v_{eff.name}")
            checks.append(
                RawCheck(
                    "inconsistent-values",
                    eff.name,
                    ~((n_etab == 0) & (n_eff > 0)),
                    lambda v, y=year: f"{v} salariés en {y} sans aucun établissement employeur sur la ligne.",
                )
            )
        return checks


@register_source
class UrssafTaille(UrssafExtract):
    id = "urssaf-taille"
    title = "Établissements employeurs par commune, APE et tranche d'effectif"
    description = (
        "Extraction URSSAF des établissements employeurs par commune × code APE × tranche d'effectif salarié "
        "(« 0 salarié », « 1 à 9 salariés » … « 250 salariés ou plus »), une colonne « Nombre d'établissements "
        "<année> » par année. Une ligne « Ensemble » (toutes tailles) est un total du fichier : contrôlé, non "
        "stocké. Les communes hors d'Occitanie sont ignorées et comptées. Ne s'additionne pas avec la source "
        "urssaf (même mesure, autre ventilation)."
    )
    series = "urssaf-etablissements-taille"
    size_column = "taille"
    tables = (
        TableSpec(
            "etablissements_taille",
            "Établissements employeurs par tranche d'effectif salarié",
            (Measure("etablissements_employeurs", "Établissements employeurs", "établissements"),),
            ("size_band",),
        ),
    )


__all__ = ["Urssaf", "UrssafTaille", "expand_year_columns"]
