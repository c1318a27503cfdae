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
# urssaf / urssaf-taille: commune × APE, one column per year
# --------------------------------------------------------------------------------------
URSSAF_YEARS = (2021, 2022, 2023)
# (commune code as written, name, code département, département, size factor)
URSSAF_COMMUNES = [
    ("31555", "Toulouse", "31", "Haute-Garonne", 60.0),
    ("31069", "Blagnac", "31", "Haute-Garonne", 8.0),
    ("31395", "Muret", "31", "Haute-Garonne", 3.0),
    ("34172", "Montpellier", "34", "Hérault", 35.0),
    ("34032", "Béziers", "34", "Hérault", 9.0),
    ("9122", "Foix", "09", "Ariège", 1.5),  # leading zero lost
    ("09107", "Dun", "09", "Ariège", 0.1),
    ("09112", "Engraviès", "09", "Ariège", 0.05),  # merged into Dun since
    ("48095", "Mende", "48", "Lozère", 1.6),
    ("12202", "Rodez", "12", "Aveyron", 4.0),
    ("65440", "Tarbes", "65", "Hautes-Pyrénées", 4.5),
    ("66136", "Perpignan", "66", "Pyrénées-Orientales", 10.0),
    ("13055", "Marseille", "13", "Bouches-du-Rhône", 40.0),  # outside Occitanie: skipped
]
# APE code (as written), NA38 label, mean employees per establishment, establishments per size unit
URSSAF_APE = [
    ("0111Z", "AZ Agriculture, sylviculture et pêche", 2.0, 0.5),
    ("1071C", "CA Fabrication de denrées alimentaires", 5.0, 1.2),
    ("3030Z", "CL Fabrication de matériels de transport", 180.0, 0.08),
    ("41.20A", "FZ Construction", 8.0, 1.5),  # dotted code
    ("4321A", "FZ Construction", 6.0, 2.0),
    ("4332A", "FZ Construction", 4.0, 1.1),
    ("4520A", "GZ Commerce", 5.0, 1.0),
    ("4711D", "GZ Commerce", 30.0, 0.3),
    ("4773Z", "GZ Commerce", 6.0, 0.6),
    ("4941A", "HZ Transports et entreposage", 12.0, 0.4),
    ("5510Z", "IZ Hébergement et restauration", 9.0, 0.5),
    ("5610A", "IZ Hébergement et restauration", 5.0, 3.0),
    ("6201Z", "JC Activités informatiques", 20.0, 0.8),
    ("6910Z", "MA Activités juridiques, comptables, de gestion", 6.0, 1.0),
    ("7112B", "MA Activités juridiques, comptables, de gestion", 15.0, 0.6),
    ("8121Z", "NZ Activités de services administratifs et de soutien", 25.0, 0.3),
    ("8622C", "QA Activités pour la santé humaine", 3.0, 1.2),
    ("8810A", "QB Hébergement médico-social et social", 20.0, 0.3),
    ("9602A", "SZ Autres activités de services", 3.0, 1.5),
]
URSSAF_LABELS = ["Code région", "Région", "Code département", "Département", "Code commune", "Commune", "Secteur NA38", "Code APE", "APE"]
SIZE_BANDS = ["0 salarié", "1 à 9 salariés", "10 à 19 salariés", "20 à 49 salariés", "50 à 99 salariés", "100 à 249 salariés", "250 salariés ou plus"]


def _region(dep: str) -> tuple[str, str]:
    return ("76", "Occitanie") if dep != "13" else ("93", "Provence-Alpes-Côte d'Azur")


def urssaf_table(seed: int = 2023) -> pl.DataFrame:
    """Fictitious URSSAF extract: commune × APE, « Nombre d'établissements <année> », « Effectifs salariés <année> »."""
    rng = np.random.default_rng(seed)
    rows = []
    for code, name, dep, dep_name, factor in URSSAF_COMMUNES:
        reg, reg_name = _region(dep)
        for ape, na38, mean, per_unit in URSSAF_APE:
            expected = factor * per_unit
            if rng.random() > min(1.0, 0.35 + expected):  # small communes lack many activities
                continue
            etab = max(1, int(rng.poisson(max(expected, 0.3))))
            values: list[int] = []
            for i, _ in enumerate(URSSAF_YEARS):
                e = max(0, etab + int(rng.integers(-1, 2)) * (i > 0))
                eff = 0 if e == 0 else int(max(0, rng.normal(mean * e, mean * e * 0.2)))
                values += [e, eff]
            rows.append((reg, reg_name, dep, dep_name, code, name, na38, ape, f"Libellé {ape}", *values))
    cols = URSSAF_LABELS + [f"{m} {y}" for y in URSSAF_YEARS for m in ("Nombre d'établissements", "Effectifs salariés")]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    # an establishment that closed in 2023
    last = df.height - 1
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == last).then(0).otherwise(pl.col(c)).alias(c)
        for c in ("Nombre d'établissements 2023", "Effectifs salariés 2023")
    )


def write_semicolon_csv(df: pl.DataFrame, path: Path, *, title: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = df.cast({c: pl.String for c in df.columns}).write_csv(separator=";", null_value="")
    path.write_text((title + "\n" if title else "") + text, encoding="utf-8")
    return path


def _put(df: pl.DataFrame, i: int, col: str, value: str | None) -> pl.DataFrame:
    df = df.with_columns(pl.col(col).cast(pl.String))
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == i).then(pl.lit(value, dtype=pl.String)).otherwise(pl.col(col)).alias(col)
    )


def urssaf_broken(df: pl.DataFrame) -> pl.DataFrame:
    """Defects (CSV line = index + 2): see tests/test_urssaf.py."""
    df = df.head(12)
    df = _put(df, 0, "Code commune", "31999")  # unknown-commune (line 2)
    df = _put(df, 1, "Code APE", "9999Z")  # unknown-naf (line 3)
    df = _put(df, 2, "Nombre d'établissements 2022", "deux")  # non-numeric-count (line 4)
    df = _put(df, 3, "Effectifs salariés 2023", "-4")  # negative-count (line 5)
    df = _put(df, 4, "Effectifs salariés 2021", "12.5")  # non-integer-count (line 6)
    df = _put(df, 5, "Nombre d'établissements 2022", "0")  # inconsistent-values (line 7)
    df = _put(df, 5, "Effectifs salariés 2022", "7")
    df = _put(df, 6, "Effectifs salariés 2021", None)  # missing-value (line 8)
    df = _put(df, 7, "Code APE", None)  # missing-key (line 9)
    return pl.concat([df.cast({c: pl.String for c in df.columns}), df[8].cast({c: pl.String for c in df.columns})])  # duplicate-key (lines 10, 14)


def urssaf_size_table(seed: int = 2024) -> pl.DataFrame:
    """Fictitious establishments by commune × APE × size band, with « Ensemble » rows for Toulouse."""
    rng = np.random.default_rng(seed)
    base = urssaf_table()  # the same establishments as the urssaf sample, split by size
    rows = []
    for r in base.iter_rows(named=True):
        mean = r["Effectifs salariés 2023"] / max(1, r["Nombre d'établissements 2023"])
        weights = np.array([0.9, 3.0, 1.0, 0.7, 0.3, 0.15, 0.05]) * np.array([1, 1, *(min(4.0, mean / 10),) * 5])
        weights /= weights.sum()
        by_year = [rng.multinomial(r[f"Nombre d'établissements {y}"], weights) for y in URSSAF_YEARS]
        keys = [r[c] for c in URSSAF_LABELS]
        for j, band in enumerate(SIZE_BANDS):
            counts = [int(b[j]) for b in by_year]
            if sum(counts):
                rows.append((*keys, band, *counts))
        if r["Code commune"] == "31555":  # the file gives its own total for Toulouse
            rows.append((*keys, "Ensemble", *[int(b.sum()) for b in by_year]))
    cols = URSSAF_LABELS + ["Tranche d'effectif"] + [f"Nombre d'établissements {y}" for y in URSSAF_YEARS]
    return pl.DataFrame(rows, schema=cols, orient="row")


def urssaf_size_broken(df: pl.DataFrame) -> pl.DataFrame:
    """Toulouse 0111Z (size bands and the file's « Ensemble » row) then four Blagnac rows, with
    defects (sheet row = index + 3, below the title and header rows): see tests/test_urssaf.py."""
    df = df.cast({c: pl.String for c in df.columns})
    toulouse = df.filter((pl.col("Code commune") == "31555") & (pl.col("Code APE") == "0111Z"))
    blagnac = df.filter(pl.col("Code commune") == "31069").head(5)
    n = toulouse.height  # the « Ensemble » row is the last of the Toulouse rows
    total_2021 = int(toulouse["Nombre d'établissements 2021"][-1])
    df = pl.concat([toulouse, blagnac])
    df = _put(df, n - 1, "Nombre d'établissements 2021", str(total_2021 + 5))  # total-mismatch
    df = _put(df, n, "Tranche d'effectif", "Grande entreprise")  # invalid-size-band
    df = _put(df, n + 1, "Code APE", "47.11")  # unknown-naf
    df = _put(df, n + 2, "Nombre d'établissements 2022", "-2")  # negative-count
    df = _put(df, n + 3, "Code commune", None)  # missing-key
    return pl.concat([df, df[n + 4]])  # duplicate-key


def write_xlsx(df: pl.DataFrame, path: Path, *, title: str, sheet: str, year: int) -> Path:
    """A workbook as a provider writes it: a title row, the header, numbers as numbers, text as text."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": datetime(year, 6, 1), "author": "prst (fichier d'exemple)"})
    ws = wb.add_worksheet(sheet)
    ws.write_string(0, 0, title)
    start = 1
    for j, c in enumerate(df.columns):
        ws.write_string(start, j, c)
    for i, row in enumerate(df.iter_rows(), start=start + 1):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                ws.write_number(i, j, v)
            else:
                try:
                    if str(v).strip().lstrip("-").replace(".", "", 1).isdigit() and not str(v).startswith("0"):
                        ws.write_number(i, j, float(v))
                        continue
                except ValueError:
                    pass
                ws.write_string(i, j, str(v))
    wb.close()
    return path


# --------------------------------------------------------------------------------------
# dares-accords: year × département × size band × A38
# --------------------------------------------------------------------------------------
DARES_YEARS = (2021, 2022, 2023)
DARES_DEPS = [
    ("09", "Ariège", 0.4), ("11", "Aude", 0.9), ("12", "Aveyron", 0.9), ("30", "Gard", 1.7), ("31", "Haute-Garonne", 6.0),
    ("32", "Gers", 0.5), ("34", "Hérault", 3.8), ("46", "Lot", 0.4), ("48", "Lozère", 0.2), ("65", "Hautes-Pyrénées", 0.6),
    ("66", "Pyrénées-Orientales", 1.2), ("81", "Tarn", 1.0), ("82", "Tarn-et-Garonne", 0.6),
]  # fmt: skip
DARES_SIZES = [("Moins de 11 salariés", 0.6, 1.2), ("11 à 49 salariés", 1.0, 1.5), ("50 à 299 salariés", 0.7, 3.0), ("300 salariés ou plus", 0.25, 8.0)]
DARES_SECTORS = [
    ("AZ", "Agriculture, sylviculture et pêche", 0.4), ("CA", "Fabrication de denrées alimentaires, de boissons et de produits à base de tabac", 0.8),
    ("CK", "Fabrication de machines et équipements n.c.a.", 0.4), ("CL", "Fabrication de matériels de transport", 0.7),
    ("FZ", "Construction", 1.2), ("GZ", "Commerce ; réparation d'automobiles et de motocycles", 2.0),
    ("HZ", "Transports et entreposage", 0.9), ("IZ", "Hébergement et restauration", 0.7), ("JC", "Activités informatiques et services d'information", 0.8),
    ("KZ", "Activités financières et d'assurance", 1.0), ("MA", "Activités juridiques, comptables, de gestion, d'architecture, d'ingénierie", 0.9),
    ("QA", "Activités pour la santé humaine", 0.8), ("QB", "Hébergement médico-social et social et action sociale sans hébergement", 0.9),
]  # fmt: skip
DARES_COLUMNS = [
    "Année", "Département", "Libellé département", "Taille d'entreprise", "Secteur (A38)", "Libellé secteur",
    "Nombre d'accords et avenants", "Nombre d'entreprises signataires",
]  # fmt: skip


def dares_table(seed: int = 2022) -> pl.DataFrame:
    """Fictitious DARES table; cells with fewer than 3 companies are secret (« s »)."""
    rng = np.random.default_rng(seed)
    rows = []
    for year in DARES_YEARS:
        for dep, dep_name, dep_w in DARES_DEPS:
            for size, size_w, per_company in DARES_SIZES:
                for a38, label, sec_w in DARES_SECTORS:
                    companies = int(rng.poisson(8 * dep_w * size_w * sec_w))
                    if companies == 0:
                        continue
                    agreements = companies + int(rng.poisson(companies * (per_company - 1)))
                    if companies < 3:
                        rows.append((year, dep, dep_name, size, a38, label, "s", "s"))
                    else:
                        rows.append((year, dep, dep_name, size, a38, label, agreements, companies))
        # Haute-Garonne: the file adds its « Ensemble » rows (all sizes) for year 2023, sector by sector
    df = pl.DataFrame(rows, schema=DARES_COLUMNS, orient="row", schema_overrides={"Nombre d'accords et avenants": pl.String, "Nombre d'entreprises signataires": pl.String})
    detail = df.filter((pl.col("Année") == 2023) & (pl.col("Département") == "31"))
    numeric = detail.filter(pl.col("Nombre d'accords et avenants") != "s")
    secret = set(detail.filter(pl.col("Nombre d'accords et avenants") == "s")["Secteur (A38)"])
    totals = (
        numeric.filter(~pl.col("Secteur (A38)").is_in(sorted(secret)))
        .group_by("Année", "Département", "Libellé département", "Secteur (A38)", "Libellé secteur", maintain_order=True)
        .agg(pl.col("Nombre d'accords et avenants").cast(pl.Int64).sum(), pl.col("Nombre d'entreprises signataires").cast(pl.Int64).sum())
        .with_columns(pl.lit("Ensemble").alias("Taille d'entreprise"))
        .select(DARES_COLUMNS)
        .cast({"Nombre d'accords et avenants": pl.String, "Nombre d'entreprises signataires": pl.String})
    )
    return pl.concat([df, totals])


def dares_broken(df: pl.DataFrame) -> pl.DataFrame:
    """Rows with numbers, one defect each (sheet row = index + 3): see tests/test_dares_accords.py."""
    num = df.filter(pl.col("Nombre d'accords et avenants") != "s").cast({c: pl.String for c in df.columns})
    rows = num.filter(pl.col("Département") == "09").head(8)
    other = num.filter(pl.col("Département") == "11").head(1)  # alone in its group
    df = pl.concat([rows, other])
    ent = int(df["Nombre d'entreprises signataires"][4])
    acc = int(df["Nombre d'accords et avenants"][4])
    df = _put(df, 0, "Année", "20221")  # invalid-year (row 3)
    df = _put(df, 1, "Département", "99")  # unknown-departement (row 4)
    df = _put(df, 2, "Taille d'entreprise", "Moyenne")  # invalid-size-band (row 5)
    df = _put(df, 3, "Secteur (A38)", "ZZ")  # unknown-naf (row 6)
    df = _put(df, 4, "Nombre d'entreprises signataires", str(acc + ent + 5))  # inconsistent-values (row 7)
    df = _put(df, 5, "Nombre d'accords et avenants", "beaucoup")  # non-numeric-count (row 8)
    ent6 = int(df["Nombre d'entreprises signataires"][6])
    df = _put(df, 6, "Nombre d'accords et avenants", f"{ent6}.5")  # non-integer-count (row 9)
    total = df[8].with_columns(pl.lit("Ensemble").alias("Taille d'entreprise"), pl.lit("999").alias("Nombre d'accords et avenants"))
    return pl.concat([df, df[7], total])  # duplicate-key (rows 10, 12); total-mismatch (row 13)


# --------------------------------------------------------------------------------------
# insee-estimations: the real workbook, and a small broken copy in the same layout
# --------------------------------------------------------------------------------------
ESTIM_REAL = "estim-pop-dep-sexe-gca-1975-2023.xls"
ESTIM_GROUPS = ["Ensemble", "Hommes", "Femmes"]
ESTIM_BANDS = ["0 à 19 ans", "20 à 39 ans", "40 à 59 ans", "60 à 74 ans", "75 ans et plus", "Total"]


def _estim_sheet(path: Path, name: str) -> list[list[object]]:
    import fastexcel

    df = fastexcel.read_excel(path).load_sheet(name, header_row=None, dtypes="string").to_polars()
    return [list(r) for r in df.rows()]


def estimations_broken(real: Path, dest: Path) -> Path:
    """Four year sheets of the real workbook (out of order, after a notes sheet), with defects.

    * 2023: Haute-Garonne, Hommes 20 à 39 ans + 1000 → the row total, the « Ensemble » column and the
      subtotals « France métropolitaine » and « France métropolitaine et DOM » no longer add up
      (total-mismatch ×4); Ariège, Femmes 75 ans et plus = « n.c. » (non-numeric-count).
    * 2021: a row with the code « 99 » and numbers below the footnote (unknown-departement); Guadeloupe,
      « Ensemble, Total » empty (missing-value).
    * 2022: the sheet « 2022 » is titled « Année 2020 » (year-mismatch).
    """
    import xlsxwriter

    dest.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(dest))
    wb.set_properties({"created": datetime(2023, 1, 5), "author": "prst (copie altérée pour les tests)"})
    bold = wb.add_format({"bold": True, "align": "center"})
    notes = wb.add_worksheet("À savoir")
    for i, row in enumerate(_estim_sheet(real, "À savoir")):
        if row[0]:
            notes.write_string(i, 0, str(row[0]))
    for name in ("2023", "2021", "2022", "2019"):
        rows = _estim_sheet(real, name)
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            if i == 3:  # the merged group header
                ws.write_string(i, 0, "Départements")
                for g, group in enumerate(ESTIM_GROUPS):
                    ws.merge_range(i, 2 + 6 * g, i, 7 + 6 * g, group, bold)
                continue
            for j, v in enumerate(row):
                if v is None:
                    continue
                v = str(v)
                if name == "2022" and i == 1:
                    v = "Année 2020"
                if name == "2023" and row[0] == "09" and j == 18:
                    ws.write_string(i, j, "n.c.")
                elif j >= 2 and i >= 5 and v.replace(".", "", 1).isdigit():
                    x = float(v)
                    if name == "2023" and row[0] == "31" and j == 9:
                        x += 1000
                    if name == "2021" and row[0] == "971" and j == 7:
                        continue
                    ws.write_number(i, j, x)
                elif j == 0 and i >= 5 and v.startswith("97"):
                    ws.write_number(i, j, float(v))  # DOM codes stored as numbers
                else:
                    ws.write_string(i, j, v)
        if name == "2021":  # a stray row below the footnote, with a code that is no département
            lot = next(r for r in rows if r[0] == "46")
            for j, v in enumerate(["99", "Inconnu", *lot[2:]]):
                ws.write(len(rows), j, float(v) if j >= 2 else v)
    wb.close()
    return dest


# --------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------
def main() -> None:
    DEMO.mkdir(parents=True, exist_ok=True)
    rp = insee_rp_table()
    write_insee_csv(rp, FIX / "insee-rp/exemple.csv")
    write_insee_csv(insee_rp_broken(rp), FIX / "insee-rp/exemple-errone.csv")
    shutil.copyfile(FIX / "insee-rp/exemple.csv", DEMO / "insee-rp_td_2021_occitanie.csv")

    estim = FIX / "insee-estimations/exemple.xls"  # the real Insee workbook, renamed (see PROVENANCE.md)
    estimations_broken(estim, FIX / "insee-estimations/exemple-errone.xlsx")
    shutil.copyfile(estim, DEMO / ESTIM_REAL)

    urs = urssaf_table()
    write_semicolon_csv(urs, FIX / "urssaf/exemple.csv")
    write_semicolon_csv(urssaf_broken(urs), FIX / "urssaf/exemple-errone.csv")
    shutil.copyfile(FIX / "urssaf/exemple.csv", DEMO / "urssaf_etablissements_commune_ape_2021-2023.csv")

    size = urssaf_size_table()
    title = "Établissements employeurs par commune, APE et tranche d'effectif salarié (extraction URSSAF)"
    write_xlsx(size, FIX / "urssaf-taille/exemple.xlsx", title=title, sheet="Etablissements", year=2024)
    write_xlsx(urssaf_size_broken(size), FIX / "urssaf-taille/exemple-errone.xlsx", title=title, sheet="Etablissements", year=2024)
    shutil.copyfile(FIX / "urssaf-taille/exemple.xlsx", DEMO / "urssaf-taille_etablissements_2021-2023.xlsx")

    acc = dares_table()
    title = "Accords et avenants d'entreprise déposés, par département, taille d'entreprise et secteur (A38)"
    write_xlsx(acc, FIX / "dares-accords/exemple.xlsx", title=title, sheet="Accords", year=2024)
    write_xlsx(dares_broken(acc), FIX / "dares-accords/exemple-errone.xlsx", title=title, sheet="Accords", year=2024)
    shutil.copyfile(FIX / "dares-accords/exemple.xlsx", DEMO / "dares-accords_occitanie_2021-2023.xlsx")
    written = [p for d in ("insee-rp", "insee-estimations", "urssaf", "urssaf-taille", "dares-accords") for p in (FIX / d).iterdir()]
    print("socio fixtures:", sorted(str(p.relative_to(FIX)) for p in written))


if __name__ == "__main__":
    main()
