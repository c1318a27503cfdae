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

from prst_etl.testing import samples, samples_mp, samples_msa

import fixtures_socio  # beside this script: census, estimates, URSSAF and DARES samples

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
    broken = lines[:3] + [
        "SPSTI-31-A;Service fictif;interprofessionnel;31999;Inconnue;01/01/2020;",  # unknown commune
        "SPSTI-31-A;Service fictif;interprofessionnel;31555;Toulouse;31/02/2020;",  # impossible date
        "SPSTI-31-A;Service fictif;interprofessionnel;31003;Aignes;01/01/2024;31/12/2023",  # ends before it starts
        "SPSTI-31-A;Service fictif;agriculture bio;31004;Aigrefeuille;01/01/2020;",  # unknown scope
        ";Service fictif;BTP;31005;Aspet;01/01/2020;",  # no code
    ] + lines[3:8]
    (FIX / "spsti-perimetres/exemple-errone.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    (DEMO / "spsti-perimetres_2024.csv").write_text(text, encoding="utf-8")
    mp_and_msa(nat, mp)
    fixtures_socio.main()

    # Occupational-health sources (fictitious samples) and the broken copies of the conformance suite
    fixtures_health.main(nat, FIX, DEMO)
    print("demo:", sorted(p.name for p in DEMO.iterdir()))
    print("fixtures:", sorted(str(p.relative_to(FIX)) for p in FIX.rglob("*") if p.is_file()))


def spsti_perimeters() -> pl.DataFrame:
    from prst_etl import reference

    com = reference.communes(2025).filter(pl.col("type") == "commune-actuelle").select("code", "nom", "departement")
    com = com.join(reference.commune_ze().select("code", "ze_code"), on="code").sort("code")
    rows = []
    moved = set(com.filter((pl.col("departement") == "31") & (pl.col("ze_code") != "7625"))["code"].head(20))
    # the 17 fictitious services of the reference list (src/prst_etl/reference/data/spsti.csv)
    for code, name, champ, deps in reference.spsti().select("code", "nom", "champ", "departements").iter_rows():
        deps = deps.split()
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
# -- MP, trajet and MSA samples (all fictitious, see each PROVENANCE.md) -------------------
AT_TITLE = "Risque Accident du travail 2024 par CTN et code NAF (fichier d'exemple fictif)"
TRAJET_TITLE = "Accidents de trajet 2024 par CTN et code NAF (fichier d'exemple fictif)"
MP_TITLE = "Maladies professionnelles 2024 par CTN et code NAF (fichier d'exemple fictif)"
EMPTY_ZERO = {(1, 8): "Les cases vides correspondent à la valeur 0."}


def put(df: pl.DataFrame, row: int, column: str, value: object) -> pl.DataFrame:
    """Write ``value`` in one cell (the column becomes text when the value is text, as in a spreadsheet)."""
    if isinstance(value, str) and df.schema[column] != pl.String:
        df = df.with_columns(pl.col(column).cast(pl.String))
    dtype = df.schema[column]
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=dtype)).otherwise(pl.col(column)).alias(column)
    )


def first_repeated(mp: pl.DataFrame, keys: list[str]) -> tuple[int, int]:
    """Row indices of the first two rows of the same CTN × NAF cell (effectifs repeated)."""
    idx = mp.with_row_index("_i").group_by(keys, maintain_order=True).agg(pl.col("_i")).filter(pl.col("_i").list.len() > 1)
    rows = idx["_i"][0].to_list()
    return rows[0], rows[1]


def carsat_sheets(at: pl.DataFrame, trajet: pl.DataFrame, mp: pl.DataFrame) -> list:
    return [
        ("AT 2024 par CTN X NAF", AT_TITLE, at, EMPTY_ZERO),
        ("Trajet 2024", TRAJET_TITLE, trajet, EMPTY_ZERO),
        ("MP 2024", MP_TITLE, mp, samples_mp.MP_NOTES),
    ]


def write_conformance(folder: Path, codes: list[str], sample: str = "exemple.xlsx", broken: str = "exemple-errone.xlsx") -> None:
    lines = [
        "# Conformance of this source's sample files (read by the conformance tests).",
        f'sample = "{sample}"',
        f'broken = "{broken}"',
        "expected_codes = [" + ", ".join(f'"{c}"' for c in codes) + "]",
    ]
    (folder / "conformance.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def mp_and_msa(nat: pl.DataFrame, demo_mp_communes: pl.DataFrame) -> None:
    # ameli-mp: a fictitious extract of the national « MP par CTN et code NAF » workbook
    mp = samples_mp.national_mp(nat, seed=2024)
    sheet = [("MP 2024 par CTN X NAF", MP_TITLE, mp, samples_mp.MP_NOTES)]
    samples_mp.write_sheets(sheet, FIX / "ameli-mp/exemple.xlsx", year=2024)
    shutil.copyfile(FIX / "ameli-mp/exemple.xlsx", DEMO / "ameli-mp_2024_national_fictif.xlsx")
    keys = ["code CTN / Compte spécial MP", "Code NAF"]
    a, b = first_repeated(mp, keys)
    bad = put(mp, b, "Nombre de salariés*", int(mp["Nombre de salariés*"][b]) + 100)  # effectifs differ in one CTN × NAF
    bad = put(bad, 2, "code Tableau de MP", "999A")
    bad = put(bad, 3, "Top TMS", "peut-être")
    bad = put(bad, 4, "code CTN / Compte spécial MP", "ZZ")
    bad = put(bad, 5, "MP en 1er règlement", "beaucoup")
    bad = put(bad, 6, "Décès", -2)
    bad = put(bad, 7, "dont IP avec taux < 10%", int(bad["Nouvelles IP"][7]) + 5)
    bad = pl.concat([bad, bad[10]])  # the same cell twice
    samples_mp.write_sheets([(sheet[0][0], MP_TITLE, bad, samples_mp.MP_NOTES)], FIX / "ameli-mp/exemple-errone.xlsx", year=2024)
    write_conformance(
        FIX / "ameli-mp",
        ["inconsistent-effectifs", "unknown-mp-tableau", "invalid-flag", "unknown-ctn", "non-numeric-count",
         "negative-count", "parts-exceed-total", "duplicate-key"],
    )  # fmt: skip

    # carsat-mp: one workbook with AT, Trajet and MP sheets, by commune (some former codes)
    at = samples.spread_over_communes(nat, "carsat-mp", seed=41)
    at = at.filter(pl.col("Nombre de salariés") >= 20).sample(n=150, seed=41).sort("Code commune", "CTN", "Code NAF")
    # the two largest rows written under the former code of a commune merged since (COG 2025: 12218, 12224)
    big = at.with_row_index("_i").sort("Nombre de salariés", descending=True)["_i"].head(2).to_list()
    at = put(put(at, big[0], "Code commune", "12076"), big[1], "Code commune", "12014")
    trajet = samples_mp.regional_trajet(at, seed=42)
    mp = samples_mp.regional_mp(at, seed=43)
    samples_mp.write_sheets(carsat_sheets(at, trajet, mp), FIX / "carsat-mp/exemple.xlsx", year=2024)
    a, b = first_repeated(mp, ["Code commune", *keys])
    bad_mp = put(mp, b, "Nombre d'heures travaillées*", int(mp["Nombre d'heures travaillées*"][b]) + 1000)
    bad_mp = put(bad_mp, 1, "code Tableau de MP", "Tableau 57 X")
    bad_mp = put(bad_mp, 2, "Top risque chimique", "?")
    bad_mp = put(bad_mp, 3, "dont IP avec taux ≥ 10%", int(bad_mp["Nouvelles IP"][3]) + 1)
    bad_at = put(at, 2, "Nombre de salariés", "douze")
    bad_tr = put(put(trajet, 0, "Code commune", "31999"), 3, "Décès", -1)
    samples_mp.write_sheets(carsat_sheets(bad_at, bad_tr, bad_mp), FIX / "carsat-mp/exemple-errone.xlsx", year=2024)
    write_conformance(
        FIX / "carsat-mp",
        ["non-numeric-count", "unknown-commune", "negative-count", "inconsistent-effectifs", "unknown-mp-tableau",
         "invalid-flag", "parts-exceed-total"],
    )  # fmt: skip
    # demo: the Trajet and MP sheets of the demo's commune file (its AT sheet is the other demo file)
    samples_mp.write_sheets(
        carsat_sheets(demo_mp_communes, samples_mp.regional_trajet(demo_mp_communes, seed=7), samples_mp.regional_mp(demo_mp_communes, seed=8))[1:],
        DEMO / "carsat-mp_2024_trajet_mp_communes.xlsx",
        year=2024,
    )

    # carsat-lr: AT, Trajet and MP sheets by département, sex and age band
    nafs = ["7820Z", "8610Z", "5610A", "4711D", "4399C"]
    base = samples.spread_over_communes(nat, "carsat-lr", seed=51).filter(pl.col("Code NAF").is_in(nafs))
    at = samples.to_departements(samples.split_sex_age(base, seed=52)).sort("Département", "CTN", "Code NAF", "Sexe", "Tranche d'âge")
    trajet = samples_mp.regional_trajet(at, seed=53)
    mp = samples_mp.regional_mp(at, seed=54)
    samples_mp.write_sheets(carsat_sheets(at, trajet, mp), FIX / "carsat-lr/exemple.xlsx", year=2024)
    a, b = first_repeated(mp, ["Département", "Sexe", "Tranche d'âge", *keys])
    bad_mp = put(mp, a, "Nombre d'établissements*", int(mp["Nombre d'établissements*"][a]) + 3)
    bad_mp = pl.concat([bad_mp, bad_mp[5]])
    bad_at = put(at, 0, "Département", "31")  # Midi-Pyrénées: not the Carsat Languedoc-Roussillon's
    bad_tr = put(trajet, 1, "Sexe", "X")
    samples_mp.write_sheets(carsat_sheets(bad_at, bad_tr, bad_mp), FIX / "carsat-lr/exemple-errone.xlsx", year=2024)
    write_conformance(FIX / "carsat-lr", ["departement-outside-scope", "invalid-sex", "inconsistent-effectifs", "duplicate-key"])

    # msa: AT-Trajet and MP sheets by département, MSA sector, sex and age band
    at, mp = samples_msa.msa_tables(seed=2024)
    samples_msa.write_msa(at, mp, FIX / "msa/exemple.xlsx")
    shutil.copyfile(FIX / "msa/exemple.xlsx", DEMO / "msa_2024_occitanie_fictif.xlsx")
    bad_at = put(at, 0, "Secteur de risque MSA", "Pisciculture")
    bad_at = put(bad_at, 1, "Département", "13")
    bad_at = put(bad_at, 2, "Heures travaillées", None)
    bad_at = put(bad_at, 3, "Tranche d'âge", "Entre deux âges")
    bad_mp = put(put(mp, 0, "Tableau de MP (régime agricole)", "RA 999"), 1, "Maladies professionnelles reconnues", "quelques")
    samples_msa.write_msa(bad_at, bad_mp, FIX / "msa/exemple-errone.xlsx")
    write_conformance(
        FIX / "msa",
        ["unknown-msa-sector", "departement-outside-scope", "missing-value", "invalid-age-band", "unknown-mp-tableau",
         "non-numeric-count"],
    )  # fmt: skip


if __name__ == "__main__":
    main()
