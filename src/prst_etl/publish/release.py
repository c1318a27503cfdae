"""``prst publish``: a release as files any engine reads.

Layout of the output folder::

    data/geo_level=<level>/year=<year>/part-0.parquet   the long rows of that level and year, secrecy applied
    indicateurs.csv                                the catalogue: label, unit, definition, decimals
    datapackage.json                               Frictionless Data Package (Table Schema of every file)
    manifest.json                                  release, loads (files, sha256), vintages, prst version,
                                                   rows and sha256 of every file

The Parquet files follow the Hive convention Spark writes: the partition columns ``geo_level``
and ``year`` are in the path, not in the files (Spark and DataFusion refuse a column that is in
both), and under ``data/`` alone (an engine given a folder reads every file in it), so
``read_parquet('…/data/**/*.parquet', hive_partitioning = true)`` in DuckDB,
``pyarrow.dataset.dataset('…/data', partitioning="hive")``, ``polars.scan_parquet('…/data/**/*.parquet',
hive_partitioning=True)``, ``arrow::open_dataset('…/data')`` in R, ``spark.read.parquet('…/data')``
and Trino all give the long export's columns. Rows are
sorted by their key, with column statistics and page indexes: a reader filtering on a territory,
a sector or an indicator skips the rest.

Publishing the same release twice gives the same bytes: the rows are a pure function of the
release (the secrecy pattern too), sorted on a unique key, written with fixed options, and
nothing in the files or the two JSON documents depends on the clock.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from prst_etl import __version__
from prst_etl.errors import PrstError, UsageError
from prst_etl.model.facts import BASE_COLUMNS, TAIL_COLUMNS

PARTITIONS = ("geo_level", "year")
DATA = "data"
"""Folder of the Parquet files (nothing else in it: engines read a whole folder)."""
MANIFEST = "manifest.json"
DATAPACKAGE = "datapackage.json"
INDICATORS = "indicateurs.csv"
ROW_GROUP_ROWS = 256 * 1024
"""Rows per Parquet row group: small enough that statistics skip most of a file on a filter."""

Progress = Callable[[str], None]


@dataclass
class PublishResult:
    output: Path
    release: str
    files: list[dict[str, Any]] = field(default_factory=list)
    """``path, geo_level, year, rows, bytes, sha256`` of every Parquet file."""
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f["rows"] for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "release": self.release, "rows": self.rows, "files": self.files, "notes": self.notes}


# -- the files ----------------------------------------------------------------------------------
def columns_of(extras: list[str]) -> list[str]:
    """Columns of a published file: the long export's, without the partition columns."""
    return [c for c in BASE_COLUMNS + list(extras) + TAIL_COLUMNS if c not in PARTITIONS]


def key_of(extras: list[str]) -> list[str]:
    """The key of a row within its file (with the partitions: the export's key)."""
    return ["geo_code", "sector_level", "sector_code", "sex", "age_band", *extras, "indicator"]


def arrow_schema(extras: list[str]):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    floats = {"value", "ci_low", "ci_high"}
    return pa.schema([pa.field(c, pa.float64() if c in floats else pa.string()) for c in columns_of(extras)])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_partition(df: pl.DataFrame, root: Path, level: str, year: int, extras: list[str]) -> dict[str, Any]:
    """Write one level × year, sorted on its key, with statistics; its manifest entry."""
    import pyarrow.parquet as pq

    key = key_of(extras)
    rel = f"{DATA}/geo_level={level}/year={year}/part-0.parquet"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    for c in extras:
        if c not in df.columns:
            df = df.with_columns(pl.lit("_T").alias(c))
    rows = df.height
    table = df.select(columns_of(extras)).to_arrow().cast(arrow_schema(extras))
    del df
    # Arrow sorts a large table several times faster than polars on these string keys; the key is
    # unique, so the order (and the bytes) never depend on the sort's stability
    table = table.sort_by([(c, "ascending") for c in key])
    names = table.column_names
    pq.write_table(
        table, path, compression="zstd", write_statistics=True, write_page_index=True, row_group_size=ROW_GROUP_ROWS,
        sorting_columns=[pq.SortingColumn(names.index(c)) for c in key],
    )  # fmt: skip
    return {"path": rel, "geo_level": level, "year": int(year), "rows": rows, "bytes": path.stat().st_size, "sha256": _sha256(path)}


def write_partitions(frames: Iterable[tuple[str, pl.DataFrame]], root: Path, extras: list[str], progress: Progress | None = None) -> list[dict[str, Any]]:
    """Write the long frame of each level, one file per year (memory: one level at a time)."""
    files = []
    for level, df in frames:
        for (year,), part in sorted(df.partition_by("year", as_dict=True).items()):
            if progress:
                progress(f"publication : {level} {year}")
            files.append(write_partition(part, root, level, int(year), extras))
    return sorted(files, key=lambda f: f["path"])


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")


# -- the release --------------------------------------------------------------------------------
def _release_row(wh, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rel = wh.releases().filter(pl.col("name") == name)
    if rel.height == 0:
        known = wh.releases()["name"].to_list()
        raise UsageError(
            f"Publication inconnue : « {name} ».",
            hint=("Publications : " + ", ".join(known)) if known else "Créez-la d'abord : prst release create NOM.",
        )
    return rel.row(0, named=True)


def _loads(wh) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The loads the release reads (current in its state): the files they came from."""
    from prst_etl.sources import all_sources

    cur = wh.current_parts()
    ids = sorted(cur["load_id"].unique().to_list())
    registry = all_sources()
    loads = wh.loads().filter(pl.col("load_id").is_in(ids)).sort("load_id")
    parts = cur.group_by("load_id").agg(pl.col("year").unique().sort(), pl.col("table_name").unique().sort())
    out = []
    for r in loads.drop("years", "tables", strict=False).join(parts, on="load_id", how="left").iter_rows(named=True):
        src = registry.get(r["source"])
        out.append({
            "load_id": r["load_id"], "source": r["source"], "provider": src.provider if src else "",
            "file_name": r["file_name"], "file_size": r["file_size"], "sha256": r["sha256"],
            "years": r["year"], "tables": r["table_name"], "mapping_version": r["mapping_version"],
            "plugin_version": r["plugin_version"], "geo_vintage": r["geo_vintage"], "loaded_at": r["created_at"],
        })  # fmt: skip
    return out


def indicator_table() -> pl.DataFrame:
    """The catalogue as published beside the data."""
    from prst_etl.model.indicators import catalogue
    from prst_etl.pipeline.wide import decimals_of, definition

    rows = [
        {"indicator": i.id, "label": i.label, "family": i.family, "unit": i.unit, "definition": definition(i.id),
         "decimals": decimals_of(i.id), "min_denominator": i.min_denominator, "caveats": i.caveats, "breaks": "; ".join(i.breaks)}
        for i in sorted(catalogue().values(), key=lambda i: i.id)
    ]  # fmt: skip
    return pl.DataFrame(rows, schema={"indicator": pl.String, "label": pl.String, "family": pl.String, "unit": pl.String,
                                      "definition": pl.String, "decimals": pl.Int64, "min_denominator": pl.Float64,
                                      "caveats": pl.String, "breaks": pl.String})  # fmt: skip


INDICATOR_TYPES = [("indicator", "string"), ("label", "string"), ("family", "string"), ("unit", "string"), ("definition", "string"),
                   ("decimals", "integer"), ("min_denominator", "number"), ("caveats", "string"), ("breaks", "string")]  # fmt: skip


def publish(
    release: str,
    output: Path,
    *,
    warehouse: Path | str | None = None,
    progress: Progress | None = None,
    licence: str = "etalab-2.0",
) -> PublishResult:
    """Write release ``release`` (secrecy applied, every published level and year) into ``output``.

    The folder is written beside its final name and swapped in at the end: a reader never sees
    half a publication. An existing folder is replaced only if it holds a previous publication
    (its ``manifest.json``) or nothing."""
    from prst_etl.model.levels import EXPORT_LEVELS
    from prst_etl.pipeline.export import level_data, refresh
    from prst_etl.pipeline.secret import config, secret_pattern
    from prst_etl.publish.datapackage import LICENCES, NS, descriptor
    from prst_etl.reference import COG_VINTAGES
    from prst_etl.resources import data_dir
    from prst_etl.sources import all_sources
    from prst_etl.warehouse import open_warehouse

    if licence not in LICENCES:
        raise UsageError(f"Licence inconnue : « {licence} ».", hint="Licences : " + ", ".join(LICENCES))
    output = Path(output)
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not (output / MANIFEST).exists())):
        raise PrstError(
            f"« {output} » existe et n'est pas une publication prst (pas de {MANIFEST}) : rien n'a été écrit.",
            hint="Choisissez un dossier vide ou inexistant avec --output.",
        )
    step = progress or (lambda _m: None)
    with open_warehouse(warehouse) as wh:
        rel = _release_row(wh, release)
    refresh(warehouse, None, release, progress)
    result = PublishResult(output=output, release=release)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        with open_warehouse(warehouse, as_of=release) as wh:
            cfg = config()
            pattern, short = secret_pattern(wh, None, None, progress)
            levels = [lv for lv in EXPORT_LEVELS if lv not in cfg.unpublished_levels]
            registry = all_sources()
            present = {(s, t) for s, t in wh.current_parts().select("source", "table_name").iter_rows()
                       if s in registry and not registry[s].reference}  # fmt: skip
            extras = sorted({d for s, name in present for t in registry[s].tables if t.name == name
                             for d in (*t.extra_dims, *(p.dimension for p in t.pivots))})  # fmt: skip
            statuses: set[str] = set()

            def frames() -> Iterator[tuple[str, pl.DataFrame]]:
                for level in levels:
                    step(f"publication : niveau {level}")
                    data = level_data(wh, level, None, list(cfg.sector_levels))
                    data.pattern = pattern
                    df = data.frame()
                    result.notes.extend(n for n in data.notes + data.choice_notes() if n not in result.notes)
                    statuses.update(df["status"].drop_nulls().unique().to_list())
                    yield level, df

            result.files = write_partitions(frames(), tmp, extras, progress)
            loads = _loads(wh)
        if short[0]:
            result.notes.append(
                f"ATTENTION : {short[0]} case(s) en secret primaire n'ont pas reçu tout leur intervalle de protection : "
                "ne diffusez pas cette publication sans l'avis du responsable du secret statistique."
            )

        # The catalogue, the Data Package, the manifest
        ind = indicator_table()
        ind.write_csv(tmp / INDICATORS)
        providers = sorted({x["provider"] for x in loads if x["provider"]})
        meta = {"name": rel["name"], "created_at": rel["created_at"].isoformat(timespec="seconds") + "Z", "note": rel["note"],
                "prst_version": rel["prst_version"], "event_id": rel["event_id"]}  # fmt: skip
        from prst_etl.model.codes import HIDDEN, STATUSES

        cols = columns_of(extras)
        types = [(c, "number" if c in ("value", "ci_low", "ci_high") else "string") for c in cols]
        dp = descriptor(
            release=meta, files=result.files, columns=types, key=key_of(extras), providers=providers, licence=licence,
            indicators_path=INDICATORS, indicator_columns=INDICATOR_TYPES, n_indicators=ind.height,
        )  # fmt: skip
        allowed = sorted({*STATUSES, *HIDDEN, NS, *statuses})
        for r in dp["resources"]:
            for f in r["schema"]["fields"]:
                if f["name"] == "status":
                    f["constraints"] = {"enum": allowed}
        (tmp / DATAPACKAGE).write_bytes(_json(dp))
        secret_rules = data_dir("schemas") / "secret.toml"
        manifest = {
            "release": meta,
            "published_with": {"prst_version": __version__},
            "reference": {"cog": max(COG_VINTAGES), "zones_emploi": 2020, "naf": "NAF rév. 2"},
            "secrecy": {"applied": True, "rules_sha256": _sha256(secret_rules), "sector_levels": list(cfg.sector_levels),
                        "levels": levels},  # fmt: skip
            "partitions": list(PARTITIONS),
            "key": ["geo_level", *key_of(extras)[:-1], "year", "indicator"],
            "loads": loads,
            "files": result.files + [{"path": INDICATORS, "rows": ind.height, "bytes": (tmp / INDICATORS).stat().st_size,
                                      "sha256": _sha256(tmp / INDICATORS)}],  # fmt: skip
            "rows": result.rows,
        }
        (tmp / MANIFEST).write_bytes(_json(manifest))

        # Swap the folder in
        old = output.with_name(f".{output.name}.old-{os.getpid()}")
        if output.exists():
            os.replace(output, old)
        os.replace(tmp, output)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return result
