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

from hypothesis import HealthCheck, settings  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

# Property tests: no deadline (a shared or loaded machine made a 200 ms deadline fail), modest example
# counts, no example database written into the working copy. HYPOTHESIS_PROFILE=thorough for more.
settings.register_profile("prst", deadline=None, max_examples=30, database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", parent=settings.get_profile("prst"), max_examples=300)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "prst"))

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
        """Run ``prst`` with these arguments, as typed: an ``export`` or ``diff-years`` applies statistical
        secrecy unless the test passes ``--no-secret`` itself (then the file carries « diffusion-restreinte »
        in its name: see :func:`restricted`)."""
        return self.runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=False)

    def json(self, *args: object) -> object:
        r = self(*args, "--json")
        return json.loads(r.stdout)


def restricted(path: Path) -> Path:
    """The name an export without secrecy (``--no-secret``) is written under: a test that passes
    ``-o restricted(tmp_path / "x.parquet")`` reads the file at the path it gave."""
    from prst_etl.pipeline.write import restricted_name

    return restricted_name(path)


@pytest.fixture
def cli() -> Cli:
    return Cli()


@pytest.fixture(scope="session")
def national() -> pl.DataFrame:
    return samples.read_national(NATIONAL)


@pytest.fixture(scope="session")
def carsat_communes(national: pl.DataFrame) -> pl.DataFrame:
    """A commune-level Carsat Midi-Pyrénées table built from 1 500 of the real national rows (a third:
    some merged communes still written under a former code, quicker to write, load and export)."""
    return samples.spread_over_communes(national.sample(n=1500, seed=3).sort(national.columns[:3]), "carsat-mp", seed=3)


@pytest.fixture(scope="session")
def carsat_communes_xlsx(carsat_communes: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return samples.write_workbook(carsat_communes, tmp_path_factory.mktemp("carsat") / "carsat-mp-2024.xlsx", year=2024)


@pytest.fixture
def small() -> pl.DataFrame:
    """A small, clean commune-level Carsat table (60 rows), to break in tests."""
    import fastexcel

    df = fastexcel.read_excel(CARSAT / "communes-2024-extrait.xlsx").load_sheet(0, header_row=3, dtypes="string").to_polars()
    return df


# -- pytest-xdist: tests that share an expensive fixture run on one worker ------------------------------
# (with ``--dist loadgroup`` a session or module fixture is otherwise built once per worker)
SHARED_GROUPS = {"breakdown": "shared-warehouses", "released": "shared-warehouses", "pub_wh": "publish"}


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marked as each test is collected: pytest-xdist reads the groups in its own
    ``pytest_collection_modifyitems``, which may run before that of this file."""
    if item.get_closest_marker("xdist_group"):
        return
    names = getattr(item, "fixturenames", ())
    group = next((SHARED_GROUPS[n] for n in names if n in SHARED_GROUPS), None)
    if group is None:
        info = getattr(item, "_fixtureinfo", None)
        defs = [d[-1] for d in info.name2fixturedefs.values() if d] if info else []
        # a fixture of this project (not pytest's own tmp_path_factory…) built once per module or session
        if any(d.scope != "function" and d.baseid for d in defs):
            group = item.module.__name__ if getattr(item, "module", None) else None
    if group:
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """pytest-xdist 3.8 tells the groups to the scheduler by a ``@group`` suffix it writes into
    ``item._nodeid``, which pytest 9.2 no longer reads (the id is ``item._id``): without this, every
    worker would build every shared warehouse. Does nothing once pytest-xdist has added the suffix."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")})
        if not names or "@" in item.nodeid:
            continue
        ident = f"{item.nodeid}@{'_'.join(names)}"
        try:
            from _pytest.nodeid import coerce_node_id

            item._id = coerce_node_id(ident)  # type: ignore[attr-defined]
        except ImportError:  # an older pytest reads _nodeid
            item._nodeid = ident


# -- the small warehouses built once per session (tests/shared_warehouses.py), shared by modules --


@pytest.fixture(scope="session")
def breakdown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shared_warehouses

    return shared_warehouses.breakdown_warehouse(tmp_path_factory)


@pytest.fixture(scope="session")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shared_warehouses

    return shared_warehouses.release_warehouse(tmp_path_factory)


@pytest.fixture(scope="session")
def departements(breakdown: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """The whole département level of ``breakdown``, without secrecy, sector level « ensemble »."""
    from prst_etl.pipeline.export import export

    res = export("departement", warehouse=breakdown, secret=False, sector_levels=["ensemble"],
                 output=tmp_path_factory.mktemp("export-lib") / "dep.parquet")  # fmt: skip
    return pl.read_parquet(res.path)


def commune_sample(tmp: Path, rows: int, name: str) -> tuple[Path, pl.DataFrame]:
    """A small commune-level Carsat workbook (AT sheet, 2024): the first ``rows`` national rows spread
    over the communes of Ariège and Gers — small enough for linear-programming checks of secrecy."""
    nat = samples.read_national(NATIONAL)
    df = samples.spread_over_communes(nat, "carsat-mp", seed=8, old_codes=False)
    df = df.filter(pl.col("Code commune").str.slice(0, 2).is_in(["09", "32"])).head(rows)
    return samples.write_workbook(df, tmp / name, year=2024), df
