"""Reading a provider table (one sheet or one CSV) through a declarative mapping.

The steps of :meth:`TabularSource.extract`:

1. *Open* the workbook or CSV (wrong format, truncated file, empty file → issues).
2. *Pick the mapping version and the sheet*, *find the header row* (scored against
   the headers of each mapping version), map columns, report missing, unexpected
   and duplicated columns.
3. *Cut the body*: rows below the header; blank rows and notes are skipped and
   counted, never silently dropped.
4. *Validate* the raw table with a pandera schema built from the mapping: every
   problem of every row is collected (pandera ``lazy=True`` on a collected frame).
5. *Normalise* into canonical fact tables (subclass hook). The framework
   (:func:`prst_etl.pipeline.ingest.ingest`) then validates them with the canonical
   pandera contract (:mod:`prst_etl.model.facts`) and settles the measure ledger.

The ledger (:class:`~prst_etl.sources.base.Ledger`) is filled as the table is read:
what each count column gives (:meth:`TabularSource.read_amounts`, by default the
mapping's count columns, one measure each), what :meth:`TabularSource.skip_rows`
leaves out (with the reasons it counts in ``stats.skipped_detail``), what a plugin
sets aside itself (:meth:`Context.set_aside`, e.g. the file's own total rows) and what
adding up merged communes cannot keep (:func:`merge_cells`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prst_etl._lazy import polars as pl

from prst_etl.model.codes import (
    STATUS_ZERO,
    number_expr,
    sign_expr,
    status_dtype,
)
from prst_etl.errors import Issue
from prst_etl.model.facts import drop_empty_status, status_col
from prst_etl.model.rollup import sum_cells  # noqa: F401  (re-exported for plugins)
from prst_etl.sources.mapping import ColumnSpec, Mapping
from prst_etl.sources.readers import (
    FORMULA_ERROR_PATTERN,
    ROW,
    IssueFactory,
    Sheet,
    Workbook,
    find_header,
    norm_header,
    open_table_file,
)
from prst_etl.sources.base import Extraction, Source

MAX_SHOWN_VALUE = 60
KEY_PREFIX = "_k_"
"""Prefix of the cleaned key columns added to the raw frame (a cell is unique on them)."""
DERIVED_PREFIX = "_x_"
"""Prefix of other derived columns (e.g. the département of a commune code)."""
SHEET = "_sheet"
"""Optional raw column naming each row's sheet (a source reading several sheets at once):
issues then carry the sheet of their row."""


@dataclass(frozen=True)
class Derived:
    """A column computed from one raw column, ``fn(pl.col(source))``.

    It is evaluated on the distinct values of the source column only, then
    mapped back: cleaning 4 000 commune codes instead of 200 000 cells.
    """

    name: str
    source: str
    fn: Callable[[pl.Expr], pl.Expr]


def add_derived(raw: pl.DataFrame, derived: list[Derived]) -> pl.DataFrame:
    exprs = []
    for d in derived:
        u = raw.select(pl.col(d.source).unique().drop_nulls())
        u = u.with_columns(d.fn(pl.col(d.source)).alias("_new"))
        exprs.append(
            pl.col(d.source).replace_strict(u[d.source], u["_new"], default=None, return_dtype=u["_new"].dtype).alias(d.name)
        )
    return raw.with_columns(exprs) if exprs else raw


@dataclass
class RawCheck:
    """A vectorised rule on the raw table: rows where ``ok`` is false are findings."""

    code: str
    column: str
    """Raw column the finding is reported on."""
    ok: pl.Expr
    message: Callable[[str | None], str]
    severity: str | None = None
    """None: the rule's severity, data in ``schemas/findings.toml`` (per source if it says so)."""


@dataclass
class Context:
    """What normalisation needs to know about the file being read."""

    path: Path
    mapping: Mapping
    sheet: str
    year: int | None
    """Reference year of the file (from its title, name or ``--year``); with a year column,
    the ``--year`` option if given, else None: use :meth:`year_key`."""
    present: list[str]
    """Mapped columns present in the file."""
    extra: dict[str, Any] = field(default_factory=dict)
    year_column: str | None = None
    """Mapped column of kind ``year`` (a file giving several years), parsed into ``_k_year``."""
    issue: Any = None
    """The :class:`~prst_etl.sources.readers.IssueFactory` of the file (findings of a plugin's normalise)."""
    amounts: dict[tuple[str, str], pl.Expr] = field(default_factory=dict)
    """What a raw row gives to each stored measure ``(table, measure)``: see
    :meth:`TabularSource.read_amounts`."""

    def set_aside(self, out: Extraction, rows: pl.DataFrame, reason: str) -> None:
        """Record in the ledger what ``rows`` (raw rows left out of the facts) give to each measure."""
        if rows.height == 0 or not self.amounts:
            return
        sums = amount_sums(rows, self.amounts)
        for (table, measure), v in sums.items():
            out.ledger.set_aside(table, measure, reason, v)

    def year_key(self) -> pl.Expr:
        """The ``year`` key of each row: the year column if the file has one, else the file's year."""
        if self.year_column:
            return pl.col(KEY_PREFIX + "year").cast(pl.Int32).alias("year")
        return pl.lit(self.year, dtype=pl.Int32).alias("year")

    def has(self, name: str) -> bool:
        return name in self.present

    @property
    def layout(self) -> str:
        """Layout of the table being read (``""`` for a single-layout source)."""
        return self.mapping.layout


class TabularSource(Source):
    """A source whose file is one table described by a mapping (most providers)."""

    def extract(
        self,
        path: Path,
        *,
        year: int | None = None,
        sheet: str | None = None,
        mapping_version: str | None = None,
    ) -> Extraction:
        issue = IssueFactory(self.id, str(path.name))
        out = Extraction(source_id=self.id, mapping=None)
        out.issues = issue.issues

        # Open
        wb = open_table_file(path, issue)
        if wb is None:
            return out

        if len(self.layouts()) > 1:
            # Several table layouts (e.g. the AT, Trajet and MP sheets of a Carsat workbook):
            # one sheet of each layout present is read, all problems of all sheets reported.
            picks = self._pick_sheets(wb, sheet, mapping_version, issue)
            for mapping, sh, header in picks:
                self._read_table(wb, path, mapping, sh, header, year, out, issue)
            issue.sheet = None
            if picks and wb.kind == "excel":
                out.sheet = ", ".join(sh.name for _, sh, _ in picks)
            if not out.ok:
                out.tables = {}
                self._suggest_source(wb, issue, sheet)
            return out

        # Pick the sheet, the mapping version and the header row
        picked = self._pick_layout(wb, sheet, mapping_version, issue)
        if picked is None:
            self._suggest_source(wb, issue, sheet)
            return out
        mapping, sh, header = picked
        self._read_table(wb, path, mapping, sh, header, year, out, issue)
        self._suggest_source(wb, issue, sheet)
        return out

    def _suggest_source(self, wb: Workbook, issue: IssueFactory, sheet: str | None = None) -> None:
        """A file whose header this source does not know, but another source reads as is: say which
        (only when no sheet of the file, or of ``--sheet``, has this source's own layout)."""
        layout_codes = {"header-not-found", "missing-column", "unexpected-column"}
        if not any(i.code in layout_codes and i.severity == "error" for i in issue.issues):
            return
        from prst_etl.sources import all_sources

        def reads(src: TabularSource) -> str | None:
            """The sheet of the workbook whose header one of ``src``'s mappings matches exactly."""
            for m in reversed(src.mappings()):
                for name in m.candidate_sheets(wb.sheet_names, sheet):
                    try:
                        sh = wb.head(name)
                    except Exception:  # a sheet calamine cannot read says so elsewhere
                        continue
                    header = find_header(sh, src.layout_for_sheet(m, sh).aliases())
                    if header is None:
                        continue
                    found = set(header.columns.values())
                    complete = {c.name for c in m.columns if c.required} <= found and not header.unexpected
                    if complete and src.check_column_set(m, found, header.excel_row, IssueFactory(src.id, "")):
                        return name
            return None

        if reads(self) is not None:
            return  # the file has this source's layout (the problem is elsewhere: a sheet, a column)
        for sid, cls in all_sources().items():
            if sid == self.id or not issubclass(cls, TabularSource):
                continue
            name = reads(cls())
            if name is not None:
                issue(
                    "wrong-source",
                    f"Ce fichier a le format de la source « {sid} » ({cls.provider} : {cls.title}), pas celui de "
                    f"« {self.id} ». Relancez : prst ingest {sid} {wb.path.name}",
                    value=sid,
                    sheet=name if wb.kind == "excel" else None,
                )
                return

    def layouts(self) -> list[str]:
        """Table layouts of the source's mappings (one, ``""``, for a single-table source)."""
        return list(dict.fromkeys(m.layout for m in self.mappings()))

    def _read_table(
        self,
        wb: Workbook,
        path: Path,
        mapping: Mapping,
        sh: Sheet,
        header: Any,
        year: int | None,
        out: Extraction,
        issue: IssueFactory,
    ) -> None:
        """Read, validate and normalise one table (one sheet); add its fact tables to ``out``."""
        start = len(issue.issues)
        sheet_name = sh.name if wb.kind == "excel" else None
        if out.mapping is None:
            out.mapping, out.sheet, out.header_row = mapping, sheet_name, header.excel_row
        if mapping.name not in out.mapping_versions:
            out.mapping_versions.append(mapping.name)
        issue.sheet = sheet_name
        present = list(header.columns.values())
        if not self._check_columns(mapping, header, sh, issue):
            return

        # Reference year: in a column (several years per file), else in the title (one per file: every sheet must agree)
        year_col = next((c.name for c in mapping.columns if c.kind == "year" and c.name in present), None)
        ref_year = year if year_col else self._find_year(mapping, sh, header.row_index, path, year, issue)
        if not year_col and ref_year is not None and out.years and ref_year not in out.years:
            issue(
                "year-mismatch",
                f"La feuille « {sh.name} » porte l'année {ref_year}, une autre feuille du fichier {out.years[0]} : "
                "un fichier ne contient qu'une année de référence.",
                value=str(ref_year),
            )
            ref_year = None

        # Cut the body: the rows below the header, the mapped columns only
        counts = {c.name for c in mapping.by_role("measure")}
        numeric = [c for c, n in header.columns.items() if n in counts]  # read typed where clean (see Workbook.body)
        body = wb.body_while(warm_up, sh.name, header.excel_row + 1, list(header.columns), numeric=numeric)
        raw = body.select([pl.col(ROW)] + [pl.col(c).alias(n) for c, n in header.columns.items() if c in body.columns])
        raw = raw.with_columns([pl.lit(None, dtype=pl.String).alias(n) for c, n in header.columns.items() if c not in body.columns])
        raw = self._drop_blank_rows(raw, mapping, out)
        wb.release()
        if raw.height == 0:
            issue("empty-file", "Le tableau ne contient aucune ligne de données sous l'en-tête.", row=header.excel_row)
            return
        if ref_year is None and year_col is None:
            return
        labels = [c.name for c in mapping.by_role("label") if c.name in raw.columns]
        raw = raw.drop(labels)

        # Validate the raw table
        ctx = Context(
            path=path, mapping=mapping, sheet=sh.name, year=ref_year, present=present, year_column=year_col, issue=issue
        )
        measures = [c.name for c in mapping.by_role("measure") if ctx.has(c.name)]
        year_key = [Derived(KEY_PREFIX + "year", year_col, year_expr)] if year_col else []
        raw = add_derived(parse_counts(raw, measures), year_key + self.key_columns(ctx))

        # Ledger: what the file gives to each measure, and what skip_rows leaves out (and why)
        ctx.amounts = self.read_amounts(ctx)
        before = amount_sums(raw, ctx.amounts)
        skipped_before = dict(out.stats.skipped_detail)
        raw = self.skip_rows(raw, ctx, out)
        after = amount_sums(raw, ctx.amounts)
        why = [k for k, n in out.stats.skipped_detail.items() if n != skipped_before.get(k, 0)]
        reason = " ; ".join(why) or "lignes écartées avant validation"
        for (table, measure), v in before.items():
            derived = self.derived_measures().get(measure, "")
            out.ledger.read(table, measure, v, derived=derived)
            out.ledger.set_aside(table, measure, reason, v - after[(table, measure)])
        checks = (year_checks(ctx) if year_col else []) + self.raw_checks(ctx)
        self._validate_raw(raw, checks, ctx, issue)
        new = issue.issues[start:]
        if any(i.severity == "error" for i in new):
            out.stats.rows_rejected += _rows_with_errors(new)
            return

        # Normalise and check the canonical contract
        # rows_merged of them are added into another cell; set before normalise, which may adjust it
        out.stats.rows_kept += raw.height
        tables, geo_level, coverage = self.normalise(raw, ctx, out)
        tables = {name: drop_empty_status(df) for name, df in tables.items()}
        for name, df in tables.items():
            # one sheet per layout: a table given by two sheets would be one sheet's only
            out.tables[name] = pl.concat([out.tables[name], df], how="diagonal_relaxed") if name in out.tables else df
        # A file may hold several reference years (year columns, a year column): the facts say which
        found = sorted({int(y) for df in tables.values() if "year" in df.columns for y in df["year"].unique().drop_nulls().to_list()})
        for y in found or ([ref_year] if ref_year is not None else []):
            if y not in out.years:
                out.years.append(y)
        out.years.sort()
        if geo_level not in out.geo_level.split(","):
            out.geo_level = f"{out.geo_level},{geo_level}" if out.geo_level else geo_level
        out.coverage = sorted(set(out.coverage) | set(coverage))

    # -- hooks for subclasses ---------------------------------------------------------
    def read_amounts(self, ctx: Context) -> dict[tuple[str, str], pl.Expr]:
        """Hook: what one raw row gives to each stored measure, ``(table, measure) → expression``
        (evaluated after :func:`parse_counts`; a cell without a number gives 0).

        The sum of each expression over the file's rows is the « read » side of the ledger.
        Default: each count column of the mapping feeds its measure (columns feeding the same
        measure add up). A plugin whose measures are not one column each (a measure computed
        from several columns, a count split by modalities) overrides it."""
        out: dict[tuple[str, str], pl.Expr] = {}
        for c in ctx.mapping.by_role("measure"):
            if not ctx.has(c.name):
                continue
            table = c.table or self._table_of(c.measure)
            if table is None or c.measure not in self._measures_of(table):
                continue  # a raw count combined by the plugin (raw_measures): the plugin says what it gives
            value = parse_measure(c, ctx.mapping)[0].fill_null(0.0)
            key = (table, c.measure)
            out[key] = out[key] + value if key in out else value
        return out

    def derived_measures(self) -> dict[str, str]:
        """Hook: measures computed from other columns, with how (French), shown in the ledger."""
        return {}

    def _measures_of(self, table: str) -> list[str]:
        return next((t.measure_ids for t in self.tables if t.name == table), [])

    def _table_of(self, measure: str) -> str | None:
        names = [t.name for t in self.tables if measure in t.measure_ids]
        return names[0] if len(names) == 1 else None

    def key_columns(self, ctx: Context) -> list[Derived]:
        """Cleaned key columns ``_k_<name>`` (a cell is unique on them) and other ``_x_`` helpers."""
        return []

    def raw_checks(self, ctx: Context) -> list[RawCheck]:
        return measure_checks(ctx)

    def skip_rows(self, raw: pl.DataFrame, ctx: Context, out: Extraction) -> pl.DataFrame:
        """Rows left out before validation, each counted in ``out.stats`` (e.g. communes
        outside the region in a national file). Default: none."""
        return raw

    def layout_for_sheet(self, mapping: Mapping, sh: Sheet) -> Mapping:
        """The mapping to match against one sheet; a source may expand it from the sheet's
        first rows (e.g. one column per year, the years read from the header). Default: as is."""
        return mapping

    def normalise(
        self, raw: pl.DataFrame, ctx: Context, out: Extraction
    ) -> tuple[dict[str, pl.DataFrame], str, list[str]]:
        raise NotImplementedError

    # -- steps ------------------------------------------------------------------------
    def _pick_layout(
        self, wb: Workbook, sheet: str | None, version: str | None, issue: IssueFactory
    ) -> tuple[Mapping, Sheet, Any] | None:
        mappings = [m for m in self.mappings() if m.chosen_by(version)]
        if not mappings:
            from prst_etl.errors import UnknownName

            raise UnknownName("version de mapping", version or "", [m.name for m in self.mappings()])
        best = None
        tried_sheets: set[str] = set()
        for m in reversed(mappings):  # newest layout first
            for name in m.candidate_sheets(wb.sheet_names, sheet):
                tried_sheets.add(name)
                sh = wb.head(name)
                ms = self.layout_for_sheet(m, sh)
                header = find_header(sh, ms.aliases())
                if header is None:
                    continue
                required = {c.name for c in ms.columns if c.required}
                found = set(header.columns.values())
                score = (len(required & found), -len(required - found), -len(header.unexpected))
                if best is None or score > best[0]:
                    best = (score, ms, sh, header)
                break  # the first sheet holding a header is the table of this layout
        if best is None:
            self._report_no_table(wb, sheet, mappings, tried_sheets, issue)
            return None
        _, m, sh, header = best
        return m, sh, header

    def _report_no_table(
        self, wb: Workbook, sheet: str | None, mappings: list[Mapping], tried_sheets: set[str], issue: IssueFactory
    ) -> None:
        if sheet is not None and sheet not in wb.sheet_names:
            issue(
                "sheet-not-found",
                f"La feuille « {sheet} » n'existe pas. Feuilles du classeur : {', '.join(wb.sheet_names)}.",
                value=sheet,
            )
        elif not tried_sheets:
            patterns = ", ".join(f"« {p} »" for p in mappings[-1].sheets)
            issue(
                "sheet-not-found",
                f"Aucune feuille ne correspond au format attendu ({patterns}). "
                f"Feuilles du classeur : {', '.join(wb.sheet_names)}.",
            )
        else:
            expected = [c.headers[0] for c in mappings[-1].columns if c.required][:6]
            issue(
                "header-not-found",
                f"Aucune ligne d'en-tête reconnue dans les {HEADER_ROWS_SCANNED} premières lignes de "
                f"« {', '.join(sorted(tried_sheets))} ». En-têtes attendus, par exemple : "
                + ", ".join(f"« {h} »" for h in expected)
                + ".",
            )

    def _pick_sheets(
        self, wb: Workbook, sheet: str | None, version: str | None, issue: IssueFactory
    ) -> list[tuple[Mapping, Sheet, Any]]:
        """For a source with several layouts: the sheet of each layout present in the workbook.

        Every sheet (or only ``sheet``) is scored against every layout; it belongs to the
        layout whose headers it matches best (fewest missing and unknown columns). When two
        sheets fall to the same layout, the better one (then the first) is read and the
        other, if it looks like a whole table, is reported as ignored.
        """
        mappings = [m for m in self.mappings() if m.chosen_by(version)]
        if not mappings:
            from prst_etl.errors import UnknownName

            raise UnknownName("version de mapping", version or "", sorted({m.name for m in self.mappings()}))
        by_layout: dict[str, list[Mapping]] = {}
        for m in mappings:
            by_layout.setdefault(m.layout, []).append(m)
        # the single-layout order of preference: newest mapping first, then the main layout
        tried: set[str] = set()
        found: dict[str, list[tuple[Any, ...]]] = {}
        for index, name in enumerate(wb.sheet_names):
            best: tuple[Any, ...] | None = None
            for layout, ms in by_layout.items():
                for m in reversed(ms):
                    candidates = m.candidate_sheets(wb.sheet_names, sheet)
                    if name not in candidates:
                        continue
                    tried.add(name)
                    sh = wb.head(name)
                    header = find_header(sh, m.aliases())
                    if header is None:
                        continue
                    required = {c.name for c in m.columns if c.required}
                    got = set(header.columns.values())
                    missing = len(required - got)
                    score = (-(missing + len(header.unexpected)), len(required & got), -candidates.index(name))
                    complete = 2 * len(required & got) >= len(required)
                    if best is None or score > best[0]:
                        best = (score, index, layout, m, sh, header, complete)
            if best is not None:
                found.setdefault(best[2], []).append(best)
        if not found:
            self._report_no_table(wb, sheet, mappings, tried, issue)
            return []
        picks = []
        for layout in by_layout:
            cands = sorted(found.get(layout, []), key=lambda c: (c[0], -c[1]), reverse=True)
            if not cands:
                continue
            picks.append(cands[0])
            for other in cands[1:]:
                if other[6]:
                    issue(
                        "sheet-ignored",
                        f"La feuille « {other[4].name} » a le même format que « {cands[0][4].name} » "
                        f"({cands[0][3].title}) : seule « {cands[0][4].name} » est lue. "
                        "Pour lire l'autre, indiquez-la avec --sheet.",
                        sheet=other[4].name,
                        value=other[4].name,
                    )
        picks.sort(key=lambda c: c[1])  # read in the workbook's order
        return [(c[3], c[4], c[5]) for c in picks]

    def _check_columns(self, mapping: Mapping, header: Any, sh: Sheet, issue: IssueFactory) -> bool:
        found = set(header.columns.values())
        ok = True
        for c in mapping.columns:
            if c.required and c.name not in found:
                issue(
                    "missing-column",
                    f"Colonne « {c.headers[0]} » absente de l'en-tête (ligne {header.excel_row}).",
                    row=header.excel_row,
                    column=c.headers[0],
                )
                ok = False
        for col, text in header.unexpected.items():
            issue(
                "unexpected-column",
                f"Colonne « {_clip(text)} » (colonne {sh.letter(col)}) "
                f"inconnue du mapping {mapping.id}.",
                row=header.excel_row,
                column=text,
                value=text,
            )
            ok = False
        for text in header.duplicates:
            issue("duplicate-column", f"La colonne « {text} » figure deux fois dans l'en-tête.", row=header.excel_row, column=text)
            ok = False
        ok = self.check_column_set(mapping, found, header.excel_row, issue) and ok
        return ok

    def check_column_set(self, mapping: Mapping, found: set[str], row: int, issue: IssueFactory) -> bool:
        """Hook: rules on which optional columns may appear together."""
        return True

    def _find_year(
        self,
        mapping: Mapping,
        sh: Sheet,
        header_idx: int,
        path: Path,
        year: int | None,
        issue: IssueFactory,
    ) -> int | None:
        texts: list[tuple[str, str]] = [("nom de la feuille", sh.name)]
        title = sh.frame.head(header_idx).drop(ROW)
        for row in title.rows():
            for v in row:
                if v:
                    texts.append(("titre", str(v)))
        texts.append(("nom du fichier", path.stem))
        found: tuple[int, str, str] | None = None
        for pattern in mapping.year_patterns:
            for where, text in texts:
                m = re.search(pattern, text)
                if m:
                    found = (int(m.group(1)), where, text)
                    break
            if found:
                break
        if year is not None:
            if found and found[0] != year and found[1] != "nom du fichier":
                issue(
                    "year-mismatch",
                    f"--year {year} mais le fichier indique {found[0]} ({found[1]} : « {_clip(found[2])} »).",
                    value=str(found[0]),
                )
                return None
            return year
        if found is None:
            issue("year-not-found", "L'année de référence ne figure ni dans le titre, ni dans le nom de la feuille ou du fichier.")
            return None
        return found[0]

    def _drop_blank_rows(self, raw: pl.DataFrame, mapping: Mapping, out: Extraction) -> pl.DataFrame:
        """Skip blank rows and notes (a single text cell, e.g. « Source : … ») and count them."""
        cols = [c for c in raw.columns if c != ROW]
        measures = [c.name for c in mapping.by_role("measure") if c.name in cols]
        filled = pl.sum_horizontal([pl.col(c).is_not_null() for c in cols])
        any_measure = pl.any_horizontal([pl.col(c).is_not_null() for c in measures]) if measures else pl.lit(True)
        flagged = raw.with_columns(_filled=filled, _anym=any_measure)
        blank = flagged["_filled"] == 0
        note = (flagged["_filled"] == 1) & ~flagged["_anym"]
        n_blank, n_note = int(blank.sum()), int(note.sum())
        out.stats.rows_read += raw.height
        out.stats.rows_skipped += n_blank + n_note
        detail = out.stats.skipped_detail
        if n_blank:
            detail["lignes vides"] = detail.get("lignes vides", 0) + n_blank
        if n_note:
            key = "notes (une seule cellule de texte)"
            detail[key] = detail.get(key, 0) + n_note
        return raw.filter(~(blank | note))

    def _validate_raw(self, raw: pl.DataFrame, checks: list[RawCheck], ctx: Context, issue: IssueFactory) -> None:
        """Run every rule in one columnar pass, then let pandera report the failing rows.

        The rules are evaluated once into boolean columns ``_ok<i>``; the pandera
        schema has one check per finding code (all rules of that code must hold)
        plus the uniqueness of the cleaned keys. The failing rows pandera reports
        are then traced back to the rule, hence the column, that failed.
        """
        import pandera.polars as pa

        flags = raw.select([c.ok.fill_null(True).alias(f"_ok{i}") for i, c in enumerate(checks)])
        frame = pl.concat([raw, flags], how="horizontal")
        by_code: dict[str, list[int]] = {}
        for i, c in enumerate(checks):
            by_code.setdefault(c.code, []).append(i)
        frame_checks = [
            pa.Check(_lazy_select(pl.all_horizontal([pl.col(f"_ok{i}") for i in idx])), name=code)
            for code, idx in by_code.items()
        ]
        keys = [c for c in raw.columns if c.startswith(KEY_PREFIX)]
        # Only the rule results and the keys need columns in the schema (strict=False):
        # declaring the 100+ helper columns would only cost time.
        dtypes = frame.schema
        declared = [ROW, *keys, *flags.columns]
        schema = pa.DataFrameSchema(
            {c: pa.Column(dtypes[c], nullable=c != ROW) for c in declared},
            checks=frame_checks,
            unique=keys or None,
            name=f"raw:{self.id}",
        )
        try:
            schema.validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            self._issues_from_pandera(exc.failure_cases, frame, checks, by_code, ctx, keys, issue)

    def _issues_from_pandera(
        self,
        fc: pl.DataFrame,
        frame: pl.DataFrame,
        checks: list[RawCheck],
        by_code: dict[str, list[int]],
        ctx: Context,
        keys: list[str],
        issue: IssueFactory,
    ) -> None:
        sheets = SHEET in frame.columns
        # Rule checks: for each failing row, the rules of that code that failed
        for (code,), group in fc.filter(pl.col("check").is_in(list(by_code))).group_by("check", maintain_order=True):
            idx = group["index"].drop_nulls().unique().sort()
            sub = frame[idx]
            for i in by_code[code]:
                check = checks[i]
                bad = sub.filter(~pl.col(f"_ok{i}"))
                if bad.height == 0:
                    continue
                spec = ctx.mapping.column(check.column) if check.column in ctx.present else None
                header = spec.headers[0] if spec else check.column
                values = bad[check.column].to_list() if check.column in bad.columns else [None] * bad.height
                where = bad[SHEET].to_list() if sheets else [issue.sheet] * bad.height
                for r, v, sh in zip(bad[ROW].to_list(), values, where):
                    v = _cell_text(v)  # a number read typed is shown as the provider wrote it (14352, not 14352.0)
                    issue(
                        check.code,
                        check.message(v),
                        row=int(r),
                        column=header,
                        value=None if v is None else _clip(str(v)),
                        severity=check.severity,  # type: ignore[arg-type]
                        sheet=sh,
                    )
        # Duplicate keys: name the other rows of the same cell
        dup = fc.filter(pl.col("check") == "multiple_fields_uniqueness")
        if dup.height:
            idx = dup["index"].drop_nulls().unique().sort()
            sub = frame.select([ROW, *keys, *([SHEET] if sheets else [])])[idx]
            where = pl.col(ROW).cast(pl.String)
            if sheets:  # « ligne 7 de la feuille 2023 »
                where = where + pl.lit(" de la feuille ") + pl.col(SHEET)
            sub = sub.with_columns(where.alias("_where"))
            groups = sub.group_by(keys).agg(pl.col("_where").alias("_rows"))
            sub = sub.join(groups, on=keys, how="left", nulls_equal=True)
            for r in sub.iter_rows(named=True):
                others = [x for x in r["_rows"] if x != r["_where"]]
                key_text = ", ".join(str(r[k]) for k in keys)
                issue(
                    "duplicate-key",
                    f"Même case ({key_text}) qu'à la ligne {', '.join(others)}.",
                    row=int(r[ROW]),
                    value=key_text,
                    sheet=r[SHEET] if sheets else issue.sheet,
                )
        # Anything else pandera found (dtype, …) is reported as is
        rest = fc.filter(~pl.col("check").is_in([*by_code, "multiple_fields_uniqueness"]))
        for r in rest.head(50).iter_rows(named=True):
            issue("invalid-fact", f"{r['check']} : {r['failure_case']}", column=r["column"])


HEADER_ROWS_SCANNED = 60


def warm_up() -> None:
    """What ingestion will need after the read, prepared while calamine reads (see ``Workbook.body_while``):
    the pandera contracts, DuckDB and the Parquet writer are imported, the reference tables loaded."""
    import duckdb  # noqa: F401
    import pandera.polars  # noqa: F401
    import pyarrow.parquet  # noqa: F401


def amount_sums(raw: pl.DataFrame, amounts: dict[tuple[str, str], pl.Expr]) -> dict[tuple[str, str], float]:
    """Sum of each ledger expression over ``raw`` (one columnar pass)."""
    if not amounts:
        return {}
    keys = list(amounts)
    if raw.height == 0:
        return {k: 0.0 for k in keys}
    row = raw.select([amounts[k].sum().alias(f"_a{i}") for i, k in enumerate(keys)]).row(0)
    return {k: float(v or 0.0) for k, v in zip(keys, row)}


MERGE_REASON = "ajouté à une case sans valeur (s, nd…) en regroupant les anciens codes d'une commune fusionnée"


def merge_cells(
    table: pl.DataFrame, dims: list[str], measures: list[str], out: Extraction, name: str, reason: str = MERGE_REASON
) -> tuple[pl.DataFrame, int]:
    """Add up the rows that fall on the same cell once old commune codes are mapped to the
    current COG (additive counts are summed, never one kept); return the table and the number
    of rows added into another one. A number added to a cell without one (``s``, ``nd``) has
    no value either: what that loses is recorded in the ledger, never lost silently."""
    if table.height == 0 or not table.select(pl.struct(dims).is_duplicated().any()).item():
        return table, 0
    summed = sum_cells(table, dims, measures)
    before = table.select([pl.col(m).sum() for m in measures]).row(0)
    after = summed.select([pl.col(m).sum() for m in measures]).row(0)
    for m, b, a in zip(measures, before, after):
        out.ledger.set_aside(name, m, reason, float(b or 0.0) - float(a or 0.0))
    return summed, table.height - summed.height


def record_zone_moves(
    out: Extraction,
    ctx: Context,
    frame: pl.DataFrame,
    table: str | tuple[str, ...],
    counts: dict[str, pl.Expr],
    *,
    old: str = KEY_PREFIX + "geo",
    new: str = "geo_code",
    column: str = "commune",
) -> None:
    """Say which rows given under an old commune code are counted in another zone d'emploi than
    that old commune's (a commune nouvelle belongs to the zone of its chef-lieu): one ``geo-moved``
    warning per old code, and ``out.moves`` (old code, new code, both zones, rows, ``counts`` moved).
    ``table``: the fact table(s) the rows go to (the MP layout gives ``mp`` and ``mp_effectifs``)."""
    from prst_etl.reference import geography

    tables = (table,) if isinstance(table, str) else tuple(table)
    table = tables[0]
    moves = geography.zone_moves(frame[old], frame[new])
    if moves.height == 0:
        return
    sub = frame.filter(pl.col(old).is_in(moves["old_code"].implode()))
    agg = sub.group_by(old).agg(
        pl.len().alias("_rows"), pl.col(ROW).min().alias("_first"), *[e.sum().alias(k) for k, e in counts.items()]
    )
    header = ctx.mapping.column(column).headers[0] if ctx.has(column) else column
    for m in moves.join(agg, left_on="old_code", right_on=old).sort("old_code").iter_rows(named=True):
        moved = {k: float(m[k] or 0.0) for k in counts}
        out.moves.append(
            {"table": table, "tables": list(tables), "old_code": m["old_code"], "new_code": m["new_code"], "old_zone": m["old_zone"],
             "new_zone": m["new_zone"], "rows": int(m["_rows"]), "counts": moved}
        )  # fmt: skip
        what = ", ".join(f"{k} {v:,.0f}".replace(",", "\u202f") for k, v in moved.items())
        ctx.issue(
            "geo-moved",
            f"Table {table} : {m['_rows']} ligne(s) de l'ancienne commune {m['old_code']} (zone d'emploi {m['old_zone']}) "
            f"comptée(s) dans la commune nouvelle {m['new_code']}, zone d'emploi {m['new_zone']} (celle de son chef-lieu)"
            + (f" : {what}." if what else "."),
            row=int(m["_first"]),
            column=header,
            value=m["old_code"],
        )


def _lazy_select(expr: pl.Expr) -> Callable[[Any], pl.LazyFrame]:
    return lambda data: data.lazyframe.select(expr.fill_null(True))


def _rows_with_errors(issues: list[Issue]) -> int:
    return len({(i.sheet, i.row) for i in issues if i.severity == "error" and i.row is not None})


def _cell_text(v: object) -> object:
    """A cell value as text the way the provider sees it: whole numbers without ``.0``."""
    if isinstance(v, float) and v == v and abs(v) < 1e15 and v.is_integer():
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    return v


def _clip(text: str) -> str:
    text = str(text)
    return text if len(text) <= MAX_SHOWN_VALUE else text[: MAX_SHOWN_VALUE - 1] + "…"


# -- reusable rules -------------------------------------------------------------------
def parse_counts(raw: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Parse count columns written as text, once, into ``_v_<c>`` (number), ``_s_<c>`` (sign)
    and ``_e_<c>`` (empty cell).

    Fast path: a plain cast, which is what nearly every cell of a workbook needs
    (calamine writes numbers as ``1234`` or ``12.5``). Only the rows holding
    something else (``1 234``, ``12,5``, ``s``, ``nd``…) go through the text rules.
    """
    if not columns:
        return raw
    fast = raw.with_columns(
        [pl.col(c).cast(pl.Float64, strict=False).alias(f"_v_{c}") for c in columns]
        + [pl.lit(None, dtype=pl.String).alias(f"_s_{c}") for c in columns]
        + [pl.col(c).is_null().alias(f"_e_{c}") for c in columns]
    )
    # columns read as numbers (a clean count column of a workbook) need no text rule
    text = [c for c in columns if raw.schema[c] == pl.String]
    if not text:
        return fast
    odd = pl.any_horizontal(
        [pl.col(c).is_not_null() & (pl.col(f"_v_{c}").is_null() | ~pl.col(f"_v_{c}").is_finite()) for c in text]
    )
    mask = fast.select(odd.alias("m"))["m"]
    if not mask.any():
        return fast
    fast = fast.with_row_index("_i")
    slow = fast.filter(mask).select(
        ["_i"]
        # « inf », « nan »: not written numbers, but kept as read so that the size rule says what they are
        + [pl.coalesce(number_expr(pl.col(c)), pl.col(f"_v_{c}")).alias(f"_v_{c}") for c in text]
        + [sign_expr(pl.col(c)).alias(f"_s_{c}") for c in text]
        + [(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")).alias(f"_e_{c}") for c in text]
    )
    return fast.update(slow, on="_i", how="left", include_nulls=True).drop("_i")


MAX_COUNT = 1e15
"""Largest count accepted (the national hours worked are 3.4 × 10^10): a larger or infinite number
is a mistake, refused before it can overflow a sum or a report."""


def year_expr(expr: pl.Expr) -> pl.Expr:
    """A reference year written as ``2024``, ``2024.0`` or `` 2024 `` (null otherwise)."""
    s = expr.cast(pl.String).str.strip_chars().str.replace(r"^(\d{4})(?:\.0*)?$", "${1}")
    return pl.when(s.str.contains(r"^(?:19|20)\d\d$")).then(s.cast(pl.Int32, strict=False)).otherwise(None)


def year_checks(ctx: Context) -> list[RawCheck]:
    """Rules of a year column: a year on every row, and the ``--year`` of the command if one was given."""
    col, key = ctx.year_column or "", pl.col(KEY_PREFIX + "year")
    checks = [
        RawCheck("missing-key", col, pl.col(col).is_not_null(), lambda v: "Année manquante."),
        RawCheck(
            "invalid-year",
            col,
            pl.col(col).is_null() | key.is_not_null(),
            lambda v: f"« {_clip(str(v))} » n'est pas une année (ex. 2024).",
        ),
    ]
    if ctx.year is not None:
        checks.append(
            RawCheck(
                "year-mismatch",
                col,
                key.is_null() | (key == ctx.year),
                lambda v, y=ctx.year: f"--year {y} mais la ligne porte l'année {v}.",
            )
        )
    return checks


def measure_checks(ctx: Context) -> list[RawCheck]:
    """Rules of every count column: a number or a conventional sign, non-negative, whole if declared."""
    checks: list[RawCheck] = []
    for spec in ctx.mapping.by_role("measure"):
        if not ctx.has(spec.name):
            continue
        value, sign, empty = pl.col(f"_v_{spec.name}"), pl.col(f"_s_{spec.name}"), pl.col(f"_e_{spec.name}")
        formula = pl.col(spec.name).cast(pl.String).str.contains(FORMULA_ERROR_PATTERN).fill_null(False)
        checks.append(
            RawCheck(
                "formula-error",
                spec.name,
                ~formula,
                lambda v: f"La cellule affiche l'erreur Excel « {v} » au lieu d'un nombre (formule à corriger ou à remplacer par sa valeur).",
            )
        )
        checks.append(
            RawCheck(
                "non-numeric-count",
                spec.name,
                empty | value.is_not_null() | sign.is_not_null() | formula,
                lambda v: f"« {_clip(str(v))} » n'est ni un nombre ni un signe conventionnel (s, nd, ///, -).",
            )
        )
        checks.append(
            RawCheck(
                "value-too-large",
                spec.name,
                value.is_null() | (value.is_finite() & (value.abs() < MAX_COUNT)),
                lambda v: f"« {_clip(str(v))} » n'est pas un comptage plausible : un nombre fini inférieur à 10^15 est attendu.",
            )
        )
        checks.append(
            RawCheck("negative-count", spec.name, ~(value < 0) | ~value.is_finite(), lambda v: f"Le nombre {v} est négatif.")
        )
        if spec.integer:
            checks.append(
                RawCheck(
                    "non-integer-count",
                    spec.name,
                    value.is_null() | (value == value.round(0)),
                    lambda v, s=spec: f"{v} n'est pas un nombre entier ({s.label or s.headers[0]}).",
                )
            )
        if not ctx.mapping.empty_means_zero:
            checks.append(
                RawCheck(
                    "missing-value",
                    spec.name,
                    ~empty,
                    lambda v: "Case vide : un nombre ou un signe conventionnel (s, nd, ///, -) est attendu.",
                )
            )
    return checks


def parse_measure(spec: ColumnSpec, mapping: Mapping, alias: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    """Value (Float64) and status (sign) of a validated count column (after :func:`parse_counts`)."""
    value, sign, empty = pl.col(f"_v_{spec.name}"), pl.col(f"_s_{spec.name}"), pl.col(f"_e_{spec.name}")
    name = alias or spec.measure
    out = (
        pl.when(sign == STATUS_ZERO)
        .then(0.0)
        .when(sign.is_not_null())
        .then(None)
        .when(empty)
        .then(0.0 if mapping.empty_means_zero else None)
        .otherwise(value)
    )
    return out.alias(name), sign.cast(status_dtype()).alias(status_col(name))


def norm_text(v: object) -> str:
    return norm_header(v)
