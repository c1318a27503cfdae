"""Insee files: census detailed tables (``insee-rp``) and the legacy workbook of population
estimates by département, sex and age band (``insee-estimations``).

``insee-rp`` reads the long layout of the census « tableaux détaillés » (one row per commune ×
modalities, the weighted count ``NB`` with decimals): the measures are sums of ``NB`` over the
modalities the mapping names (``[measures.*] where = …``), at commune × sex × age band.

``insee-estimations`` reads every year sheet of the workbook at once (sheets out of order, a
two-row merged header ``Ensemble/Hommes/Femmes`` × age bands and ``Total``, subtotal rows,
footnotes). The totals the file gives (``Total`` columns, ``Ensemble`` columns, subtotal rows
« France métropolitaine », « DOM », « France métropolitaine et DOM ») are checked against the
sum of their parts and never stored: the facts are départements × sex × the five age bands.
Years the workbook calls provisional (« provisoire ») get status ``p``.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from prst_etl._lazy import polars as pl

from prst_etl.model.codes import (
    SEX_LABELS,
    STATUS_PROVISIONAL,
    STATUS_ZERO,
    TOTAL,
    age_band_expr,
    age_label,
    sex_expr,
    status_dtype,
)
from prst_etl.errors import UnknownName
from prst_etl.model.facts import drop_empty_status, status_col
from prst_etl.sources.mapping import ColumnSpec, Mapping
from prst_etl.sources.readers import ROW, IssueFactory, Sheet, find_header, norm_header, norm_header_expr, open_table_file
from prst_etl.sources import register_source
from prst_etl.sources.base import Extraction, Measure, TableSpec
from prst_etl.sources.builtin._socio import (
    clean_departement,
    commune_checks,
    commune_geo,
    commune_keys,
    departement_codes,
    flagged,
    skip_outside_occitanie,
)
from prst_etl.sources.tabular import (
    DERIVED_PREFIX,
    KEY_PREFIX,
    SHEET,
    Context,
    Derived,
    RawCheck,
    TabularSource,
    add_derived,
    measure_checks,
    parse_counts,
    merge_cells,
    parse_measure,
    record_zone_moves,
)


def clean_code(expr: pl.Expr) -> pl.Expr:
    """An Insee modality code as written in a CSV or a spreadsheet: ``5`` → ``05``, ``11.0`` → ``11``."""
    s = expr.cast(pl.String).str.strip_chars().str.replace(r"^(\d+)\.0*$", "${1}").str.to_uppercase()
    return pl.when(s.str.contains(r"^\d$")).then(s.str.zfill(2)).otherwise(s)


SUM_REASON = "ajouté à une case sans valeur (s, nd…) en sommant les lignes d'une même case (commune × sexe × tranche d'âge)"

# --------------------------------------------------------------------------------------
# Census detailed tables
# --------------------------------------------------------------------------------------
RP_MEASURES = (
    Measure("population", "Population (recensement)", "habitants"),
    Measure("actifs_occupes", "Actifs occupés (population en emploi)", "personnes"),
    Measure("emplois_salaries", "Actifs occupés salariés", "emplois"),
    Measure("emplois_non_salaries", "Actifs occupés non salariés", "emplois"),
)


@register_source
class InseeRp(TabularSource):
    id = "insee-rp"
    raw_measures = ("nb",)
    provider = "Insee"
    title = "Recensement : population et population en emploi par commune, sexe et âge"
    description = (
        "Base « tableaux détaillés » du recensement de la population (Insee), CSV « ; » : une ligne par "
        "commune (CODGEO, tout millésime du COG) × sexe (SEXE) × âge quinquennal (AGEQ80_17) × type "
        "d'activité (TACT) × condition d'emploi (EMPL), avec l'effectif pondéré NB (décimal, conservé tel "
        "quel). prst en tire, par commune × sexe × tranche d'âge : la population, les actifs occupés "
        "(TACT 11) et, parmi eux, les salariés (EMPL 11 à 16) et les non-salariés (EMPL 21 à 23). Les "
        "communes hors d'Occitanie d'un fichier national sont ignorées et comptées."
    )
    geo_levels = ("commune",)
    series = "insee-rp"
    tables = (TableSpec("rp", "Population et emploi au lieu de résidence (recensement)", RP_MEASURES),)

    # -- keys -------------------------------------------------------------------------
    def key_columns(self, ctx: Context) -> list[Derived]:
        opts = ctx.mapping.options
        ages = {str(k): v for k, v in opts.get("age_codes", {}).items()}
        keys = commune_keys("commune") + [
            Derived(KEY_PREFIX + "sex", "sexe", sex_expr),
            Derived(KEY_PREFIX + "age", "age", clean_code),
            Derived(DERIVED_PREFIX + "age", "age", lambda e: clean_code(e).replace_strict(ages, default=None)),
        ]
        for var in ("tact", "empl"):
            keys.append(Derived(KEY_PREFIX + var, var, clean_code))
        if ctx.has("nivgeo"):
            keys.append(Derived(DERIVED_PREFIX + "nivgeo", "nivgeo", clean_code))
        return keys

    def skip_rows(self, raw: pl.DataFrame, ctx: Context, out: Extraction) -> pl.DataFrame:
        return skip_outside_occitanie(raw, out)

    # -- rules ------------------------------------------------------------------------
    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        opts = ctx.mapping.options
        codes: dict[str, dict[str, str]] = opts.get("codes", {})
        k = lambda name: pl.col(KEY_PREFIX + name)  # noqa: E731
        checks = list(commune_checks("commune"))
        if ctx.has("nivgeo"):
            accepted = list(codes.get("nivgeo", {"COM": ""}))
            checks.append(
                RawCheck(
                    "invalid-code",
                    "nivgeo",
                    pl.col("nivgeo").is_null() | pl.col(DERIVED_PREFIX + "nivgeo").is_in(accepted),
                    lambda v: f"Niveau géographique « {v} » : seules les lignes de communes ({', '.join(accepted)}) sont attendues.",
                )
            )
        checks += [
            RawCheck("missing-key", "sexe", pl.col("sexe").is_not_null(), lambda v: "Sexe manquant."),
            RawCheck(
                "invalid-sex",
                "sexe",
                pl.col("sexe").is_null() | k("sex").is_not_null(),
                lambda v: f"« {v} » n'est pas un code de sexe Insee (1 hommes, 2 femmes).",
            ),
            RawCheck("missing-key", "age", pl.col("age").is_not_null(), lambda v: "Âge manquant."),
            RawCheck(
                "invalid-age-band",
                "age",
                pl.col("age").is_null() | pl.col(DERIVED_PREFIX + "age").is_not_null(),
                lambda v: f"« {v} » n'est pas un code d'âge quinquennal (00, 05 … 80).",
            ),
        ]
        for var in ("tact", "empl"):
            known = list(codes.get(var, {}))
            header = ctx.mapping.column(var).headers[0]
            checks += [
                RawCheck("missing-key", var, pl.col(var).is_not_null(), lambda v, h=header: f"Code {h} manquant."),
                RawCheck(
                    "invalid-code",
                    var,
                    pl.col(var).is_null() | k(var).is_in(known),
                    lambda v, h=header, kn=known: f"« {v} » n'est pas un code {h} ({', '.join(kn)}).",
                ),
            ]
        emp = opts.get("employed")
        if emp:
            where = emp.get("where", {})
            employed = self._where(where)
            col, na = emp["column"], emp["not_applicable"]
            # judged only when both codes are known (an unknown code has its own finding)
            known = pl.all_horizontal([k(v).is_in(list(codes.get(v, {}))) for v in [*where, col]])
            ok = ~known | (employed == (k(col) != na))
            checks.append(
                RawCheck(
                    "inconsistent-values",
                    col,
                    ok,
                    lambda v, na=na: (
                        f"EMPL « {v} » incompatible avec TACT : la condition d'emploi vaut {na} exactement "
                        "pour les personnes sans emploi."
                    ),
                )
            )
        checks += measure_checks(ctx)
        return checks

    @staticmethod
    def _where(conditions: dict[str, Any]) -> pl.Expr:
        expr = pl.lit(True)
        for var, values in conditions.items():
            expr &= pl.col(KEY_PREFIX + var).is_in([str(v) for v in values])
        return expr

    # -- ledger -----------------------------------------------------------------------
    def read_amounts(self, ctx: Context) -> dict[tuple[str, str], pl.Expr]:
        """Each measure is NB summed over the rows of its modalities (mapping option ``measures``)."""
        nb = parse_measure(ctx.mapping.column("nb"), ctx.mapping, alias="nb")[0].fill_null(0.0)
        measures = ctx.mapping.options.get("measures", {})
        return {
            ("rp", m): pl.when(self._where((measures.get(m) or {}).get("where", {}))).then(nb).otherwise(0.0)
            for m in self.table("rp").measure_ids
        }

    # -- normalisation ----------------------------------------------------------------
    def normalise(self, raw: pl.DataFrame, ctx: Context, out: Extraction):
        df, coverage, merged = commune_geo(raw)
        nb_value, nb_status = parse_measure(ctx.mapping.column("nb"), ctx.mapping, alias="nb")
        record_zone_moves(out, ctx, df, "rp", {"population": self.read_amounts(ctx)[("rp", "population")]})
        measures = ctx.mapping.options.get("measures", {})
        spec = self.table("rp")
        exprs: list[pl.Expr] = []
        for m in spec.measure_ids:
            exprs += flagged(nb_value, nb_status, self._where((measures.get(m) or {}).get("where", {})), m)
        facts = df.select(
            pl.lit(ctx.year, dtype=pl.Int32).alias("year"),
            "geo_level",
            "geo_code",
            pl.lit("ensemble").alias("sector_level"),
            pl.lit(TOTAL).alias("sector_code"),
            pl.col(KEY_PREFIX + "sex").alias("sex"),
            pl.col(DERIVED_PREFIX + "age").alias("age_band"),
            *exprs,
        )
        dims = ["year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]
        facts, _ = merge_cells(facts, dims, spec.measure_ids, out, "rp", reason=SUM_REASON)
        facts = facts.with_columns(
            [pl.col(status_col(m)).cast(status_dtype()) for m in spec.measure_ids]
        )
        out.stats.rows_merged = merged
        return {"rp": facts}, "commune", coverage


# --------------------------------------------------------------------------------------
# Population estimates by département, sex and age band (legacy workbook)
# --------------------------------------------------------------------------------------
TERRITORIES = {
    "metropole": "départements de métropole",
    "dom": "départements d'outre-mer",
    "france": "tous les départements",
}


def _territory(kind: str) -> pl.Expr:
    """Whether a département code (``_k_geo``) belongs to a territory of a subtotal row."""
    dom = pl.col(KEY_PREFIX + "geo").str.starts_with("97")
    return {"metropole": ~dom, "dom": dom, "france": pl.lit(True)}[kind]


@register_source
class InseeEstimations(TabularSource):
    id = "insee-estimations"
    template_supported = False  # Insee publishes this workbook; it is loaded as is
    provider = "Insee"
    title = "Estimations de population par département, sexe et grande classe d'âge"
    description = (
        "Classeur Insee « Estimation de population au 1er janvier, par département, sexe et grande classe "
        "d'âge » (estim-pop-dep-sexe-gca) : une feuille par année (toutes lues, dans n'importe quel ordre), "
        "en-tête sur deux lignes (Ensemble, Hommes, Femmes × 0 à 19 ans … 75 ans et plus, Total). Tous les "
        "départements sont gardés (comparaisons avec la France). Les totaux du fichier (colonnes « Total » "
        "et « Ensemble », lignes « France métropolitaine », « DOM », « France métropolitaine et DOM ») sont "
        "contrôlés, jamais stockés. Les années que le classeur dit provisoires ont le statut p. Avant 1990, "
        "le classeur ne couvre que la métropole."
    )
    geo_levels = ("departement",)
    series = "insee-estimations"
    tables = (
        TableSpec(
            "estimations",
            "Population estimée au 1er janvier",
            (Measure("population_estimee", "Population estimée au 1er janvier", "habitants"),),
        ),
    )

    def extract(
        self,
        path: Path,
        *,
        year: int | None = None,
        sheet: str | None = None,
        mapping_version: str | None = None,
    ) -> Extraction:
        import pandera.polars as pa

        issue = IssueFactory(self.id, path.name)
        out = Extraction(source_id=self.id, mapping=None)
        out.issues = issue.issues
        wb = open_table_file(path, issue)
        if wb is None:
            return out
        mappings = [m for m in self.mappings() if mapping_version is None or m.version == mapping_version]
        if not mappings:
            raise UnknownName("version de mapping", mapping_version or "", [m.version for m in self.mappings()])
        mapping = mappings[-1]
        out.mapping = mapping
        names = mapping.candidate_sheets(wb.sheet_names, sheet)
        if not names:
            issue(
                "sheet-not-found",
                f"Aucune feuille d'année ({', '.join(mapping.sheets)}) dans le classeur. "
                f"Feuilles : {', '.join(wb.sheet_names)}.",
                value=sheet,
            )
            return out
        layout = _Layout.of(mapping)
        year_sheets = set(mapping.candidate_sheets(wb.sheet_names))
        provisional = self._provisional_from_notes(wb, [n for n in wb.sheet_names if n not in year_sheets], layout)

        frames: list[pl.DataFrame] = []
        years: dict[int, str] = {}
        for name in names:
            issue.sheet = name
            got = self._read_sheet(wb.sheet(name), mapping, layout, year, issue)
            if got is None:
                continue
            frame, yr, is_provisional, header_row = got
            if yr in years:
                issue(
                    "year-mismatch",
                    f"L'année {yr} figure dans deux feuilles (« {years[yr]} » et « {name} »).",
                    value=str(yr),
                )
                continue
            years[yr] = name
            if is_provisional:
                provisional.add(yr)
            frames.append(frame)
            out.header_row = out.header_row or header_row
        issue.sheet = None
        wb.release()
        if year is not None and not years and out.ok:
            issue("year-not-found", f"Aucune feuille du classeur ne donne l'année {year}.", value=str(year))
        if not frames:
            return out

        # Every readable sheet is checked, even when another one has a problem of its own
        raw = pl.concat(frames, how="vertical")
        out.stats.rows_read = raw.height
        raw = self._classify(raw, layout, out)
        ctx = Context(path=path, mapping=layout.checked, sheet="", year=0, present=["departement", *layout.columns])
        raw = add_derived(parse_counts(raw, layout.columns), [])
        raw = self._expected_subtotals(raw, layout)
        self._validate_raw(raw, self._checks(layout, ctx), ctx, issue)
        if not out.ok:
            out.stats.rows_rejected = len({(i.sheet, i.row) for i in out.issues if i.severity == "error" and i.row})
            return out

        facts = drop_empty_status(self._facts(raw, layout, provisional))
        self._account(raw, layout, out)
        out.tables = {"estimations": facts}
        out.years = sorted(years)
        out.geo_level = "departement"
        out.coverage = ["FR"]
        out.stats.rows_kept = int((raw["_kind"] == "dep").sum())
        return out

    def _account(self, raw: pl.DataFrame, layout: _Layout, out: Extraction) -> None:
        """Ledger: every count cell of the file is read; what the facts leave out is the file's
        own totals (« Total » and « Ensemble » columns, subtotal rows), checked, not stored."""
        m = "population_estimee"
        value = lambda c: pl.col(f"_v_{c}").fill_null(0.0)  # noqa: E731
        detail = [layout.name(g, b) for g in layout.groups.values() if g != TOTAL for b in layout.bands]
        totals_col = [c for c in layout.columns if c not in detail]
        dep = pl.col("_kind") == "dep"
        sums = raw.select(
            pl.sum_horizontal([value(c) for c in layout.columns]).sum().alias("read"),
            pl.when(dep).then(pl.sum_horizontal([value(c) for c in totals_col])).otherwise(0.0).sum().alias("cols"),
            pl.when(~dep).then(pl.sum_horizontal([value(c) for c in layout.columns])).otherwise(0.0).sum().alias("rows"),
        ).row(0, named=True)
        out.ledger.read("estimations", m, sums["read"])
        out.ledger.set_aside("estimations", m, "colonnes « Total » et « Ensemble » du fichier (contrôlées, non stockées)", sums["cols"])
        out.ledger.set_aside("estimations", m, "lignes de total du fichier (contrôlées, non stockées)", sums["rows"])

    # -- reading ----------------------------------------------------------------------
    def _provisional_from_notes(self, wb: Any, sheets: list[str], layout: _Layout) -> set[int]:
        """Years called provisional in the notes sheet(s) (« … 2021, 2022 et 2023 sont provisoires »)."""
        found: set[int] = set()
        for name in sheets:
            frame = wb.sheet(name).frame.drop(ROW)
            for row in frame.rows():
                for v in row:
                    # the sentence that says « provisoire » names the years
                    for sentence in re.split(r"(?<=\.)\s+", v) if isinstance(v, str) else []:
                        if re.search(layout.provisional, sentence):
                            found |= {int(y) for y in re.findall(r"\b(1[89]\d\d|20\d\d)\b", sentence)}
        return found

    def _read_sheet(
        self, sh: Sheet, mapping: Mapping, layout: _Layout, year: int | None, issue: IssueFactory
    ) -> tuple[pl.DataFrame, int, bool, int] | None:
        """One year sheet as a raw frame (canonical column names), its year, whether the sheet
        says it is provisional, and its header row; None (with issues) when it cannot be read."""
        header = find_header(sh, layout.aliases)
        if header is None:
            issue(
                "header-not-found",
                f"Feuille « {sh.name} » : pas de ligne d'en-tête « {layout.code_header} | Ensemble | Hommes | Femmes ».",
            )
            return None
        # Reference year: the sheet name, checked against the title (« Année 2023 »)
        head = sh.frame.head(header.row_index)
        title = [(int(r), str(v)) for r, *cells in head.rows() for v in cells if v]
        m = re.match(r"^\s*(\d{4})\s*$", sh.name)
        in_title = next(
            ((r, int(t.group(1))) for p in mapping.year_patterns for r, text in title if (t := re.search(p, text))), None
        )
        yr = int(m.group(1)) if m else (in_title[1] if in_title else None)
        if yr is None:
            issue("year-not-found", f"Feuille « {sh.name} » : l'année ne figure ni dans le nom de la feuille ni dans le titre.")
            return None
        if in_title is not None and in_title[1] != yr:
            issue(
                "year-mismatch",
                f"La feuille « {sh.name} » a pour titre l'année {in_title[1]} : laquelle est la bonne ?",
                row=in_title[0],
                value=str(in_title[1]),
            )
            return None
        if year is not None and yr != year:
            return None

        # Two header rows: the group (sex) of merged cells, then the age band of each column
        code_col = next((c for c, n in header.columns.items() if n == "departement"), None)
        if code_col is None:
            issue("missing-column", f"Colonne « {layout.code_header} » absente de l'en-tête.", row=header.excel_row, column=layout.code_header)
            return None
        cols = [c for c in sh.frame.columns if c != ROW]
        top = sh.frame.row(header.row_index, named=True)
        sub = sh.frame.row(header.row_index + 1, named=True) if header.row_index + 1 < sh.frame.height else {}
        group: str | None = None
        mapped: dict[str, str] = {}
        label_col: str | None = None
        ok = True
        for c in cols:
            top_text = top.get(c)
            if c in header.columns and header.columns[c].startswith("group:"):
                group = header.columns[c].removeprefix("group:")
            elif top_text not in (None, "") and c != code_col:
                group = None
                issue(
                    "unexpected-column",
                    f"Groupe de colonnes « {top_text} » (colonne {sh.letter(c)}) inconnu : Ensemble, Hommes ou Femmes attendu.",
                    row=header.excel_row,
                    column=str(top_text),
                    value=str(top_text),
                )
                ok = False
                continue
            band_text = sub.get(c)
            if c == code_col:
                continue
            if band_text in (None, ""):
                if group is None and label_col is None:
                    label_col = c  # the unnamed column of département names
                continue
            band = layout.band_of(str(band_text))
            display = f"{SEX_LABELS.get(group or '', '?')}, {layout.band_label(band) if band else band_text}"
            if group is None or band is None:
                issue(
                    "unexpected-column",
                    f"Colonne « {band_text} » (colonne {sh.letter(c)}) : tranche d'âge ou groupe (Ensemble, Hommes, Femmes) non reconnu.",
                    row=header.excel_row + 1,
                    column=str(band_text),
                    value=str(band_text),
                )
                ok = False
                continue
            name = layout.name(group, band)
            if name in mapped.values():
                issue("duplicate-column", f"La colonne « {display} » figure deux fois dans l'en-tête.", row=header.excel_row + 1, column=display)
                ok = False
                continue
            mapped[c] = name
        for name in layout.columns:
            if name not in mapped.values():
                issue("missing-column", f"Colonne « {name} » absente de l'en-tête.", row=header.excel_row + 1, column=name)
                ok = False
        if not ok:
            return None

        first = header.excel_row + 2
        body = sh.frame.filter(pl.col(ROW) >= first)
        frame = body.select(
            pl.col(ROW),
            pl.lit(sh.name).alias(SHEET),
            pl.lit(yr, dtype=pl.Int32).alias("_year"),
            pl.col(code_col).alias("departement"),
            (pl.col(label_col) if label_col else pl.lit(None, dtype=pl.String)).alias("libelle"),
            *[pl.col(c).alias(n) for c, n in mapped.items()],
        ).select([ROW, SHEET, "_year", "departement", "libelle", *layout.columns])
        notes = body.select(pl.concat_str([pl.col(c) for c in cols], separator=" ", ignore_nulls=True).alias("t"))["t"]
        notes = notes.filter(~frame.select(pl.any_horizontal([pl.col(n).is_not_null() for n in layout.columns])).to_series())
        texts = [t for _, t in title] + notes.drop_nulls().to_list()
        is_provisional = any(re.search(layout.provisional, t) for t in texts)
        return frame, yr, is_provisional, header.excel_row

    def _classify(self, raw: pl.DataFrame, layout: _Layout, out: Extraction) -> pl.DataFrame:
        """Row kinds: ``dep`` (a département), ``sub:<territory>`` (a total given by the source),
        ``unknown``; blank rows and notes (no number in the row) are skipped and counted."""
        any_value = pl.any_horizontal([pl.col(c).is_not_null() for c in layout.columns])
        code = clean_departement(pl.col("departement"))
        norm = norm_header_expr(pl.col("departement"))
        subtotals = {norm_header(k): v for k, v in layout.subtotals.items()}
        kind = (
            pl.when(code.is_in(departement_codes()))
            .then(pl.lit("dep"))
            .when(norm.is_in(list(subtotals)))
            .then(pl.lit("sub:") + norm.replace_strict(subtotals, default=None))
            .otherwise(pl.lit("unknown"))
        )
        df = raw.with_columns(kind.alias("_kind"), code.alias(KEY_PREFIX + "geo"))
        blank = ~any_value & pl.col("departement").is_null() & pl.col("libelle").is_null()
        note = ~any_value & ~blank & (pl.col("_kind") == "unknown")
        sub = pl.col("_kind").str.starts_with("sub:")
        counts = df.select(blank.sum().alias("b"), note.sum().alias("n"), sub.sum().alias("s")).row(0)
        for label, n in zip(
            ("lignes vides", "notes (une seule cellule de texte)", "lignes de total de la source (contrôlées, non stockées)"),
            counts,
        ):
            if n:
                out.stats.skipped_detail[label] = int(n)
        out.stats.rows_skipped = int(sum(counts))
        df = df.filter(~(blank | note))
        # a subtotal row is unique by its label within its sheet; the key shows the label
        return df.with_columns(
            pl.when(sub).then(pl.col("_kind")).otherwise(pl.col(KEY_PREFIX + "geo")).alias(KEY_PREFIX + "geo"),
            pl.col("_year").cast(pl.String).alias(KEY_PREFIX + "year"),
        )

    def _expected_subtotals(self, raw: pl.DataFrame, layout: _Layout) -> pl.DataFrame:
        """For each subtotal row, the sum of the département rows of its sheet it covers
        (null when one of them has no number: the value check reports that one)."""
        deps = raw.filter(pl.col("_kind") == "dep")
        parts = []
        for territory in TERRITORIES:
            rows = deps.filter(_territory(territory))
            agg = rows.group_by(SHEET).agg(
                [
                    pl.when(pl.col(f"_v_{c}").is_null().any()).then(None).otherwise(pl.col(f"_v_{c}").sum()).alias(f"_exp_{c}")
                    for c in layout.columns
                ]
            )
            parts.append(agg.with_columns(pl.lit("sub:" + territory).alias("_kind")))
        expected = pl.concat(parts, how="vertical")
        return raw.join(expected, on=[SHEET, "_kind"], how="left", maintain_order="left")

    def _checks(self, layout: _Layout, ctx: Context) -> list[RawCheck]:
        checks = [
            RawCheck(
                "unknown-departement",
                "departement",
                pl.col("_kind") != "unknown",
                lambda v: f"« {v} » n'est ni un code de département ni une ligne de total connue "
                f"({', '.join(layout.subtotals)}).",
            ),
        ]
        checks += measure_checks(ctx)
        v = lambda g, b: pl.col(f"_v_{layout.name(g, b)}")  # noqa: E731
        # A « Total » column is the sum of the age bands of its group
        for g in layout.groups.values():
            total = layout.name(g, TOTAL)
            parts = [v(g, b) for b in layout.bands]
            checks.append(
                RawCheck(
                    "total-mismatch",
                    total,
                    pl.any_horizontal([x.is_null() for x in parts]) | ((v(g, TOTAL) - pl.sum_horizontal(parts)).abs() < 0.5),
                    lambda x, t=total: f"« {t} » ({x}) n'est pas la somme des tranches d'âge de la ligne.",
                )
            )
        # « Ensemble » = Hommes + Femmes, for every band and the total
        if TOTAL in layout.groups.values():
            sexes = [g for g in layout.groups.values() if g != TOTAL]
            for b in [*layout.bands, TOTAL]:
                both = layout.name(TOTAL, b)
                checks.append(
                    RawCheck(
                        "total-mismatch",
                        both,
                        pl.any_horizontal([v(s, b).is_null() for s in sexes])
                        | ((v(TOTAL, b) - pl.sum_horizontal([v(s, b) for s in sexes])).abs() < 0.5),
                        lambda x, t=both: f"« {t} » ({x}) n'est pas la somme des hommes et des femmes.",
                    )
                )
        # Subtotal rows = sum of the départements they cover, in the same sheet
        for c in layout.columns:
            checks.append(
                RawCheck(
                    "total-mismatch",
                    c,
                    ~pl.col("_kind").str.starts_with("sub:") | ((pl.col(f"_v_{c}") - pl.col(f"_exp_{c}")).abs() < 0.5),
                    lambda x, c=c: f"Ligne de total : « {c} » ({x}) n'est pas la somme des départements qu'elle couvre.",
                )
            )
        return checks

    def _facts(self, raw: pl.DataFrame, layout: _Layout, provisional: set[int]) -> pl.DataFrame:
        deps = raw.filter(pl.col("_kind") == "dep")
        m = "population_estimee"
        parts = []
        for g in layout.groups.values():
            if g == TOTAL:
                continue
            for b in layout.bands:
                c = layout.name(g, b)
                value, sign, empty = pl.col(f"_v_{c}"), pl.col(f"_s_{c}"), pl.col(f"_e_{c}")
                status = (
                    pl.when(sign.is_not_null())
                    .then(sign)
                    .when(pl.col("_year").is_in(sorted(provisional)))
                    .then(pl.lit(STATUS_PROVISIONAL))
                    .otherwise(None)
                )
                parts.append(
                    deps.select(
                        pl.col("_year").alias("year"),
                        pl.lit("departement").alias("geo_level"),
                        pl.col(KEY_PREFIX + "geo").alias("geo_code"),
                        pl.lit("ensemble").alias("sector_level"),
                        pl.lit(TOTAL).alias("sector_code"),
                        pl.lit(g).alias("sex"),
                        pl.lit(b).alias("age_band"),
                        pl.when(sign == STATUS_ZERO).then(0.0).when(sign.is_not_null() | empty).then(None).otherwise(value).alias(m),
                        status.cast(status_dtype()).alias(status_col(m)),
                    )
                )
        return pl.concat(parts, how="vertical").sort("year", "geo_code", "sex", "age_band")


class _Layout:
    """What the mapping says about the two header rows and the subtotal rows."""

    def __init__(self, mapping: Mapping) -> None:
        opts = mapping.options
        self.groups: dict[str, str] = dict(opts.get("groups", {"Ensemble": TOTAL, "Hommes": "M", "Femmes": "F"}))
        bands = opts.get("bands", {})
        self.bands: list[str] = list(bands.get("expected", []))
        self.totals = {norm_header(t) for t in bands.get("total", ["Total"])}
        self.subtotals: dict[str, str] = dict(opts.get("subtotals", {}))
        self.provisional: str = opts.get("provisional_pattern", r"(?i)provisoire")
        code = mapping.column("departement")
        self.code_header = code.headers[0]
        self.aliases = {norm_header(h): "departement" for h in code.headers}
        self.aliases.update({norm_header(h): f"group:{g}" for h, g in self.groups.items()})
        self._band_cache: dict[str, str | None] = {}
        self.columns = [self.name(g, b) for g in self.groups.values() for b in [*self.bands, TOTAL]]
        # The columns as a mapping, for the count rules (number, sign, non-negative, whole)
        specs = [code] + [
            ColumnSpec(name=c, headers=(c,), role="measure", kind="count", measure=c, integer=True) for c in self.columns
        ]
        self.checked = replace(mapping, columns=tuple(specs))

    @classmethod
    def of(cls, mapping: Mapping) -> _Layout:
        return cls(mapping)

    def name(self, group: str, band: str) -> str:
        return f"{SEX_LABELS[group]}, {self.band_label(band)}"

    @staticmethod
    def band_label(band: str) -> str:
        return "Total" if band == TOTAL else age_label(band)

    def band_of(self, text: str) -> str | None:
        if text not in self._band_cache:
            if norm_header(text) in self.totals:
                self._band_cache[text] = TOTAL
            else:
                code = pl.select(age_band_expr(pl.lit(text, dtype=pl.String))).item()
                self._band_cache[text] = code if code in self.bands else None
        return self._band_cache[text]


__all__ = ["InseeEstimations", "InseeRp", "clean_code"]
