"""What a source plugin is, and what it hands to the warehouse.

A plugin reads one provider file and returns an :class:`Extraction`: one or more
*fact tables* in the canonical shape (see :mod:`prst_etl.model.facts`), the reference
years found, the territory covered, and the row accounting. It never writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import polars as pl

from prst_etl.errors import Issue, Stats
from prst_etl.model.facts import Measure, Pivot, TableSpec  # noqa: F401 (part of the plugin API)
from prst_etl.sources.mapping import Mapping, mappings_for








@dataclass
class Extraction:
    source_id: str
    mapping: Mapping | None
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    years: list[int] = field(default_factory=list)
    geo_level: str = ""
    coverage: list[str] = field(default_factory=list)
    """Départements covered by the file (``FR`` for a national file)."""
    sheet: str | None = None
    header_row: int | None = None
    stats: Stats = field(default_factory=Stats)
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(i.severity == "error" for i in self.issues)


class Source:
    """Base class of source plugins. Subclasses declare class attributes and implement ``extract``."""

    id: ClassVar[str] = ""
    provider: ClassVar[str] = ""
    """Publisher of the files (French)."""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    plugin_version: ClassVar[str] = "1"
    geo_levels: ClassVar[tuple[str, ...]] = ()
    """Geographic levels a file of this source may be given at (finest first)."""
    scope: ClassVar[tuple[str, ...] | None] = None
    """Départements the provider covers; None for a national source."""
    series: ClassVar[str] = ""
    """Sources of the same series measure the same thing on disjoint territories
    and may be added up (e.g. the two Carsat of Occitanie); see ``aggregate``."""
    tables: ClassVar[tuple[TableSpec, ...]] = ()
    raw_measures: ClassVar[tuple[str, ...]] = ()
    """Count columns of the file that the source combines into its declared measures
    (e.g. the census ``NB`` split into population, employed…): validated as counts, never stored."""
    reference: ClassVar[bool] = False
    """A reference source (e.g. SPSTI perimeters) describes territories: it is used by
    ``aggregate`` and is not itself aggregated or exported."""
    mappings_root: ClassVar[Path | str | None] = None
    """Folder holding this source's mappings as ``<id>/<version>.toml``; None for prst's own
    ``sources/`` folder. An outside plugin points it into its package, e.g.
    ``Path(__file__).parent / "mappings"`` or ``importlib.resources.files(__package__) / "mappings"``."""

    def mappings(self) -> tuple[Mapping, ...]:
        root = self.mappings_root
        return mappings_for(self.id, None if root is None else Path(str(root)))

    template_supported: ClassVar[bool] = True
    """Whether ``prst sources template`` can write an empty file of this source."""

    def template_mapping(self, mapping: Mapping, year: int) -> Mapping:
        """Hook: the layout the provider's template shows for ``year`` (e.g. year columns)."""
        return mapping

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def extract(
        self,
        path: Path,
        *,
        year: int | None = None,
        sheet: str | None = None,
        mapping_version: str | None = None,
    ) -> Extraction:
        raise NotImplementedError
