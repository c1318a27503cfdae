"""Benchmark: ``prst ingest`` of a 200 000-row Carsat workbook against the floor.

The floor is the least any ingestion must do: read the same workbook with
polars/calamine and write it to Parquet, in one process. Both run as fresh
processes, side by side, alternately, several rounds; the script reports the
median wall time and the peak memory (max RSS) of each, and their ratios.

Targets (issue #11): ingest within 1.3× the floor's wall time and 1.2× its peak memory. The CPU
time (user + system) of each is reported too: on a machine shared with other work it varies far
less than the wall time, and the ratio of medians of both is printed.

    python benchmarks/bench_ingest.py [--rows 200000] [--rounds 5]

Needs the test extra (xlsxwriter) to build the workbook once; it is cached in
``benchmarks/out/``. POSIX only (per-process peak memory from ``os.wait4``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _measure import run_cpu

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "tests/fixtures/sources/ameli-at/2024-stat-nationales-at-ctn-naf.xlsx"
OUT = ROOT / "benchmarks/out"

FLOOR = """
import sys, polars as pl
df = pl.read_excel(sys.argv[1], engine="calamine", read_options={"header_row": 3})
df.write_parquet(sys.argv[2])
"""


def build(rows: int) -> Path:
    path = OUT / f"carsat-mp_{rows}.xlsx"
    if not path.exists():
        from prst_etl.testing import samples

        OUT.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        table = samples.big_table(samples.read_national(NATIONAL), rows)
        samples.write_workbook(table, path, year=2024)
        print(f"built {path.name}: {table.height} rows × {table.width} columns in {time.perf_counter() - t:.1f} s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    path = build(args.rows)
    env = dict(os.environ, PRST_NO_PROGRESS="1", PRST_NO_PLUGINS="1")
    floor, ingest = [], []
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            floor.append(run_cpu([sys.executable, "-c", FLOOR, str(path), f"{tmp}/floor-{i}.parquet"]))
            ingest.append(run_cpu([sys.executable, "-m", "prst_etl", "ingest", "carsat-mp", str(path), "-w", f"{tmp}/wh-{i}"], env))
    f_wall = statistics.median(w for w, _, _ in floor)
    i_wall = statistics.median(w for w, _, _ in ingest)
    f_mem = max(m for _, m, _ in floor)
    i_mem = max(m for _, m, _ in ingest)
    f_cpu = statistics.median(c for _, _, c in floor)
    i_cpu = statistics.median(c for _, _, c in ingest)
    print(f"workbook: {path.name} ({path.stat().st_size / 2**20:.1f} MiB), {args.rounds} rounds, {os.cpu_count()} CPU")
    print(f"floor  (polars/calamine read + Parquet write): median {f_wall:.2f} s (CPU {f_cpu:.2f} s), peak {f_mem:.0f} MiB")
    print(f"ingest (prst ingest carsat-mp, fresh warehouse): median {i_wall:.2f} s (CPU {i_cpu:.2f} s), peak {i_mem:.0f} MiB")
    print(f"ratio  wall {i_wall / f_wall:.2f}× (target ≤ 1.3×), CPU {i_cpu / f_cpu:.2f}×, memory {i_mem / f_mem:.2f}× (target ≤ 1.2×)")
    print("all rounds (s): floor " + " ".join(f"{w:.2f}" for w, _, _ in floor) + " | ingest " + " ".join(f"{w:.2f}" for w, _, _ in ingest))
    print("load average before/after: " + " / ".join(f"{x:.1f}" for x in (load_before, os.getloadavg()[0])))


if __name__ == "__main__":
    main()
