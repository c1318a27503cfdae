"""Benchmark: a national-size release written by ``prst publish``'s writer, read back by DuckDB.

The release: every commune of France (34 969, COG 2025, ``benchmarks/data/``) × the 88 divisions
of the NAF (A88) × 2 sexes × 6 age bands × 3 years, sparse (``--density``, default 0.18: ~20
million cells of ~111 million, the density of ``bench_aggregate.py``), one count per cell
(salaried employees), generated. Published as prst publishes: long rows (the columns of
``prst export``), the communes as given and their roll-ups to département, région and France
(A88 and all sectors, each sex and both, each age band and all ages), one Parquet file per
level and year under ``data/geo_level=…/year=…/part-0.parquet``, sorted on the key, with
statistics and page indexes, then ``datapackage.json`` and ``manifest.json`` — by the functions
``prst publish`` calls (:func:`prst_etl.publish.release.write_partitions`,
:func:`prst_etl.publish.datapackage.descriptor`).

What is not measured here, and why: the statistical secrecy (a national suppression problem is
the engine's own benchmark, ``bench_secrecy.py``) and the aggregation through the warehouse
(``bench_aggregate.py``: prst's reference geography is Occitanie's, so national communes cannot
go through ``prst aggregate``). The roll-ups are computed by polars in the same process.

Then a fresh DuckDB process reads the release back: (1) the total per level and year over
every file (the whole release), (2) one département's communes, one year, one sector (the
partitions and the statistics let it skip the rest), (3) the same through ``pyarrow.dataset``.
The script checks the totals against the generated cells.

Each step runs in its own process; the script reports its wall time and peak memory (max RSS).

    python benchmarks/bench_release.py [--density 0.18] [--keep]

POSIX only (per-process peak memory from ``os.wait4``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from _measure import run

ROOT = Path(__file__).resolve().parents[1]
COMMUNES = ROOT / "benchmarks/data/communes-france-cog2025.csv.gz"

PUBLISH = r'''
import json, sys, time
from pathlib import Path
import numpy as np
import polars as pl
from prst_etl.publish.release import write_partitions, _json, _sha256, INDICATORS, MANIFEST, DATAPACKAGE
from prst_etl.publish.datapackage import descriptor
from prst_etl.reference import sectors

communes_csv, out, density, stats = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
YEARS, AGES = (2021, 2022, 2023), ("Y_LT20", "Y20T29", "Y30T39", "Y40T49", "Y50T59", "Y_GE60")
t0 = time.perf_counter()
com = pl.read_csv(communes_csv, infer_schema=False).with_row_index("c", 0)
divisions = sectors.labels().filter(pl.col("sector_level") == "a88").sort("sector_code").with_row_index("d", 0)
n_com, n_div = com.height, divisions.height
rng = np.random.default_rng(2024)
grid = n_com * n_div * 2 * len(AGES)
geo = com.select("c", pl.col("code").alias("geo_code"), pl.col("nom").alias("geo_label"), "departement", "region")
div = divisions.select("d", "sector_code", "sector_label")
TAIL = dict(indicator=pl.lit("effectifs_salaries"), status=pl.lit(None, pl.String), ci_low=pl.lit(None, pl.Float64),
            ci_high=pl.lit(None, pl.Float64), coverage=pl.lit("complet"), sources=pl.lit("synthetique"))
extras = []
cells = total = 0
gen = 0.0


def frames():
    global cells, total, gen
    for year in YEARS:
        t = time.perf_counter()
        # Cells as integer codes (commune, division, sex, age band); text only when written
        cell = np.flatnonzero(rng.random(grid) < density).astype(np.int64)
        c, rest = np.divmod(cell, n_div * 2 * len(AGES))
        d, rest = np.divmod(rest, 2 * len(AGES))
        s, a = np.divmod(rest, len(AGES))
        del cell, rest
        codes = pl.DataFrame({"c": c.astype(np.uint32), "d": d.astype(np.uint32), "s": s.astype(np.uint8), "a": a.astype(np.uint8),
                              "value": rng.integers(1, 40, len(c)).astype(np.float64)})  # fmt: skip
        del c, d, s, a
        cells += codes.height
        total += float(codes["value"].sum())
        named = codes.with_columns(
            sex=pl.col("s").replace_strict({0: "F", 1: "M"}, return_dtype=pl.String),
            age_band=pl.col("a").replace_strict(dict(enumerate(AGES)), return_dtype=pl.String),
        )
        gen += time.perf_counter() - t
        commune = named.join(geo, on="c").join(div, on="d").select(
            "geo_code", "geo_label", pl.lit("a88").alias("sector_level"), "sector_code", "sector_label", "sex", "age_band", "value",
            pl.lit(year, pl.Int32).alias("year"), **TAIL,
        )  # fmt: skip
        yield "commune", commune
        del commune
        # Roll-ups: département, région, France; A88 and all sectors; each sex and both; each band and all ages
        up = named.join(geo.select("c", "departement", "region"), on="c")
        for level, key in (("departement", "departement"), ("region", "region"), ("france", None)):
            g = up.with_columns((pl.col(key) if key else pl.lit("FR")).alias("geo_code"))
            parts = []
            for sector in (True, False):
                for sex in (True, False):
                    for age in (True, False):
                        keys = ["geo_code"] + (["d"] if sector else []) + (["sex"] if sex else []) + (["age_band"] if age else [])
                        p = g.group_by(keys).agg(pl.col("value").sum())
                        p = p.join(div, on="d") if sector else p.with_columns(sector_code=pl.lit("_T"), sector_label=pl.lit("Ensemble des secteurs"))
                        p = p.with_columns(sector_level=pl.lit("a88" if sector else "ensemble"))
                        if not sex:
                            p = p.with_columns(sex=pl.lit("_T"))
                        if not age:
                            p = p.with_columns(age_band=pl.lit("_T"))
                        parts.append(p.drop("d", strict=False))
            df = pl.concat(parts, how="diagonal").with_columns(geo_label=pl.col("geo_code"), year=pl.lit(year, pl.Int32), **TAIL)
            yield level, df
        del up, named, codes


t = time.perf_counter()
files = write_partitions(frames(), out, extras)
write = time.perf_counter() - t - gen
cols = [(c, "number" if c in ("value", "ci_low", "ci_high") else "string") for c in
        ["geo_code", "geo_label", "sector_level", "sector_code", "sector_label", "sex", "age_band", "indicator", "value", "status",
         "ci_low", "ci_high", "coverage", "sources"]]
pl.DataFrame({"indicator": ["effectifs_salaries"], "label": ["Effectifs salariés"]}).write_csv(out / INDICATORS)
release = {"name": "benchmark-national", "created_at": "2025-01-01T00:00:00Z", "note": None}
dp = descriptor(release=release, files=files, columns=cols, key=["geo_code", "sector_level", "sector_code", "sex", "age_band", "indicator"],
                providers=["synthétique"], licence="etalab-2.0", indicators_path=INDICATORS,
                indicator_columns=[("indicator", "string"), ("label", "string")], n_indicators=1)
(out / DATAPACKAGE).write_bytes(_json(dp))
(out / MANIFEST).write_bytes(_json({"release": release, "files": files, "rows": sum(f["rows"] for f in files)}))
stats.write_text(json.dumps({"cells": cells, "total": total, "rows": sum(f["rows"] for f in files), "files": len(files),
                             "bytes": sum(f["bytes"] for f in files), "generate_s": gen, "write_s": write,
                             "commune_rows": sum(f["rows"] for f in files if f["geo_level"] == "commune")}))
'''

READ = r'''
import json, sys, time
from pathlib import Path
import duckdb
out, stats = Path(sys.argv[1]), Path(sys.argv[2])
con = duckdb.connect()
src = f"read_parquet('{out}/data/**/*.parquet', hive_partitioning = true)"
res = {}
t = time.perf_counter()
res["totals"] = con.sql(f"SELECT geo_level, year, count(*) AS n, sum(value) AS total FROM {src} "
                        "WHERE sector_level = 'a88' AND sex <> '_T' AND age_band <> '_T' GROUP BY ALL ORDER BY ALL").fetchall()
res["scan_s"] = time.perf_counter() - t
t = time.perf_counter()
res["one_departement"] = con.sql(f"SELECT count(*), sum(value) FROM {src} WHERE geo_level = 'commune' AND year = 2023 "
                                 "AND geo_code >= '31000' AND geo_code < '32000' AND sector_code = '86'").fetchall()
res["filter_s"] = time.perf_counter() - t
import pyarrow.dataset as ds
t = time.perf_counter()
d = ds.dataset(out / "data", format="parquet", partitioning="hive")
res["arrow_rows"] = d.count_rows(filter=(ds.field("geo_level") == "departement") & (ds.field("year") == 2022))
res["arrow_s"] = time.perf_counter() - t
stats.write_text(json.dumps(res, default=str))
'''


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--density", type=float, default=0.18)
    ap.add_argument("--keep", action="store_true", help="keep the release (benchmarks/out/publish-national)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    tmp = Path(tempfile.mkdtemp(prefix="prst-bench-publish-"))
    out = ROOT / "benchmarks/out/publish-national" if args.keep else tmp / "release"
    shutil.rmtree(out, ignore_errors=True)
    try:
        w1, m1 = run([sys.executable, "-c", PUBLISH, str(COMMUNES), str(out), str(args.density), str(tmp / "publish.json")], env)
        p = json.loads((tmp / "publish.json").read_text())
        print(f"publish: {p['cells']:,} cells generated ({p['generate_s']:.1f} s) → {p['rows']:,} published rows "
              f"({p['commune_rows']:,} at commune level), {p['files']} files, {p['bytes'] / 2**20:,.0f} MiB; "
              f"writing {p['write_s']:.1f} s; process {w1:.1f} s, peak memory {m1:,.0f} MiB")  # fmt: skip
        w2, m2 = run([sys.executable, "-c", READ, str(out), str(tmp / "read.json")], env)
        r = json.loads((tmp / "read.json").read_text())
        communes = [row for row in r["totals"] if row[0] == "commune"]
        got = sum(row[3] for row in communes)
        same = "identical" if abs(got - p["total"]) < 1e-6 * p["total"] and sum(row[2] for row in communes) == p["cells"] else "DIFFERENT"
        levels = {row[0] for row in r["totals"]}
        for lvl in sorted(levels):
            by = [row for row in r["totals"] if row[0] == lvl]
            if lvl != "commune" and abs(sum(row[3] for row in by) - p["total"]) > 1e-6 * p["total"]:
                same = "DIFFERENT"
        print(f"DuckDB read-back: every file {r['scan_s']:.1f} s (totals per level and year: {same} to the generated cells); "
              f"one département's communes × one sector × one year {r['filter_s'] * 1000:.0f} ms "
              f"({r['one_departement'][0][0]:,} rows); pyarrow.dataset count of one level × year {r['arrow_s'] * 1000:.0f} ms "
              f"({r['arrow_rows']:,} rows); process {w2:.1f} s, peak memory {m2:,.0f} MiB")  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
