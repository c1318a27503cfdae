"""The CLI speaks French everywhere (typer's own messages too) and stays readable when piped."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import CARSAT


@pytest.mark.parametrize(
    "args,french,english",
    [
        (["nosuch"], "Commande inconnue : « nosuch ».", "No such command"),
        (["export", "--nosuch"], "Option inconnue : --nosuch.", "No such option"),
        (["export", "--year", "abc"], "un nombre entier est attendu", "Input should be"),
        (["ingest"], "Argument manquant", "Missing argument"),
        (["loads", "revert"], "Argument manquant", "Missing argument"),
    ],
)
def test_usage_errors_are_in_french(cli, args, french, english) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.exit_code == 2
    assert french in r.stderr and english not in r.stderr
    assert "Utilisation : prst" in r.stderr and "Usage:" not in r.stderr and "Erreur" in r.stderr


@pytest.mark.parametrize("args", [["--help"], ["loads", "--help"], ["export", "--help"], ["sources", "template", "--help"]])
def test_help_screens_are_in_french(cli, args) -> None:  # type: ignore[no-untyped-def]
    r = cli(*args)
    assert r.exit_code == 0
    for english in ("Show this message and exit", "<bool>", "Usage:", "[env var:", "[default:", "Commands"):
        assert english not in r.stdout, english
    assert "Affiche cette aide et quitte." in r.stdout and "Utilisation : prst" in r.stdout
    assert "COMMAND " not in r.stdout and "[ARGS]" not in r.stdout  # the usage line's placeholders too


def test_help_paragraphs_are_not_cut_at_the_docstring_width() -> None:
    """A docstring wrapped at 100 columns is shown as paragraphs the terminal wraps."""
    env = {**os.environ, "COLUMNS": "250"}
    p = subprocess.run([sys.executable, "-m", "prst_etl", "ingest", "--help"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "(feuille, ligne, colonne, valeur, règle) ; un fichier refusé n'écrit rien." in text
    line = next(x for x in p.stdout.splitlines() if "Tous les problèmes du fichier" in x)
    assert "un fichier refusé n'écrit rien" in line  # on the same line, not cut after « règle) ; »
    assert "prst ingest carsat-mp carsat_mp_2024.xlsx" in p.stdout  # examples kept as written


def test_piped_output_is_not_wrapped_at_80_columns(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    p = subprocess.run([sys.executable, "-m", "prst_etl", "sources"], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if "│ ameli-mp " in line)
    assert "Maladies professionnelles nationales par CTN et code NAF" in row  # the whole title on its row
    assert max(len(line) for line in p.stdout.splitlines()) > 120


def test_repeated_notes_are_said_once(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two sources at département level, four tables: one note for the commune level, not one per table."""
    from test_carsat_sheets import LR_FOLDER

    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-lr", LR_FOLDER / "exemple.xlsx", "-w", wh).exit_code == 0
    r = cli("export", "--no-secret", "-l", "zone-emploi", "-w", wh, "-o", tmp_path / "ze.parquet")
    notes = [line for line in r.stderr.splitlines() if line.startswith("Remarque")]
    assert len(notes) == 1, notes
    assert "carsat-lr, carsat-mp" in notes[0] and "« departement »" in notes[0]


def test_grouped_keeps_order_and_counts() -> None:
    from prst_etl.console import grouped

    assert grouped(["b", "a", "b", "b"]) == ["b (×3)", "a"]
