"""A small demo-like warehouse for the publication tests and benchmarks: every kind of territory
(région, départements, zones d'emploi, SPSTI), two years of Carsat data (commune level for
Midi-Pyrénées, département level by sex and age for Languedoc-Roussillon), the national AT file
(France comparisons), IODA inaptitudes, DARES agreements and MCP — on a sample of the national
rows so that aggregation and secrecy take seconds, not minutes."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from prst_etl.testing import samples


def build(root: Path, national_xlsx: Path, *, rows: int = 160, seed: int = 4, france: bool = True, csv: bool = False) -> Path:
    """``csv``: the Carsat files as CSV rather than workbooks (the same rows; written and read faster)."""
    from prst_etl.demo import data_dir
    from prst_etl.pipeline.aggregate import aggregate
    from prst_etl.pipeline.ingest import ingest

    files = root.parent / f"{root.name}-files"
    files.mkdir(parents=True, exist_ok=True)
    nat = samples.read_national(national_xlsx)
    nat = nat.filter(pl.col("AT en 1er règlement") > 20).sample(n=min(rows, nat.height), seed=seed).sort(nat.columns[:3])
    mp = samples.spread_over_communes(nat, "carsat-mp", seed=2024, old_codes=False)
    lr = samples.to_departements(samples.split_sex_age(samples.spread_over_communes(nat, "carsat-lr", seed=5, old_codes=False)))
    plan = [("spsti-perimetres", data_dir() / "spsti-perimetres_2024.csv")] + ([("ameli-at", national_xlsx)] if france else [])
    for year, factor in ((2023, 0.96), (2024, 1.0)):
        m = mp if year == 2024 else samples.other_year(mp, employees=0.99, events=factor, seed=year)
        lrx = lr if year == 2024 else samples.other_year(lr, employees=0.99, events=factor, seed=year)
        write = samples.write_csv if csv else samples.write_workbook
        ext = "csv" if csv else "xlsx"
        plan.append(("carsat-mp", write(m, files / f"carsat-mp_{year}.{ext}", year=year)))
        plan.append(("carsat-lr", write(lrx, files / f"carsat-lr_{year}.{ext}", year=year)))
    for source, name in (("ioda", "ioda_2024_inaptitudes.xlsx"), ("dares-accords", "dares-accords_occitanie_2021-2023.xlsx"),
                         ("spf-mcp", "spf-mcp_2021-2023_occitanie.xlsx")):  # fmt: skip
        plan.append((source, data_dir() / name))
    for source, path in plan:
        report = ingest(source, path, warehouse=root)
        if not report.valid:
            raise RuntimeError(f"{source} {path.name}: {report.issues[:3]}")
    aggregate(root)
    return root
