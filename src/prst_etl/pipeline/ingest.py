"""``prst ingest``: validate a provider file and, if it is clean, record it as a load."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from prst_etl import __version__
from prst_etl.errors import PrstError
from prst_etl.report import Report
from prst_etl.sources import get_source
from prst_etl.warehouse import _now, _user, fault, open_warehouse

GEO_VINTAGE = "COG2025"
"""Commune geography every load is normalised to."""

Progress = Callable[[str], None]
Confirm = Callable[[list[dict[str, object]]], bool]


def plan_changes(wh, source_id: str, ext, replaced_parts) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """What replacing the current load(s) by this file changes: per table, year and measure, the
    cells added, removed and changed at the source's own level, and the total before and after."""
    import polars as pl

    from prst_etl.model.facts import KEY_COLUMNS, status_col, with_status_columns
    from prst_etl.sources import get_source

    spec_of = {t.name: t for t in get_source(source_id).tables}
    out: list[dict[str, object]] = []
    for r in replaced_parts.iter_rows(named=True):
        table, year = r["table_name"], r["year"]
        if table not in ext.tables:
            continue
        spec = spec_of[table]
        dims = list(KEY_COLUMNS) + list(spec.extra_dims)
        old = with_status_columns(pl.scan_parquet(wh.abs(r["path"])).drop("load_id"), spec).collect()
        new = with_status_columns(ext.tables[table].filter(pl.col("year") == year).lazy(), spec).collect()
        j = old.join(new, on=dims, how="full", coalesce=True, suffix="_new", nulls_equal=True)
        present_old = pl.col("_o").is_not_null()
        present_new = pl.col("_n").is_not_null()
        j = j.join(old.select(*dims, pl.lit(True).alias("_o")), on=dims, how="left", nulls_equal=True)
        j = j.join(new.select(*dims, pl.lit(True).alias("_n")), on=dims, how="left", nulls_equal=True)
        for m in spec.measure_ids:
            st = status_col(m)
            changed = present_old & present_new & ~(
                pl.col(m).eq_missing(pl.col(m + "_new")) & pl.col(st).eq_missing(pl.col(st + "_new"))
            )
            row = j.select(
                (present_new & ~present_old).sum().alias("added"),
                (present_old & ~present_new).sum().alias("removed"),
                changed.sum().alias("changed"),
                pl.col(m).sum().alias("total_before"),
                pl.col(m + "_new").sum().alias("total_after"),
            ).row(0, named=True)
            if row["added"] or row["removed"] or row["changed"]:
                out.append({"table": table, "year": year, "measure": m, "level": ext.geo_level, **row})
    return out


def _plan(wh, source_id: str, ext) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    cur = wh.current_parts()
    mine = cur.filter((cur["source"] == source_id) & cur["table_name"].is_in(list(ext.tables)) & cur["year"].is_in(ext.years))
    return plan_changes(wh, source_id, ext, mine) if mine.height else []


def check_extraction(source, ext) -> None:  # type: ignore[no-untyped-def]
    """The framework's checks of what any plugin returns, whatever its own ``extract`` did:

    * every table is one the source declares, and passes the canonical fact contract
      (:func:`prst_etl.model.facts.fact_schema`, pandera on the collected frame);
    * the measure ledger balances: for every stored measure, stored = read − set aside.

    Failures are ``invalid-fact`` / ``accounting-mismatch`` findings (errors: nothing is written)."""
    import pandera.polars as pa

    from prst_etl.errors import Issue
    from prst_etl.model.facts import fact_schema
    from prst_etl.sources.base import Extraction

    if not isinstance(ext, Extraction):
        raise TypeError(f"{type(source).__name__}.extract must return an Extraction, not {type(ext).__name__}")

    def found(code: str, message: str) -> None:
        ext.issues.append(Issue(code=code, message=message, file=ext.file_name, source_id=source.id))

    if not ext.ok:
        return
    specs = {t.name: t for t in source.tables}
    for name, df in ext.tables.items():
        if name not in specs:
            found("invalid-fact", f"Table « {name} » non déclarée par la source {source.id} (tables : {', '.join(specs)}).")
            continue
        try:
            fact_schema(specs[name], df.columns).validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            for row in exc.failure_cases.head(20).iter_rows(named=True):
                found("invalid-fact", f"Table {name}, colonne {row['column']}, règle {row['check']} : {row['failure_case']}")
    if not ext.ok:
        return
    for f in ext.ledger.settle(ext.tables, {n: t for n, t in specs.items() if n in ext.tables}):
        aside = sum(f.set_aside.values())
        found(
            "accounting-mismatch",
            f"Table {f.table}, mesure {f.measure} : le fichier donne {_num(f.read)}, dont {_num(aside)} mis de côté "
            f"({'; '.join(f.set_aside) or 'rien'}), mais {_num(f.stored)} sont stockés (écart {_num((f.stored or 0) - f.expected)}).",
        )


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return f"{x:,.6g}".replace(",", "\u202f") if abs(x) < 1e6 else f"{x:,.0f}".replace(",", "\u202f")


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
    confirm: Confirm | None = None,
) -> Report:
    """Read, validate and (unless ``dry_run`` or invalid) load one file. Returns the report."""
    step = progress or (lambda _msg: None)
    source = get_source(source_id)
    path = Path(path)
    report = Report(source_id=source_id, file=str(path))

    # Read and validate (nothing is written before the file is known to be clean)
    step("lecture et validation du fichier")
    ext = source.extract(path, year=year, sheet=sheet, mapping_version=mapping_version)
    if getattr(ext, "file_name", None) == "":
        ext.file_name = path.name
    check_extraction(source, ext)  # whatever the plugin's own extract did
    report.add(ext.issues)
    report.sort()
    report.stats = ext.stats
    report.sheet, report.header_row, report.years = ext.sheet, ext.header_row, ext.years
    report.tables = {name: df.height for name, df in ext.tables.items()}
    report.accounting = ext.ledger.to_list() if report.valid else []
    report.moves = list(ext.moves)
    if not report.valid:
        report.outcome = "rejected"
        return report
    sha = sha256_of(path)
    if dry_run:
        report.outcome = "dry-run"
        from prst_etl.errors import WarehouseError

        try:  # a provider checking a file has no warehouse: the plan is shown only when there is one
            with open_warehouse(warehouse) as wh:
                report.plan = _plan(wh, source_id, ext)
        except WarehouseError:
            pass
        return report

    with open_warehouse(warehouse, write=True) as wh:
        same = wh.find_same_file(source_id, sha)
        if same is not None:
            report.outcome = "unchanged"
            report.load_id = same
            return report

        # Which current loads this one replaces (same source, table and year), and what changes
        cur = wh.current_parts()
        mine = cur.filter((cur["source"] == source_id) & cur["table_name"].is_in(list(ext.tables)) & cur["year"].is_in(ext.years))
        replaced = sorted(set(mine["load_id"].to_list()))
        if replaced:
            step("comparaison avec le chargement remplacé")
            report.plan = plan_changes(wh, source_id, ext, mine)
            if confirm is not None and not confirm(report.plan):
                report.outcome = "cancelled"
                report.supersedes = replaced
                return report

        # Write the data files, then record the load in one transaction
        step("écriture des fichiers Parquet")
        load_id = wh.next_id("loads", "load_id")
        parts: list[dict[str, object]] = []
        try:
            for table, df in ext.tables.items():
                for (yr,), part in df.partition_by("year", as_dict=True, maintain_order=True).items():
                    levels = part["geo_level"].unique().to_list()
                    if len(levels) != 1:
                        raise PrstError(f"Table {table} {yr} : un seul niveau géographique attendu par table et par année, trouvé {levels}.")
                    rel, n = wh.write_part(source_id, table, int(yr), load_id, part)
                    parts.append({"source": source_id, "table_name": table, "year": int(yr), "path": rel, "n_rows": n, "geo_level": levels[0]})
        except Exception:
            # a full disk, a permission…: the parts already written are removed (never referenced anyway)
            for p in parts:
                wh.abs(str(p["path"])).unlink(missing_ok=True)
            raise
        fault("after-data-write")
        step("enregistrement du chargement")
        st = ext.stats
        wh.record_load(
            {
                "load_id": load_id,
                "source": source_id,
                "plugin_version": source.plugin_version,
                "mapping_version": ", ".join(ext.mapping_versions) or (ext.mapping.version if ext.mapping else None),
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
            findings=[i.to_dict() for i in report.issues],
            ledger=report.accounting,
            moves=report.moves,
        )
        report.load_id = load_id
        report.supersedes = replaced
        report.outcome = "loaded"
    return report
