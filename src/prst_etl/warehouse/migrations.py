"""Catalogue migrations: each registered once with :func:`migration`, applied in order by a
writer, recorded in ``prst_migrations``; a warehouse of a newer format is refused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any


from prst_etl import __version__
from prst_etl.errors import WarehouseError
from prst_etl.warehouse.util import _now

if TYPE_CHECKING:  # duckdb is imported when a warehouse is opened, not by « prst --help »
    import duckdb

FORMAT_VERSION_KEY = "format_version"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


MIGRATIONS: list[Migration] = []


def migration(version: int, name: str) -> Callable[[Callable[[duckdb.DuckDBPyConnection], None]], Any]:
    """Register a catalogue migration. Versions are applied in order, each once, and recorded."""

    def deco(fn: Callable[[duckdb.DuckDBPyConnection], None]) -> Callable[[duckdb.DuckDBPyConnection], None]:
        if any(m.version == version for m in MIGRATIONS):
            raise ValueError(f"duplicate migration version {version}")
        MIGRATIONS.append(Migration(version, name, fn))
        MIGRATIONS.sort(key=lambda m: m.version)
        return fn

    return deco


@migration(1, "initial catalogue: loads, parts, events")
def _m1(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE loads (
            load_id INTEGER PRIMARY KEY,
            source VARCHAR NOT NULL,
            plugin_version VARCHAR NOT NULL,
            mapping_version VARCHAR,
            file_name VARCHAR NOT NULL,
            file_size BIGINT NOT NULL,
            sha256 VARCHAR NOT NULL,
            sheet VARCHAR,
            header_row INTEGER,
            rows_read INTEGER NOT NULL,
            rows_kept INTEGER NOT NULL,
            rows_skipped INTEGER NOT NULL,
            rows_rejected INTEGER NOT NULL,
            rows_merged INTEGER NOT NULL,
            geo_level VARCHAR,
            coverage VARCHAR[],
            geo_vintage VARCHAR,
            prst_version VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            note VARCHAR
        )
        """
    )
    con.execute(
        """
        CREATE TABLE load_parts (
            load_id INTEGER NOT NULL,
            source VARCHAR NOT NULL,
            table_name VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            path VARCHAR NOT NULL,
            n_rows BIGINT NOT NULL,
            PRIMARY KEY (load_id, table_name, year)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE events (
            event_id INTEGER PRIMARY KEY,
            kind VARCHAR NOT NULL,          -- 'load' (later: 'revert', 'release', …)
            load_id INTEGER,
            created_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            note VARCHAR
        )
        """
    )


@migration(2, "aggregates: one row per aggregated file")
def _m2(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE aggregates (
            load_id INTEGER NOT NULL,
            source VARCHAR NOT NULL,
            table_name VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            geo_level VARCHAR NOT NULL,
            fingerprint VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            n_rows BIGINT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            PRIMARY KEY (load_id, table_name, year, geo_level, fingerprint)
        )
        """
    )


@migration(3, "releases: named, immutable states of the warehouse")
def _m3(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
        CREATE TABLE releases (
            name VARCHAR PRIMARY KEY,
            event_id INTEGER NOT NULL,     -- the state it freezes: every event up to this one
            created_at TIMESTAMP NOT NULL,
            user_name VARCHAR,
            note VARCHAR,
            prst_version VARCHAR NOT NULL
        )
        """
    )
    con.execute("CREATE TABLE release_loads (name VARCHAR NOT NULL, load_id INTEGER NOT NULL, PRIMARY KEY (name, load_id))")


@migration(4, "load_parts.geo_level; findings, ledger and commune moves of each load")
def _m4(con: duckdb.DuckDBPyConnection) -> None:
    import polars as pl

    con.execute("ALTER TABLE load_parts ADD COLUMN geo_level VARCHAR")
    # Backfill: the geographic level of each existing part, read once from its file
    # (one workbook may give sheets at different levels, so it is per part, not per load).
    db = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    root = Path(db[0][0]).parent if db and db[0][0] else None
    parts = con.execute("SELECT load_id, table_name, year, path FROM load_parts").fetchall()
    for load_id, table, year, rel in parts:
        path = None if root is None else root / rel
        if path is None or not path.exists():
            continue  # a missing file keeps a null level: readers fall back to the file, and say so if it is gone
        levels = pl.scan_parquet(path).select(pl.col("geo_level").unique()).collect()["geo_level"].to_list()
        if len(levels) == 1:
            con.execute(
                "UPDATE load_parts SET geo_level = ? WHERE load_id = ? AND table_name = ? AND year = ?",
                [levels[0], load_id, table, year],
            )
    con.execute(
        """
        CREATE TABLE load_findings (
            load_id INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            code VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            sheet VARCHAR,
            file_row INTEGER,
            file_column VARCHAR,
            cell_value VARCHAR,
            message VARCHAR NOT NULL,
            PRIMARY KEY (load_id, seq)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE load_ledger (
            load_id INTEGER NOT NULL,
            table_name VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            amount_read DOUBLE NOT NULL,
            set_aside VARCHAR NOT NULL,     -- JSON: {reason: amount}
            amount_stored DOUBLE NOT NULL,
            derived VARCHAR,
            PRIMARY KEY (load_id, table_name, measure)
        )
        """
    )
    con.execute(
        """
        CREATE TABLE load_moves (
            load_id INTEGER NOT NULL,
            table_name VARCHAR NOT NULL,
            old_code VARCHAR NOT NULL,
            new_code VARCHAR NOT NULL,
            old_zone VARCHAR,
            new_zone VARCHAR,
            n_rows BIGINT NOT NULL,
            counts VARCHAR NOT NULL,        -- JSON: {measure: amount moved}
            PRIMARY KEY (load_id, table_name, old_code)
        )
        """
    )


def _init_or_migrate(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS prst_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "CREATE TABLE IF NOT EXISTS prst_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
        "applied_at TIMESTAMP, prst_version VARCHAR)"
    )
    rows = con.execute(f"SELECT value FROM prst_meta WHERE key = '{FORMAT_VERSION_KEY}'").fetchall()
    current = int(rows[0][0]) if rows else 0
    latest = MIGRATIONS[-1].version
    if current > latest:
        raise WarehouseError(
            f"L'entrepôt « {root} » est au format {current}, plus récent que celui de cette version de prst ({latest}).",
            hint="Mettez prst à jour (pip install -U prst-etl).",
        )
    for m in MIGRATIONS:
        if m.version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            m.apply(con)
            con.execute("INSERT INTO prst_migrations VALUES (?, ?, ?, ?)", [m.version, m.name, _now(), __version__])
            con.execute(
                "INSERT OR REPLACE INTO prst_meta VALUES (?, ?)", [FORMAT_VERSION_KEY, str(m.version)]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
