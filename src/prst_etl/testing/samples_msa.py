"""A fictitious MSA workbook (salariés agricoles d'Occitanie, AT, trajet and MP), for tests and the demo.

No MSA file was available to prst: this one is **fictitious**, drawn with fixed seeds
from plausible orders of magnitude, not from MSA data:

* about 75 000 agricultural employees in Occitanie, spread over the 13 départements with
  weights that follow their agriculture (vineyards of Hérault, Aude, Gard and
  Pyrénées-Orientales, orchards of Tarn-et-Garonne, livestock of Aveyron and Lozère,
  forestry of Ariège and Lozère…), and over sectors, sexes (≈ 70 % men) and age bands;
* about 1 300 hours a year per employee (many seasonal or part-time contracts);
* accidents du travail with stoppage at ≈ 38 per 1 000 employees, more in forestry and
  less in the organismes professionnels; ≈ 65 days of stoppage per accident; commuting
  accidents ≈ 8 % of AT;
* occupational diseases at ≈ 5 per 1 000 employees, over tableaux of the régime agricole
  with a mix close to the one the MSA publishes (TMS, RA 39, ≈ 75 %).

Writing the workbook needs ``xlsxwriter`` (a test dependency).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from prst_etl import reference
from prst_etl.testing.samples_mp import write_sheets

DEPARTEMENTS = {"09": 0.02, "11": 0.11, "12": 0.06, "30": 0.12, "31": 0.11, "32": 0.06, "34": 0.17,
                "46": 0.03, "48": 0.02, "65": 0.03, "66": 0.08, "81": 0.06, "82": 0.13}  # fmt: skip
SECTORS = {
    # code: (label written in the file, national share, AT rate per 1 000, sector affinity by département)
    "cultures-specialisees": ("Cultures spécialisées", 0.20, 40, {"82": 3, "66": 2, "30": 1.5, "31": 1.2}),
    "elevage": ("Élevage spécialisé", 0.08, 45, {"12": 3, "48": 3, "32": 1.5, "81": 1.5, "65": 1.5, "09": 1.5}),
    "viticulture": ("Viticulture", 0.24, 35, {"34": 2.5, "11": 2.5, "30": 2, "66": 2, "32": 1.2, "46": 1.2, "81": 1.2, "12": 0.1, "48": 0.05, "09": 0.1, "65": 0.3, "82": 0.5, "31": 0.5}),
    "sylviculture": ("Sylviculture et exploitation de bois", 0.03, 90, {"09": 4, "48": 4, "81": 2, "12": 2, "65": 2, "34": 0.5, "11": 1, "30": 1}),
    "entreprises-travaux-agricoles": ("Entreprises de travaux agricoles", 0.09, 50, {}),
    "paysagistes": ("Entreprises du paysage", 0.12, 42, {"31": 2, "34": 2, "30": 1.3}),
    "cooperatives": ("Coopératives agricoles", 0.14, 30, {"32": 1.5, "82": 1.5, "11": 1.3}),
    "organismes-professionnels": ("Organismes professionnels agricoles", 0.10, 6, {"31": 3, "34": 2}),
}
SEXES = {"Hommes": 0.70, "Femmes": 0.30}
AGES = {"Moins de 30 ans": 0.30, "30 à 49 ans": 0.45, "50 ans et plus": 0.25}
EMPLOYEES = 75_000
HOURS_PER_EMPLOYEE = 1_300
DAYS_PER_AT = 65
TRAJET_SHARE = 0.08
MP_RATE = 5e-3
TABLEAUX = [  # RA tableau as the file writes it, share of MP
    ("39", 0.74), ("57", 0.11), ("57 bis", 0.02), ("29", 0.02), ("53", 0.01), ("46", 0.01), ("47", 0.01),
    ("47 bis", 0.003), ("58", 0.015), ("59", 0.005), ("61", 0.004), ("44", 0.008), ("45", 0.006),
    ("16", 0.001), ("Hors tableau", 0.006),
]  # fmt: skip
AT_HEADERS = [
    "Département", "Libellé département", "Secteur de risque MSA", "Sexe", "Tranche d'âge",
    "Nombre de salariés", "Heures travaillées", "Accidents du travail avec arrêt", "Journées d'arrêt (AT)",
    "Accidents de trajet avec arrêt",
]  # fmt: skip
MP_HEADERS = [
    "Département", "Libellé département", "Secteur de risque MSA", "Sexe", "Tranche d'âge",
    "Tableau de MP (régime agricole)", "Libellé du tableau", "Maladies professionnelles reconnues",
]  # fmt: skip
TITLE_AT = "MSA – Accidents du travail et de trajet des salariés agricoles en Occitanie, année 2024 (fichier d'exemple fictif)"
TITLE_MP = "MSA – Maladies professionnelles des salariés agricoles en Occitanie, année 2024 (fichier d'exemple fictif)"
SECRET_BELOW = 3
"""AT counts below this value, in cells of fewer than 20 employees, are written « s » (secret)."""


def msa_tables(*, seed: int = 2024) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The two sheets (AT-Trajet, MP) of the fictitious MSA workbook."""
    from prst_etl.sources.causes import crosswalk

    rng = np.random.default_rng(seed)
    dep_names = dict(zip(reference.departements()["code"], reference.departements()["nom"]))
    ra_labels = dict(crosswalk("msa").tableau_labels)
    at_rows: list[dict] = []
    mp_rows: list[dict] = []
    tab_codes = [t for t, _ in TABLEAUX]
    tab_w = np.array([w for _, w in TABLEAUX])
    tab_w = tab_w / tab_w.sum()
    for dep, dep_w in DEPARTEMENTS.items():
        aff = np.array([s[1] * s[3].get(dep, 1.0) for s in SECTORS.values()])
        aff = aff / aff.sum()
        for (code, (label, _share, at_rate, _a)), sec_w in zip(SECTORS.items(), aff):
            for sex, sex_w in SEXES.items():
                for age, age_w in AGES.items():
                    mean = EMPLOYEES * dep_w * sec_w * sex_w * age_w * (0.5 if (sex == "Femmes" and code == "sylviculture") else 1.0)
                    n = int(rng.poisson(mean * rng.uniform(0.8, 1.2)))
                    if n < 3:
                        continue  # the MSA lists cells with employees only
                    hours = int(n * HOURS_PER_EMPLOYEE * rng.uniform(0.85, 1.1))
                    at = int(rng.poisson(n * at_rate / 1000 * (0.6 if sex == "Femmes" else 1.1) * (1.3 if age == "Moins de 30 ans" else 1.0)))
                    days = int(rng.gamma(2.0, DAYS_PER_AT / 2.0, size=at).sum()) if at else 0
                    trajet = int(rng.binomial(at, TRAJET_SHARE)) + int(rng.random() < 0.02)
                    secret = at < SECRET_BELOW and n < 20 and at > 0
                    at_rows.append(
                        {
                            "Département": dep, "Libellé département": dep_names.get(dep, ""), "Secteur de risque MSA": label,
                            "Sexe": sex, "Tranche d'âge": age, "Nombre de salariés": str(n), "Heures travaillées": str(hours),
                            "Accidents du travail avec arrêt": "s" if secret else str(at),
                            "Journées d'arrêt (AT)": "s" if secret else str(days), "Accidents de trajet avec arrêt": str(trajet),
                        }
                    )  # fmt: skip
                    k = int(rng.poisson(n * MP_RATE * (1.4 if age == "50 ans et plus" else 0.8)))
                    if k == 0:
                        continue
                    split = rng.multinomial(k, tab_w)
                    for j in np.flatnonzero(split):
                        tab = tab_codes[j]
                        mp_rows.append(
                            {
                                "Département": dep, "Libellé département": dep_names.get(dep, ""), "Secteur de risque MSA": label,
                                "Sexe": sex, "Tranche d'âge": age, "Tableau de MP (régime agricole)": tab,
                                "Libellé du tableau": _ra_label(tab, ra_labels),
                                "Maladies professionnelles reconnues": str(int(split[j])),
                            }
                        )  # fmt: skip
    at_df = pl.DataFrame(at_rows, schema={h: pl.String for h in AT_HEADERS})
    mp_df = pl.DataFrame(mp_rows, schema={h: pl.String for h in MP_HEADERS})
    return at_df, mp_df


def _ra_label(tab: str, labels: dict[str, str]) -> str:
    from prst_etl.sources.causes import tableau_code_expr

    code = pl.select(tableau_code_expr(pl.lit(tab)))[0, 0]
    return labels.get(code, "Maladie reconnue hors tableau" if code == "HT" else "")


def write_msa(at_df: pl.DataFrame, mp_df: pl.DataFrame, path: Path, *, year: int = 2024) -> Path:
    """The MSA workbook: sheets « AT-Trajet 2024 » and « MP 2024 » (counts as numbers, signs as text)."""
    return write_sheets(
        [
            (f"AT-Trajet {year}", TITLE_AT.replace("2024", str(year)), _as_numbers(at_df), {(1, 0): "Source : MSA, salariés agricoles (données fictives de prst). s : secret statistique."}),
            (f"MP {year}", TITLE_MP.replace("2024", str(year)), _as_numbers(mp_df), {(1, 0): "Source : MSA, salariés agricoles (données fictives de prst)."}),
        ],
        path,
        year=year,
    )


def _as_numbers(df: pl.DataFrame) -> pl.DataFrame:
    """Columns whose every cell is a whole number become Int64 (written as numbers); others stay text."""
    out = []
    for c in df.columns:
        s = df[c]
        if c not in {"Département", "Tableau de MP (régime agricole)"} and s.str.contains(r"^-?\d+$").all():
            out.append(s.cast(pl.Int64))
        else:
            out.append(s)
    return pl.DataFrame(out)
