"""Benchmark of the secrecy engine on a synthetic regional-size table.

    PYTHONPATH=src python benchmarks/bench_secrecy.py            # every scenario
    PYTHONPATH=src python benchmarks/bench_secrecy.py --only A-true

The table: ~4 450 communes in 13 départements, 27 zones d'emploi crossing the
départements, 15 overlapping SPSTI perimeters (some communes in none), the
région; × A38 + total × sex (F, M, total) × 6 age bands + total ≈ 3.7 million
cells, values from ~190 000 simulated establishments (skewed sizes), so unit
counts and largest contributors are consistent at every level. Primary rules:
Insee/URSSAF defaults (fewer than 3 establishments; largest above 85 %).

Scenarios (each in its own process, so that peak memory is its own):

- A-*: every geographic level published, communes included (the brief's case),
  with ``protect_secondary`` True (default), "exact" and False;
- B-*: the commune level only carries the equations (``unpublished``): the
  observatory's export by région, département, zone and perimeter.

Prints, per scenario: cells, primary hidden (count, % of the published value),
secondary hidden (count, % of value), wall time of ``secondary_suppression``
(including its checks), peak resident memory of the process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

SCENARIOS = {
    "A-true": ("all", True),
    "A-exact": ("all", "exact"),
    "A-false": ("all", False),
    "B-true": ("unpublished", True),
    "B-false": ("unpublished", False),
}
CACHE = Path(__file__).resolve().parent / "out" / "secrecy_table.parquet"


def build_table(seed: int = 0):
    import polars as pl

    from prst_etl.secrecy import Hierarchy, load_rules, primary_suppression
    from prst_etl.testing import synthetic as syn

    geo = syn.regional_geography(seed)
    hs: list[Hierarchy] = geo.hierarchies + syn.sector_hierarchies() + [syn.sex_hierarchy()] + syn.age_hierarchies()
    if CACHE.exists():
        cells = pl.read_parquet(CACHE)
    else:
        cells = syn.establishment_table(geo, seed=seed)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        cells.write_parquet(CACHE)
    rules = load_rules({})  # Insee/URSSAF defaults: min_units 3, dominance (1, 85)
    primary = primary_suppression(cells, rules, top_contributors=["top1", "top2"])
    return cells, hs, primary


def run(name: str) -> dict:
    import numpy as np

    from prst_etl.secrecy import secondary_suppression

    level, mode = SCENARIOS[name]
    cells, hs, primary = build_table()
    dims = ["geo_code", "sector_code", "sex", "age_band"]
    unpublished = None
    if level == "unpublished":
        unpublished = cells["geo_code"].str.len_chars() == 5
        primary = primary & ~unpublished
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = secondary_suppression(cells, dims, hs, primary, unpublished=unpublished, protect_secondary=mode)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    x = cells["value"].to_numpy()
    pub = np.ones(len(x), bool) if unpublished is None else ~unpublished.to_numpy()
    s1 = (status == "secret").fill_null(False).to_numpy()
    s2 = (status == "secret-secondaire").fill_null(False).to_numpy()
    tot = x[pub].sum()
    region = (cells["geo_code"] == "76").to_numpy()
    return {
        "scenario": name,
        "published cells": int(pub.sum()),
        "cells in table": int(len(x)),
        "primary": int(s1.sum()),
        "primary % value": round(100 * x[s1].sum() / tot, 2),
        "secondary": int(s2.sum()),
        "secondary % value": round(100 * x[s2].sum() / tot, 2),
        "region cells hidden": f"{int((region & (s1 | s2)).sum())}/{int(region.sum())}",
        "grand total hidden": bool(
            ((s1 | s2) & region & (cells["sector_code"] == "_T").to_numpy() & (cells["sex"] == "_T").to_numpy()
             & (cells["age_band"] == "_T").to_numpy()).any()
        ),
        "wall s": round(wall, 1),
        "peak RSS MiB": round(peak / 1024, 0),
        "RSS before MiB": round(rss_before / 1024, 0),
        "warnings": [str(w.message)[:160] for w in caught],
        "cores": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=list(SCENARIOS), action="append")
    ap.add_argument("--child", choices=list(SCENARIOS))
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run(args.child)))
        return
    build_table()  # generate and cache the table once
    rows = []
    for name in args.only or list(SCENARIOS):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name], capture_output=True, text=True, env=os.environ, check=True
        )
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(
            f"{row['scenario']:8} cells {row['published cells']:>9,} published of {row['cells in table']:,} | "
            f"primary {row['primary']:>8,} ({row['primary % value']:5.2f} % of value) | "
            f"secondary {row['secondary']:>8,} ({row['secondary % value']:5.2f} % of value) | "
            f"région {row['region cells hidden']:>7} (grand total {'hidden' if row['grand total hidden'] else 'published'}) | "
            f"{row['wall s']:6.1f} s | peak RSS {row['peak RSS MiB']:,.0f} MiB (table loaded: {row['RSS before MiB']:,.0f})",
            flush=True,
        )
        for w in row["warnings"]:
            print(f"           warning: {w}")


if __name__ == "__main__":
    main()
