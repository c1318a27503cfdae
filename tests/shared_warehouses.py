"""Small warehouses built once per test session and copied by the tests that write.

``release_warehouse``: the Carsat Midi-Pyrénées commune extract (2024) and the URSSAF
establishments of 2023 from both URSSAF files (the same count under the same key: the case
the catalogue's ``prefer`` decides), aggregated, a release ``r1`` created and its secrecy
pattern computed (cached in the warehouse: every secret export and publication reuses it).

``breakdown_warehouse``: the same plus the Carsat Languedoc-Roussillon sample (départements ×
sex × age band), the IODA sample (SPSTI × département × sex × age band) and the national AT
workbook (France), so that every exported level has rows; for the filters and the wide columns
of a breakdown; read without secrecy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import FIXTURES

SOURCES = FIXTURES / "sources"
_BUILT: dict[str, Path] = {}


def _ingest(wh: Path, source: str, name: str, year: int | None = None) -> None:
    from prst_etl.pipeline.ingest import ingest

    rep = ingest(source, SOURCES / source / name, warehouse=wh, year=year)
    assert rep.outcome == "loaded", [i.message for i in rep.issues][:5]


def release_warehouse(factory: pytest.TempPathFactory) -> Path:
    if "release" not in _BUILT:
        from prst_etl.pipeline.aggregate import aggregate
        from prst_etl.pipeline.secret import secret_pattern
        from prst_etl.warehouse import open_warehouse

        wh = factory.mktemp("release") / "warehouse"
        _ingest(wh, "carsat-mp", "communes-2024-extrait.xlsx")
        _ingest(wh, "urssaf", "exemple.csv", 2023)
        _ingest(wh, "urssaf-taille", "exemple.xlsx", 2023)
        aggregate(wh)
        with open_warehouse(wh, write=True) as w:
            w.create_release("r1", "publication de test")
        with open_warehouse(wh) as w:
            secret_pattern(w, None)
        _BUILT["release"] = wh
    return _BUILT["release"]


def breakdown_warehouse(factory: pytest.TempPathFactory) -> Path:
    if "breakdown" not in _BUILT:
        from prst_etl.pipeline.aggregate import aggregate

        wh = factory.mktemp("breakdown") / "warehouse"
        shutil.copytree(release_warehouse(factory), wh)
        _ingest(wh, "carsat-lr", "exemple.xlsx")
        _ingest(wh, "ioda", "exemple.xlsx")
        _ingest(wh, "ameli-at", "2024-stat-nationales-at-ctn-naf.xlsx")
        aggregate(wh)
        _BUILT["breakdown"] = wh
    return _BUILT["breakdown"]


def copy(src: Path, dst: Path) -> Path:
    """A copy a test may write to (the lock file is not copied)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst
