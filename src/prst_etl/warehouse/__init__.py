"""The warehouse on disk: a DuckDB catalogue and Parquet fact files.

Layout (relative to the warehouse folder, ``./warehouse`` by default)::

    prst.duckdb                                              catalogue: loads, parts, events, migrations
    facts/current/<source>/<table>/year=<Y>/load-<id>.parquet the part reads use now, one per source, table and year
    facts/history/<source>/<table>/year=<Y>/load-<id>.parquet superseded or reverted parts (kept for --as-of)
    facts/staging/…                                          parts written by a load not yet recorded
    aggregates/…                                             cache of ``prst aggregate`` (every level, load, fingerprint)
    catalogue/loads.parquet, catalogue/parts.parquet          copies of the catalogue for tools without DuckDB
    exports/                                                  default folder of ``prst export``
    .lock                                                     held by the process writing

A glob over ``facts/current/`` never counts a year twice: a part moves to ``history/`` when a
newer load of the same source, table and year is recorded (or when it is reverted), and back
when the load that superseded it is reverted.

The package: this facade (:class:`Warehouse`, :func:`open_warehouse`) is the only code that
knows the paths and the SQL of the catalogue; :mod:`~prst_etl.warehouse.migrations` its
schema, :mod:`~prst_etl.warehouse.lock` the writer's lock.

Atomicity: a load writes its Parquet files under ``facts/staging/`` first, then records
them in the catalogue in one DuckDB transaction, which also points every part at its tree
(``current/`` or ``history/``); the files are then moved where the catalogue says
(:meth:`Warehouse.settle`: out of ``current/`` first, so that a reader globbing it never sees
two loads of one year). The catalogue is the truth: a move interrupted by a crash is finished
by the next command that writes, before anything else, and a reader finds a file that has not
moved yet where it was. A file the catalogue does not reference is invisible to every read and
deleted at the next write (an ingest killed before its commit leaves exactly that). Nothing is
ever modified in place: a corrected file is a new load that supersedes the previous one for the
same source, table and year, which stays in the history.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prst_etl._lazy import polars as pl

from prst_etl import __version__
from prst_etl.errors import PrstError, WarehouseBusy, WarehouseError
from prst_etl.warehouse.lock import _FileLock
from prst_etl.warehouse.migrations import FORMAT_VERSION_KEY, MIGRATIONS, _init_or_migrate, migration  # noqa: F401
from prst_etl.warehouse.util import _now, _user, fault  # noqa: F401 (used by the verbs)

if TYPE_CHECKING:  # duckdb is imported when a warehouse is opened, not by « prst --help »
    import duckdb

DEFAULT_DIR = "warehouse"
DB_NAME = "prst.duckdb"
LOCK_NAME = ".lock"
TREES = ("current", "history", "staging")
"""Subfolders of ``facts/``: the parts reads use now, the superseded ones, those of a load being written."""


def fact_path(source: str, table: str, year: int, load_id: int, tree: str = "current") -> str:
    """Where one part of a load lives, relative to the warehouse folder."""
    return f"facts/{tree}/{source}/{table}/year={year}/load-{load_id}.parquet"


def _elsewhere(rel: str) -> list[str]:
    """The other places a fact part may still be while it moves to ``rel``: another tree, or
    the layout before catalogue format 4 (``facts/<source>/…``, no tree)."""
    parts = rel.split("/")
    if len(parts) < 3 or parts[0] != "facts" or parts[1] not in TREES:
        return []
    rest = "/".join(parts[2:])
    return [f"facts/{t}/{rest}" for t in TREES if t != parts[1]] + [f"facts/{rest}"]


def resolve_path(path: Path | str | None) -> Path:
    """``--warehouse``, else ``$PRST_WAREHOUSE``, else ``./warehouse``."""
    if path is None or str(path) == "":
        path = os.environ.get("PRST_WAREHOUSE") or DEFAULT_DIR
    return Path(path).expanduser()


# -- the warehouse --------------------------------------------------------------------------
class Warehouse:
    """An open warehouse. Use :func:`open_warehouse` (a context manager)."""

    def __init__(self, root: Path, con: duckdb.DuckDBPyConnection, writable: bool, as_of: int | None = None) -> None:
        self.root = root
        self.con = con
        self.writable = writable
        self.as_of = as_of
        """Event id of the state being read (None: the current state). See :meth:`resolve_as_of`."""

    # paths
    @property
    def facts_dir(self) -> Path:
        return self.root / "facts"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def abs(self, rel: str) -> Path:
        """The file of a catalogue path; a fact part still on its way (see :meth:`settle`) is
        found where it was."""
        p = self.root / rel
        if rel.startswith("facts/") and not p.exists():
            for other in _elsewhere(rel):
                if (self.root / other).exists():
                    return self.root / other
        return p

    # queries
    def query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        return self.con.sql(sql, params=params or None).pl()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def format_version(self) -> int:
        return int(self.scalar(f"SELECT value FROM prst_meta WHERE key = '{FORMAT_VERSION_KEY}'") or 0)

    def loads(self) -> pl.DataFrame:
        """All loads, newest last, with whether each still feeds current reads, and whether it was reverted."""
        current = self.current_parts()
        cur_ids = set(current["load_id"].to_list())
        reverted = set(self.query("SELECT load_id FROM events WHERE kind = 'revert'")["load_id"].to_list())
        df = self.query("SELECT * FROM loads ORDER BY load_id").with_columns(
            reverted=pl.col("load_id").is_in(list(reverted))
        )
        parts = self.query(
            "SELECT load_id, list(DISTINCT year ORDER BY year) AS years, list(DISTINCT table_name ORDER BY table_name) AS tables "
            "FROM load_parts GROUP BY load_id"
        )
        df = df.join(parts, on="load_id", how="left")
        return df.with_columns(current=pl.col("load_id").is_in(list(cur_ids)))

    def current_parts(self, as_of_event: int | None = None) -> pl.DataFrame:
        """The Parquet part that reads use for each (source, table, year), in the state of
        event ``as_of_event`` (default: the warehouse's ``as_of``, else the latest): the newest
        load recorded by then and not reverted by then."""
        event = self.as_of if as_of_event is None else as_of_event
        limit = "" if event is None else f"AND e.event_id <= {int(event)}"
        rlimit = "" if event is None else f"AND r.event_id <= {int(event)}"
        return self.query(
            f"""
            SELECT p.* FROM load_parts p
            JOIN events e ON e.kind = 'load' AND e.load_id = p.load_id {limit}
            WHERE p.load_id NOT IN (SELECT r.load_id FROM events r WHERE r.kind = 'revert' {rlimit})
            QUALIFY row_number() OVER (PARTITION BY p.source, p.table_name, p.year ORDER BY p.load_id DESC) = 1
            ORDER BY p.source, p.table_name, p.year
            """
        )

    def _assign_trees(self) -> None:
        """Point every part at its tree: ``current/`` for the part reads use in the latest state,
        ``history/`` for the others. Runs inside the caller's transaction; :meth:`settle` then
        moves the files."""
        latest = self.query(
            """
            SELECT p.load_id, p.table_name, p.year FROM load_parts p
            JOIN events e ON e.kind = 'load' AND e.load_id = p.load_id
            WHERE p.load_id NOT IN (SELECT r.load_id FROM events r WHERE r.kind = 'revert')
            QUALIFY row_number() OVER (PARTITION BY p.source, p.table_name, p.year ORDER BY p.load_id DESC) = 1
            """
        )
        current = set(latest.iter_rows())
        for load_id, source, table, year, path in self.query("SELECT load_id, source, table_name, year, path FROM load_parts").iter_rows():
            want = fact_path(source, table, year, load_id, "current" if (load_id, table, year) in current else "history")
            if want != path:
                self.con.execute(
                    "UPDATE load_parts SET path = ? WHERE load_id = ? AND table_name = ? AND year = ?", [want, load_id, table, year]
                )

    def settle(self) -> list[tuple[str, str]]:
        """Move the fact parts to where the catalogue says (after a load or a revert, or to finish
        a move a crash interrupted); the moves made, ``(from, to)``. Moves out of ``current/``
        come first: a reader globbing ``facts/current/`` may miss a year for an instant, never
        count it twice."""
        moves = []
        for (rel,) in self.query("SELECT path FROM load_parts").iter_rows():
            if (self.root / rel).exists():
                continue
            found = next((o for o in _elsewhere(rel) if (self.root / o).exists()), None)
            if found is not None:
                moves.append((found, rel))
        moves.sort(key=lambda m: m[1].startswith("facts/current/"))
        for src, dst in moves:
            (self.root / dst).parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.root / src, self.root / dst)
            # the folders a part leaves, if now empty (``facts/`` itself stays)
            folder = (self.root / src).parent
            while folder != self.facts_dir and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
                folder = folder.parent
        return moves

    def last_event(self) -> int:
        return int(self.scalar("SELECT coalesce(max(event_id), 0) FROM events"))

    def resolve_as_of(self, text: str) -> int:
        """A past state: a release name, a load id (``12`` or ``chargement:12``) or a date (UTC)."""
        import re

        from prst_etl.errors import UsageError

        t = text.strip()
        ev = self.scalar("SELECT event_id FROM releases WHERE name = ?", [t])
        if ev is not None:
            return int(ev)
        m = re.fullmatch(r"(?:chargement:|load:)?(\d+)", t)
        if m:
            ev = self.scalar("SELECT event_id FROM events WHERE kind = 'load' AND load_id = ?", [int(m.group(1))])
            if ev is None:
                raise UsageError(f"Chargement n° {m.group(1)} inconnu.", hint="Voir « prst loads ».")
            return int(ev)
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?", t)
        if m:
            moment = f"{m.group(1)} {m.group(2) or '23:59:59'}"
            ev = self.scalar("SELECT max(event_id) FROM events WHERE created_at <= CAST(? AS TIMESTAMP)", [moment])
            if ev is None:
                raise UsageError(f"L'entrepôt était vide le {t} (UTC).")
            return int(ev)
        known = self.query("SELECT name FROM releases ORDER BY name")["name"].to_list()
        raise UsageError(
            f"« {t} » n'est ni une publication, ni un numéro de chargement, ni une date (AAAA-MM-JJ).",
            hint=("Publications : " + ", ".join(known)) if known else "Aucune publication : voir « prst release create ».",
        )

    # releases and reverts
    def releases(self) -> pl.DataFrame:
        rel = self.query("SELECT * FROM releases ORDER BY created_at, name")
        loads = self.query("SELECT name, list(load_id ORDER BY load_id) AS loads FROM release_loads GROUP BY name")
        return rel.join(loads, on="name", how="left")

    def create_release(self, name: str, note: str | None) -> dict[str, Any]:
        import re

        from prst_etl.errors import UsageError

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}", name):
            raise UsageError(f"Nom de publication invalide : « {name} ».", hint="Lettres, chiffres, points, tirets (ex. diagnostic-2025).")
        if self.scalar("SELECT count(*) FROM releases WHERE name = ?", [name]):
            raise PrstError(f"La publication « {name} » existe déjà : une publication est immuable.", hint="Choisissez un autre nom.")
        event = self.last_event()
        loads = sorted(self.current_parts()["load_id"].unique().to_list())
        row = {"name": name, "event_id": event, "created_at": _now(), "user_name": _user(), "note": note, "prst_version": __version__}
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute("INSERT INTO releases VALUES (?, ?, ?, ?, ?, ?)", list(row.values()))
            for lid in loads:
                self.con.execute("INSERT INTO release_loads VALUES (?, ?)", [name, lid])
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return {**row, "loads": loads}

    def revert_load(self, load_id: int, *, force: bool = False, note: str | None = None) -> dict[str, Any]:
        """Undo a load: a new event (history kept); the load it had superseded is current again."""
        from prst_etl.errors import UsageError

        if not self.scalar("SELECT count(*) FROM loads WHERE load_id = ?", [load_id]):
            raise UsageError(f"Chargement n° {load_id} inconnu.", hint="Voir « prst loads ».")
        if self.scalar("SELECT count(*) FROM events WHERE kind = 'revert' AND load_id = ?", [load_id]):
            raise PrstError(f"Le chargement n° {load_id} est déjà annulé.")
        needed = self.query("SELECT name FROM release_loads WHERE load_id = ? ORDER BY name", [load_id])["name"].to_list()
        if needed and not force:
            raise PrstError(
                f"Le chargement n° {load_id} fait partie de la publication {', '.join(needed)} : annulation refusée.",
                hint="La publication reste reproductible dans tous les cas ; --force annule quand même pour les lectures courantes.",
            )
        before = self.current_parts()
        event = self.next_id("events", "event_id")
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(
                "INSERT INTO events (event_id, kind, load_id, created_at, user_name, note) VALUES (?, 'revert', ?, ?, ?, ?)",
                [event, load_id, _now(), _user(), note],
            )
            self._assign_trees()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.settle()
        after = self.current_parts()
        self.write_catalogue_copies()
        restored = sorted(set(after["load_id"].to_list()) - set(before["load_id"].to_list()))
        return {"load_id": load_id, "event_id": event, "restored": restored, "releases": needed}

    def load_coverage(self) -> pl.DataFrame:
        """``load_id, coverage, source_level`` of every load: the départements its file covers
        (``FR`` for a national file) and the geographic level the file gave."""
        return self.query("SELECT load_id, coverage, geo_level AS source_level FROM loads")

    def earlier_loads(self, source: str, table: str, year: int, before: int) -> list[int]:
        """Loads of the same source, table and year recorded before load ``before`` (in the state read)."""
        limit = "" if self.as_of is None else f"AND e.event_id <= {int(self.as_of)} "
        return self.query(
            "SELECT p.load_id FROM load_parts p JOIN events e ON e.kind = 'load' AND e.load_id = p.load_id "
            "WHERE p.source = ? AND p.table_name = ? AND p.year = ? AND p.load_id < ? " + limit + "ORDER BY p.load_id",
            [source, table, year, before],
        )["load_id"].to_list()

    def perimeter_rows(self) -> pl.DataFrame | None:
        """The current rows of the SPSTI perimeters (reference source ``spsti-perimetres``), None if none is loaded."""
        from prst_etl.reference.territories import PERIMETER_SOURCE

        lf = self.scan_facts(PERIMETER_SOURCE, "perimetres")
        return None if lf is None else lf.collect()

    def perimeter_loads(self) -> list[int]:
        """Ids of the current loads of SPSTI perimeters (what SPSTI aggregates depend on)."""
        from prst_etl.reference.territories import PERIMETER_SOURCE

        cur = self.current_parts().filter(pl.col("source") == PERIMETER_SOURCE)
        return sorted(cur["load_id"].unique().to_list())

    # aggregates
    def aggregate_keys(self) -> set[tuple[Any, ...]]:
        """``(load_id, table_name, year, geo_level, fingerprint)`` of every aggregated file recorded."""
        df = self.query("SELECT load_id, table_name, year, geo_level, fingerprint FROM aggregates")
        return set(df.iter_rows())

    def n_aggregates(self) -> int:
        return int(self.scalar("SELECT count(*) FROM aggregates"))

    def aggregates_at(self, level: str, fingerprint: str) -> pl.DataFrame:
        """The aggregated files recorded for one level and fingerprint (every load, current or not)."""
        return self.query("SELECT * FROM aggregates WHERE geo_level = ? AND fingerprint = ?", [level, fingerprint])

    def record_aggregates(self, rows: list[dict[str, Any]]) -> None:
        """Record aggregated files (already written under their final names) in one transaction."""
        now = _now()
        self.con.execute("BEGIN TRANSACTION")
        try:
            for r in rows:
                self.con.execute(
                    "INSERT OR REPLACE INTO aggregates VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [r["load_id"], r["source"], r["table_name"], r["year"], r["geo_level"], r["fingerprint"], r["path"], r["n_rows"], now],
                )
            fault("inside-aggregate-commit")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def aggregate_path(self, source: str, table: str, year: int, load_id: int, level: str, fingerprint: str) -> Path:
        """Where the aggregated file of one load part at one level is written (its folder created)."""
        folder = self.aggregates_dir / source / table / f"year={year}" / f"load-{load_id}"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{level}-{fingerprint}.parquet"

    def secret_dir(self) -> Path:
        """Cache of computed secrecy patterns (recomputable, may be deleted)."""
        return self.root / "secret"

    def part_levels(self, parts: pl.DataFrame) -> pl.Series:
        """Geographic level of each part of ``parts`` (rows of ``load_parts``): the catalogue's
        ``geo_level``; only a part the catalogue does not know the level of is read from its file."""
        known = parts["geo_level"] if "geo_level" in parts.columns else pl.Series([None] * parts.height, dtype=pl.String)
        out = []
        for level, rel in zip(known.to_list(), parts["path"].to_list()):
            if level is None:
                path = self.abs(rel)
                if not path.exists():
                    raise WarehouseError(
                        f"Fichier de faits manquant dans l'entrepôt : « {rel} ».",
                        hint="L'entrepôt a été modifié à la main : restaurez le fichier, ou annulez le chargement (prst loads revert).",
                    )
                levels = pl.scan_parquet(path).select(pl.col("geo_level").unique()).collect()["geo_level"].to_list()
                if len(levels) != 1:
                    raise WarehouseError(f"{rel} : un seul niveau géographique attendu, trouvé {levels}.")
                level = levels[0]
            out.append(level)
        return pl.Series("geo_level", out, dtype=pl.String)

    def current_moves(self) -> pl.DataFrame:
        """Commune moves of the current loads: ``source, table_name, year, old_code, new_code, old_zone, new_zone``
        (rows given under an old commune code, counted in the zone d'emploi of its new commune)."""
        cur = self.current_parts().select("load_id", "source", "table_name", "year")
        moves = self.query("SELECT load_id, table_name, old_code, new_code, old_zone, new_zone FROM load_moves")
        return cur.join(moves, on=["load_id", "table_name"], how="inner").drop("load_id")

    def load_detail(self, load_id: int) -> dict[str, Any]:
        """One load with its parts, findings (warnings of an accepted file), measure ledger and commune moves."""
        import json

        from prst_etl.errors import UsageError

        rows = self.query("SELECT * FROM loads WHERE load_id = ?", [load_id])
        if rows.height == 0:
            raise UsageError(f"Chargement n° {load_id} inconnu.", hint="Voir « prst loads ».")
        load = self.loads().filter(pl.col("load_id") == load_id).to_dicts()[0]
        parts = self.query("SELECT table_name, year, geo_level, n_rows, path FROM load_parts WHERE load_id = ? ORDER BY table_name, year", [load_id])
        findings = self.query(
            "SELECT code, severity, sheet, file_row AS row, file_column AS column, cell_value AS value, message "
            "FROM load_findings WHERE load_id = ? ORDER BY seq", [load_id]
        )  # fmt: skip
        ledger = self.query(
            "SELECT table_name AS table, measure, amount_read AS read, set_aside, amount_stored AS stored, derived "
            "FROM load_ledger WHERE load_id = ? ORDER BY table_name, measure", [load_id]
        ).to_dicts()  # fmt: skip
        for f in ledger:
            f["set_aside"] = json.loads(f["set_aside"])
        moves = self.query(
            "SELECT string_agg(table_name, ', ' ORDER BY table_name) AS table, old_code, new_code, old_zone, new_zone, "
            "n_rows AS rows, counts FROM load_moves WHERE load_id = ? "
            "GROUP BY old_code, new_code, old_zone, new_zone, n_rows, counts ORDER BY 1, old_code",
            [load_id],
        ).to_dicts()
        for m in moves:
            m["counts"] = json.loads(m["counts"])
        return {"load": load, "parts": parts.to_dicts(), "findings": findings.to_dicts(), "ledger": ledger, "moves": moves}

    def scan_facts(self, source: str, table: str, years: list[int] | None = None) -> pl.LazyFrame | None:
        """Current facts of one source table (all years, or the given ones)."""
        parts = self.current_parts().filter((pl.col("source") == source) & (pl.col("table_name") == table))
        if years:
            parts = parts.filter(pl.col("year").is_in(years))
        if parts.height == 0:
            return None
        # one scan per file: files of different loads may carry different status columns
        scans = [pl.scan_parquet(self.abs(p), hive_partitioning=False) for p in parts["path"]]
        return scans[0] if len(scans) == 1 else pl.concat(scans, how="diagonal_relaxed")

    def find_same_file(self, source: str, sha256: str) -> int | None:
        """Id of a load of this exact file that still feeds current reads (ingesting it again is a no-op)."""
        cur = self.current_parts().filter(pl.col("source") == source)
        if cur.height == 0:
            return None
        ids = cur["load_id"].unique().to_list()
        return self.scalar(
            f"SELECT max(load_id) FROM loads WHERE sha256 = ? AND source = ? AND load_id IN ({','.join(map(str, ids))})",
            [sha256, source],
        )

    # writing
    def next_id(self, table: str, column: str) -> int:
        return int(self.scalar(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"))

    def write_part(self, source: str, table: str, year: int, load_id: int, df: pl.DataFrame) -> tuple[str, int]:
        """Write one Parquet part under ``facts/staging/`` (unreferenced until the load is committed,
        then moved to ``facts/current/``); its catalogue path and rows."""
        final = self.root / fact_path(source, table, year, load_id, "staging")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".parquet.tmp")
        df = df.with_columns(pl.lit(load_id, dtype=pl.Int32).alias("load_id")).select(
            ["load_id", *df.columns]
        )
        df.write_parquet(tmp, compression="zstd", statistics=True)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        return fact_path(source, table, year, load_id, "current"), df.height

    def record_load(
        self,
        load: dict[str, Any],
        parts: list[dict[str, Any]],
        *,
        findings: list[dict[str, Any]] | None = None,
        ledger: list[dict[str, Any]] | None = None,
        moves: list[dict[str, Any]] | None = None,
    ) -> None:
        """Commit a load in one transaction: the load, its parts (with their geographic level), its
        findings (warnings of an accepted file), its measure ledger, its commune moves and its event."""
        import json

        fault("before-commit")
        self.con.execute("BEGIN TRANSACTION")
        try:
            cols = ", ".join(load)
            self.con.execute(
                f"INSERT INTO loads ({cols}) VALUES ({', '.join('?' for _ in load)})", list(load.values())
            )
            lid = load["load_id"]
            for p in parts:
                self.con.execute(
                    "INSERT INTO load_parts (load_id, source, table_name, year, path, n_rows, geo_level) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [lid, p["source"], p["table_name"], p["year"], p["path"], p["n_rows"], p.get("geo_level")],
                )
            for i, f in enumerate(findings or []):
                self.con.execute(
                    "INSERT INTO load_findings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [lid, i, f["code"], f["severity"], f.get("sheet"), f.get("row"), f.get("column"), f.get("value"), f["message"]],
                )
            for f in ledger or []:
                self.con.execute(
                    "INSERT INTO load_ledger VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [lid, f["table"], f["measure"], f["read"], json.dumps(f["set_aside"], ensure_ascii=False), f["stored"] or 0.0,
                     f.get("derived") or None],
                )  # fmt: skip
            for m in moves or []:
                for table in m.get("tables") or [m["table"]]:  # the rows of one sheet may go to several tables
                    self.con.execute(
                        "INSERT INTO load_moves VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [lid, table, m["old_code"], m["new_code"], m.get("old_zone"), m.get("new_zone"), m["rows"],
                         json.dumps(m.get("counts", {}), ensure_ascii=False)],
                    )  # fmt: skip
            self.con.execute(
                "INSERT INTO events (event_id, kind, load_id, created_at, user_name, note) VALUES (?, 'load', ?, ?, ?, ?)",
                [self.next_id("events", "event_id"), load["load_id"], load["created_at"], load.get("user_name"), load.get("note")],
            )
            self._assign_trees()
            fault("inside-commit")
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        fault("after-commit")
        self.settle()
        self.write_catalogue_copies()

    def write_catalogue_copies(self) -> None:
        """Parquet copies of the catalogue, so that R, Python or QGIS can find the current files."""
        folder = self.root / "catalogue"
        folder.mkdir(exist_ok=True)
        loads = self.loads().with_columns(pl.col("coverage").list.join(" "))
        cur = self.current_parts().select("load_id", "table_name", "year").with_columns(current=pl.lit(True))
        parts = self.query("SELECT * FROM load_parts ORDER BY load_id, table_name, year").join(
            cur, on=["load_id", "table_name", "year"], how="left"
        ).with_columns(pl.col("current").fill_null(False))
        for name, df in (("loads", loads), ("parts", parts)):
            tmp = folder / f"{name}.parquet.tmp"
            df.write_parquet(tmp)
            os.replace(tmp, folder / f"{name}.parquet")

    @property
    def aggregates_dir(self) -> Path:
        return self.root / "aggregates"

    def collect_garbage(self) -> list[str]:
        """Delete Parquet files the catalogue does not reference (left by an interrupted command)."""
        referenced = set(self.query("SELECT path FROM load_parts")["path"].to_list())
        referenced |= set(self.query("SELECT path FROM aggregates")["path"].to_list())
        removed = []
        for folder in (self.facts_dir, self.aggregates_dir):
            if not folder.exists():
                continue
            for p in sorted(folder.rglob("*")):
                if p.is_file() and (p.suffix == ".tmp" or self.rel(p) not in referenced):
                    p.unlink()
                    removed.append(self.rel(p))
            for d in sorted(folder.rglob("*"), reverse=True):
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
        return removed


_README = """Entrepôt prst — ne modifiez pas ces fichiers à la main.

prst.duckdb        catalogue (chargements, fichiers, événements) — lisible avec DuckDB
facts/current/     faits en vigueur (comptages additifs) : un fichier Parquet par source, table et année
                   facts/current/<source>/<table>/year=<année>/load-<n>.parquet
facts/history/     faits remplacés par un fichier corrigé ou annulés : gardés pour --as-of
facts/staging/     fichiers d'un chargement en cours d'écriture
aggregates/        cache de « prst aggregate » (tous niveaux, tous chargements) : ne le lisez pas
                   directement, il mélange les niveaux et l'historique
secret/            motifs de secret statistique déjà calculés (recalculables, peuvent être effacés)
catalogue/         copies Parquet du catalogue : parts.parquet dit quel fichier est « current »
exports/           exports produits par « prst export »

Lire les faits en vigueur d'une table (une année n'y est jamais comptée deux fois) :
  duckdb : SELECT * FROM read_parquet('facts/current/carsat-mp/at/*/*.parquet')
Sous secret statistique, pour diffusion : « prst export » ou « prst publish ».
"""


def _connect(db: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    import duckdb

    try:
        return duckdb.connect(str(db), read_only=read_only)
    except duckdb.IOException as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise WarehouseBusy(
                f"L'entrepôt « {db.parent} » est en cours d'utilisation par un autre processus.",
                hint="Attendez la fin de l'autre commande puis relancez celle-ci.",
            ) from None
        raise WarehouseError(f"Catalogue illisible « {db} » : {text.splitlines()[0]}") from None


@contextmanager
def open_warehouse(
    path: Path | str | None = None, *, write: bool = False, create: bool | None = None, as_of: str | None = None
) -> Iterator[Warehouse]:
    """Open the warehouse. ``write=True`` takes the exclusive lock and creates it if needed."""
    root = resolve_path(path)
    if root.exists() and not root.is_dir():
        raise WarehouseError(
            f"« {root} » est un fichier, pas un dossier : --warehouse (ou PRST_WAREHOUSE) doit nommer le dossier de l'entrepôt.",
            hint="Indiquez un dossier existant ou à créer, par exemple --warehouse ./warehouse.",
        )
    db = root / DB_NAME
    create = write if create is None else create
    if not db.exists():
        if not create:
            raise WarehouseError(
                f"Aucun entrepôt prst dans « {root} ».",
                hint="Chargez un premier fichier avec « prst ingest SOURCE FICHIER », ou indiquez --warehouse.",
            )
        if root.exists() and any(p.name not in {LOCK_NAME} for p in root.iterdir()) and not (root / "facts").exists():
            non_prst = [p.name for p in root.iterdir() if p.name not in {LOCK_NAME, "README.md", "README.txt"}]
            if non_prst:
                raise WarehouseError(
                    f"Le dossier « {root} » existe et contient d'autres fichiers ({', '.join(sorted(non_prst)[:5])}) : "
                    "ce n'est pas un entrepôt prst.",
                    hint="Choisissez un dossier vide ou inexistant avec --warehouse.",
                )
    lock = _FileLock(root / LOCK_NAME) if write else None
    if lock:
        lock.acquire()
    try:
        con = _connect(db, read_only=not write)
        try:
            if write:
                _init_or_migrate(con, root)
                readme = root / "README.txt"
                if not readme.exists():
                    readme.write_text(_README, encoding="utf-8")
            wh = Warehouse(root, con, writable=write)
            if not write and wh.format_version() > MIGRATIONS[-1].version:
                raise WarehouseError(
                    f"L'entrepôt « {root} » est au format {wh.format_version()}, plus récent que celui de cette version "
                    f"de prst ({MIGRATIONS[-1].version}) : il ne peut pas être lu sans risque d'erreur.",
                    hint="Mettez prst à jour (pip install -U prst-etl).",
                )
            if not write and wh.format_version() < MIGRATIONS[-1].version:
                # an older warehouse: reading it needs its migrations, which only a writer applies
                con.close()
                with open_warehouse(root, write=True) as _:
                    pass
                con = _connect(db, read_only=True)
                wh = Warehouse(root, con, writable=False)
            if write:
                if wh.settle():  # a move interrupted by a crash, or the layout of an older format
                    wh.write_catalogue_copies()
                wh.collect_garbage()
            if as_of is not None:
                wh.as_of = wh.resolve_as_of(as_of)
            yield wh
        finally:
            con.close()
    finally:
        if lock:
            lock.release()


PRST_ENTRIES = (DB_NAME, DB_NAME + ".wal", "facts", "aggregates", "secret", "catalogue", "exports", "publish", "publications",
               "site", "README.txt", LOCK_NAME)
"""What prst writes in a warehouse folder (anything else there is left alone)."""


def remove_warehouse(path: Path) -> bool:
    """Empty a warehouse folder of what prst wrote (``prst demo --reset``). False if there was none."""
    if not (path / DB_NAME).exists():
        return False
    with open_warehouse(path, write=True):
        pass  # fails with « en cours d'utilisation » if another process writes
    for name in PRST_ENTRIES:
        p = path / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    return True
