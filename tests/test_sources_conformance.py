"""Conformance suite: every registered source against its own sample files.

Each source has ``tests/fixtures/sources/<id>/conformance.toml``::

    sample = "exemple.xlsx"            # a valid file
    broken = "exemple-errone.xlsx"     # a copy with several defects
    expected_codes = ["unknown-spsti", "duplicate-key"]  # at least these findings
    args = ["--year", "2024"]          # optional: extra options of « prst ingest »

and is checked here: the sample extracts, validates and normalises to the canonical
fact schema of the tables it declares; ``--dry-run`` writes nothing; the broken copy
is rejected with (at least) the expected findings and writes nothing; the empty
template of a tabular source is read back with its header found. A source added
without a conformance file fails the first test.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES
from prst_etl.errors import ISSUE_TYPES
from prst_etl.model.facts import GEO_LEVELS, KEY_COLUMNS, STATUS_SUFFIX, dims_of, fact_schema
from prst_etl.sources import all_sources, get_source
from prst_etl.sources.base import Extraction
from prst_etl.sources.tabular import TabularSource

SOURCE_IDS = list(all_sources())
OPTION_KWARGS = {"--year": ("year", int), "-y": ("year", int), "--sheet": ("sheet", str), "--mapping": ("mapping_version", str)}


def folder(source_id: str) -> Path:
    return FIXTURES / "sources" / source_id


@cache
def conformance(source_id: str) -> dict:
    path = folder(source_id) / "conformance.toml"
    if not path.exists():
        pytest.skip(f"{source_id} has no conformance.toml (see test_every_source_has_a_conformance_file)")
    with path.open("rb") as fh:
        return tomllib.load(fh)


def extract_kwargs(args: list[str]) -> dict:
    """The ``prst ingest`` options of ``args`` as keyword arguments of ``Source.extract``."""
    out = {}
    for flag, value in zip(args[::2], args[1::2]):
        name, kind = OPTION_KWARGS[flag]
        out[name] = kind(value)
    return out


@cache
def sample_extraction(source_id: str) -> Extraction:
    conf = conformance(source_id)
    return get_source(source_id).extract(folder(source_id) / conf["sample"], **extract_kwargs(conf.get("args", [])))


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_every_source_has_a_conformance_file(source_id: str) -> None:
    path = folder(source_id) / "conformance.toml"
    assert path.exists(), f"add {path.relative_to(FIXTURES.parent.parent)} (sample, broken, expected_codes)"
    conf = conformance(source_id)
    assert {"sample", "broken", "expected_codes"} <= set(conf), conf
    for key in ("sample", "broken"):
        assert (folder(source_id) / conf[key]).is_file(), conf[key]
    assert conf["expected_codes"], "name the findings the broken copy must produce"
    assert set(conf["expected_codes"]) <= set(ISSUE_TYPES), set(conf["expected_codes"]) - set(ISSUE_TYPES)
    assert (folder(source_id) / "PROVENANCE.md").is_file(), "say where the sample files come from (real or fictitious)"
    extract_kwargs(conf.get("args", []))  # only options the suite knows


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_source_is_documented(source_id: str) -> None:
    readme = (FIXTURES.parents[1] / "README.md").read_text(encoding="utf-8")
    assert f"| `{source_id}` |" in readme, "add a row to the « Sources » table of README.md"


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_source_declares_what_it_is(source_id: str) -> None:
    src = get_source(source_id)
    for attr in ("provider", "title", "description"):
        assert getattr(src, attr), f"{source_id}: class attribute {attr} is empty"
    assert src.geo_levels and set(src.geo_levels) <= set(GEO_LEVELS), src.geo_levels
    assert src.tables, "declare the fact tables"
    measures = [m for t in src.tables for m in t.measure_ids]
    assert len(measures) == len(set(measures)), "a measure id is unique within a source"
    for t in src.tables:
        assert not set(t.extra_dims) & set(KEY_COLUMNS)
        for p in t.pivots:
            assert set(p.storage) <= set(t.measure_ids), f"pivot {p.dimension}: storage columns must be measures"
    assert src.mappings(), "at least one mapping version"
    for m in src.mappings():
        for c in m.by_role("measure"):
            assert c.measure in measures or c.measure in src.raw_measures, (
                f"mapping {m.id}: column {c.name} feeds undeclared measure {c.measure}"
            )


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_sample_normalises_to_the_declared_tables(source_id: str) -> None:
    src = get_source(source_id)
    ext = sample_extraction(source_id)
    assert ext.ok, [(i.row, i.column, i.code, i.message) for i in ext.issues if i.severity == "error"][:10]
    assert ext.mapping is not None and ext.mapping.id in {m.id for m in src.mappings()}
    assert ext.tables, "the sample gives no table"
    declared = {t.name for t in src.tables}
    assert set(ext.tables) <= declared, f"undeclared tables: {set(ext.tables) - declared}"
    assert ext.geo_level in src.geo_levels
    years: set[int] = set()
    for name, df in ext.tables.items():
        spec = src.table(name)
        assert df.height > 0, name
        dims = dims_of(spec)
        assert set(dims) <= set(df.columns), set(dims) - set(df.columns)
        values = [c for c in df.columns if c not in dims]
        undeclared = {c.removesuffix(STATUS_SUFFIX) for c in values} - set(spec.measure_ids)
        assert not undeclared, f"{name}: undeclared measures {undeclared}"
        assert set(spec.measure_ids) <= set(df.columns), f"{name}: measures missing {set(spec.measure_ids) - set(df.columns)}"
        fact_schema(spec, df.columns).validate(df, lazy=True)
        assert set(df["geo_level"].unique()) <= set(src.geo_levels)
        assert df.schema["year"] == pl.Int32 and all(df.schema[m] == pl.Float64 for m in spec.measure_ids)
        years |= set(df["year"].unique().to_list())
    assert ext.years == sorted(years)
    st = ext.stats
    assert st.rows_read == st.rows_kept + st.rows_skipped + st.rows_rejected and st.rows_rejected == 0


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_dry_run_writes_nothing(cli, tmp_path, source_id: str) -> None:  # type: ignore[no-untyped-def]
    conf = conformance(source_id)
    wh = tmp_path / "warehouse"
    r = cli("ingest", source_id, folder(source_id) / conf["sample"], "-w", wh, "--dry-run", "--json", *conf.get("args", []))
    rep = json.loads(r.stdout)
    assert r.exit_code == 0 and rep["outcome"] == "dry-run", rep["issues"][:5]
    assert rep["tables"] == {n: df.height for n, df in sample_extraction(source_id).tables.items()}
    assert not wh.exists()


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_broken_copy_is_rejected_with_every_problem(cli, tmp_path, source_id: str) -> None:  # type: ignore[no-untyped-def]
    conf = conformance(source_id)
    wh = tmp_path / "warehouse"
    r = cli("ingest", source_id, folder(source_id) / conf["broken"], "-w", wh, "--json", *conf.get("args", []))
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected"
    found = {i["code"] for i in rep["issues"]}
    assert set(conf["expected_codes"]) <= found, f"missing {set(conf['expected_codes']) - found}"
    for i in rep["issues"]:
        if i["code"] in conf["expected_codes"] and i["code"] not in {"missing-column", "unexpected-column"}:
            assert i["row"] is not None and i["message"], i  # located, and said in words
    assert not wh.exists(), "a rejected file must not create or touch the warehouse"


@pytest.mark.parametrize(
    "source_id", [s for s in SOURCE_IDS if issubclass(all_sources()[s], TabularSource) and all_sources()[s].template_supported]
)
def test_empty_template_is_read_back(cli, tmp_path, source_id: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / f"modele-{source_id}.xlsx"
    r = cli("sources", "template", source_id, "--output", path, "--year", "2024")
    assert r.exit_code == 0, r.stdout + r.stderr
    rep = json.loads(cli("ingest", source_id, path, "-w", tmp_path / "wh", "--dry-run", "--json").stdout)
    # the header of the latest mapping is found on each data sheet (one per table layout), below its
    # title: only the rows are missing
    n_sheets = len(all_sources()[source_id]().layouts())
    assert [(i["code"], i["row"]) for i in rep["issues"]] == [("empty-file", 4)] * n_sheets, rep["issues"][:5]
    assert rep["sheet"] != "Lisez-moi"


@pytest.mark.parametrize("source_id", SOURCE_IDS)
def test_sample_is_conserved_from_file_to_coarsest_level(tmp_path, source_id: str) -> None:
    """Every count the sample gives is stored or set aside with a reason (stored = read − set aside,
    per measure), and every stored count is found again in the totals of the coarsest level."""
    from prst_etl.pipeline.aggregate import aggregate
    from prst_etl.pipeline.ingest import ingest

    conf = conformance(source_id)
    src = get_source(source_id)
    rep = ingest(source_id, folder(source_id) / conf["sample"], warehouse=tmp_path / "w", **extract_kwargs(conf.get("args", [])))
    assert rep.outcome == "loaded", [(i.code, i.message) for i in rep.errors][:5]
    flows = {(f["table"], f["measure"]): f for f in rep.accounting}
    stored = {(t, m) for t in rep.tables for m in src.table(t).measure_ids}
    assert stored <= set(flows), f"measures without an account: {stored - set(flows)}"
    for f in flows.values():
        assert f["balanced"] and f["stored"] == pytest.approx(f["read"] - sum(f["set_aside"].values()), rel=1e-9, abs=1e-6), f
        assert all(reason and amount for reason, amount in f["set_aside"].items()), f
    assert any(f["read"] for f in flows.values()), "the sample gives nothing"
    if src.reference:
        return  # a reference source (SPSTI perimeters) is not aggregated
    years = rep.years[-2:]  # a file of 49 years (Insee estimations) is checked on its last two: one part per year
    report = aggregate(tmp_path / "w", sources=[source_id], years=years)
    checked = {(c["table_name"], c["measure"]) for c in report.conservation}
    assert checked == stored and all(c["ok"] for c in report.conservation)
