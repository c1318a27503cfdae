"""Benchmark: ``prst aggregate`` of a commune-level fact table against the floor.

The table: every commune of Occitanie (4 446, COG 2025) × the 88 divisions of the NAF (A88) ×
2 sexes × 6 age bands × 3 years, sparse (``--density``, default 0.18: the share of non-zero
cells of the national table the issue describes, ~20 million rows out of ~110 million), two
additive measures (URSSAF table ``etablissements``). It is written into a fresh warehouse as
three loads, through the warehouse's own API (no file to read: what is timed is the
aggregation).

The floor is one hand-written DuckDB query over the same Parquet files: the same mapping
tables (commune → zone d'emploi, département, région; A88 → A64, A38, A21, A17, A10, all;
age band → the bands it nests in, all ages) joined to the facts, ``GROUP BY GROUPING SETS``
with and without sex, written to Parquet. It computes the same cells as ``prst aggregate``
(the script checks the row counts and the grand totals).

Both run as fresh processes, alternately, ``--rounds`` times; the script reports the median
wall time, the peak memory (max RSS) of each and their ratios.

Targets (issue #3): within 2× the floor's wall time, peak memory under 6 GiB.

    python benchmarks/bench_aggregate.py [--density 0.18] [--rounds 3]

Why Occitanie and not France: prst ships the reference geography it needs (the communes of
Occitanie, the national levels above them), so a national commune table cannot be aggregated
by it. ``--density 1`` gives the densest Occitanie table (14.2 million rows).
POSIX only (per-process peak memory from ``os.wait4``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _measure import run

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks/out"
YEARS = (2021, 2022, 2023)
AGES = ("Y_LT20", "Y20T29", "Y30T39", "Y40T49", "Y50T59", "Y_GE60")

FLOOR = """
import sys, duckdb
facts, maps, out = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
con.execute(f'''
COPY (
  SELECT f.year, g.level AS geo_level, g.target AS geo_code, s.level AS sector_level, s.target AS sector_code,
         coalesce(f.sex, '_T') AS sex, a.target AS age_band,
         sum(f.etablissements_employeurs) AS etablissements_employeurs, sum(f.effectifs_salaries) AS effectifs_salaries
  FROM read_parquet('{facts}') f
  JOIN read_parquet('{maps}/geo.parquet') g ON f.geo_code = g.code
  JOIN read_parquet('{maps}/sector.parquet') s ON f.sector_code = s.code
  JOIN read_parquet('{maps}/age.parquet') a ON f.age_band = a.code
  GROUP BY GROUPING SETS (
    (f.year, g.level, g.target, s.level, s.target, f.sex, a.target),
    (f.year, g.level, g.target, s.level, s.target, a.target)
  )
) TO '{out}' (FORMAT parquet, COMPRESSION zstd)
''')
"""


def build(density: float) -> Path:
    """A warehouse holding the generated facts (three loads), cached in ``benchmarks/out``."""
    import numpy as np
    import polars as pl

    from prst_etl import __version__
    from prst_etl.reference import geography, sectors
    from prst_etl.model.codes import age_rollup
    from prst_etl.warehouse import _now, open_warehouse

    folder = OUT / f"aggregate-{density:g}"
    wh_dir, maps = folder / "warehouse", folder / "maps"
    if (folder / "done").exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    maps.mkdir(parents=True)
    t = time.perf_counter()
    geo = geography.rollup_map("commune").filter(pl.col("level") != "france")
    sec = sectors.rollup_map("a88")
    communes = geo.filter(pl.col("level") == "commune")["code"].to_numpy()
    divisions = sec.filter(pl.col("level") == "a88")["code"].to_numpy()
    geo.write_parquet(maps / "geo.parquet")
    sec.write_parquet(maps / "sector.parquet")
    pl.DataFrame(age_rollup(list(AGES)), schema=["code", "target"], orient="row").write_parquet(maps / "age.parquet")
    rng = np.random.default_rng(2024)
    grid = len(communes) * len(divisions) * 2 * len(AGES)
    rows = 0
    with open_warehouse(wh_dir, write=True) as wh:
        for year in YEARS:
            cell = np.flatnonzero(rng.random(grid) < density)
            c, rest = np.divmod(cell, len(divisions) * 2 * len(AGES))
            d, rest = np.divmod(rest, 2 * len(AGES))
            s, a = np.divmod(rest, len(AGES))
            units = rng.integers(1, 6, len(cell)).astype(np.float64)
            df = pl.DataFrame({
                "year": np.full(len(cell), year, np.int32), "geo_level": "commune", "geo_code": communes[c],
                "sector_level": "a88", "sector_code": divisions[d], "sex": np.array(["F", "M"])[s],
                "age_band": np.array(AGES)[a], "etablissements_employeurs": units,
                "effectifs_salaries": units * rng.integers(1, 40, len(cell)),
            })  # fmt: skip
            load_id = wh.next_id("loads", "load_id")
            rel, n = wh.write_part("urssaf", "etablissements", year, load_id, df)
            rows += n
            wh.record_load(
                {"load_id": load_id, "source": "urssaf", "plugin_version": "bench", "file_name": f"synthetique-{year}",
                 "file_size": 0, "sha256": f"bench-{density}-{year}", "rows_read": n, "rows_kept": n, "rows_skipped": 0,
                 "rows_rejected": 0, "rows_merged": 0, "geo_level": "commune",
                 "coverage": sorted(geography.DEPARTEMENTS_OCCITANIE), "prst_version": __version__, "created_at": _now()},
                [{"source": "urssaf", "table_name": "etablissements", "year": year, "path": rel, "n_rows": n}],
            )  # fmt: skip
    (folder / "done").write_text(str(rows))
    print(f"built {rows:,} fact rows ({len(communes)} communes × {len(divisions)} divisions × 2 × {len(AGES)} × "
          f"{len(YEARS)} years, density {density:g}) in {time.perf_counter() - t:.1f} s")  # fmt: skip
    return folder


def check(wh: Path, floor_out: Path) -> str:
    """Row counts and grand totals of both outputs."""
    import polars as pl

    prst = pl.scan_parquet(str(wh / "aggregates" / "**" / "*.parquet"))
    floor = pl.scan_parquet(floor_out)
    total = (
        (pl.col("geo_level") == "region") & (pl.col("sector_level") == "ensemble") & (pl.col("sex") == "_T") & (pl.col("age_band") == "_T")
    )  # fmt: skip
    a = prst.select(pl.len(), pl.col("effectifs_salaries").filter(total).sum()).collect().row(0)
    b = floor.select(pl.len(), pl.col("effectifs_salaries").filter(total).sum()).collect().row(0)
    same = "identical" if a == b else "DIFFERENT"
    return f"cells: prst {a[0]:,}, floor {b[0]:,}; regional total of employees: prst {a[1]:,.0f}, floor {b[1]:,.0f} ({same})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--density", type=float, default=0.18)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    folder = build(args.density)
    facts = str(folder / "warehouse/facts/current/urssaf/etablissements/*/*.parquet")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    prst_t, prst_m, floor_t, floor_m = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            wh = Path(tmp) / f"wh-{i}"
            shutil.copytree(folder / "warehouse", wh)
            out = Path(tmp) / f"floor-{i}.parquet"
            w, m = run([sys.executable, "-c", FLOOR, facts, str(folder / "maps"), str(out)], env)
            floor_t.append(w), floor_m.append(m)
            w, m = run([sys.executable, "-m", "prst_etl", "aggregate", "-w", str(wh)], env)
            prst_t.append(w), prst_m.append(m)
            print(f"round {i + 1}: floor {floor_t[-1]:.1f} s / {floor_m[-1]:,.0f} MiB; prst aggregate {prst_t[-1]:.1f} s / {prst_m[-1]:,.0f} MiB")
            if i == 0:
                print("  " + check(wh, out))
            if i:
                shutil.rmtree(Path(tmp) / f"wh-{i - 1}", ignore_errors=True)
    ft, pt = statistics.median(floor_t), statistics.median(prst_t)
    fm, pm = max(floor_m), max(prst_m)
    print(f"median wall: floor {ft:.1f} s, prst {pt:.1f} s → {pt / ft:.2f}× (target ≤ 2×)")
    print(f"peak memory: floor {fm:,.0f} MiB, prst {pm:,.0f} MiB (target < 6 GiB = 6,144 MiB)")


if __name__ == "__main__":
    main()
