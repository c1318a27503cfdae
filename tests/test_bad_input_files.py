"""Bad input files and places, each a clear French answer with its exit code, nothing written, no traceback."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import polars as pl
import pytest

from conftest import CARSAT, FIXTURES, NATIONAL, restricted
from test_bad_input import HEADER_ROW, set_cell, write_xlsx

BAD = FIXTURES / "bad-input"


def refused(cli, wh: Path, path: Path, source: str = "carsat-mp") -> dict:  # type: ignore[no-untyped-def]
    r = cli("ingest", source, path, "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1, rep
    assert rep["outcome"] == "rejected" and not wh.exists()
    assert "Traceback" not in r.stdout + r.stderr
    return rep


def found(rep: dict) -> list[tuple]:
    return [(i["row"], i["column"], i["value"], i["code"]) for i in rep["issues"]]


@pytest.mark.parametrize("value", ["1e308", "inf", "-inf", "NaN"])
def test_absurd_numbers_are_refused(cli, wh, small, tmp_path, value) -> None:  # type: ignore[no-untyped-def]
    """Text cells: « 1e308 » is a number, too large; « inf » and « NaN » are no count either."""
    df = set_cell(small, 2, "Nombre de salariés", value)
    import xlsxwriter

    path = tmp_path / "f.xlsx"
    write_xlsx(df.head(0), path)  # header and title; the odd cell is written as text below
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("AT 2024 par CTN X NAF")
    ws.write_string(0, 0, "Risque Accident du travail 2024 par CTN et code NAF")
    for j, c in enumerate(df.columns):
        ws.write_string(3, j, c)
    for i, row in enumerate(df.iter_rows(), start=4):
        for j, v in enumerate(row):
            if v is None:
                continue
            if v == value:
                ws.write_string(i, j, v)
            else:
                try:
                    ws.write_number(i, j, float(v))
                except ValueError:
                    ws.write_string(i, j, str(v))
    wb.close()
    rep = refused(cli, wh, path)
    assert [(r, c, code) for r, c, _, code in found(rep)] == [(HEADER_ROW + 3, "Nombre de salariés", "value-too-large")]
    assert "10^15" in rep["issues"][0]["message"]


def test_a_huge_number_written_as_a_number_is_refused_too(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = refused(cli, wh, write_xlsx(set_cell(small, 0, "Décès", "1e308"), tmp_path / "f.xlsx"))
    assert [(r, c, code) for r, c, _, code in found(rep)] == [(HEADER_ROW + 1, "Décès", "value-too-large")]


def test_formula_errors_are_not_zeros(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """#DIV/0! and #N/A as Excel stores them (error cells), #VALEUR! typed as text."""
    import xlsxwriter

    path = tmp_path / "f.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("AT 2024 par CTN X NAF")
    ws.write_string(0, 0, "Risque Accident du travail 2024 par CTN et code NAF")
    cols = small.columns
    for j, c in enumerate(cols):
        ws.write_string(3, j, c)
    errors = {(0, "Nombre de salariés"): ("=1/0", "#DIV/0!"), (1, "Décès"): ("=NA()", "#N/A")}
    for i, row in enumerate(small.iter_rows()):
        for j, v in enumerate(row):
            key = (i, cols[j])
            if key in errors:
                ws.write_formula(i + 4, j, errors[key][0], None, errors[key][1])
            elif (i, cols[j]) == (2, "Journées d'IT"):
                ws.write_string(i + 4, j, "#VALEUR!")
            elif v is not None:
                try:
                    ws.write_number(i + 4, j, float(v))
                except ValueError:
                    ws.write_string(i + 4, j, str(v))
    wb.close()
    rep = refused(cli, wh, path)
    assert found(rep) == [
        (HEADER_ROW + 1, "Nombre de salariés", "#DIV/0!", "formula-error"),
        (HEADER_ROW + 2, "Décès", "#N/A", "formula-error"),
        (HEADER_ROW + 3, "Journées d'IT", "#VALEUR!", "formula-error"),
    ]
    assert "erreur Excel" in rep["issues"][0]["message"]


def test_a_directory_given_as_the_file(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rep = refused(cli, wh, tmp_path)
    assert [i["code"] for i in rep["issues"]] == ["not-a-file"] and "dossier" in rep["issues"][0]["message"]


def test_an_unreadable_file(cli, wh, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """(Root reads any file: the refusal of the operating system is simulated.)"""
    path = tmp_path / "f.xlsx"
    path.write_bytes((CARSAT / "departements-2024.xlsx").read_bytes())
    real_open = Path.open

    def deny(self, *a, **k):  # type: ignore[no-untyped-def]
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *a, **k)

    monkeypatch.setattr(Path, "open", deny)
    rep = refused(cli, wh, path)
    assert [(i["code"], i["message"]) for i in rep["issues"]] == [
        ("unreadable-file", "Le fichier « f.xlsx » ne peut pas être lu : droits d'accès insuffisants.")
    ]


def test_a_password_protected_workbook_is_named_as_such(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = refused(cli, wh, BAD / "carsat-mp-protege.xlsx")
    assert [i["code"] for i in rep["issues"]] == ["encrypted-file"]
    assert "mot de passe" in rep["issues"][0]["message"]


def test_csv_saved_as_unicode_text_is_read(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Excel's « Texte Unicode »: UTF-16 little-endian with a BOM, tab-separated."""
    text = (CARSAT / "utf8-bom.csv").read_text(encoding="utf-8-sig").replace(";", "\t")
    path = tmp_path / "carsat_2024.txt"
    path.write_bytes(text.encode("utf-16"))  # BOM + UTF-16 LE
    r = cli("ingest", "carsat-mp", path, "-w", wh, "--dry-run", "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 0 and rep["outcome"] == "dry-run", rep["issues"][:3]
    same = json.loads(cli("ingest", "carsat-mp", CARSAT / "utf8-bom.csv", "-w", wh, "--dry-run", "--json").stdout)
    assert rep["tables"] == same["tables"] and rep["accounting"] == same["accounting"]


def test_csv_mixing_encodings_is_an_encoding_problem(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = (CARSAT / "utf8-bom.csv").read_text(encoding="utf-8-sig").splitlines(keepends=True)
    raw = "".join(lines[:8]).encode("utf-8") + "".join(lines[8:]).replace("salariés", "salariés").encode("cp1252", errors="replace")
    raw += "Note : données révisées\n".encode("cp1252")
    path = tmp_path / "melange.csv"
    path.write_bytes(raw)
    rep = refused(cli, wh, path)
    assert [i["code"] for i in rep["issues"]] == ["encoding-error"]
    msg = rep["issues"][0]["message"]
    assert "mélange deux encodages" in msg and "UTF-8" in msg and "Latin-1" in msg


def test_absurdly_large_sheet_is_refused_with_its_limit(cli, wh, small, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.sources import readers

    monkeypatch.setattr(readers, "MAX_SHEET_BYTES", 200_000)  # against a limit made small for the test:
    long = small.with_columns((pl.int_range(pl.len()).cast(pl.String) + "x" * 30_000).alias("Libellé du code NAF"))
    path = write_xlsx(long, tmp_path / "f.xlsx")  # 60 cells of 30 000 characters (Excel's limit is 32 767)
    rep = refused(cli, wh, path)
    assert [i["code"] for i in rep["issues"]] == ["file-too-large"]
    assert "limite" in rep["issues"][0]["message"] and "Mo" in rep["issues"][0]["message"]


@pytest.mark.parametrize("source", ["ameli-mp", "carsat-mp"])
def test_a_file_of_another_source_suggests_it(cli, wh, source) -> None:  # type: ignore[no-untyped-def]
    """The national AT workbook given to the MP source, or to a Carsat (no geography column)."""
    rep = refused(cli, wh, NATIONAL, source=source)
    first = rep["issues"][0]
    assert first["code"] == "wrong-source" and first["value"] == "ameli-at"
    assert "prst ingest ameli-at 2024-stat-nationales-at-ctn-naf.xlsx" in first["message"]


# -- the warehouse folder --------------------------------------------------------------------------
def test_warehouse_naming_a_file(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "fichier.txt"
    target.write_text("x")
    for args in (("ingest", "ameli-at", NATIONAL), ("loads",), ("aggregate",), ("export", "-l", "france", "--no-secret")):
        r = cli(*args, "--warehouse", target)
        assert r.exit_code == 3, (args, r.stdout, r.stderr)
        assert "est un fichier" in r.stderr and "Traceback" not in r.stderr
    assert target.read_text() == "x"


def test_warehouse_in_a_read_only_folder(cli, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """(Root writes anywhere: the refusal of the operating system is simulated on the lock file.)"""
    from prst_etl.warehouse import lock

    def denied(self):  # type: ignore[no-untyped-def]
        raise PermissionError(errno.EACCES, "Permission denied", str(self.path))

    monkeypatch.setattr(lock._FileLock, "acquire", denied)
    r = cli("ingest", "ameli-at", NATIONAL, "--warehouse", tmp_path / "w")
    assert r.exit_code == 3 and "droits d'accès insuffisants" in r.stderr and "Traceback" not in r.stderr


def test_a_full_disk_is_a_prst_error_and_leaves_nothing(cli, wh, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.warehouse import Warehouse

    assert cli("ingest", "ameli-at", NATIONAL, "-w", wh).exit_code == 0
    before = sorted(p.relative_to(wh) for p in (wh / "facts").rglob("*"))

    def full(self, *a, **k):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Warehouse, "write_part", full)
    r = cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh)
    assert r.exit_code == 3 and "disque plein" in r.stderr and "Traceback" not in r.stderr
    monkeypatch.undo()
    assert sorted(p.relative_to(wh) for p in (wh / "facts").rglob("*")) == before
    assert [d["source"] for d in cli.json("loads", "-w", wh)] == ["ameli-at"]


# -- outputs -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def exported_wh(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    from conftest import Cli

    wh = tmp_path_factory.mktemp("out") / "w"
    assert Cli()("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    return wh


def test_output_naming_a_directory_or_a_device_is_refused(cli, exported_wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    for target in (tmp_path, Path("/dev/null")):
        r = cli("export", "--no-secret", "-l", "departement", "-w", exported_wh, "--output", target)
        assert r.exit_code == 2, (target, r.stderr)
        assert "n'est pas un fichier ordinaire" in r.stderr and "Traceback" not in r.stderr
    assert Path("/dev/null").is_char_device()


def test_no_temporary_file_is_left_beside_an_output_after_a_kill(cli, exported_wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    out = tmp_path / "dep.csv"
    env = dict(os.environ, PRST_FAULT="during-output-write")
    p = subprocess.run(
        [sys.executable, "-m", "prst_etl", "export", "-l", "departement", "-w", str(exported_wh), "-o", str(out),
         "--format", "csv", "--no-secret"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 137, p.stderr  # killed in the middle of writing
    assert sorted(x.name for x in tmp_path.iterdir()) == [], "nothing half-written, no .tmp"


def test_export_of_a_year_without_data_names_the_years_available(cli, exported_wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = restricted(tmp_path / "x.parquet")
    r = cli("export", "--no-secret", "-l", "departement", "-w", exported_wh, "--year", "2031", "-o", out)
    assert r.exit_code == 2, r.stderr
    assert "2031" in r.stderr and "2024" in r.stderr and not out.exists()
