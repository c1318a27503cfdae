"""Shared fixtures: a fresh warehouse per test, the CLI runner, the real and sample files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest

os.environ["PRST_NO_PLUGINS"] = "1"  # installed plugins must not change test results
os.environ["PRST_NO_PROGRESS"] = "1"
os.environ["COLUMNS"] = "250"  # rich tables on one line, so that tests can read them
os.environ.pop("PRST_WAREHOUSE", None)

from typer.testing import CliRunner  # noqa: E402

from prst_etl.testing import samples  # noqa: E402
from prst_etl.cli import app  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
NATIONAL = FIXTURES / "sources/ameli-at/2024-stat-nationales-at-ctn-naf.xlsx"
CARSAT = FIXTURES / "sources/carsat-mp"


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    """Path of a warehouse that does not exist yet."""
    return tmp_path / "warehouse"


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: object, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        argv = [str(a) for a in args]
        restricted = None
        if argv and argv[0] in ("export", "diff-years") and "--secret" not in argv and "--no-secret" not in argv:
            # Most tests check the arithmetic of the warehouse: they read exports without statistical
            # secrecy (tests/test_secret.py checks secrecy). Such a file carries « diffusion-restreinte »
            # in its name: it is moved back to the path the test asked for.
            argv.append("--no-secret")
            for flag in ("-o", "--output"):
                if flag in argv:
                    restricted = Path(argv[argv.index(flag) + 1])
        argv = [a for a in argv if a != "--secret"]
        result = self.runner.invoke(app, argv, env=env, catch_exceptions=False)
        if restricted is not None:
            marked = restricted.with_name(f"{restricted.stem}_diffusion-restreinte{restricted.suffix}")
            if marked.exists():
                marked.replace(restricted)
        return result

    def json(self, *args: object) -> object:
        r = self(*args, "--json")
        return json.loads(r.stdout)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def national() -> pl.DataFrame:
    return samples.read_national(NATIONAL)


@pytest.fixture(scope="session")
def carsat_communes(national: pl.DataFrame) -> pl.DataFrame:
    """A commune-level Carsat Midi-Pyrénées table built from the real national rows."""
    return samples.spread_over_communes(national, "carsat-mp", seed=3)


@pytest.fixture(scope="session")
def carsat_communes_xlsx(carsat_communes: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return samples.write_workbook(carsat_communes, tmp_path_factory.mktemp("carsat") / "carsat-mp-2024.xlsx", year=2024)


@pytest.fixture
def small() -> pl.DataFrame:
    """A small, clean commune-level Carsat table (60 rows), to break in tests."""
    import fastexcel

    df = fastexcel.read_excel(CARSAT / "communes-2024-extrait.xlsx").load_sheet(0, header_row=3, dtypes="string").to_polars()
    return df
