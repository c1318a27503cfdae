"""Workbook helpers for tests: read a sample as the provider wrote it, write or fill a small one."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl


def read_table(path: Path, header_row: int = 4, sheet: int | str = 0) -> pl.DataFrame:
    """The table of a workbook as text, header on ``header_row`` (Excel numbering); blank and note rows dropped."""
    import fastexcel

    df = fastexcel.read_excel(path).load_sheet(sheet, header_row=header_row - 1, dtypes="string").to_polars()
    return df.filter(pl.sum_horizontal(pl.all().is_not_null()) > 1)


def number(col: str) -> pl.Expr:
    """A count cell as a number (null for a sign such as ``s``)."""
    return pl.col(col).cast(pl.Float64, strict=False)


def write_sheet(path: Path, headers: list[str], rows: list[list[object]], *, title: str, sheet: str = "Données") -> Path:
    """Title in A1, header on row 4, rows below (numbers as numbers)."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet(sheet)
    ws.write_string(0, 0, title)
    for j, h in enumerate(headers):
        ws.write_string(3, j, h)
    for i, row in enumerate(rows, start=4):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, (int, float)):
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
    wb.close()
    return path


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def fill_rows(path: Path, sheet_index: int, rows: list[list[object]], first_row: int) -> Path:
    """Type rows into an existing .xlsx sheet, as a provider filling a template would (inline strings, numbers)."""
    part = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(path) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    xml_rows = []
    for i, row in enumerate(rows):
        r = first_row + i
        cells = []
        for j, v in enumerate(row):
            ref = f"{_col_letter(j)}{r}"
            if v is None:
                continue
            if isinstance(v, (int, float)):
                cells.append(f'<c r="{ref}"><v>{v}</v></c>')
            else:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(v))}</t></is></c>')
        xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    out = path.with_suffix(".tmp")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename == part:
                text = data.decode("utf-8")
                text = re.sub(r"<dimension ref=\"[^\"]*\"/>", "", text)
                text = text.replace("</sheetData>", "".join(xml_rows) + "</sheetData>", 1)
                data = text.encode("utf-8")
            z.writestr(info, data)
    out.replace(path)
    return path
