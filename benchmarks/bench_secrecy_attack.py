"""The outsider's attack, fuller than the test: more cells sampled, every count of the AT table.

    PYTHONPATH=src python benchmarks/bench_secrecy_attack.py [--rows 400] [--sample 40]

Builds a commune-level Carsat file (départements 09 and 32), exports it under secrecy at every
published level, then, per group of linked measures, solves the attacker's linear programs
(:mod:`prst_etl.testing.outsider`) for sampled hidden cells and prints how many keep their
protection (primary: the whole interval; secondary: not recovered exactly).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

GROUPS = [
    ["at_1er_reglement", "at_risque"], ["at_ip", "at_ip_lt10", "at_ip_ge10"], ["salaries"], ["heures_travaillees"],
    ["etablissements"], ["at_4j_plus"], ["at_deces"], ["at_journees_it"], ["at_somme_taux_ip", "at_somme_taux_ip_lt10"],
]


def main() -> None:
    import polars as pl

    from conftest import NATIONAL, Cli
    from prst_etl.pipeline.export import frame_as_of
    from prst_etl.testing import outsider, samples

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--sample", type=int, default=40)
    args = ap.parse_args()
    cli = Cli()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        nat = samples.read_national(NATIONAL)
        df = samples.spread_over_communes(nat, "carsat-mp", seed=8, old_codes=False)
        df = df.filter(pl.col("Code commune").str.slice(0, 2).is_in(["09", "32"])).head(args.rows)
        path = samples.write_workbook(df, tmp / "at.xlsx", year=2024)
        wh = tmp / "warehouse"
        assert cli("ingest", "carsat-mp", path, "-w", wh).exit_code == 0
        pub = []
        for level in ("region", "departement", "zone-emploi"):
            r = cli("export", "-l", level, "-w", wh, "-o", tmp / f"{level}.parquet", "--secret")
            assert r.exit_code == 0, r.stderr
            pub.append(pl.read_parquet(tmp / f"{level}.parquet"))
        truth = [frame_as_of(wh, level, None, None, None)[0] for level in ("region", "departement", "zone-emploi", "commune")]
        pubc, truthc = outsider.published_counts(pub), outsider.published_counts(truth)
        for measures in GROUPS:
            t = time.perf_counter()
            cells, dims, hs, status = outsider.linked_program(pubc, truthc, measures, 2024)
            if not status.is_in(["secret", "secret-secondaire"]).any():
                print(f"{'+'.join(measures):40} nothing hidden")
                continue
            r = outsider.attack(cells, dims, hs, status, sample=args.sample)
            p = r.filter(pl.col("status") == "secret")
            s = r.filter(pl.col("status") == "secret-secondaire")
            print(f"{'+'.join(measures):40} primary {p['ok'].sum()}/{p.height} keep their interval, secondary "
                  f"{s['ok'].sum()}/{s.height} not exact ({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
