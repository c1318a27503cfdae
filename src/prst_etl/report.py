"""Validation report of one input file (the result of ``ingest`` and ``ingest --dry-run``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from prst_etl.errors import Issue, Stats


@dataclass
class Report:
    source_id: str
    file: str
    issues: list[Issue] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    sheet: str | None = None
    header_row: int | None = None
    years: list[int] = field(default_factory=list)
    load_id: int | None = None
    outcome: str = ""
    """``loaded``, ``unchanged`` (same file already loaded), ``dry-run``, ``rejected`` or ``cancelled``."""
    supersedes: list[int] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)
    """Fact rows written per table."""
    plan: list[dict[str, Any]] = field(default_factory=list)
    """When the file replaces a current load: cells added, removed, changed per table, year and measure."""
    accounting: list[dict[str, Any]] = field(default_factory=list)
    """Per stored measure: the sum read from the file, what was set aside and why, the sum stored
    (stored = read − set aside, checked: see :class:`prst_etl.sources.base.Ledger`)."""
    moves: list[dict[str, Any]] = field(default_factory=list)
    """Rows given under an old commune code counted in another zone d'emploi (see ``Extraction.moves``)."""

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    def add(self, issues: Iterable[Issue]) -> None:
        self.issues.extend(issues)

    def sort(self) -> None:
        """Order issues as a provider reads the file: by sheet (for a file of several sheets), row, then column."""
        self.issues.sort(key=lambda i: (i.row is not None, i.sheet or "", i.row or 0, i.column or "", i.code))

    def flatten(self, spec: Sequence[str] = ("row", "column", "code")) -> list[tuple[Any, ...]]:
        return [tuple(getattr(i, k) for k in spec) for i in self.issues]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source_id,
            "file": self.file,
            "valid": self.valid,
            "outcome": self.outcome,
            "load_id": self.load_id,
            "supersedes": self.supersedes,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "years": self.years,
            "tables": self.tables,
            "plan": self.plan,
            "stats": asdict(self.stats),
            "accounting": self.accounting,
            "moves": self.moves,
            "issues": [i.to_dict() for i in self.issues],
        }
