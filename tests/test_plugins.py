"""Outside plugins: a package adds a source through the entry-point group ``prst_etl.sources``.

A tiny package (module + mapping folder + pyproject declaring the entry point) is
written to a temporary folder, built and installed with pip into another one
(``--target``, no network), then:

* in this process, ``load_plugins(force=True)`` (plugins are off under pytest:
  ``PRST_NO_PLUGINS=1``) registers it, and the CLI lists, shows, templates and
  ingests through it;
* in a fresh interpreter with the install folder on ``PYTHONPATH``, prst finds it
  lazily, as it would for a user — unless ``PRST_NO_PLUGINS=1``.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from prst_etl import sources
from prst_etl.sources.mapping import mappings_for

ROOT = Path(__file__).parents[1]
SOURCE_ID = "exemple-prevention"
DIST = "prst-plugin-exemple 0.1.0"

PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "prst-plugin-exemple"
version = "0.1.0"
description = "Exemple de source extérieure pour prst"
requires-python = ">=3.11"

[project.entry-points."prst_etl.sources"]
exemple = "prst_plugin_exemple"

[tool.hatch.build.targets.wheel]
packages = ["prst_plugin_exemple"]
"""

MODULE = '''\
"""A source that lives outside prst: prevention actions by département (fictitious)."""

from pathlib import Path

import polars as pl

from prst_etl.reference import geography
from prst_etl.model.codes import TOTAL
from prst_etl.sources import register_source
from prst_etl.sources.base import Measure, TableSpec
from prst_etl.sources.builtin._health import clean_departement
from prst_etl.sources.tabular import KEY_PREFIX, Derived, RawCheck, TabularSource, measure_checks, parse_measure


@register_source
class ActionsPrevention(TabularSource):
    id = "exemple-prevention"
    provider = "Association d'exemple (plugin extérieur)"
    title = "Actions de prévention par département"
    description = "Source d'exemple déclarée par un paquet extérieur à prst."
    geo_levels = ("departement",)
    scope = geography.DEPARTEMENTS_OCCITANIE
    tables = (
        TableSpec(
            "actions",
            "Actions de prévention",
            (Measure("actions_prevention", "Actions de prévention"), Measure("entreprises_touchees", "Entreprises touchées")),
        ),
    )
    mappings_root = Path(__file__).parent / "mappings"

    def key_columns(self, ctx):
        return [Derived(KEY_PREFIX + "dep", "departement", clean_departement)]

    def raw_checks(self, ctx):
        occ = list(geography.DEPARTEMENTS_OCCITANIE)
        dep = RawCheck(
            "unknown-departement", "departement", pl.col(KEY_PREFIX + "dep").is_in(occ),
            lambda v: f"« {v} » n'est pas un département d'Occitanie.",
        )
        return [dep, *measure_checks(ctx)]

    def normalise(self, raw, ctx, out):
        keys = raw.select(
            ctx.year_key(),
            pl.lit("departement").alias("geo_level"),
            pl.col(KEY_PREFIX + "dep").alias("geo_code"),
            pl.lit("ensemble").alias("sector_level"),
            pl.lit(TOTAL).alias("sector_code"),
            pl.lit(TOTAL).alias("sex"),
            pl.lit(TOTAL).alias("age_band"),
        )
        values = raw.select([e for c in ctx.mapping.by_role("measure") for e in parse_measure(c, ctx.mapping)])
        facts = pl.concat([keys, values], how="horizontal")
        return {"actions": facts}, "departement", sorted(facts["geo_code"].unique().to_list())
'''

MAPPING = """\
source = "exemple-prevention"
version = "2024"
title = "Tableau des actions de prévention (une ligne par département)"
sheets = ["*"]
year_patterns = ['\\b(20\\d\\d)\\b']

[columns.departement]
headers = ["Département"]
role = "geo"
kind = "departement"

[columns.actions_prevention]
headers = ["Actions de prévention"]
role = "measure"
kind = "count"
table = "actions"
integer = true

[columns.entreprises_touchees]
headers = ["Entreprises touchées"]
role = "measure"
kind = "count"
table = "actions"
integer = true
"""

CSV = "Actions de prévention 2024\n\nDépartement;Actions de prévention;Entreprises touchées\n31;12;40\n9;3;8\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin package, installed by pip into its own folder."""
    pytest.importorskip("hatchling")
    root = tmp_path_factory.mktemp("plugin")
    pkg = root / "prst-plugin-exemple"
    (pkg / "prst_plugin_exemple/mappings" / SOURCE_ID).mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (pkg / "prst_plugin_exemple/__init__.py").write_text(MODULE, encoding="utf-8")
    (pkg / "prst_plugin_exemple/mappings" / SOURCE_ID / "2024.toml").write_text(MAPPING, encoding="utf-8")
    target = root / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "--target", str(target), str(pkg)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert (target / "prst_plugin_exemple/mappings" / SOURCE_ID / "2024.toml").exists()
    return target


@pytest.fixture
def plugin(site: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The plugin loaded through its entry point, and unloaded afterwards."""
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    assert SOURCE_ID not in sources.SOURCES
    sources.load_plugins(force=True)
    yield sources.SOURCES[SOURCE_ID]
    sources.SOURCES.pop(SOURCE_ID, None)
    sources.ORIGINS.pop(SOURCE_ID, None)
    sys.modules.pop("prst_plugin_exemple", None)


def test_entry_point_registers_the_source(cli, plugin, site) -> None:  # type: ignore[no-untyped-def]
    assert plugin.__module__ == "prst_plugin_exemple"
    rows = {r["id"]: r for r in json.loads(cli("sources", "--json").stdout)}
    assert rows[SOURCE_ID]["origin"] == DIST and rows[SOURCE_ID]["mapping_versions"] == ["2024"]
    assert rows["ioda"]["origin"] == "prst"  # built-in sources register the same way
    shown = json.loads(cli("sources", "show", SOURCE_ID, "--json").stdout)
    assert shown["origin"] == DIST
    assert shown["mappings"][0]["path"].startswith(str(site))  # its mappings live in its own package
    assert DIST in " ".join(cli("sources").stdout.split())


def test_a_file_ingests_through_the_plugin(cli, plugin, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "actions.csv"
    path.write_text(CSV, encoding="utf-8")
    rep = json.loads(cli("ingest", SOURCE_ID, path, "-w", wh, "--json").stdout)
    assert rep["outcome"] == "loaded", rep["issues"]
    assert rep["years"] == [2024] and rep["tables"] == {"actions": 2}
    facts = pl.read_parquet(next((wh / f"facts/current/{SOURCE_ID}/actions/year=2024").glob("*.parquet"))).sort("geo_code")
    assert facts.select("geo_code", "actions_prevention", "entreprises_touchees").rows() == [("09", 3.0, 8.0), ("31", 12.0, 40.0)]
    (load,) = json.loads(cli("loads", "-w", wh, "--json").stdout)
    assert (load["source"], load["mapping_version"]) == (SOURCE_ID, "2024")
    # its own rules report like the built-in ones
    path.write_text(CSV.replace("9;3;8", "75;3;x"), encoding="utf-8")
    rep = json.loads(cli("ingest", SOURCE_ID, path, "-w", wh, "--json").stdout)
    assert [(i["row"], i["code"]) for i in rep["issues"]] == [(5, "unknown-departement"), (5, "non-numeric-count")]


def test_template_works_for_a_plugin(cli, plugin, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "modele.xlsx"
    assert cli("sources", "template", SOURCE_ID, "-o", path, "-y", "2024").exit_code == 0
    rep = json.loads(cli("ingest", SOURCE_ID, path, "-w", tmp_path / "wh", "--dry-run", "--json").stdout)
    assert [(i["code"], i["row"]) for i in rep["issues"]] == [("empty-file", 4)]


def _prst(site: Path, *args: str, no_plugins: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PRST_NO_PLUGINS"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT / "src")])
    if no_plugins:
        env["PRST_NO_PLUGINS"] = "1"
    return subprocess.run([sys.executable, "-m", "prst_etl", *args], env=env, capture_output=True, text=True, cwd=site.parent)


def test_installed_plugin_is_found_lazily(site: Path) -> None:
    p = _prst(site, "sources", "--json", no_plugins=False)
    assert p.returncode == 0, p.stderr
    rows = {r["id"]: r["origin"] for r in json.loads(p.stdout)}
    assert rows[SOURCE_ID] == DIST
    p = _prst(site, "sources", "--json", no_plugins=True)
    assert SOURCE_ID not in {r["id"] for r in json.loads(p.stdout)}


def test_an_outside_mapping_may_extend_one_of_prst(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "mappings" / "mon-dgt"
    folder.mkdir(parents=True)
    (folder / "2026.toml").write_text(
        'extends = "dgt-spsti/2025"\nsource = "mon-dgt"\nversion = "2026"\n\n'
        '[columns.spsti_inaptitudes]\nheaders = ["Inaptitudes"]\n',
        encoding="utf-8",
    )
    (m,) = mappings_for("mon-dgt", tmp_path / "mappings")
    assert m.extends == "dgt-spsti/2025" and m.column("spsti_inaptitudes").headers == ("Inaptitudes",)
    assert m.column("spsti_salaries_suivis").headers[0] == "Effectif suivi"  # from prst's 2025…
    assert m.column("visites_reprise").headers == ("Visites de reprise",)  # …and its 2024 parent
