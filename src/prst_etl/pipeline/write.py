"""Files written for people and tools: atomic writers and the names of exports.

Every file appears under its name only once complete: a reader never sees half a file, and an
interrupted command leaves the previous file as it was. On Linux the data is written to an
anonymous file of the target folder (``O_TMPFILE``), given its name at the end: a process killed
while writing leaves nothing behind; elsewhere a hidden temporary name is used and removed.

Parquet is for tools: exact values, typed columns. CSV and Excel are for people:

* CSV is ``;``-separated UTF-8 with a BOM (French Excel opens it as it is); ``excel=True``
  also writes decimal commas (``3,5``), which French Excel reads as numbers;
* numbers are rounded to the digits the catalogue sets per indicator (``decimals``): counts
  are written as integers (``3383``, not ``3383.0``);
* a text cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab, a carriage return) is
  prefixed with ``'``: a spreadsheet never runs what a provider typed as a formula;
* a workbook (``.xlsx``) has its header frozen, widths set, numbers stored as numbers
  with their number of decimals, and never turns a text into a formula or a link.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from prst_etl.errors import UsageError

EXCEL_MAX_ROWS = 1_048_575
"""Data rows an Excel sheet holds (1 048 576 rows, one of them the header)."""
EXCEL_MAX_COLUMNS = 16_384
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP « CSV injection »)."""


def check_output(path: Path) -> None:
    """``--output`` must name a regular file (new or existing): never a folder or a device, which the
    final rename would replace."""
    if path.exists() and not path.is_file():
        kind = "un dossier" if path.is_dir() else "un périphérique ou un fichier spécial"
        raise UsageError(
            f"« {path} » n'est pas un fichier ordinaire ({kind}) : --output doit nommer le fichier à écrire.",
            hint="Exemple : --output exports/prst_departement_2024.csv",
        )


@contextmanager
def atomic_file(path: Path) -> Iterator:  # type: ignore[type-arg]
    """A binary file that appears at ``path`` only when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = None
    if hasattr(os, "O_TMPFILE"):
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError:  # a file system without anonymous files: a named temporary file instead
            fd = None
    if fd is not None:
        try:
            # the writer may close its file object (a Parquet writer does): the file is kept open by fd
            with os.fdopen(os.dup(fd), "wb") as fh:
                yield fh
            os.fsync(fd)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            _name(fd, tmp)  # named only now, beside its final name
            try:
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            os.close(fd)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _name(fd: int, tmp: Path) -> None:
    """Give the anonymous file ``fd`` the name ``tmp`` (``linkat`` following ``/proc/self/fd``; a copy
    if the system refuses)."""
    dfd = os.open(tmp.parent, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=dfd, follow_symlinks=True)
        return
    except OSError:
        pass
    finally:
        os.close(dfd)
    with tmp.open("wb") as out:
        offset = 0
        while chunk := os.pread(fd, 1 << 20, offset):
            out.write(chunk)
            offset += len(chunk)


def restricted_name(path: Path) -> Path:
    """An export without secrecy says so in its name."""
    return path if "diffusion-restreinte" in path.name else path.with_name(f"{path.stem}_diffusion-restreinte{path.suffix}")



def audit_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_secret-audit{path.suffix}")


def companion_path(path: Path, what: str) -> Path:
    """A file that goes with an export (``statuts``, ``dictionnaire``): same folder, same stem."""
    return path.with_name(f"{path.stem}_{what}{path.suffix}")



def default_path(root: Path, level: str, years: list[int] | None, fmt: str, as_of: str | None = None, shape: str = "long") -> Path:
    yr = "-".join(map(str, sorted(years))) if years else "toutes-annees"
    tag = f"_{as_of.replace(':', '-')}" if as_of else ""
    wide = "_large" if shape == "wide" else ""
    return root / "exports" / f"prst_{level}{wide}_{yr}{tag}.{fmt}"


@dataclass(frozen=True)
class Digits:
    """How many decimals people see, per row: ``columns`` are rounded to ``by_indicator[row's
    indicator]`` (``default`` for an indicator not listed; None: not rounded)."""

    columns: tuple[str, ...]
    by_indicator: dict[str, int] = field(default_factory=dict)
    default: int | None = None
    indicator_column: str = "indicator"

    def expr(self) -> pl.Expr:
        """Decimals of each row (Int8, null: not rounded)."""
        col = pl.col(self.indicator_column)
        return col.replace_strict(self.by_indicator, default=self.default, return_dtype=pl.Int8)


# -- text cells -------------------------------------------------------------------------------
def neutralise(df: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'`` (a lone ``-``, the
    conventional sign « résultat nul », is left as it is: no spreadsheet reads it as a formula)."""
    text = [c for c, t in df.schema.items() if t == pl.String]
    if not text:
        return df
    risky = "^[" + "".join("\\" + c if c in "-+" else c for c in FORMULA_START) + "]"
    return df.with_columns(
        pl.when(pl.col(c).str.contains(risky) & (pl.col(c) != "-")).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text
    )


def _round(col: str, digits: pl.Expr, possible: Iterable[int]) -> pl.Expr:
    """A number column rounded per row (half away from zero, as publications do)."""
    out = pl.col(col)
    for d in sorted(set(possible), reverse=True):
        out = pl.when(digits == d).then(pl.col(col).round(d, mode="half_away_from_zero")).otherwise(out)
    return out


def rounded(df: pl.DataFrame, digits: Digits | None) -> pl.DataFrame:
    """The number columns of ``digits`` rounded per row (values stay numbers)."""
    if digits is None or df.height == 0:
        return df
    cols = [c for c in digits.columns if c in df.columns]
    possible = {*digits.by_indicator.values(), *([digits.default] if digits.default is not None else [])}
    return df.with_columns(_d=digits.expr()).with_columns(_round(c, pl.col("_d"), possible).alias(c) for c in cols).drop("_d")


def _as_text(df: pl.DataFrame, decimal_comma: bool) -> pl.DataFrame:
    """Number columns as the text a person reads: integral values without ``.0`` (a count is
    ``3383``), the others as they are (round them first: :func:`rounded`), a decimal comma if asked."""
    floats = [c for c, t in df.schema.items() if t.is_float()]
    if not floats:
        return df

    def text(c: str) -> pl.Expr:
        v = pl.col(c)
        out = pl.when(v == v.round(0)).then(v.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(v.cast(pl.String))
        if decimal_comma:
            out = out.str.replace(".", ",", literal=True)
        return out.alias(c)

    return df.with_columns(text(c) for c in floats)


def for_people(df: pl.DataFrame, digits: Digits | None = None, decimal_comma: bool = False) -> pl.DataFrame:
    """A frame as a CSV for people holds it: numbers rounded to the catalogue's decimals and
    written as text, text cells neutralised."""
    return _as_text(neutralise(rounded(df, digits)), decimal_comma)


# -- writers ------------------------------------------------------------------------------------
def write_frame(df: pl.DataFrame, path: Path, fmt: str, decimal_comma: bool = False, digits: Digits | None = None) -> None:
    """Write atomically (temporary file then rename): a reader never sees half a file."""
    write_chunks(iter([df]), path, fmt, decimal_comma, digits=digits)





def write_chunks(  # type: ignore[no-untyped-def]
    chunks, path: Path, fmt: str, decimal_comma: bool = False, restricted: bool = False, digits: Digits | None = None
) -> int:
    """Write frames one after the other into one file (memory: one chunk at a time); atomic; rows written.

    ``restricted``: an export without statistical secrecy, marked « diffusion restreinte » in the
    Parquet metadata, or in a ``diffusion`` column of a CSV. ``digits``: the decimals people see
    (CSV and workbook; Parquet keeps exact values)."""
    import pyarrow.parquet as pq

    from prst_etl.warehouse.util import fault

    if fmt == "xlsx":
        frames = list(chunks)
        df = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        if restricted:
            df = df.with_columns(pl.lit("diffusion restreinte").alias("diffusion"))
        write_xlsx([Sheet("donnees", rounded(df, digits), digits=digits, frozen_columns=3)], path)
        return df.height
    rows = 0
    writer = None
    with atomic_file(path) as fh:
        if fmt != "parquet":
            fh.write(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
        for i, df in enumerate(chunks):
            if restricted and fmt != "parquet":
                df = df.with_columns(pl.lit("diffusion restreinte").alias("diffusion"))
            if fmt == "parquet":
                table = df.to_arrow()
                if writer is None:
                    schema = table.schema
                    if restricted:
                        schema = schema.with_metadata({**(schema.metadata or {}), b"prst.diffusion": "diffusion restreinte".encode()})
                    writer = pq.ParquetWriter(fh, schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
            else:
                for_people(df, digits, decimal_comma).write_csv(fh, separator=";", include_header=i == 0)
            rows += df.height
            if i == 1:
                fault("during-output-write")  # test hook: killed with the file half written
        if writer is not None:
            writer.close()
    return rows


# -- workbooks ----------------------------------------------------------------------------------
@dataclass
class Sheet:
    """One sheet of a workbook: a frame, its header frozen with its first ``frozen_columns``."""

    name: str
    df: pl.DataFrame
    digits: Digits | None = None
    """Decimals per row (long frames: by indicator)."""
    column_digits: dict[str, int] = field(default_factory=dict)
    """Decimals per column (wide frames)."""
    frozen_columns: int = 0
    text_width: int = 60
    """Widest column of text (longer text wraps in the cell)."""


def write_xlsx(sheets: list[Sheet], path: Path) -> None:
    """A real workbook, written atomically: header bold and frozen, widths from the content,
    numbers as numbers with their decimals, empty cells for missing values, text never read
    as a formula, a number or a link."""
    import xlsxwriter

    with atomic_file(path) as fh:
        wb = xlsxwriter.Workbook(
            fh,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
             "nan_inf_to_errors": True},
        )  # fmt: skip
        head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E8EEF4", "bottom": 1})
        formats: dict[int | None, object] = {None: wb.add_format({"num_format": "General"})}

        def number_format(d: int | None):  # type: ignore[no-untyped-def]
            if d not in formats:
                formats[d] = wb.add_format({"num_format": "0" if d == 0 else "0." + "0" * int(d)})  # type: ignore[operator]
            return formats[d]

        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        for sheet in sheets:
            df = sheet.df
            if df.height > EXCEL_MAX_ROWS or df.width > EXCEL_MAX_COLUMNS:
                raise UsageError(
                    f"Feuille « {sheet.name} » : {df.height} lignes × {df.width} colonnes, au-delà de ce qu'Excel ouvre "
                    f"({EXCEL_MAX_ROWS + 1} lignes, {EXCEL_MAX_COLUMNS} colonnes).",
                    hint="Filtrez (--indicator, --family, --code, --year, --sex, --age-band) ou utilisez le format parquet.",
                )
            ws = wb.add_worksheet(sheet.name[:31])
            # Widths from the header and the first rows (a constant-memory sheet is written once, row by row)
            sample = df.head(2000)
            for j, (name, dtype) in enumerate(df.schema.items()):
                if dtype == pl.String:
                    longest = sample[name].drop_nulls().str.len_chars().max() or 0
                    width = min(max(len(name), int(longest)) + 2, sheet.text_width)  # type: ignore[call-overload]
                    ws.set_column(j, j, width, wrap if int(longest) > sheet.text_width else None)  # type: ignore[call-overload]
                else:
                    ws.set_column(j, j, max(10, min(len(name) + 2, 24)))
            ws.set_row(0, None, head)
            ws.write_row(0, 0, df.columns, head)
            ws.freeze_panes(1, sheet.frozen_columns)
            if df.width:
                ws.autofilter(0, 0, max(df.height, 1), df.width - 1)
            numeric = [j for j, t in enumerate(df.dtypes) if t.is_numeric()]
            col_fmt = {j: number_format(sheet.column_digits.get(df.columns[j])) for j in numeric}
            per_row = {df.columns.index(c) for c in (sheet.digits.columns if sheet.digits else ()) if c in df.columns}
            row_digits = df.select(sheet.digits.expr()).to_series().to_list() if sheet.digits and per_row else None
            for i, row in enumerate(df.iter_rows(), 1):
                for j, v in enumerate(row):
                    if v is None:
                        continue
                    if j in col_fmt:
                        fmt = number_format(row_digits[i - 1]) if row_digits is not None and j in per_row else col_fmt[j]
                        ws.write_number(i, j, v, fmt)
                    else:
                        ws.write_string(i, j, str(v))
        wb.close()

