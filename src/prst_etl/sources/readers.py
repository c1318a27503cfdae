"""Read provider files (Excel workbooks or CSV) into all-text polars frames.

Everything is read as text: a cell holding ``s`` (secret) in a column of
numbers must reach validation as ``s``, not be coerced to null by type
inference. Rows keep the number the provider sees (Excel row, CSV line).

Header rows are *found*, not assumed: :func:`find_header` scores the first rows
of a sheet against the headers a mapping expects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prst_etl._lazy import polars as pl

from prst_etl.errors import Issue, severity_of
from prst_etl.model.text import norm_header, norm_header_expr  # noqa: F401 (re-exported)

ROW = "_row"
"""Name of the column carrying the provider's row number."""

HEADER_SCAN_ROWS = 60
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xlsb", ".xls", ".ods"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"^[\d\s.,-]*$")






@dataclass
class Sheet:
    """A sheet (or a CSV file) read as text.

    ``frame`` has one all-text column per sheet column, named ``c<i>`` after the
    column's absolute position (``c0`` is column A), plus ``_row``, the row number
    the provider sees (Excel row, CSV line).
    """

    name: str
    frame: pl.DataFrame
    complete: bool = True
    """False for the first rows only (see :meth:`Workbook.head`)."""
    numbered: bool = False
    """Columns are shown by number (CSV) rather than by letter (Excel)."""

    def letter(self, column: str) -> str:
        i = int(column[1:])
        return str(i + 1) if self.numbered else excel_letter(i)


@dataclass
class Workbook:
    path: Path
    kind: str  # "excel" | "csv"
    sheet_names: list[str]
    _reader: object = None
    _csv: Sheet | None = None
    _loaded: dict[str, Sheet] = field(default_factory=dict)
    _heads: dict[str, Sheet] = field(default_factory=dict)

    def head(self, name: str) -> Sheet:
        """The first rows of a sheet, to find its header and title.

        For an .xlsx file they are read straight from the sheet's XML, stopping
        early: calamine parses a whole sheet whatever is asked, and the body is
        then read once, with only the columns that are needed.
        """
        if self.kind == "csv" or name in self._loaded:
            return self.sheet(name)
        if name not in self._heads:
            rows = peek_xlsx(self.path, name, HEADER_SCAN_ROWS) if self.path.suffix.lower() in {".xlsx", ".xlsm"} else None
            if rows is None:
                return self.sheet(name)
            self._heads[name] = Sheet(name=name, frame=rows, complete=False)
        return self._heads[name]

    def body(self, name: str, first_row: int, columns: list[str], numeric: list[str] | None = None) -> pl.DataFrame:
        """Rows from ``first_row`` (1-based) on, with the given ``c<i>`` columns only.

        ``numeric``: count columns, read as numbers (Float64) where every cell is a number, as
        text where a column holds anything else (a sign, ``1 234``…): most count columns of a
        workbook are clean, and typed reading spares converting every number to text and back.
        """
        if self.kind == "csv" or name in self._loaded:
            frame = self.sheet(name).frame
            return frame.filter(pl.col(ROW) >= first_row).select([ROW, *[c for c in columns if c in frame.columns]])
        wanted = {int(c[1:]) for c in columns}
        typed = {int(c[1:]) for c in numeric or [] if c in columns}
        return self._load(name, skip_rows=first_row - 1, use=wanted, numeric=typed).frame

    def body_while(self, work: Callable[[], object], *args: Any, **kwargs: Any) -> pl.DataFrame:
        """:meth:`body` read in a thread while ``work()`` runs in this one. calamine parses the sheet
        without holding Python's lock: the imports and set-up ``work`` does (pandera, DuckDB…) cost
        no time. An error of either is raised here."""
        import threading

        got: dict[str, Any] = {}

        def read() -> None:
            try:
                got["frame"] = self.body(*args, **kwargs)
            except BaseException as exc:  # re-raised in the caller's thread
                got["error"] = exc

        t = threading.Thread(target=read, name="prst-read", daemon=True)
        t.start()
        try:
            work()
        finally:
            t.join()
        if "error" in got:
            raise got["error"]
        return got["frame"]

    def sheet(self, name: str) -> Sheet:
        """A whole sheet read as text (read once: calamine parses the whole sheet whatever is asked)."""
        if self.kind == "csv":
            assert self._csv is not None
            return self._csv
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        return self._loaded[name]

    def release(self) -> None:
        """Drop the sheets read so far (they can be large)."""
        self._loaded.clear()
        self._heads.clear()
        self._csv = None

    def _read(self, idx: int, skip_rows: int, use: set[int] | None, numeric: set[int]) -> tuple[pl.DataFrame, list]:  # type: ignore[type-arg]
        """One calamine read: the frame (columns ``c<i>``) and the cells that did not convert."""
        options: dict[str, object] = {}
        if use is not None:
            options["use_columns"] = lambda col: col.absolute_index in use
        dtypes: object = {i: ("float" if i in numeric else "string") for i in use} if use is not None and numeric else "string"
        try:
            sheet = self._reader.load_sheet(  # type: ignore[attr-defined]
                idx, header_row=None, skip_rows=skip_rows, dtypes=dtypes, schema_sample_rows=1, **options
            )
        except Exception as exc:
            if "no column" in str(exc).lower() or "not found" in str(exc).lower():
                return pl.DataFrame(schema={ROW: pl.Int32, **{f"c{i}": pl.String for i in sorted(use or ())}}), []
            raise
        cols = sheet.available_columns()
        batch, errors = sheet.to_arrow_with_errors()
        df = pl.from_arrow(batch)
        assert isinstance(df, pl.DataFrame)
        names = [c.name for c in sheet.selected_columns] if use is not None else [c.name for c in cols]
        index = {c.name: c.absolute_index for c in cols}
        df = df.rename({c: f"c{index[n]}" for c, n in zip(df.columns, names)})
        df = df.with_row_index(ROW, offset=skip_rows + 1).with_columns(pl.col(ROW).cast(pl.Int32))
        return df, (errors.errors if errors is not None else [])

    def _load(self, name: str, skip_rows: int = 0, use: set[int] | None = None, numeric: set[int] | None = None) -> Sheet:
        idx = self.sheet_names.index(name)
        numeric = set(numeric or ())
        df, errors = self._read(idx, skip_rows, use, numeric)
        # A count column holding anything but numbers (signs, text numbers, Excel errors) is read again as text
        odd = {e.position[1] for e in errors if e.position[1] in numeric}
        if odd:
            text, errors2 = self._read(idx, skip_rows, odd, set())
            df = df.with_columns(text.select([f"c{i}" for i in sorted(odd) if f"c{i}" in text.columns]))
            errors = [e for e in errors if e.position[1] not in odd] + list(errors2)
        # Cells showing an Excel error (#DIV/0!, #N/A…) come as empty cells: they get the error's text,
        # so that the rules report them instead of reading an empty cell (0 where empty means zero)
        marks: dict[int, list[tuple[int, str]]] = {}
        for e in errors:
            m = _ERROR_DETAIL.search(str(e.detail))
            if m:
                marks.setdefault(e.position[1], []).append((e.position[0] + 1, FORMULA_ERRORS.get(m.group(1), f"#{m.group(1)}")))
        for col, cells in marks.items():
            name_c = f"c{col}"
            if name_c not in df.columns:
                continue
            fix = pl.DataFrame({ROW: [r for r, _ in cells], "_err": [t for _, t in cells]}, schema={ROW: pl.Int32, "_err": pl.String})
            df = df.join(fix, on=ROW, how="left", maintain_order="left").with_columns(
                pl.coalesce(pl.col("_err"), pl.col(name_c).cast(pl.String)).alias(name_c)
            ).drop("_err")
        return Sheet(name=name, frame=df)


_ERROR_DETAIL = re.compile(r"Error\((\w+)\)")


def peek_xlsx(path: Path, sheet_name: str, n_rows: int) -> pl.DataFrame | None:
    """The first ``n_rows`` rows of an .xlsx sheet as text, read from its XML (None if not possible)."""
    import zipfile
    from xml.etree.ElementTree import iterparse

    ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            # sheet name → its XML part
            rid = None
            for _, el in iterparse(z.open("xl/workbook.xml")):
                if el.tag == ns + "sheet" and el.get("name") == sheet_name:
                    rid = el.get(rel_ns + "id")
            if rid is None:
                return None
            target = None
            for _, el in iterparse(z.open("xl/_rels/workbook.xml.rels")):
                if el.get("Id") == rid:
                    target = el.get("Target", "")
            if not target:
                return None
            part = target.lstrip("/") if target.startswith("/") else "xl/" + target
            if part not in names:
                return None
            # the first rows of the sheet
            cells: list[tuple[int, int, str, str | None]] = []  # row, col, type, raw
            for _, el in iterparse(z.open(part)):
                if el.tag == ns + "c":
                    ref = el.get("r", "")
                    m = _CELL_REF.match(ref)
                    if not m:
                        return None
                    row = int(m.group(2))
                    if row > n_rows:
                        break
                    t = el.get("t", "n")
                    if t == "inlineStr":
                        raw = "".join(x.text or "" for x in el.iter(ns + "t"))
                    else:
                        v = el.find(ns + "v")
                        raw = v.text if v is not None else None
                    cells.append((row, _letters_to_index(m.group(1)), t, raw))
                    el.clear()
                elif el.tag == ns + "row" and int(el.get("r", "0") or 0) > n_rows:
                    break
            # shared strings, read only as far as needed
            wanted = {int(raw) for _, _, t, raw in cells if t == "s" and raw is not None}
            shared: dict[int, str] = {}
            if wanted and "xl/sharedStrings.xml" in names:
                top, i = max(wanted), 0
                for _, el in iterparse(z.open("xl/sharedStrings.xml")):
                    if el.tag == ns + "si":
                        if i in wanted:
                            shared[i] = "".join(x.text or "" for x in el.iter(ns + "t"))
                        i += 1
                        el.clear()
                        if i > top:
                            break
    except Exception:  # anything unusual: the caller reads the whole sheet instead
        return None
    width = max((c for _, c, _, _ in cells), default=0) + 1
    rows = max((r for r, _, _, _ in cells), default=0)
    grid: list[list[str | None]] = [[None] * width for _ in range(rows)]
    for r, c, t, raw in cells:
        if raw is None:
            continue
        if t == "s":
            value: str | None = shared.get(int(raw))
        elif t == "n":
            value = _number_text(raw)
        elif t == "b":
            value = "true" if raw == "1" else "false"
        else:
            value = raw
        grid[r - 1][c] = value
    data = {f"c{j}": [row[j] for row in grid] for j in range(width)}
    return pl.DataFrame({ROW: pl.Series(range(1, rows + 1), dtype=pl.Int32), **data}, schema_overrides={k: pl.String for k in data})


_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def _letters_to_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ord(ch) - 64)
    return n - 1


def _number_text(raw: str) -> str:
    """Numbers as calamine writes them when read as text (``910`` rather than ``910.0``)."""
    try:
        f = float(raw)
    except ValueError:
        return raw
    return str(int(f)) if f.is_integer() and abs(f) < 1e15 else repr(f)


def excel_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    s = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        s = chr(65 + rem) + s
    return s


MAX_SHEET_BYTES = 512 * 2**20
"""Largest worksheet (or shared-strings part) of a workbook, once decompressed: beyond it a file
is refused at once, instead of minutes and gigabytes of parsing (a provider's table is far smaller)."""
MAX_CSV_BYTES = 1024 * 2**20
"""Largest CSV file read."""
FORMULA_ERRORS = {
    "Div0": "#DIV/0!", "NA": "#N/A", "Value": "#VALEUR!", "Ref": "#REF!", "Name": "#NOM?", "Null": "#NUL!",
    "Num": "#NOMBRE!", "GettingData": "#GETTING_DATA",
}  # fmt: skip
"""Excel cell errors (as calamine names them) → the text a French Excel shows."""
FORMULA_ERROR_PATTERN = r"^#(?:DIV/0!|N/A|NA|VALEUR!|VALUE!|REF!|NOM\?|NAME\?|NUL!|NULL!|NOMBRE!|NUM!|GETTING_DATA|CALC!|SPILL!|PROPAGATION!)$"
"""A cell showing an Excel error (French or English), also when a CSV export wrote it as text."""


def open_table_file(path: Path, issue: "IssueFactory") -> Workbook | None:
    """Open a workbook or a CSV file; on failure add an issue and return None."""
    if not path.exists():
        issue("file-not-found", f"Le fichier « {path} » n'existe pas.")
        return None
    if path.is_dir():
        issue("not-a-file", f"« {path} » est un dossier, pas un fichier : indiquez le fichier à charger.")
        return None
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(4096)
    except PermissionError:
        issue("unreadable-file", f"Le fichier « {path.name} » ne peut pas être lu : droits d'accès insuffisants.")
        return None
    except OSError as exc:
        issue("unreadable-file", f"Le fichier « {path.name} » ne peut pas être lu ({os_reason(exc)}).")
        return None
    if size == 0:
        issue("empty-file", "Le fichier est vide (0 octet).")
        return None
    suffix = path.suffix.lower()
    if head.startswith(_OLE_MAGIC) and _is_encrypted_ooxml(path):
        issue(
            "encrypted-file",
            f"Le classeur « {path.name} » est protégé par un mot de passe : prst ne peut pas le lire.",
        )
        return None
    if head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC) or suffix in EXCEL_SUFFIXES:
        return _open_excel(path, head, issue)
    if size > MAX_CSV_BYTES:
        issue("file-too-large", f"Le fichier « {path.name} » fait {_mib(size)} : la limite est {_mib(MAX_CSV_BYTES)}.")
        return None
    return _open_csv(path, head, issue)


def os_reason(exc: OSError) -> str:
    """An operating-system error in French (disk full, permissions, read-only…)."""
    import errno

    reasons = {
        errno.ENOSPC: "disque plein",
        errno.EDQUOT: "quota disque dépassé",
        errno.EACCES: "droits d'accès insuffisants",
        errno.EPERM: "opération non permise",
        errno.EROFS: "système de fichiers en lecture seule",
        errno.ENOTDIR: "un élément du chemin est un fichier, pas un dossier",
        errno.EISDIR: "c'est un dossier",
        errno.ENOENT: "fichier ou dossier introuvable",
        errno.EIO: "erreur d'entrée-sortie du disque",
        errno.ENAMETOOLONG: "nom trop long",
    }
    return reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__)


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} Mo".replace(",", "\u202f")


def _is_encrypted_ooxml(path: Path) -> bool:
    """An Office file saved with a password: an OLE container holding the « EncryptedPackage » stream
    (its directory entry names it in UTF-16), whatever its extension says."""
    marker = "EncryptedPackage".encode("utf-16-le")
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            if marker in chunk:
                return True
            fh.seek(-len(marker), 1) if len(chunk) == 1 << 20 else None
    return False


def _open_excel(path: Path, head: bytes, issue: "IssueFactory") -> Workbook | None:
    import fastexcel

    if not (head.startswith(_ZIP_MAGIC) or head.startswith(_OLE_MAGIC)):
        issue(
            "not-a-workbook",
            f"« {path.name} » porte l'extension {path.suffix} mais n'est pas un classeur Excel.",
        )
        return None
    if head.startswith(_ZIP_MAGIC) and not _sizes_ok(path, issue):
        return None
    try:
        reader = fastexcel.read_excel(path)
        names = list(reader.sheet_names)
    except Exception as exc:  # calamine reports truncated zips and bad XML alike
        text = str(exc).lower()
        if "password" in text or "encrypt" in text:
            issue("encrypted-file", f"Le classeur « {path.name} » est protégé par un mot de passe : prst ne peut pas le lire.")
            return None
        issue(
            "corrupt-file",
            f"Le classeur « {path.name} » ne peut pas être lu ({_short(exc)}).",
        )
        return None
    return Workbook(path=path, kind="excel", sheet_names=names, _reader=reader)


def _sizes_ok(path: Path, issue: "IssueFactory") -> bool:
    """Refuse, before parsing, a workbook whose sheets are absurdly large once decompressed."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            parts = [i for i in z.infolist() if i.filename.startswith("xl/worksheets/") or i.filename == "xl/sharedStrings.xml"]
    except zipfile.BadZipFile:
        return True  # calamine says what is wrong
    for i in parts:
        if i.file_size > MAX_SHEET_BYTES:
            what = "les textes du classeur" if i.filename.endswith("sharedStrings.xml") else f"la feuille « {i.filename.rsplit('/', 1)[-1]} »"
            issue(
                "file-too-large",
                f"Dans « {path.name} », {what} occupe {_mib(i.file_size)} une fois décompressée : la limite de prst est "
                f"{_mib(MAX_SHEET_BYTES)} par feuille. Le fichier contient sans doute des cellules démesurées ou des "
                "milliers de lignes ou colonnes vides mises en forme.",
            )
            return False
    return True


def _decode_csv(raw: bytes, path: Path, issue: "IssueFactory") -> str | None:
    """The text of a CSV: UTF-16 (Excel « Texte Unicode »), UTF-8 (with or without BOM) or Windows-1252;
    a file mixing UTF-8 and Latin-1 lines is an encoding problem, said as such."""
    import re

    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            issue("encoding-error", f"« {path.name} » commence comme un texte UTF-16 (« Texte Unicode ») mais ne se lit pas comme tel.")
            return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8 = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")
        if utf8.search(raw):
            line = raw[: exc.start].count(b"\n") + 1
            good = raw[: utf8.search(raw).start()].count(b"\n") + 1  # type: ignore[union-attr]
            sample = raw[max(0, exc.start - 20) : exc.start + 20].decode("cp1252", errors="replace").replace("\n", " ")
            issue(
                "encoding-error",
                f"« {path.name} » mélange deux encodages : des accents en UTF-8 (dès la ligne {good}) et en "
                f"Latin-1 / Windows-1252 (ligne {line} : « {sample.strip()} »). Le fichier a sans doute été assemblé à "
                "partir de plusieurs exports : enregistrez-le en une seule fois, en UTF-8.",
                row=line,
            )
            return None
        # Latin-1 / Windows-1252, the usual export encoding of French spreadsheets.
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            return raw.decode("latin-1")


def _open_csv(path: Path, head: bytes, issue: "IssueFactory") -> Workbook | None:
    raw = path.read_bytes()
    if b"\x00" in head and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        issue("not-a-workbook", f"« {path.name} » n'est ni un classeur Excel ni un fichier CSV (contenu binaire).")
        return None
    decoded = _decode_csv(raw, path, issue)
    if decoded is None:
        return None
    text: str = decoded
    if "\x00" in text:
        issue("not-a-workbook", f"« {path.name} » n'est ni un classeur Excel ni un fichier CSV (contenu binaire).")
        return None
    if not text.strip():
        issue("empty-file", "Le fichier ne contient que des lignes vides.")
        return None
    lines = text.splitlines()
    head = lines[:HEADER_SCAN_ROWS]
    sep = _sniff_separator(head)
    # The table starts at the first line with as many fields as the widest of the top lines;
    # the lines above it (title block) are kept as one-cell rows for the year and header search.
    import csv

    counts = [len(row) for row in csv.reader(head, delimiter=sep)]
    width = max(counts)
    start = next(i for i, n in enumerate(counts) if n >= 2 and n * 2 >= width)
    body = pl.read_csv(
        text.encode("utf-8"),
        has_header=False,
        infer_schema=False,
        separator=sep,
        skip_rows=start,
        truncate_ragged_lines=True,
        schema={f"c{i}": pl.String for i in range(width)},
        missing_columns="insert",
        quote_char='"',
    )
    body = body.with_row_index(ROW, offset=start + 1).with_columns(pl.col(ROW).cast(pl.Int32))
    title = pl.DataFrame(
        {ROW: pl.Series(range(1, start + 1), dtype=pl.Int32), "c0": [line.strip() or None for line in lines[:start]]}
    )
    df = pl.concat([title, body], how="diagonal_relaxed").select([ROW, *[f"c{i}" for i in range(width)]])
    df = df.with_columns([pl.col(c).str.strip_chars().replace("", None) for c in df.columns if c != ROW])
    sheet = Sheet(name=path.name, frame=df, numbered=True)
    return Workbook(path=path, kind="csv", sheet_names=[path.name], _csv=sheet)


def _sniff_separator(lines: list[str]) -> str:
    best, best_score = ";", -1
    for sep in (";", "\t", ",", "|"):
        score = max((line.count(sep) for line in lines), default=0)
        if score > best_score:
            best, best_score = sep, score
    return best


def _short(exc: Exception) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg[:160]


class IssueFactory:
    """Creates issues that share the file, sheet and source of a reading session."""

    def __init__(self, source_id: str, file: str) -> None:
        self.source_id = source_id
        self.file = file
        self.sheet: str | None = None
        self.issues: list[Issue] = []

    def __call__(self, code: str, message: str, **kw: object) -> Issue:
        """Record a finding; its severity is the rule's (``schemas/findings.toml``) unless given."""
        kw.setdefault("sheet", self.sheet)
        if kw.get("severity") is None:
            kw["severity"] = severity_of(code, self.source_id)
        issue = Issue(code=code, message=message, file=self.file, source_id=self.source_id, **kw)  # type: ignore[arg-type]
        self.issues.append(issue)
        return issue

    def extend(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)


@dataclass
class HeaderMatch:
    row_index: int
    """0-based index in the sheet frame."""
    excel_row: int
    columns: dict[str, str]
    """Frame column (``c3``) → canonical column name of the mapping."""
    headers: dict[str, str]
    """Frame column → header text as written in the file."""
    unexpected: dict[str, str]
    """Frame column → header text of columns the mapping does not know."""
    duplicates: list[str]


def find_header(
    sheet: Sheet, aliases: dict[str, str], scan_rows: int = HEADER_SCAN_ROWS
) -> HeaderMatch | None:
    """Find the row whose cells best match the expected headers.

    ``aliases`` maps a normalised header text to a canonical column name.
    Returns None when no row holds at least two expected headers.
    """
    import fnmatch

    exact = {k: v for k, v in aliases.items() if "*" not in k}
    globs = [(k, v) for k, v in aliases.items() if "*" in k]

    def lookup(text: object) -> str | None:
        if not isinstance(text, str) or _NUMBER.match(text):
            return None
        key = norm_header(text)
        if key in exact:
            return exact[key]
        return next((name for pat, name in globs if fnmatch.fnmatchcase(key, pat)), None)

    top = sheet.frame.head(scan_rows)
    cols = [c for c in top.columns if c != ROW]
    best: tuple[int, int] | None = None  # (score, row index)
    rows = top.select(cols).rows()
    for i, row in enumerate(rows):
        score = sum(1 for v in row if v is not None and lookup(v) is not None)
        if score >= 2 and (best is None or score > best[0]):
            best = (score, i)
    if best is None:
        return None
    i = best[1]
    row = rows[i]
    columns: dict[str, str] = {}
    headers: dict[str, str] = {}
    unexpected: dict[str, str] = {}
    duplicates: list[str] = []
    for col, value in zip(cols, row):
        if value is None or not str(value).strip():
            continue
        name = lookup(value)
        if name is None:
            unexpected[col] = str(value)
        elif name in columns.values():
            duplicates.append(str(value))
        else:
            columns[col] = name
            headers[col] = str(value)
    excel_row = int(top[ROW][i])
    return HeaderMatch(i, excel_row, columns, headers, unexpected, duplicates)
