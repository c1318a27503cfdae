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
from pathlib import Path

import polars as pl

from prst_etl import samples

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
    # 2023: the same tables scaled with the caisses' real 2023/2024 totals (for diff-years)
    for caisse, table, name in (("carsat-mp", mp, "carsat-mp_2023_communes.xlsx"), ("carsat-lr", lr, "carsat-lr_2023_departements_sexe_age.xlsx")):
        (at23, sal23), (at24, sal24) = samples.REAL_TOTALS[caisse][2023], samples.REAL_TOTALS[caisse][2024]
        prev = samples.other_year(table, employees=sal23 / sal24, events=at23 / at24, seed=23)
        samples.write_workbook(prev, DEMO / name, year=2023)

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
    # SPSTI perimeters (fictitious): one interprofessional service per département (two in 31 and 34),
    # one BTP service per Carsat, overlapping them; 20 communes move from SPSTI-31-B to SPSTI-31-A in 2024.
    perim = spsti_perimeters()
    (FIX / "spsti-perimetres").mkdir(parents=True, exist_ok=True)
    lines = ["Périmètres des SPSTI d'Occitanie au 1er janvier 2024 (FICTIFS, pour démonstration)", ""]
    lines.append("Code SPSTI;Nom du SPSTI;Champ;Code commune;Commune;Date de début;Date de fin")
    for r in perim.iter_rows():
        lines.append(";".join("" if v is None else str(v) for v in r))
    text = "\n".join(lines) + "\n"
    (FIX / "spsti-perimetres/exemple.csv").write_text(text, encoding="utf-8")
    (DEMO / "spsti-perimetres_2024.csv").write_text(text, encoding="utf-8")
    print("demo:", sorted(p.name for p in DEMO.iterdir()))
    print("fixtures:", sorted(str(p.relative_to(FIX)) for p in FIX.rglob("*") if p.is_file()))


SPSTI = {
    "SPSTI-09-A": ("Service de prévention et de santé au travail de l'Ariège (fictif)", ["09"]),
    "SPSTI-11-A": ("Service de prévention et de santé au travail de l'Aude (fictif)", ["11"]),
    "SPSTI-12-A": ("Service de prévention et de santé au travail de l'Aveyron (fictif)", ["12"]),
    "SPSTI-30-A": ("Service de prévention et de santé au travail du Gard (fictif)", ["30"]),
    "SPSTI-31-A": ("Service de prévention et de santé au travail de Toulouse et du nord de la Haute-Garonne (fictif)", ["31"]),
    "SPSTI-31-B": ("Service de prévention et de santé au travail du sud de la Haute-Garonne (fictif)", ["31"]),
    "SPSTI-32-A": ("Service de prévention et de santé au travail du Gers (fictif)", ["32"]),
    "SPSTI-34-A": ("Service de prévention et de santé au travail de Montpellier et de l'est de l'Hérault (fictif)", ["34"]),
    "SPSTI-34-B": ("Service de prévention et de santé au travail de l'ouest de l'Hérault (fictif)", ["34"]),
    "SPSTI-46-A": ("Service de prévention et de santé au travail du Lot (fictif)", ["46"]),
    "SPSTI-48-A": ("Service de prévention et de santé au travail de la Lozère (fictif)", ["48"]),
    "SPSTI-65-A": ("Service de prévention et de santé au travail des Hautes-Pyrénées (fictif)", ["65"]),
    "SPSTI-66-A": ("Service de prévention et de santé au travail des Pyrénées-Orientales (fictif)", ["66"]),
    "SPSTI-81-A": ("Service de prévention et de santé au travail du Tarn (fictif)", ["81"]),
    "SPSTI-82-A": ("Service de prévention et de santé au travail du Tarn-et-Garonne (fictif)", ["82"]),
    "SPSTI-BTP-MP": ("Service de santé au travail du BTP de Midi-Pyrénées (fictif)", ["09", "12", "31", "32", "46", "65", "81", "82"]),
    "SPSTI-BTP-LR": ("Service de santé au travail du BTP du Languedoc-Roussillon (fictif)", ["11", "30", "34", "48", "66"]),
}


def spsti_perimeters() -> pl.DataFrame:
    from prst_etl import reference

    com = reference.communes(2025).filter(pl.col("type") == "commune-actuelle").select("code", "nom", "departement")
    com = com.join(reference.commune_ze().select("code", "ze_code"), on="code").sort("code")
    rows = []
    moved = set(com.filter((pl.col("departement") == "31") & (pl.col("ze_code") != "7625"))["code"].head(20))
    for code, (name, deps) in SPSTI.items():
        champ = "BTP" if "BTP" in code else "interprofessionnel"
        for c, nom, dep, ze in com.iter_rows():
            if dep not in deps:
                continue
            if code == "SPSTI-31-A" and ze != "7625" and c not in moved:
                continue
            if code == "SPSTI-31-B" and ze == "7625":
                continue
            if code == "SPSTI-34-A" and ze not in ("7616", "7623"):
                continue
            if code == "SPSTI-34-B" and ze in ("7616", "7623"):
                continue
            start, end = "01/01/2020", ""
            if c in moved and code == "SPSTI-31-A":
                start = "01/01/2024"
            if c in moved and code == "SPSTI-31-B":
                end = "31/12/2023"
            rows.append((code, name, champ, c, nom, start, end))
    cols = ["code", "nom", "champ", "commune", "libelle", "debut", "fin"]
    return pl.DataFrame(rows, schema=cols, orient="row")


if __name__ == "__main__":
    main()
