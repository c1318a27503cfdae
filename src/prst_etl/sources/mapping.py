"""Declarative header mappings: ``sources/<source-id>/<version>.toml``.

A mapping says which headers a provider's file may use for each column, what
each column is (a dimension, a measure, a label to ignore…) and how to read
its cells. A provider that renames a column next year needs a new mapping
version, not new code.

Keys of a mapping file::

    source = "ameli-at"          # plugin id
    version = "2024"             # mapping version (a file layout)
    layout = "mp"                # optional: which table of a multi-sheet file this mapping reads
                                 # (e.g. the « AT », « Trajet » and « MP » sheets of a Carsat workbook);
                                 # a source whose mappings name several layouts reads one sheet of each
    extends = "ameli-at/2024"    # optional: start from another mapping (a plugin's may extend one of prst's)
    title = "…"                  # French description of the layout
    years = "2023-2024"          # reference years this layout was seen for
    sheets = ["AT * par CTN*"]   # glob patterns of the sheet to read (first match)
    empty_means_zero = true      # an empty count cell is a 0 (the file says so)
    year_patterns = ["…(20\\d\\d)…"]  # regexes finding the reference year in sheet name, title, file name

    template_sheet = "Données"   # optional: sheet name and title of « prst sources template »
    template_title = "… année {year}"  #   ({year} replaced); template_columns = [...] to choose its columns

    [columns.<name>]
    headers = ["Nombre de salariés"]  # accepted header texts (compared without case/accents/spaces)
    role = "measure"         # measure | dimension | geo | label | check
    kind = "count"           # count, amount; ctn, naf, naf38, sex, age_band, departement, commune,
                             # spsti, a21 (NAF section), year (one year per row: several years per file),
                             # rate (a check column: a rate given by the provider, never stored), total
    table = "at"             # fact table of a measure
    measure = "salaries"     # measure id (default: the column name); for a rate, its numerator
    integer = true           # counts must be whole numbers
    required = true
    dims = { risk_family = "chutes-plain-pied" }  # extra dimension codes of this measure column

Other TOML files of a source folder (e.g. a crosswalk kept as data) say so with a
top-level ``kind`` other than ``"mapping"`` and are not read as mappings.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from prst_etl.errors import PrstError, UnknownName
from prst_etl.sources.readers import norm_header
from prst_etl.resources import data_dir


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    headers: tuple[str, ...]
    role: str
    kind: str = ""
    table: str = ""
    measure: str = ""
    integer: bool = False
    required: bool = True
    dims: tuple[tuple[str, str], ...] = ()
    label: str = ""
    """French description shown by ``prst sources show``."""


@dataclass(frozen=True)
class Mapping:
    source: str
    version: str
    title: str
    path: Path
    columns: tuple[ColumnSpec, ...]
    sheets: tuple[str, ...] = ("*",)
    empty_means_zero: bool = False
    year_patterns: tuple[str, ...] = ()
    years: str = ""
    layout: str = ""
    """Table layout read by this mapping, for sources whose files hold several sheets ("" = the only one)."""
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Source-specific settings (e.g. value tables for sexes and age bands)."""
    extends: str = ""
    """The mapping this one starts from (``<source>/<version>``), if any."""

    @property
    def id(self) -> str:
        return f"{self.source}/{self.name}"

    @property
    def name(self) -> str:
        """The name ``--mapping`` accepts: ``<layout>-<version>`` for a sheet of a multi-sheet workbook
        (``mp-2024``, ``trajet-2024``), else the version (``2024``)."""
        return f"{self.layout}-{self.version}" if self.layout else self.version

    def chosen_by(self, name: str | None) -> bool:
        """Whether ``--mapping NAME`` selects this mapping: its name, or its version (every sheet of it)."""
        return name is None or name in (self.name, self.version)

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def by_role(self, *roles: str) -> list[ColumnSpec]:
        return [c for c in self.columns if c.role in roles]

    def aliases(self) -> dict[str, str]:
        """Normalised header text (or glob pattern with ``*``) → column name."""
        return _aliases(self)

    def candidate_sheets(self, names: list[str], requested: str | None = None) -> list[str]:
        """Sheets to try, best first: the requested one, else those matching the patterns in order."""
        if requested is not None:
            return [requested] if requested in names else []
        out: list[str] = []
        for pattern in self.sheets:
            for n in names:
                if n not in out and fnmatch.fnmatch(n.casefold().strip(), pattern.casefold()):
                    out.append(n)
        return out


@cache
def _aliases(mapping: Mapping) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in mapping.columns:
        for h in c.headers:
            key = norm_header(h.rstrip("*")) + "*" if h.endswith("*") else norm_header(h)
            out[key] = c.name
    return out


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in child.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _resolve(path: Path, root: Path) -> dict[str, Any]:
    data = _read_toml(path)
    parent = data.pop("extends", None)
    if parent:
        parent_path = root / f"{parent}.toml"
        if not parent_path.exists() and root != data_dir("sources"):
            # an outside plugin's mapping may extend one of prst's own mappings
            root = data_dir("sources")
            parent_path = root / f"{parent}.toml"
        base = _resolve(parent_path, root)
        for k in ("source", "version", "title", "years", "kind"):
            base.pop(k, None)
        data = _merge(base, data)
    return data


def parse_mapping(path: Path, root: Path | None = None) -> Mapping:
    root = root or path.parent.parent
    try:
        data = _resolve(path, root)
        extends = str(_read_toml(path).get("extends", ""))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PrstError(f"Mapping illisible « {path} » : {exc}") from exc
    columns = []
    for name, spec in data.get("columns", {}).items():
        if spec.get("role") == "drop":  # a child mapping removing a parent column
            continue
        columns.append(
            ColumnSpec(
                name=name,
                headers=tuple(spec.get("headers", [name])),
                role=spec.get("role", "label"),
                kind=spec.get("kind", ""),
                table=spec.get("table", ""),
                measure=spec.get("measure", name),
                integer=bool(spec.get("integer", False)),
                required=bool(spec.get("required", True)),
                dims=tuple(sorted(spec.get("dims", {}).items())),
                label=spec.get("label", ""),
            )
        )
    known = {"source", "version", "title", "years", "sheets", "empty_means_zero", "year_patterns", "columns", "layout", "kind"}
    return Mapping(
        source=data["source"],
        version=str(data["version"]),
        title=data.get("title", ""),
        path=path,
        columns=tuple(columns),
        sheets=tuple(data.get("sheets", ["*"])),
        empty_means_zero=bool(data.get("empty_means_zero", False)),
        year_patterns=tuple(data.get("year_patterns", [])),
        years=str(data.get("years", "")),
        layout=str(data.get("layout", "")),
        options={k: v for k, v in data.items() if k not in known},
        extends=extends,
    )


@cache
def mappings_for(source_id: str, root: Path | None = None) -> tuple[Mapping, ...]:
    """All mapping versions of a source, oldest first (version strings sort naturally)."""
    root = root or data_dir("sources")
    folder = root / source_id
    if not folder.is_dir():
        return ()
    found = [parse_mapping(p, root) for p in sorted(folder.glob("*.toml")) if _is_mapping(p)]
    return tuple(sorted(found, key=lambda m: _version_key(m.version)))


def _is_mapping(path: Path) -> bool:
    """A TOML file of a source folder is a mapping unless it declares another ``kind`` (e.g. a crosswalk)."""
    try:
        return _read_toml(path).get("kind", "mapping") == "mapping"
    except (OSError, tomllib.TOMLDecodeError):
        return True  # parse_mapping reports it


def _version_key(v: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in v.replace("-", ".").split("."))


def get_mapping(source_id: str, version: str | None = None, root: Path | None = None) -> Mapping:
    found = mappings_for(source_id, root)
    if not found:
        raise PrstError(f"Aucun mapping pour la source « {source_id} » dans {root or data_dir('sources')}.")
    if version is None:
        return found[-1]
    for m in reversed(found):
        if m.name == version:
            return m
    for m in found:
        if m.version == version:
            return m
    raise UnknownName("version de mapping", version, [m.name for m in found])
