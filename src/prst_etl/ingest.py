"""``prst ingest``: validate a provider file and, if it is clean, record it as a load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from prst_etl import __version__
from prst_etl.report import Report
from prst_etl.sources import get_source
from prst_etl.warehouse import _now, _user, fault, open_warehouse

GEO_VINTAGE = "COG2025"
"""Commune geography every load is normalised to."""

Progress = Callable[[str], None]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ingest(
    source_id: str,
    path: Path,
    *,
    warehouse: Path | str | None = None,
    year: int | None = None,
    sheet: str | None = None,
    mapping_version: str | None = None,
    dry_run: bool = False,
    note: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Read, validate and (unless ``dry_run`` or invalid) load one file. Returns the report."""
    step = progress or (lambda _msg: None)
    source = get_source(source_id)
    path = Path(path)
    report = Report(source_id=source_id, file=str(path))

    # Read and validate (nothing is written before the file is known to be clean)
    step("lecture et validation du fichier")
    ext = source.extract(path, year=year, sheet=sheet, mapping_version=mapping_version)
    report.add(ext.issues)
    report.sort()
    report.stats = ext.stats
    report.sheet, report.header_row, report.years = ext.sheet, ext.header_row, ext.years
    report.tables = {name: df.height for name, df in ext.tables.items()}
    if not report.valid:
        report.outcome = "rejected"
        return report
    if dry_run:
        report.outcome = "dry-run"
        return report

    sha = sha256_of(path)
    with open_warehouse(warehouse, write=True) as wh:
        same = wh.find_same_file(source_id, sha)
        if same is not None:
            report.outcome = "unchanged"
            report.load_id = same
            return report

        # Which current loads this one replaces (same source, table and year)
        cur = wh.current_parts()
        replaced = sorted(
            {
                int(r["load_id"])
                for r in cur.iter_rows(named=True)
                if r["source"] == source_id and r["table_name"] in ext.tables and r["year"] in ext.years
            }
        )

        # Write the data files, then record the load in one transaction
        step("écriture des fichiers Parquet")
        load_id = wh.next_id("loads", "load_id")
        parts = []
        for table, df in ext.tables.items():
            for (yr,), part in df.partition_by("year", as_dict=True, maintain_order=True).items():
                rel, n = wh.write_part(source_id, table, int(yr), load_id, part)
                parts.append({"source": source_id, "table_name": table, "year": int(yr), "path": rel, "n_rows": n})
        fault("after-data-write")
        step("enregistrement du chargement")
        st = ext.stats
        wh.record_load(
            {
                "load_id": load_id,
                "source": source_id,
                "plugin_version": source.plugin_version,
                "mapping_version": ext.mapping.version if ext.mapping else None,
                "file_name": path.name,
                "file_size": path.stat().st_size,
                "sha256": sha,
                "sheet": ext.sheet,
                "header_row": ext.header_row,
                "rows_read": st.rows_read,
                "rows_kept": st.rows_kept,
                "rows_skipped": st.rows_skipped,
                "rows_rejected": st.rows_rejected,
                "rows_merged": st.rows_merged,
                "geo_level": ext.geo_level,
                "coverage": ext.coverage,
                "geo_vintage": GEO_VINTAGE,
                "prst_version": __version__,
                "created_at": _now(),
                "user_name": _user(),
                "note": note,
            },
            parts,
        )
        report.load_id = load_id
        report.supersedes = replaced
        report.outcome = "loaded"
    return report
