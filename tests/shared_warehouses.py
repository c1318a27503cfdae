"""Small warehouses built once per test session and copied by the tests that write.

``release_warehouse``: the Carsat Midi-Pyrénées commune extract (2024) and the URSSAF
establishments of 2023 from both URSSAF files (the same count under the same key: the case
the catalogue's ``prefer`` decides), aggregated, a release ``r1`` created and its secrecy
pattern computed (cached in the warehouse: every secret export and publication reuses it).

``breakdown_warehouse``: the same plus the Carsat Languedoc-Roussillon sample (départements ×
sex × age band), the IODA sample (SPSTI × département × sex × age band) and the national AT
workbook (France), so that every exported level has rows; for the filters and the wide columns
of a breakdown; read without secrecy.

``two_years_warehouse``: Carsat Languedoc-Roussillon by département for 2023 and 2024 (the same
generated table from 300 rows of the national AT workbook, 30 % fewer accidents in 2023, with noise per row), aggregated: what a comparison of
two years reads.

Each is built at most once per test process (once per pytest-xdist worker); a test that writes
works on a :func:`copy`.
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


def two_years_warehouse(factory: pytest.TempPathFactory) -> Path:
    if "two_years" not in _BUILT:
        from conftest import NATIONAL
        from prst_etl.pipeline.aggregate import aggregate
        from prst_etl.pipeline.ingest import ingest
        from prst_etl.testing import samples

        root = factory.mktemp("two-years")
        wh = root / "warehouse"
        nat = samples.read_national(NATIONAL)
        nat = nat.sample(n=300, seed=21).sort(nat.columns[:3])  # a sample: small, quick to load, with small cells
        lr = samples.to_departements(samples.spread_over_communes(nat, "carsat-lr", seed=21))
        for year, df in ((2023, samples.other_year(lr, employees=0.99, events=0.7, seed=23)), (2024, lr)):
            rep = ingest("carsat-lr", samples.write_workbook(df, root / f"lr-{year}.xlsx", year=year), warehouse=wh)
            assert rep.outcome == "loaded", [i.message for i in rep.issues][:5]
        aggregate(wh)
        _BUILT["two_years"] = wh
    return _BUILT["two_years"]


def copy(src: Path, dst: Path) -> Path:
    """A copy a test may write to (the lock file is not copied)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".lock"))
    return dst
