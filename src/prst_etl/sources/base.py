"""What a source plugin is, and what it hands to the warehouse.

A plugin reads one provider file and returns an :class:`Extraction`: one or more
*fact tables* in the canonical shape (see :mod:`prst_etl.model.facts`), the reference
years found, the territory covered, the row accounting (:class:`~prst_etl.errors.Stats`)
and the measure accounting (:class:`Ledger`: per measure, what the file gives, what was
set aside and why). It never writes. :func:`prst_etl.pipeline.ingest.ingest` then checks
every table against the canonical fact schema and settles the ledger (stored = read −
set aside, exactly), whatever the plugin's own ``extract`` did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from prst_etl._lazy import polars as pl

from prst_etl.errors import Issue, Stats
from prst_etl.model.facts import Measure, Pivot, TableSpec  # noqa: F401 (part of the plugin API)
from prst_etl.sources.mapping import Mapping, mappings_for








TOLERANCE = 1e-9
"""Relative tolerance of the ledger (sums of decimal counts, e.g. weighted census counts,
depend on the order of additions); whole counts settle exactly."""


@dataclass
class Flow:
    """Where the amounts of one stored measure went."""

    table: str
    measure: str
    read: float = 0.0
    """Sum of what the file gives for this measure (cells without a number count 0)."""
    set_aside: dict[str, float] = field(default_factory=dict)
    """Amounts read but not stored, by reason (French): file totals checked and not stored,
    rows outside the territory, denominators repeated on several rows and counted once…"""
    stored: float | None = None
    """Sum of the measure in the fact table (filled by :meth:`Ledger.settle`)."""
    derived: str = ""
    """For a measure computed from others (e.g. the AT of no risk family), how (French)."""

    @property
    def expected(self) -> float:
        return self.read - sum(self.set_aside.values())

    @property
    def balanced(self) -> bool:
        if self.stored is None:
            return False
        scale = max(1.0, abs(self.read), abs(self.stored))
        return abs(self.stored - self.expected) <= TOLERANCE * scale

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "measure": self.measure,
            "read": self.read,
            "set_aside": dict(self.set_aside),
            "stored": self.stored,
            "derived": self.derived,
            "balanced": self.balanced,
        }


@dataclass
class Ledger:
    """The measure accounting of one file: for every stored measure, stored = read − set aside.

    A plugin records what it reads (:meth:`read`) and what it leaves out (:meth:`set_aside`);
    the framework computes what is stored from the fact tables and checks the balance
    (:meth:`settle`). :class:`~prst_etl.sources.tabular.TabularSource` fills it by itself
    from the mapping's count columns; a plugin only adds what it does differently.
    """

    flows: dict[tuple[str, str], Flow] = field(default_factory=dict)

    def flow(self, table: str, measure: str) -> Flow:
        key = (table, measure)
        if key not in self.flows:
            self.flows[key] = Flow(table, measure)
        return self.flows[key]

    def read(self, table: str, measure: str, amount: float, *, derived: str = "") -> None:
        f = self.flow(table, measure)
        f.read += float(amount or 0.0)
        if derived:
            f.derived = derived

    def set_aside(self, table: str, measure: str, reason: str, amount: float) -> None:
        if not amount:
            return
        f = self.flow(table, measure)
        f.set_aside[reason] = f.set_aside.get(reason, 0.0) + float(amount)

    def settle(self, tables: dict[str, pl.DataFrame], specs: dict[str, TableSpec]) -> list[Flow]:
        """Fill ``stored`` from the fact tables; return the flows that do not balance (a stored
        measure the plugin did not account for is one of them, with ``read`` 0)."""
        for name, df in tables.items():
            spec = specs[name]
            sums = df.select([pl.col(m).sum() for m in spec.measure_ids]).row(0) if df.height else [0.0] * len(spec.measure_ids)
            for m, v in zip(spec.measure_ids, sums):
                self.flow(name, m).stored = float(v or 0.0)
        for (table, _), f in self.flows.items():
            if f.stored is None and table not in tables:
                f.stored = 0.0
        return [f for f in self.flows.values() if not f.balanced]

    def to_list(self) -> list[dict[str, object]]:
        return [f.to_dict() for f in self.flows.values()]


@dataclass
class Extraction:
    source_id: str
    mapping: Mapping | None
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    mapping_versions: list[str] = field(default_factory=list)
    """The mapping of every table read (:attr:`Mapping.name`, what ``--mapping`` accepts), in file order:
    a workbook's sheets may each have their own (``trajet-2024``, ``mp-2024``)."""
    years: list[int] = field(default_factory=list)
    geo_level: str = ""
    coverage: list[str] = field(default_factory=list)
    """Départements covered by the file (``FR`` for a national file)."""
    sheet: str | None = None
    header_row: int | None = None
    stats: Stats = field(default_factory=Stats)
    issues: list[Issue] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    """Per stored measure: read from the file, set aside (and why), stored (see :class:`Ledger`)."""
    file_name: str = ""
    """Name of the file read (findings of the framework's own checks carry it)."""
    moves: list[dict[str, object]] = field(default_factory=list)
    """Rows given under an old commune code whose current commune lies in another zone d'emploi:
    ``old_code, new_code, old_zone, new_zone, rows`` and the main counts moved."""

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
