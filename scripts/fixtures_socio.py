"""Sample files of the socio-economic sources (Insee census, Insee estimates, URSSAF, DARES).

Called by ``scripts/make_fixtures.py`` (or run alone from the repository root:
``python scripts/fixtures_socio.py``). Everything is deterministic (fixed seeds and
fixed workbook timestamps). The census, URSSAF and DARES files are **fictitious**:
plausible orders of magnitude for real Occitanie communes and départements, drawn
at random. The Insee estimates sample is the **real** Insee workbook, copied; only
its broken copy is derived (a small .xlsx in the same layout, with defects).
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests/fixtures/sources"
DEMO = ROOT / "src/prst_etl/demo/data"

# --------------------------------------------------------------------------------------
# insee-rp: census detailed table (CSV « ; », NB with decimals)
# --------------------------------------------------------------------------------------
# Communes (COG code as the file writes it, name, approximate population). 09112 and 09191
# merged into Dun (09107) since: a file in an older COG vintage lists them apart. 13001 and
# 64445 are outside Occitanie (the Insee file is national): prst skips and counts them.
RP_COMMUNES = [
    ("31555", "Toulouse", 504_000),
    ("31069", "Blagnac", 25_500),
    ("31395", "Muret", 26_000),
    ("31483", "Saint-Gaudens", 11_300),
    ("31433", "Portet-sur-Garonne", 10_300),
    ("34172", "Montpellier", 302_000),
    ("34032", "Béziers", 80_000),
    ("34154", "Mauguio", 17_600),
    ("9122", "Foix", 9_600),  # leading zero lost (the file went through a spreadsheet)
    ("09225", "Pamiers", 15_700),
    ("09107", "Dun", 420),
    ("09112", "Engraviès", 120),
    ("09191", "Pradettes", 45),
    ("48095", "Mende", 12_100),
    ("48080", "Langogne", 2_900),
    ("12202", "Rodez", 25_000),
    ("12145", "Millau", 22_000),
    ("13001", "Aix-en-Provence", 147_000),
    ("64445", "Pau", 76_000),
]
RP_AGES = ["00", "05", "10", "15", "20", "25", "30", "35", "40", "45", "50", "55", "60", "65", "70", "75", "80"]
RP_AGE_SHARE = np.array([5.2, 5.8, 6.1, 6.0, 5.7, 5.8, 6.2, 6.3, 6.2, 6.6, 6.7, 6.6, 6.3, 5.9, 5.6, 4.0, 5.0])
# Activity by age band: TACT code → share (11 = employed, split by EMPL below)
RP_TACT = {
    "00": {"23": 1.0},
    "05": {"23": 1.0},
    "10": {"23": 0.8, "22": 0.2},
    "15": {"22": 0.84, "11": 0.11, "12": 0.04, "25": 0.01},
    "20": {"11": 0.50, "12": 0.12, "22": 0.33, "25": 0.05},
    "55": {"11": 0.72, "12": 0.06, "21": 0.10, "25": 0.12},
    "60": {"11": 0.38, "12": 0.04, "21": 0.50, "25": 0.08},
    "65": {"11": 0.07, "21": 0.90, "25": 0.03},
    "70": {"11": 0.02, "21": 0.95, "24": 0.01, "25": 0.02},
}
RP_TACT_ADULT = {"11": 0.83, "12": 0.08, "24": 0.03, "25": 0.06}
RP_EMPL = {"11": 0.01, "12": 0.025, "13": 0.01, "14": 0.005, "15": 0.09, "16": 0.72, "21": 0.09, "22": 0.045, "23": 0.005}
RP_EMPL_YOUNG = {"11": 0.25, "12": 0.06, "13": 0.03, "14": 0.06, "15": 0.30, "16": 0.27, "21": 0.02, "22": 0.005, "23": 0.005}


def insee_rp_table(seed: int = 2021) -> pl.DataFrame:
    """A fictitious census detailed table (commune × SEXE × AGEQ80_17 × TACT × EMPL, NB)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, str, str, str, str, str, float]] = []
    shares = RP_AGE_SHARE / RP_AGE_SHARE.sum()
    for code, name, pop in RP_COMMUNES:
        level = "COM"
        male = rng.uniform(0.47, 0.50)
        for sexe, s_share in (("1", male), ("2", 1 - male)):
            for age, a_share in zip(RP_AGES, shares):
                people = pop * s_share * a_share * rng.uniform(0.85, 1.15)
                tact = RP_TACT.get(age, RP_TACT.get("70") if int(age) >= 70 else RP_TACT_ADULT)
                for t, t_share in tact.items():
                    n = people * t_share * rng.uniform(0.9, 1.1)
                    if t == "11":
                        empl = RP_EMPL_YOUNG if age in ("15", "20") else RP_EMPL
                        cells = [(e, n * e_share * rng.uniform(0.8, 1.2)) for e, e_share in empl.items()]
                    else:
                        cells = [("ZZ", n)]
                    for e, v in cells:
                        # small communes are counted exhaustively: weights close to 1
                        v = float(np.round(v, 0)) * rng.uniform(0.97, 1.03) if pop < 10_000 else v
                        v = round(float(v), 6)
                        if v >= 0.0005:
                            rows.append((level, code, name, sexe, age, t, e, v))
    return pl.DataFrame(
        rows, schema=["NIVGEO", "CODGEO", "LIBGEO", "SEXE", "AGEQ80_17", "TACT", "EMPL", "NB"], orient="row"
    )


def write_insee_csv(df: pl.DataFrame, path: Path) -> Path:
    """Insee detailed-table CSV: ``;``, UTF-8, ``.`` decimals, codes as text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [";".join(df.columns)]
    for row in df.iter_rows():
        lines.append(";".join("" if v is None else (f"{v:.6f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)) for v in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def insee_rp_broken(df: pl.DataFrame) -> pl.DataFrame:
    """The valid table with one defect per rule (row numbers in the tests: line = index + 2)."""
    df = df.with_columns(pl.col("NB").cast(pl.String)).head(40)

    def put(d: pl.DataFrame, i: int, col: str, value: str | None) -> pl.DataFrame:
        return d.with_columns(
            pl.when(pl.int_range(pl.len()) == i).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(col)).alias(col)
        )

    df = put(df, 2, "CODGEO", "31999")  # unknown-commune (line 4)
    df = put(df, 4, "SEXE", "3")  # invalid-sex (line 6)
    df = put(df, 6, "AGEQ80_17", "85")  # invalid-age-band (line 8)
    df = put(df, 8, "TACT", "13")  # invalid-code (line 10)
    df = put(df, 10, "NB", "douze")  # non-numeric-count (line 12)
    df = put(df, 12, "NB", "-1.5")  # negative-count (line 14)
    df = put(df, 14, "NB", None)  # missing-value (line 16)
    df = put(df, 16, "NIVGEO", "DEP")  # invalid-code (line 18)
    # inconsistent-values (line 20): a job status for someone without a job
    i = df.with_row_index().filter(pl.col("EMPL") == "ZZ")["index"][-1]
    df = put(df, int(i), "EMPL", "16")
    return pl.concat([df, df[20]])  # duplicate-key (lines 22 and 42)


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------
def main() -> None:
    rp = insee_rp_table()
    write_insee_csv(rp, FIX / "insee-rp/exemple.csv")
    write_insee_csv(insee_rp_broken(rp), FIX / "insee-rp/exemple-errone.csv")
    DEMO.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIX / "insee-rp/exemple.csv", DEMO / "insee-rp_td_2021_occitanie.csv")
    print("socio fixtures:", sorted(str(p.relative_to(FIX)) for d in ("insee-rp",) for p in (FIX / d).iterdir()))


if __name__ == "__main__":
    main()
