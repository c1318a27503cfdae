"""Files written for people and tools: atomic writers and the names of exports.

Every file appears under its name only once complete: a reader never sees half a file, and an
interrupted command leaves the previous file as it was. On Linux the data is written to an
anonymous file of the target folder (``O_TMPFILE``), given its name at the end: a process killed
while writing leaves nothing behind; elsewhere a hidden temporary name is used and removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from prst_etl.errors import UsageError

EXCEL_MAX_ROWS = 1_048_575



def check_output(path: Path) -> None:
    """``--output`` must name a regular file (new or existing): never a folder or a device, which the
    final rename would replace."""
    if path.exists() and not path.is_file():
        kind = "un dossier" if path.is_dir() else "un périphérique ou un fichier spécial"
        raise UsageError(
            f"« {path} » n'est pas un fichier ordinaire ({kind}) : --output doit nommer le fichier à écrire.",
            hint="Exemple : --output exports/prst_departement_2024.csv",
        )


@contextmanager
def atomic_file(path: Path) -> Iterator:  # type: ignore[type-arg]
    """A binary file that appears at ``path`` only when the block ends without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = None
    if hasattr(os, "O_TMPFILE"):
        try:
            fd = os.open(path.parent, os.O_TMPFILE | os.O_WRONLY, 0o644)
        except OSError:  # a file system without anonymous files: a named temporary file instead
            fd = None
    if fd is not None:
        try:
            # the writer may close its file object (a Parquet writer does): the file is kept open by fd
            with os.fdopen(os.dup(fd), "wb") as fh:
                yield fh
            os.fsync(fd)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            _name(fd, tmp)  # named only now, beside its final name
            try:
                os.replace(tmp, path)
            finally:
                if tmp.exists():
                    tmp.unlink()
        finally:
            os.close(fd)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            yield fh
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _name(fd: int, tmp: Path) -> None:
    """Give the anonymous file ``fd`` the name ``tmp`` (``linkat`` following ``/proc/self/fd``; a copy
    if the system refuses)."""
    dfd = os.open(tmp.parent, os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", tmp.name, dst_dir_fd=dfd, follow_symlinks=True)
        return
    except OSError:
        pass
    finally:
        os.close(dfd)
    with tmp.open("wb") as out:
        offset = 0
        while chunk := os.pread(fd, 1 << 20, offset):
            out.write(chunk)
            offset += len(chunk)


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

    from prst_etl.warehouse.util import fault

    rows = 0
    writer = None
    with atomic_file(path) as fh:
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
            if i == 1:
                fault("during-output-write")  # test hook: killed with the file half written
        if writer is not None:
            writer.close()
    return rows
