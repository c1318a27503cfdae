"""What the secrecy pattern of a warehouse costs: cells and share of value hidden by primary and by
secondary suppression, per measure family, and the headline cells hidden.

    PYTHONPATH=src python benchmarks/bench_secrecy_cost.py /tmp/demo          # prst demo --warehouse /tmp/demo
    PYTHONPATH=src python benchmarks/bench_secrecy_cost.py benchmarks/out/wh-carsat-mp_200000

Published cells are those a secret export may hold (every published level, the published sector
levels, the source's own age bands); the value of a family is summed over all of them (every
level counts, as in τ-Argus' « % of the table's value »). Headline cells: all sectors × both
sexes × all ages (every source dimension « _T ») of the région, each département and each zone
d'emploi. Targets (issue #12): 0 headline cell hidden as secondary; secondary under 2 % of the
value. Also prints the time and peak memory of the pattern computation.
"""

from __future__ import annotations

import argparse
import resource
import time

FAMILIES = {
    "salariés": ("salaries", "trajet_salaries", "mp_salaries", "effectifs_salaries", "msa_salaries"),
    "heures": ("heures_travaillees", "trajet_heures_travaillees", "mp_heures_travaillees", "msa_heures_travaillees"),
    "établissements": ("etablissements", "trajet_etablissements", "mp_etablissements", "etablissements_employeurs"),
    "AT": ("at_1er_reglement", "msa_at"),
    "trajet": ("trajet_1er_reglement", "msa_trajet"),
    "MP": ("mp_1er_reglement", "msa_mp"),
}
HEADLINE_LEVELS = ("region", "departement", "zone-emploi")


def cost_table(wh_path: str, pattern_file: str | None = None, zero_rule: str | None = None) -> tuple[list[dict], float, float]:
    import dataclasses

    import polars as pl

    from prst_etl.model.codes import TOTAL
    from prst_etl.pipeline import secret as S
    from prst_etl.warehouse import open_warehouse

    if zero_rule:
        cfg = dataclasses.replace(S.config(), zero_rule=zero_rule)
        S.config = lambda: cfg  # type: ignore[assignment]
    t0 = time.perf_counter()
    with open_warehouse(wh_path) as wh:
        problems, extras = S.secret_problems(wh, None)
        pattern = pl.read_parquet(pattern_file) if pattern_file else S.compute_secret_pattern(wh, None)[0]
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cfg = S.config()
    keys = ["year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band"]
    cells = []
    for pb in problems:
        for code, m in (pb.parts or {TOTAL: pb.measure}).items():
            c = pb.cells.filter(pl.col("_part") == code) if pb.parts else pb.cells
            c = c.filter(S.in_level(c, cfg))
            others = [d for d in pb.dims if d not in keys and d != "_part"]
            head = pl.col("geo_level").is_in(list(HEADLINE_LEVELS)) & (pl.col("sector_level") == "ensemble")
            for d in ["sex", "age_band", *others]:
                head &= pl.col(d) == TOTAL
            cells.append(c.select(*keys, *others, "value", head.alias("headline"), pl.lit(pb.source).alias("source"), pl.lit(m).alias("indicator")))
    allc = pl.concat(cells, how="diagonal_relaxed").with_columns([pl.col(e).fill_null(TOTAL) for e in extras if e in pl.concat(cells, how="diagonal_relaxed").columns])
    on = [c for c in ["source", "indicator", *keys, *extras] if c in allc.columns and c in pattern.columns]
    joined = allc.join(pattern.select(*on, "secret"), on=on, how="left", nulls_equal=True)
    rows = []
    for fam, measures in [*FAMILIES.items(), ("toutes mesures (cellules)", None)]:
        f = joined if measures is None else joined.filter(pl.col("indicator").is_in(list(measures)))
        if not f.height:
            continue
        tot = f["value"].sum() or 1.0
        p1 = f.filter(pl.col("secret") == "secret")
        p2 = f.filter(pl.col("secret") == "secret-secondaire")
        h = f.filter(pl.col("headline"))
        rows.append({
            "family": fam, "cells": f.height,
            "primary": p1.height, "primary %": 100 * (p1["value"].sum() or 0) / tot if measures else None,
            "secondary": p2.height, "secondary %": 100 * (p2["value"].sum() or 0) / tot if measures else None,
            "headline": h.height,
            "headline primary": h.filter(pl.col("secret") == "secret").height,
            "headline secondary": h.filter(pl.col("secret") == "secret-secondaire").height,
        })  # fmt: skip
    return rows, wall, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("warehouse")
    ap.add_argument("--pattern", help="a pattern file to report on instead of computing it (e.g. an older version's)")
    ap.add_argument("--zero-rule", choices=["population", "publish"], help="override schemas/secret.toml")
    args = ap.parse_args()
    rows, wall, peak = cost_table(args.warehouse, args.pattern, args.zero_rule)
    print(f"warehouse {args.warehouse}: pattern in {wall:.1f} s, peak RSS {peak:.0f} MiB")
    print(f"{'famille':26} {'cases':>9} {'primaires':>10} {'% valeur':>8} {'secondaires':>11} {'% valeur':>8} {'titres':>7} {'dont prim.':>10} {'dont sec.':>9}")
    for r in rows:
        pct = lambda v: f"{v:8.2f}" if v is not None else f"{'':8}"  # noqa: E731
        print(f"{r['family']:26} {r['cells']:9d} {r['primary']:10d} {pct(r['primary %'])} {r['secondary']:11d} {pct(r['secondary %'])} "
              f"{r['headline']:7d} {r['headline primary']:10d} {r['headline secondary']:9d}")


if __name__ == "__main__":
    main()
