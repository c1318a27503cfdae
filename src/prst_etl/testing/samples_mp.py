"""Fictitious MP and trajet sample files (tests, demo), built from the real national AT rows.

No real « MP par CTN et code NAF » workbook is available to prst, nor a Carsat file with
Trajet and MP sheets. The samples built here are **fictitious** but plausible:

* each CTN × NAF row keeps the real employees, hours and establishments of the national
  AT workbook (or of a fictitious Carsat commune row built from it, see :mod:`samples`);
* occupational diseases are drawn (fixed seeds) at about the national rate (≈ 2.3 MP
  recognised per 1 000 employees), split over real tableaux of the régime général with a
  plausible mix (TMS ≈ 88 %, of which tableau 57 ≈ 80 % of all MP; amiante, surdité,
  psychic diseases hors tableau…), skewed by CTN (BTP: lombalgies, amiante; services:
  psy…);
* commuting accidents are drawn from the AT counts of the same row (≈ 17 % of AT).

Writing workbooks needs ``xlsxwriter`` (a test dependency, not a runtime one).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from prst_etl.testing import samples

MP_HEADERS = [
    "code CTN / Compte spécial MP", "libellé CTN / Compte spécial MP", "Code NAF", "Libellé du code NAF",
    "Code NAF38", "Libellé du code NAF 38", "Code NAF2", "Libellé du code NAF2", "code Tableau de MP",
    "Libellé tableau de MP", "Code syndrome / CIM 10", "Libellé syndrome/ CIM 10", "Nombre de salariés*",
    "Nombre d'heures travaillées*", "Nombre d'établissements*", "MP en 1er règlement", "Nouvelles IP",
    "dont IP avec taux < 10%", "dont IP avec taux ≥ 10%", "Décès", "Journées d'IT", "Somme des taux d'IP",
    "somme des taux d'IP <10", "somme des taux d'IP >=10", "Top TMS", "Top biologie", "Top risque chimique",
    "Top Cancers professionnels", "Top cancers professionnels hors tableau", "Top MP psy alinéa 7",
]  # fmt: skip
MP_EFFECTIFS = MP_HEADERS[12:15]
MP_COUNTS = MP_HEADERS[15:24]
MP_FLAGS = MP_HEADERS[24:]
TRAJET_HEADERS = [
    "CTN", "Libellé du CTN", "Code NAF", "Libellé du code NAF", "Code NAF2", "Libellé du code NAF2",
    "Code NAF38", "Libellé du code NAF38", "Nombre de salariés", "Nombre d'heures travaillées",
    "Nombre de SIRET", "Accidents de trajet en 1er règlement",
    "dont accidents de trajet avec 4 jours d'arrêt ou plus sur l'année", "Nouvelles IP", "Décès",
    "Journées d'IT", "Somme des taux d'IP",
]  # fmt: skip
TRAJET_COUNTS = TRAJET_HEADERS[11:]

MP_RATE = 2.3e-3
"""MP recognised per employee and year, régime général (≈ 47 000 MP for 20.8 M employees)."""

# Syndromes of the sample: tableau, its label, syndrome (CIM-10), its label, share of all MP,
# « Top » flags, share with IP, share of IP < 10 %, share of deaths, mean days of IT per MP.
SYNDROMES: list[tuple[str, str, str, str, float, tuple[str, ...], float, float, float, float]] = [
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "M75.1", "Rupture de la coiffe des rotateurs", 0.29, ("Top TMS",), 0.60, 0.55, 0, 260),
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "M75.4", "Tendinopathie de la coiffe des rotateurs (conflit sous-acromial)", 0.12, ("Top TMS",), 0.45, 0.75, 0, 190),
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "G56.0", "Syndrome du canal carpien", 0.22, ("Top TMS",), 0.35, 0.85, 0, 110),
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "M77.1", "Épicondylite latérale", 0.12, ("Top TMS",), 0.40, 0.85, 0, 150),
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "M65.3", "Ténosynovite des fléchisseurs (doigt à ressaut)", 0.03, ("Top TMS",), 0.25, 0.95, 0, 80),
    ("057A", "Affections périarticulaires provoquées par certains gestes et postures de travail", "M70.4", "Hygroma du genou", 0.01, ("Top TMS",), 0.20, 0.95, 0, 60),
    ("098A", "Affections chroniques du rachis lombaire provoquées par la manutention manuelle de charges lourdes", "M51.1", "Sciatique par hernie discale L4-L5 ou L5-S1", 0.045, ("Top TMS",), 0.65, 0.40, 0, 330),
    ("098A", "Affections chroniques du rachis lombaire provoquées par la manutention manuelle de charges lourdes", "M54.1", "Radiculalgie crurale par hernie discale", 0.01, ("Top TMS",), 0.65, 0.40, 0, 320),
    ("097A", "Affections chroniques du rachis lombaire provoquées par des vibrations de basses et moyennes fréquences transmises au corps entier", "M51.1", "Sciatique par hernie discale L4-L5 ou L5-S1", 0.006, ("Top TMS",), 0.65, 0.40, 0, 330),
    ("079A", "Lésions chroniques du ménisque à caractère dégénératif", "M23.2", "Lésion chronique du ménisque", 0.008, ("Top TMS",), 0.40, 0.90, 0, 150),
    ("069A", "Affections provoquées par les vibrations et chocs transmis par certaines machines-outils, outils et objets", "I73.0", "Syndrome de Raynaud", 0.003, ("Top TMS",), 0.50, 0.80, 0, 40),
    ("042A", "Atteinte auditive provoquée par les bruits lésionnels", "H83.3", "Hypoacousie de perception due au bruit", 0.012, (), 0.95, 0.35, 0, 5),
    ("030A", "Affections professionnelles consécutives à l'inhalation de poussières d'amiante", "J92.0", "Plaques pleurales", 0.025, (), 0.95, 0.95, 0, 2),
    ("030A", "Affections professionnelles consécutives à l'inhalation de poussières d'amiante", "J61", "Asbestose", 0.004, (), 0.95, 0.30, 0.02, 10),
    ("030A", "Affections professionnelles consécutives à l'inhalation de poussières d'amiante", "C45.0", "Mésothéliome malin de la plèvre", 0.008, ("Top Cancers professionnels",), 0.95, 0.0, 0.35, 60),
    ("030B", "Cancer broncho-pulmonaire provoqué par l'inhalation de poussières d'amiante", "C34.9", "Cancer broncho-pulmonaire primitif", 0.010, ("Top Cancers professionnels",), 0.95, 0.0, 0.30, 80),
    ("004A", "Hémopathies provoquées par le benzène et tous les produits en renfermant", "C92.0", "Leucémie myéloïde aiguë", 0.001, ("Top risque chimique", "Top Cancers professionnels"), 0.9, 0.0, 0.20, 120),
    ("047A", "Affections professionnelles provoquées par les poussières de bois", "C30.0", "Cancer primitif des cavités nasales", 0.001, ("Top Cancers professionnels",), 0.9, 0.0, 0.15, 90),
    ("025A", "Affections consécutives à l'inhalation de poussières minérales renfermant de la silice cristalline", "J62.8", "Silicose chronique", 0.002, (), 0.9, 0.40, 0.02, 20),
    ("065A", "Lésions eczématiformes de mécanisme allergique", "L23.9", "Eczéma de contact allergique", 0.004, ("Top risque chimique",), 0.30, 0.95, 0, 60),
    ("066A", "Rhinites et asthmes professionnels", "J45.0", "Asthme à prédominance allergique", 0.003, ("Top risque chimique",), 0.60, 0.70, 0, 70),
    ("066A", "Rhinites et asthmes professionnels", "J30.3", "Rhinite allergique", 0.001, ("Top risque chimique",), 0.40, 0.95, 0, 30),
    ("084A", "Affections engendrées par les solvants organiques liquides à usage professionnel", "G92", "Encéphalopathie toxique chronique", 0.0005, ("Top risque chimique",), 0.9, 0.30, 0, 120),
    ("040A", "Maladies dues aux bacilles tuberculeux et à certaines mycobactéries atypiques", "A15.0", "Tuberculose pulmonaire", 0.0008, ("Top biologie",), 0.20, 0.90, 0, 90),
    ("045A", "Infections d'origine professionnelle par les virus des hépatites A, B, C, D et E", "B18.1", "Hépatite virale B chronique", 0.0004, ("Top biologie",), 0.50, 0.60, 0, 60),
    ("100A", "Affections respiratoires aiguës liées à une infection au SARS-CoV2", "U07.1", "COVID-19, affection respiratoire aiguë grave", 0.002, ("Top biologie",), 0.50, 0.40, 0.05, 90),
    ("HT", "Hors tableau (alinéa 7)", "F32.9", "Épisode dépressif", 0.012, ("Top MP psy alinéa 7",), 0.95, 0.0, 0.01, 300),
    ("HT", "Hors tableau (alinéa 7)", "F41.1", "Anxiété généralisée", 0.005, ("Top MP psy alinéa 7",), 0.95, 0.0, 0, 280),
    ("HT", "Hors tableau (alinéa 7)", "F43.1", "État de stress post-traumatique", 0.004, ("Top MP psy alinéa 7",), 0.95, 0.0, 0, 320),
    ("HT", "Hors tableau (alinéa 7)", "C67.9", "Cancer de la vessie", 0.0005, ("Top cancers professionnels hors tableau",), 0.95, 0.0, 0.2, 90),
]  # fmt: skip
CTN_SKEW: dict[str, dict[str, float]] = {
    "BB": {"098A": 2.5, "097A": 3, "030A": 3, "030B": 3, "042A": 2, "025A": 4, "HT": 0.3},
    "AA": {"042A": 3, "030A": 2, "030B": 2, "066A": 1.5},
    "CC": {"097A": 5, "098A": 1.5, "HT": 1.5},
    "DD": {"057A": 1.2, "HT": 0.6},
    "EE": {"066A": 4, "065A": 4, "004A": 8, "084A": 6},
    "FF": {"047A": 15, "042A": 2},
    "GG": {"057A": 1.1},
    "HH": {"HT": 5, "057A": 0.6},
    "II": {"HT": 2, "040A": 4, "045A": 5, "100A": 6, "065A": 2},
}
"""Mix of tableaux by CTN (multiplies the national shares)."""
CTN_RATE = {"AA": 1.0, "BB": 1.5, "CC": 0.9, "DD": 1.8, "EE": 1.0, "FF": 1.4, "GG": 0.8, "HH": 0.25, "II": 1.1}
"""MP rate of each CTN relative to the national one."""


def _syndrome_shares(ctn: str) -> np.ndarray:
    skew = CTN_SKEW.get(ctn, {})
    w = np.array([s[4] * skew.get(s[0], 1.0) for s in SYNDROMES])
    return w / w.sum()


def draw_mp(effectifs: pl.DataFrame, rng: np.random.Generator, *, rate: float = MP_RATE, ctn_col: str = "CTN") -> pl.DataFrame:
    """MP rows (one per tableau × syndrome with at least one disease) for each effectifs row.

    ``effectifs`` holds the key and label columns of each CTN × NAF (any others are kept)
    and « Nombre de salariés ». Returns those columns repeated on every tableau × syndrome
    row, then the tableau, syndrome, counts and flags (all whole numbers; empty flag = "").
    """
    out_keys: list[int] = []
    cols: dict[str, list] = {h: [] for h in MP_HEADERS[8:12] + MP_COUNTS + MP_FLAGS}
    salaries = effectifs["Nombre de salariés"].to_numpy()
    ctns = effectifs[ctn_col].to_list()
    for i, (n, ctn) in enumerate(zip(salaries, ctns)):
        lam = float(n) * rate * CTN_RATE.get(ctn, 1.0)
        total = rng.poisson(lam)
        if total == 0:
            continue
        split = rng.multinomial(total, _syndrome_shares(ctn))
        for j in np.flatnonzero(split):
            tab, tab_label, syn, syn_label, _w, flags, p_ip, p_lt10, p_dc, it_mean = SYNDROMES[j]
            k = int(split[j])
            ip = int(rng.binomial(k, p_ip))
            lt10 = int(rng.binomial(ip, p_lt10))
            ge10 = ip - lt10
            deces = int(rng.binomial(k, p_dc))
            it = int(rng.gamma(2.0, it_mean / 2.0, size=k).sum()) if it_mean else 0
            taux_lt10 = int(rng.integers(1, 10, size=lt10).sum()) if lt10 else 0
            taux_ge10 = int(rng.integers(10, 67, size=ge10).sum()) if ge10 else 0
            out_keys.append(i)
            for h, v in zip(MP_HEADERS[8:12], (tab, tab_label, syn, syn_label)):
                cols[h].append(v)
            for h, v in zip(MP_COUNTS, (k, ip, lt10, ge10, deces, it, taux_lt10 + taux_ge10, taux_lt10, taux_ge10)):
                cols[h].append(v)
            for h in MP_FLAGS:
                cols[h].append("oui" if h in flags else "")
    rows = effectifs[out_keys]
    counts = pl.DataFrame(cols, schema={**{h: pl.String for h in MP_HEADERS[8:12]}, **{h: pl.Int64 for h in MP_COUNTS}, **{h: pl.String for h in MP_FLAGS}})
    return pl.concat([rows, counts], how="horizontal")


def _mp_labels(df: pl.DataFrame) -> pl.DataFrame:
    """The AT workbook's label columns renamed as in the MP workbook (NAF38 before NAF2, NAF2 as a number)."""
    return df.select(
        pl.col("CTN").alias("code CTN / Compte spécial MP"),
        pl.col("Libellé du CTN").alias("libellé CTN / Compte spécial MP"),
        "Code NAF",
        "Libellé du code NAF",
        "Code NAF38",
        pl.col("Libellé du code NAF38").alias("Libellé du code NAF 38"),
        pl.col("Code NAF2").cast(pl.Int64, strict=False).alias("Code NAF2"),  # written as a number: 1 for 01
        "Libellé du code NAF2",
        pl.col("Nombre de salariés").alias("Nombre de salariés*"),
        pl.col("Nombre d'heures travaillées").alias("Nombre d'heures travaillées*"),
        pl.col("Nombre de SIRET").alias("Nombre d'établissements*"),
    )


def national_mp(national: pl.DataFrame, *, seed: int = 2024, n_pairs: int = 30) -> pl.DataFrame:
    """A fictitious extract of the national « MP par CTN et code NAF » workbook.

    ``n_pairs`` CTN × NAF rows of the real national AT workbook (drawn with weights ∝
    employees, among rows of at least 5 000 employees), each with its diseases, plus a
    few rows of the compte spécial MP (CTN ZC, NAF xxxxx, no employees).
    """
    rng = np.random.default_rng(seed)
    pool = national.filter((pl.col("Nombre de salariés") >= 5000) & (pl.col("Code NAF") != "xxxxx"))
    w = pool["Nombre de salariés"].to_numpy().astype(float)
    idx = np.sort(rng.choice(pool.height, size=n_pairs, replace=False, p=w / w.sum()))
    base = _mp_labels(pool[idx])
    eff = base.with_columns(pl.col("Nombre de salariés*").alias("Nombre de salariés"), pl.col("code CTN / Compte spécial MP").alias("CTN"))
    mp = draw_mp(eff, rng).drop("Nombre de salariés", "CTN")
    # Compte spécial MP: diseases not charged to one employer (asbestos mostly), no employees
    special = pl.DataFrame(
        {
            "code CTN / Compte spécial MP": ["ZC"] * 4,
            "libellé CTN / Compte spécial MP": ["Compte spécial MP"] * 4,
            "Code NAF": ["xxxxx"] * 4,
            "Libellé du code NAF": ["Inconnu"] * 4,
            "Code NAF38": [None] * 4,
            "Libellé du code NAF 38": [None] * 4,
            "Code NAF2": pl.Series([None] * 4, dtype=pl.Int64),
            "Libellé du code NAF2": [None] * 4,
            "Nombre de salariés*": pl.Series([None] * 4, dtype=pl.Int64),
            "Nombre d'heures travaillées*": pl.Series([None] * 4, dtype=pl.Int64),
            "Nombre d'établissements*": pl.Series([None] * 4, dtype=pl.Int64),
        },
        schema_overrides={"Code NAF38": pl.String, "Libellé du code NAF 38": pl.String, "Libellé du code NAF2": pl.String},
    )
    picks = [j for j, s in enumerate(SYNDROMES) if s[2] in {"J92.0", "C45.0", "C34.9", "J61"}]
    sp_cols: dict[str, list] = {h: [] for h in MP_HEADERS[8:12] + MP_COUNTS + MP_FLAGS}
    for j, k in zip(picks, (180, 60, 45, 20)):
        tab, tab_label, syn, syn_label, _w, flags, p_ip, p_lt10, p_dc, it_mean = SYNDROMES[j]
        ip = int(rng.binomial(k, p_ip))
        lt10 = int(rng.binomial(ip, p_lt10))
        deces = int(rng.binomial(k, p_dc))
        it = int(rng.gamma(2.0, it_mean / 2.0, size=k).sum())
        t_lt = int(rng.integers(1, 10, size=lt10).sum()) if lt10 else 0
        t_ge = int(rng.integers(10, 67, size=ip - lt10).sum()) if ip - lt10 else 0
        for h, v in zip(MP_HEADERS[8:12], (tab, tab_label, syn, syn_label)):
            sp_cols[h].append(v)
        for h, v in zip(MP_COUNTS, (k, ip, lt10, ip - lt10, deces, it, t_lt + t_ge, t_lt, t_ge)):
            sp_cols[h].append(v)
        for h in MP_FLAGS:
            sp_cols[h].append("oui" if h in flags else "")
    special = pl.concat([special, pl.DataFrame(sp_cols, schema=mp.select(list(sp_cols)).schema)], how="horizontal")
    return pl.concat([mp.select(MP_HEADERS), special.select(MP_HEADERS)])


def regional_mp(at_rows: pl.DataFrame, *, seed: int = 2024, rate: float = MP_RATE) -> pl.DataFrame:
    """The MP sheet of a Carsat workbook from its AT rows: the geography (and sex, age) columns
    first, then the MP layout, one row per CTN × NAF × tableau × syndrome with a disease."""
    rng = np.random.default_rng(seed)
    lead = [c for c in at_rows.columns if c not in samples.AT_HEADERS]
    base = pl.concat([at_rows.select(lead), _mp_labels(at_rows)], how="horizontal")
    eff = base.with_columns(pl.col("Nombre de salariés*").alias("Nombre de salariés"), pl.col("code CTN / Compte spécial MP").alias("CTN"))
    mp = draw_mp(eff, rng, rate=rate).drop("Nombre de salariés", "CTN")
    return mp.select([*lead, *MP_HEADERS])


def regional_trajet(at_rows: pl.DataFrame, *, seed: int = 2024) -> pl.DataFrame:
    """The Trajet sheet of a Carsat workbook from its AT rows (same employees; commuting
    accidents ≈ 17 % of AT, more often serious; rows without any left out)."""
    rng = np.random.default_rng(seed)
    lead = [c for c in at_rows.columns if c not in samples.AT_HEADERS]
    at = at_rows["AT en 1er règlement"].to_numpy()
    n = rng.binomial(np.maximum(at, 0), 0.17) + rng.binomial(1, 0.05, size=len(at)) * (at_rows["Nombre de salariés"].to_numpy() > 0)
    four = rng.binomial(n, 0.92)
    ip = rng.binomial(n, 0.07)
    deces = rng.binomial(ip, 0.04)
    it = np.array([int(rng.gamma(2.0, 50.0, size=k).sum()) for k in n])
    taux = np.array([int(rng.integers(1, 40, size=k).sum()) for k in ip])
    out = at_rows.select([*lead, *samples.AT_HEADERS[:11]]).with_columns(
        pl.Series(TRAJET_COUNTS[0], n, dtype=pl.Int64),
        pl.Series(TRAJET_COUNTS[1], four, dtype=pl.Int64),
        pl.Series(TRAJET_COUNTS[2], ip, dtype=pl.Int64),
        pl.Series(TRAJET_COUNTS[3], deces, dtype=pl.Int64),
        pl.Series(TRAJET_COUNTS[4], it, dtype=pl.Int64),
        pl.Series(TRAJET_COUNTS[5], taux, dtype=pl.Int64),
    )
    out = out.rename({"Nombre de SIRET": "Nombre de SIRET"})
    return out.filter(pl.col(TRAJET_COUNTS[0]) > 0).select([*lead, *TRAJET_HEADERS])


def write_sheets(sheets: list[tuple[str, str, pl.DataFrame, dict[tuple[int, int], str]]], path: Path, *, year: int) -> Path:
    """An Ameli-style workbook of several sheets: (sheet name, title in A1, table, notes by cell).

    The header is on row 4; numbers are written as numbers, empty strings and nulls as empty cells.
    """
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": datetime(year + 1, 1, 1), "author": "prst (fichier d'exemple fictif)"})
    for name, title, df, notes in sheets:
        ws = wb.add_worksheet(name)
        ws.write_string(0, 0, title)
        for (r, c), text in sorted(notes.items()):
            ws.write_string(r, c, text)
        for j, c in enumerate(df.columns):
            ws.write_string(3, j, c)
        numeric = [df.schema[c].is_numeric() for c in df.columns]
        for i, row in enumerate(df.iter_rows(), start=4):
            for j, v in enumerate(row):
                if v is None or v == "":
                    continue
                if numeric[j]:
                    ws.write_number(i, j, v)
                else:
                    ws.write_string(i, j, str(v))
    wb.close()
    return path


MP_NOTES = {
    (0, 12): "* Salariés, heures et établissements du couple CTN × code NAF, répétés sur chacune de ses lignes.",
    (2, 12): "Les cases vides correspondent à la valeur 0.",
}
"""Notes of the MP workbook (cells M1 and M3)."""
