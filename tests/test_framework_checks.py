"""The framework checks what any plugin returns: an outside plugin that overrides ``extract``
cannot skip the fact contract nor the measure ledger."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from prst_etl import sources
from prst_etl.model.facts import TableSpec
from prst_etl.pipeline.ingest import ingest
from prst_etl.sources.base import Extraction, Measure, Source

TABLE = TableSpec("actions", "Actions de prévention", (Measure("actions", "Actions"),))


def facts(value: float, geo_level: str = "departement") -> pl.DataFrame:
    return pl.DataFrame(
        {"year": [2024], "geo_level": [geo_level], "geo_code": ["31"], "sector_level": ["ensemble"], "sector_code": ["_T"],
         "sex": ["_T"], "age_band": ["_T"], "actions": [value]},
        schema_overrides={"year": pl.Int32},
    )  # fmt: skip


class Handmade(Source):
    """A plugin with its own ``extract``: what it returns is given by the test."""

    id = "test-handmade"
    provider = "Test"
    title = "Test"
    description = "Test"
    geo_levels = ("departement",)
    tables = (TABLE,)
    returned: Extraction

    def extract(self, path: Path, *, year=None, sheet=None, mapping_version=None) -> Extraction:  # type: ignore[no-untyped-def]
        return type(self).returned


@pytest.fixture
def handmade():  # type: ignore[no-untyped-def]
    sources.register_source(Handmade)
    yield Handmade
    sources.SOURCES.pop(Handmade.id, None)
    sources.ORIGINS.pop(Handmade.id, None)


def extraction(df: pl.DataFrame, read: float | None) -> Extraction:
    ext = Extraction(source_id=Handmade.id, mapping=None, tables={"actions": df}, years=[2024], geo_level="departement", coverage=["31"])
    if read is not None:
        ext.ledger.read("actions", "actions", read)
    return ext


def test_a_valid_extraction_loads(handmade, tmp_path) -> None:  # type: ignore[no-untyped-def]
    handmade.returned = extraction(facts(5.0), read=5.0)
    f = tmp_path / "f.csv"
    f.write_text("x")
    rep = ingest(Handmade.id, f, warehouse=tmp_path / "w")
    assert rep.outcome == "loaded" and rep.accounting[0]["stored"] == 5.0


@pytest.mark.parametrize(
    "df,read,code",
    [
        (facts(-1.0), -1.0, "invalid-fact"),  # a negative count
        (facts(5.0, geo_level="canton"), 5.0, "invalid-fact"),  # not a geographic level
        (facts(5.0), None, "accounting-mismatch"),  # stored, never said to be read
        (facts(5.0), 7.0, "accounting-mismatch"),  # 2 read and neither stored nor set aside
    ],
)
def test_what_a_plugin_returns_is_checked(handmade, tmp_path, df, read, code) -> None:  # type: ignore[no-untyped-def]
    handmade.returned = extraction(df, read)
    f = tmp_path / "f.csv"
    f.write_text("x")
    rep = ingest(Handmade.id, f, warehouse=tmp_path / "w")
    assert rep.outcome == "rejected" and [i.code for i in rep.errors] == [code]
    assert not (tmp_path / "w").exists()


def test_an_extract_must_return_an_extraction(handmade, tmp_path) -> None:  # type: ignore[no-untyped-def]
    handmade.returned = {"actions": facts(1.0)}  # type: ignore[assignment]
    f = tmp_path / "f.csv"
    f.write_text("x")
    with pytest.raises(TypeError, match="must return an Extraction"):
        ingest(Handmade.id, f, warehouse=tmp_path / "w")


def test_severities_are_data() -> None:
    import tomllib

    from prst_etl.errors import ISSUE_TYPE_LIST, ISSUE_TYPES, severity_of
    from prst_etl.resources import data_dir

    assert len(ISSUE_TYPE_LIST) == len(ISSUE_TYPES), "a code listed twice"
    data = tomllib.loads((data_dir("schemas") / "findings.toml").read_text(encoding="utf-8"))
    named = set(data["severity"]) | {c for per in data["sources"].values() for c in per}
    assert named <= set(ISSUE_TYPES), named - set(ISSUE_TYPES)
    assert severity_of("unknown-naf", "ameli-mp") == "warning" and severity_of("unknown-naf", "urssaf") == "error"
    assert severity_of("naf-mismatch") == "warning" and severity_of("non-numeric-count") == "error"
