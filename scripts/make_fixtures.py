"""Build the sample files shipped with prst (demo data and test fixtures).

Run from the repository root (needs the test extra, for xlsxwriter):

    python scripts/make_fixtures.py

Inputs: the real national AT workbook of the Assurance Maladie, shipped under
``tests/fixtures/sources/ameli-at/`` (see its PROVENANCE.md). Outputs are
deterministic (fixed seeds): running the script twice gives the same files
(except for the zip timestamps xlsxwriter writes, which it pins here).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import polars as pl

from prst_etl import samples

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixtures_health  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "tests/fixtures/sources/ameli-at/2024-stat-nationales-at-ctn-naf.xlsx"
DEMO = ROOT / "src/prst_etl/demo/data"
FIX = ROOT / "tests/fixtures/sources"


def main() -> None:
    nat = samples.read_national(NATIONAL)
    DEMO.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(NATIONAL, DEMO / NATIONAL.name)

    # Demo: Carsat Midi-Pyrénées at commune level (old commune codes included),
    # Carsat Languedoc-Roussillon at département level by sex and age band.
    mp = samples.spread_over_communes(nat, "carsat-mp", seed=2024)
    samples.write_workbook(mp, DEMO / "carsat-mp_2024_communes.xlsx", year=2024)
    lr = samples.to_departements(samples.split_sex_age(samples.spread_over_communes(nat, "carsat-lr", seed=5)))
    lr = lr.filter(pl.col("Nombre de salariés") >= 3)
    samples.write_workbook(lr, DEMO / "carsat-lr_2024_departements_sexe_age.xlsx", year=2024)

    # Test fixtures: small, named after what they show
    small = samples.spread_over_communes(nat, "carsat-mp", seed=11).filter(pl.col("AT en 1er règlement") > 0).head(60)
    samples.write_workbook(small, FIX / "carsat-mp/communes-2024-extrait.xlsx", year=2024)
    samples.write_csv(small, FIX / "carsat-mp/latin1-point-virgule.csv", year=2024, encoding="cp1252")
    samples.write_csv(small, FIX / "carsat-mp/utf8-bom.csv", year=2024, encoding="utf-8", bom=True)
    deps = samples.to_departements(small)
    samples.write_workbook(deps, FIX / "carsat-mp/departements-2024.xlsx", year=2024)
    whole = (FIX / "carsat-mp/communes-2024-extrait.xlsx").read_bytes()
    (FIX / "carsat-mp/tronque.xlsx").write_bytes(whole[: len(whole) // 2])
    (FIX / "carsat-mp/pas-un-classeur.xlsx").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    (FIX / "carsat-mp/vide.xlsx").write_bytes(b"")

    # Occupational-health sources (fictitious samples) and the broken copies of the conformance suite
    fixtures_health.main(nat, FIX, DEMO)
    print("demo:", sorted(p.name for p in DEMO.iterdir()))
    print("fixtures:", sorted(str(p.relative_to(FIX)) for p in FIX.rglob("*") if p.is_file()))


if __name__ == "__main__":
    main()
