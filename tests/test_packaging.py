"""The wheel carries everything prst reads at run time (mappings, catalogue, reference and demo data)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(out)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("prst_etl-*.whl")
    return whl


def test_wheel_contains_the_data_folders(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "prst_etl/_data/sources/ameli-at/2024.toml",
        "prst_etl/_data/sources/carsat-mp/2024.toml",
        "prst_etl/_data/sources/carsat-lr/2024.toml",
        "prst_etl/_data/schemas/indicators/sinistralite-at.toml",
        "prst_etl/reference/data/communes_cog2025.csv",
        "prst_etl/reference/data/naf.csv",
        "prst_etl/reference/PROVENANCE.md",
        "prst_etl/demo/data/carsat-mp_2024_communes.xlsx",
        "prst_etl/demo/PROVENANCE.md",
        "prst_etl/publish/templates/portrait.html",
        "prst_etl/publish/templates/_macros.html",
        "prst_etl/publish/static/prst.css",
        "prst_etl/publish/geo/departements-occitanie.geojson",
        "prst_etl/publish/geo/ze2020-occitanie.geojson",
        "prst_etl/publish/geo/PROVENANCE.md",
        "prst_etl/_data/schemas/publications/portrait.toml",
    ):
        assert expected in names, expected
    # every mapping and contract of the repository is shipped
    for folder in ("sources", "schemas"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file():
                assert f"prst_etl/_data/{folder}/{p.relative_to(ROOT / folder).as_posix()}" in names, p


def test_installed_wheel_works_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    code = (
        "import prst_etl, sys; from prst_etl.resources import data_dir; "
        "print(prst_etl.__file__); print(data_dir('sources'))"
    )
    env = {"PYTHONPATH": str(target), "PATH": "", "PRST_NO_PLUGINS": "1"}
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    module, sources = p.stdout.splitlines()
    assert module.startswith(str(target)) and sources.startswith(str(target))
    p = subprocess.run(
        [sys.executable, "-m", "prst_etl", "ingest", "carsat-mp", str(ROOT / "tests/fixtures/sources/carsat-mp/communes-2024-extrait.xlsx"),
         "--dry-run", "-w", str(tmp_path / "wh")],
        cwd=tmp_path, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Fichier valide" in p.stdout
