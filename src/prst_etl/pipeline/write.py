"""Files written for people and tools: atomic writers and the names of exports.

Every file is written under a temporary name beside its final one, then renamed: a reader
never sees half a file, and an interrupted command leaves the previous file as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

EXCEL_MAX_ROWS = 1_048_575



def restricted_name(path: Path) -> Path:
    """An export without secrecy says so in its name."""
    return path if "diffusion-restreinte" in path.name else path.with_name(f"{path.stem}_diffusion-restreinte{path.suffix}")



def audit_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_secret-audit{path.suffix}")



def default_path(root: Path, level: str, years: list[int] | None, fmt: str, as_of: str | None = None) -> Path:
    yr = "-".join(map(str, sorted(years))) if years else "toutes-annees"
    tag = f"_{as_of.replace(':', '-')}" if as_of else ""
    return root / "exports" / f"prst_{level}_{yr}{tag}.{fmt}"



def write_frame(df: pl.DataFrame, path: Path, fmt: str, decimal_comma: bool = False) -> None:
    """Write atomically (temporary file then rename): a reader never sees half a file."""
    write_chunks(iter([df]), path, fmt, decimal_comma)



def write_chunks(chunks, path: Path, fmt: str, decimal_comma: bool = False, restricted: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Write frames one after the other into one file (memory: one chunk at a time); atomic; rows written.

    ``restricted``: an export without statistical secrecy, marked « diffusion restreinte » in the
    Parquet metadata, or in a ``diffusion`` column of a CSV."""
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    writer = None
    try:
        with tmp.open("wb") as fh:
            if fmt != "parquet":
                fh.write(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
            for i, df in enumerate(chunks):
                if restricted and fmt != "parquet":
                    df = df.with_columns(pl.lit("diffusion restreinte").alias("diffusion"))
                if fmt == "parquet":
                    table = df.to_arrow()
                    if writer is None:
                        schema = table.schema
                        if restricted:
                            schema = schema.with_metadata({**(schema.metadata or {}), b"prst.diffusion": "diffusion restreinte".encode()})
                        writer = pq.ParquetWriter(fh, schema, compression="zstd")
                    writer.write_table(table.cast(writer.schema))
                else:
                    df.write_csv(fh, separator=";", decimal_comma=decimal_comma, include_header=i == 0)
                rows += df.height
            if writer is not None:
                writer.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return rows
