"""Fictitious sample files of the occupational-health sources (``ioda``, ``spf-mcp``, ``dgt-spsti``)
and the broken copies used by the conformance suite for every source.

Called by ``scripts/make_fixtures.py``; deterministic (fixed seeds, pinned workbook dates).
The numbers are plausible, not real: orders of magnitude only (about 1.9 million employees
followed by the SPSTI of Occitanie, 4 to 6 declarations of inaptitude per 1 000 employees
followed, MCP prevalences of a few per cent). See each fixture folder's PROVENANCE.md.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from prst_etl import reference
from prst_etl.testing import samples

# -- writing ----------------------------------------------------------------------------


def write_table(
    path: Path,
    headers: list[str],
    rows: list[list[object]],
    *,
    sheet: str,
    title: str,
    note: str | None = None,
    year: int = 2024,
    footnote: str | None = None,
) -> Path:
    """Title in A1, an optional note in A2, header on row 4, data below; numbers as numbers."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    wb.set_properties({"created": datetime(year + 1, 3, 1), "author": "prst (fichier d'exemple fictif)"})
    bold = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    ws = wb.add_worksheet(sheet)
    ws.write_string(0, 0, title, wb.add_format({"bold": True, "font_size": 12}))
    if note:
        ws.write_string(1, 0, note)
    for j, h in enumerate(headers):
        ws.write_string(3, j, h, bold)
        ws.set_column(j, j, max(10, min(40, len(h) + 2)))
    r = 4
    for r, row in enumerate(rows, start=4):
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
                ws.write_number(r, j, float(v))
            else:
                ws.write_string(r, j, str(v))
    if footnote:
        ws.write_string(r + 2, 0, footnote)
    wb.close()
    return path


def set_cells(rows: list[list[object]], edits: list[tuple[int, int, object]]) -> list[list[object]]:
    out = [list(r) for r in rows]
    for i, j, v in edits:
        out[i][j] = v
    return out


# -- SPSTI sizes (fictitious) -------------------------------------------------------------

FOLLOWED = {
    "SPSTI-09-A": 31_000, "SPSTI-11-A": 84_000, "SPSTI-12-A": 72_000, "SPSTI-30-A": 178_000,
    "SPSTI-31-A": 318_000, "SPSTI-31-B": 61_000, "SPSTI-32-A": 41_000, "SPSTI-34-A": 192_000,
    "SPSTI-34-B": 69_000, "SPSTI-46-A": 37_000, "SPSTI-48-A": 17_000, "SPSTI-65-A": 56_000,
    "SPSTI-66-A": 108_000, "SPSTI-81-A": 91_000, "SPSTI-82-A": 62_000,
    "SPSTI-BTP-MP": 76_000, "SPSTI-BTP-LR": 54_000,
}  # fmt: skip
"""Employees followed by each (fictitious) service, 2024."""
DEP_WEIGHT = {"09": 3, "11": 8, "12": 6, "30": 17, "31": 38, "32": 4, "34": 26, "46": 3, "48": 1, "65": 5, "66": 10, "81": 8, "82": 6}
"""Rough weight of each département in the building trade, to split the BTP services."""


def _spsti_names() -> dict[str, str]:
    t = reference.spsti()
    return dict(zip(t["code"], t["nom"]))


def _section_labels() -> dict[str, str]:
    t = reference.naf_labels().filter(pl.col("level") == "a21")
    return dict(zip(t["code"], t["libelle"]))


# -- IODA -----------------------------------------------------------------------------------

IODA_HEADERS = [
    "Code SPSTI", "Nom du SPSTI", "Département", "Sexe", "Tranche d'âge", "Section NAF (A21)",
    "Libellé de la section", "Salariés suivis", "Déclarations d'inaptitude",
    "Salariés avec profil à risque d'inaptitude TMS", "Salariés avec profil à risque d'inaptitude psychique",
]  # fmt: skip
IODA_AGES = ["Moins de 30 ans", "30 à 39 ans", "40 à 49 ans", "50 à 59 ans", "60 ans et plus"]
IODA_AGE_SHARE = [0.19, 0.24, 0.24, 0.22, 0.11]
IODA_AGE_INAPT = [0.35, 0.7, 1.0, 1.7, 2.3]
IODA_AGE_TMS = [0.5, 0.8, 1.0, 1.4, 1.6]
IODA_AGE_PSY = [0.8, 1.1, 1.1, 1.0, 0.8]
# section: (share of the interprofessional services' employees, share of women, inaptitude, TMS and psy factors)
IODA_SECTIONS = {
    "C": (0.14, 0.29, 1.2, 1.5, 0.8),
    "F": (0.05, 0.12, 1.4, 1.7, 0.6),
    "G": (0.22, 0.50, 1.0, 1.1, 1.1),
    "H": (0.08, 0.26, 1.2, 1.3, 0.9),
    "I": (0.09, 0.53, 0.9, 1.2, 1.0),
    "N": (0.15, 0.46, 1.1, 1.1, 1.0),
    "Q": (0.27, 0.78, 1.3, 1.4, 1.5),
}


def ioda_rows(year: int = 2024, seed: int = 76) -> list[list[object]]:
    """SPSTI × département × sex × age band × section rows (7 sections; section F only for the BTP services)."""
    rng = np.random.default_rng(seed)
    names, labels = _spsti_names(), _section_labels()
    cells: list[tuple[str, str, str, float]] = []  # spsti, dep, section, employees
    pairs = reference.spsti_departements()
    for code, dep in pairs.iter_rows():
        if "BTP" in code:
            deps = pairs.filter(pl.col("code") == code)["departement"].to_list()
            share = DEP_WEIGHT[dep] / sum(DEP_WEIGHT[d] for d in deps)
            cells.append((code, dep, "F", FOLLOWED[code] * share))
        else:
            for sec, (s_share, *_rest) in IODA_SECTIONS.items():
                cells.append((code, dep, sec, FOLLOWED[code] * s_share))
    rows: list[list[object]] = []
    for code, dep, sec, n in cells:
        _, women, f_inapt, f_tms, f_psy = IODA_SECTIONS[sec]
        for sex, s_share, s_psy in (("H", 1 - women, 0.8), ("F", women, 1.25)):
            for a, age in enumerate(IODA_AGES):
                noise = rng.uniform(0.85, 1.15)
                suivis = int(n * s_share * IODA_AGE_SHARE[a] * noise)
                if suivis == 0:
                    continue
                inapt = int(rng.poisson(suivis * 0.0048 * f_inapt * IODA_AGE_INAPT[a]))
                tms = int(rng.binomial(suivis, min(0.9, 0.105 * f_tms * IODA_AGE_TMS[a])))
                psy = int(rng.binomial(suivis, min(0.9, 0.055 * f_psy * IODA_AGE_PSY[a] * s_psy)))
                row: list[object] = [code, names[code], dep, sex, age, sec, labels[sec], suivis, inapt, tms, psy]
                if suivis < 40:  # the provider hides the counts of very small cells
                    row[8] = row[9] = row[10] = "s"
                rows.append(row)
    return rows


def write_ioda(folder: Path, demo: Path) -> None:
    rows = ioda_rows()
    title = "Dispositif IODA — inaptitudes par SPSTI, département, sexe, tranche d'âge et section NAF — année 2024"
    note = "Données fictives (exemple prst). s : secret (case de moins de 40 salariés suivis)."
    kw = dict(sheet="Données IODA", title=title, note=note, footnote="Source : CREAI-ORS Occitanie, dispositif IODA (fictif).")
    write_table(folder / "exemple.xlsx", IODA_HEADERS, rows, **kw)  # type: ignore[arg-type]
    write_table(demo / "ioda_2024_inaptitudes.xlsx", IODA_HEADERS, rows, **kw)  # type: ignore[arg-type]
    broken = set_cells(
        rows[:40],
        [
            (0, 0, "SPSTI-99-Z"),  # unknown-spsti
            (1, 2, "31"),  # SPSTI-09-A does not cover 31: spsti-departement-mismatch
            (2, 3, "X"),  # invalid-sex
            (3, 4, "vieux"),  # invalid-age-band
            (4, 5, "Z9"),  # unknown-naf
            (5, 7, "douze"),  # non-numeric-count
            (6, 8, -2),  # negative-count
            (7, 9, 10**6),  # parts-exceed-total (profil TMS > salariés suivis)
            (8, 10, None),  # missing-value
        ],
    )
    broken.append(list(broken[12]))  # duplicate-key
    write_table(folder / "exemple-errone.xlsx", IODA_HEADERS, broken, **kw)  # type: ignore[arg-type]


# -- MCP --------------------------------------------------------------------------------------

MCP_HEADERS = [
    "Année", "Sexe", "Section NAF (A21)", "Libellé de la section", "Salariés vus",
    "Salariés avec signalement de souffrance psychique", "Salariés avec signalement de TMS",
    "Salariés avec signalement d'autres MCP", "Prévalence souffrance psychique (%)", "Prévalence TMS (%)",
    "Prévalence autres MCP (%)",
]  # fmt: skip
# section: (share of employees seen, share of women, psy, TMS factors)
MCP_SECTIONS = {
    "A": (0.015, 0.30, 0.5, 1.3), "B": (0.002, 0.10, 0.6, 1.2), "C": (0.12, 0.30, 0.8, 1.6),
    "D": (0.006, 0.28, 0.9, 0.7), "E": (0.011, 0.22, 0.8, 1.4), "F": (0.075, 0.12, 0.5, 1.6),
    "G": (0.16, 0.50, 1.1, 1.2), "H": (0.065, 0.26, 0.9, 1.3), "I": (0.07, 0.53, 1.0, 1.2),
    "J": (0.03, 0.33, 1.3, 0.5), "K": (0.03, 0.60, 1.6, 0.4), "L": (0.012, 0.60, 1.1, 0.6),
    "M": (0.06, 0.50, 1.2, 0.5), "N": (0.11, 0.45, 0.9, 1.1), "O": (0.02, 0.60, 1.4, 0.8),
    "P": (0.015, 0.65, 1.3, 0.6), "Q": (0.16, 0.78, 1.3, 1.3), "R": (0.012, 0.45, 1.0, 0.8),
    "S": (0.025, 0.65, 1.0, 1.0), "_U": (0.002, 0.50, 1.0, 1.0),
}  # fmt: skip
MCP_SEEN = {2021: 5_840, 2022: 6_310, 2023: 6_020}


def mcp_rows(seed: int = 2023) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    labels = _section_labels()
    rows: list[list[object]] = []
    for year, seen in MCP_SEEN.items():
        for sec, (share, women, f_psy, f_tms) in MCP_SECTIONS.items():
            for sex, s_share, s_psy, s_tms in (("Hommes", 1 - women, 0.65, 1.0), ("Femmes", women, 1.45, 1.05)):
                vus = int(rng.poisson(seen * share * s_share))
                psy = int(rng.binomial(vus, 0.031 * f_psy * s_psy)) if vus else 0
                tms = int(rng.binomial(vus, 0.026 * f_tms * s_tms)) if vus else 0
                autres = int(rng.binomial(vus, 0.009)) if vus else 0
                if vus >= 20:
                    rates: list[object] = [round(100 * x / vus, 1) for x in (psy, tms, autres)]
                else:  # too few employees seen: the provider does not compute the prevalence
                    rates = ["nd", "nd", "nd"]
                label = "Non renseigné" if sec == "_U" else sec
                rows.append([year, sex, label, labels.get(sec, "Section non renseignée"), vus, psy, tms, autres, *rates])
    return rows


def write_mcp(folder: Path, demo: Path) -> None:
    rows = mcp_rows()
    title = "Programme de surveillance des maladies à caractère professionnel (MCP) — Occitanie — quinzaines 2021 à 2023"
    note = "Données fictives (exemple prst). Un salarié peut avoir des signalements dans plusieurs groupes. nd : prévalence non calculée (moins de 20 salariés vus)."
    kw = dict(sheet="MCP Occitanie", title=title, note=note, year=2023, footnote="Source : Santé publique France, programme MCP (fictif).")
    write_table(folder / "exemple.xlsx", MCP_HEADERS, rows, **kw)  # type: ignore[arg-type]
    write_table(demo / "spf-mcp_2021-2023_occitanie.xlsx", MCP_HEADERS, rows, **kw)  # type: ignore[arg-type]
    broken = set_cells(
        rows[:30],
        [
            (0, 0, "2O22"),  # invalid-year (letter O)
            (1, 1, "Ensemble"),  # invalid-sex (a total row)
            (2, 5, 10**5),  # parts-exceed-total
            (3, 6, "beaucoup"),  # non-numeric-count
            (4, 8, 99.9),  # rate-mismatch (warning)
            (5, 7, 2.5),  # non-integer-count
        ],
    )
    broken.append(list(broken[10]))  # duplicate-key
    write_table(folder / "exemple-errone.xlsx", MCP_HEADERS, broken, **kw)  # type: ignore[arg-type]


# -- DGT activity report ---------------------------------------------------------------------

DGT_HEADERS_2024 = [
    "Code SPSTI", "Nom du SPSTI", "Salariés suivis", "Visites d'information et de prévention (VIP)",
    "Examens médicaux d'aptitude (SIR)", "Visites de reprise", "Visites de pré-reprise", "Visites à la demande",
    "Autres visites", "Total des visites", "Avis d'inaptitude",
]  # fmt: skip
DGT_HEADERS_2025 = [
    "Code SPSTI", "Nom du SPSTI", "Effectif suivi", "VIP (initiales et périodiques)",
    "Suivi individuel renforcé : examens d'aptitude", "Visites de reprise", "Visites de pré-reprise",
    "Visites à la demande", "Autres visites", "Ensemble des visites", "Inaptitudes prononcées",
]  # fmt: skip
DGT_VISIT_SHARE = [0.41, 0.15, 0.12, 0.06, 0.12, 0.14]


def dgt_rows(year: int, seed: int) -> list[list[object]]:
    rng = np.random.default_rng(seed)
    names = _spsti_names()
    rows: list[list[object]] = []
    for code, base in FOLLOWED.items():
        suivis = int(base * (1 + 0.012 * (year - 2024)) * rng.uniform(0.97, 1.03))
        visits = suivis * rng.uniform(0.42, 0.52)
        share = np.array(DGT_VISIT_SHARE) * rng.uniform(0.85, 1.15, size=6)
        by_type = [int(x) for x in visits * share / share.sum()]
        if "BTP" in code:  # building trade: more workers under reinforced follow-up
            by_type[1], by_type[0] = by_type[1] * 2, by_type[0] - by_type[1]
        inapt = int(rng.poisson(suivis * 0.0052))
        rows.append([code, names[code], suivis, *by_type, sum(by_type), inapt])
    return rows


def write_dgt(folder: Path, demo: Path) -> None:
    note = "Données fictives (exemple prst)."
    rows24 = dgt_rows(2024, seed=24)
    kw24 = dict(sheet="Activité 2024", note=note, title="Rapport annuel d'activité des SPSTI — extrait régional Occitanie — année 2024")
    write_table(folder / "exemple.xlsx", DGT_HEADERS_2024, rows24, **kw24)  # type: ignore[arg-type]
    write_table(demo / "dgt-spsti_2024_activite.xlsx", DGT_HEADERS_2024, rows24, **kw24)  # type: ignore[arg-type]
    rows25 = dgt_rows(2025, seed=25)
    kw25 = dict(sheet="Activité 2025", note=note, year=2025, title="Rapport annuel d'activité des SPSTI — extrait régional Occitanie — année 2025")
    write_table(folder / "exemple-2025.xlsx", DGT_HEADERS_2025, rows25, **kw25)  # type: ignore[arg-type]
    broken = set_cells(
        rows24,
        [
            (0, 0, "SPSTI-99-A"),  # unknown-spsti
            (1, 9, rows24[1][9] + 7),  # total-mismatch  # type: ignore[operator]
            (2, 5, -12),  # negative-count
            (3, 10, 10**7),  # parts-exceed-total (inaptitudes > salariés suivis)
            (4, 10, 152.5),  # non-integer-count
            (5, 6, None),  # missing-value
        ],
    )
    broken.append(list(broken[8]))  # duplicate-key
    write_table(folder / "exemple-errone.xlsx", DGT_HEADERS_2024, broken, **kw24)  # type: ignore[arg-type]


# -- broken copies of the AT workbooks (conformance suite) ----------------------------------------


def write_at_broken(nat: pl.DataFrame, fix: Path) -> None:
    """The small broken AT workbook of ameli-at, from real national rows."""
    # ameli-at: 40 real national rows, then defects
    head = nat.head(40).with_columns(pl.all().cast(pl.String))
    rows = [list(r) for r in head.iter_rows()]
    h = samples.AT_HEADERS
    rows = set_cells(
        rows,
        [
            (0, h.index("CTN"), "ZZ"),  # unknown-ctn
            (1, h.index("Code NAF"), "9999Z"),  # unknown-naf
            (2, h.index("Nombre de salariés"), "beaucoup"),  # non-numeric-count
            (3, h.index("Décès"), "-1"),  # negative-count
            (4, h.index("Chutes de hauteur"), "999999"),  # parts-exceed-total
        ],
    )
    rows.append(list(rows[20]))  # duplicate-key
    write_table(fix / "ameli-at/exemple-errone.xlsx", h, rows, sheet="AT 2024 par CTN X NAF",
                title="Risque Accident du travail 2024 par CTN et code NAF", note=None)  # fmt: skip

    # the Carsat samples and their broken copies (several sheets) are written by make_fixtures.mp_and_msa


def main(nat: pl.DataFrame, fix: Path, demo: Path) -> None:
    write_ioda(fix / "ioda", demo)
    write_mcp(fix / "spf-mcp", demo)
    write_dgt(fix / "dgt-spsti", demo)
    write_at_broken(nat, fix)
