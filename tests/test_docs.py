"""The documentation follows the code: every registered source is in the README's « Sources »
table and in the output of ``prst sources``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prst_etl.sources import all_sources

README = Path(__file__).parents[1] / "README.md"


def readme_sources() -> list[str]:
    """The ids of the first column of the table under « ## Sources »."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Sources\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([a-z0-9-]+)` \|", section, flags=re.M)


def test_the_readme_table_is_read() -> None:
    ids = readme_sources()
    assert len(ids) >= 10 and len(ids) == len(set(ids))  # one row per source, none twice


@pytest.mark.parametrize("source_id", sorted(all_sources()))
def test_every_registered_source_is_in_the_readme_table(source_id: str) -> None:
    assert source_id in readme_sources(), f"« {source_id} » manque au tableau « Sources » du README"


def test_the_readme_table_names_no_unknown_source() -> None:
    assert set(readme_sources()) <= set(all_sources())


def test_every_registered_source_is_listed_by_prst_sources(cli) -> None:  # type: ignore[no-untyped-def]
    rows = cli.json("sources")
    assert sorted(r["id"] for r in rows) == sorted(all_sources())
    table = cli("sources")
    assert table.exit_code == 0, table.stderr
    for source_id in all_sources():
        assert re.search(rf"(?<![\w-]){re.escape(source_id)}(?![\w-])", table.stdout), source_id
