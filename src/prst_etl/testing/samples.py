"""Sample provider files built from the real national AT workbook (tests, demo, benchmarks).

The Carsat do not publish their commune-level files, so prst builds plausible
ones: each real national CTN × NAF row is scaled down to the size of a caisse
and spread over a few communes of its départements (weighted by population).
Scaling uses ``floor``, which keeps every « part ≤ total » relation of the
national file (Σ risk families ≤ AT, IP < 10 % ≤ IP…).

Writing workbooks needs ``xlsxwriter`` (a runtime dependency since ``prst sources template``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from prst_etl.reference import geography
from prst_etl import reference

AT_HEADERS = [
    "CTN", "Libellé du CTN", "Code NAF", "Libellé du code NAF", "Code NAF2", "Libellé du code NAF2",
    "Code NAF38", "Libellé du code NAF38", "Nombre de salariés", "Nombre d'heures travaillées",
    "Nombre de SIRET", "AT en 1er règlement", "dont AT avec 4 jours d'arrêt ou plus sur l'année",
    "Nouvelles IP", "dont IP avec taux < 10%", "dont IP avec taux ≥ 10% ", "Décès", "Journées d'IT",
    "Somme des taux d'IP <10%", "Somme des taux d'IP", "Outillage à main", "Chutes de plain-pied",
    "Manutention manuelle", "Risque machines", "Chutes de hauteur", "Risque physique dont risque électrique",
    "Risque routier", "Agressions (y compris par animaux)", "Autres risques", "Risque chimique",
    "Manutention mécanique", "Autres véhicules de transport",
]  # fmt: skip
COUNT_HEADERS = AT_HEADERS[8:]
LABEL_HEADERS = AT_HEADERS[:8]
AGE_LABELS = ["Moins de 20 ans", "20 à 29 ans", "30 à 39 ans", "40 à 49 ans", "50 à 59 ans", "60 ans et plus"]
AGE_WEIGHTS = np.array([0.04, 0.21, 0.24, 0.25, 0.21, 0.05])
CAISSE_SHARE = {"carsat-mp": 918_417 / 20_799_568, "carsat-lr": 714_133 / 20_799_568}
"""Share of national employees of each caisse in 2024 (CNAM rapport annuel, see demo PROVENANCE)."""


def read_national(path: Path) -> pl.DataFrame:
    """The real national workbook as a frame: label columns as text, counts as Int64."""
    import fastexcel

    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=3, dtypes="string")
    df = sheet.to_polars()
    df = df.rename({c: c for c in df.columns})
    out = df.select(
        [pl.col(c).alias(c) for c in LABEL_HEADERS]
        + [pl.col(c).cast(pl.Float64).fill_null(0).cast(pl.Int64).alias(c) for c in COUNT_HEADERS]
    )
    return out


def _communes(caisse: str) -> pl.DataFrame:
    deps = geography.CAISSES[caisse]
    cur = reference.communes(2025).filter(
        (pl.col("type") == "commune-actuelle") & pl.col("departement").is_in(deps)
    )
    return cur.select("code", "nom", "departement")


def spread_over_communes(
    national: pl.DataFrame,
    caisse: str,
    *,
    seed: int = 2024,
    max_communes: int = 3,
    share: float | None = None,
    old_codes: bool = True,
) -> pl.DataFrame:
    """A commune-level Carsat table: national rows scaled to the caisse and spread over communes.

    With ``old_codes``, rows of the communes that merged since 2022 are written
    under their former code (as a file in an older COG vintage would).
    """
    rng = np.random.default_rng(seed)
    communes = _communes(caisse)
    # Larger communes get more rows: weight by the number of former entries + 1 as a cheap proxy,
    # and favour the préfectures (known large codes).
    codes = communes["code"].to_numpy()
    weights = np.ones(len(codes))
    big = {"31555": 60, "34172": 50, "30189": 20, "66136": 15, "81004": 8, "12202": 8, "65440": 6, "82121": 6,
           "46042": 4, "09122": 3, "32013": 4, "11069": 6, "11262": 6, "48095": 3, "34032": 6, "31395": 3}  # fmt: skip
    for i, c in enumerate(codes):
        weights[i] = big.get(c, 1.0)
    weights /= weights.sum()
    share = CAISSE_SHARE[caisse] if share is None else share

    counts = national.select(COUNT_HEADERS).to_numpy()
    n = len(national)
    k = rng.integers(1, max_communes + 1, size=n)
    rows_idx = np.repeat(np.arange(n), k)
    # split the caisse's share of each row between its k communes
    parts = rng.dirichlet(np.ones(max_communes), size=n)
    frac = np.concatenate([parts[i, : k[i]] / parts[i, : k[i]].sum() for i in range(n)]) * share
    scaled = np.floor(counts[rows_idx] * frac[:, None]).astype(np.int64)
    chosen = rng.choice(len(codes), size=len(rows_idx), p=weights)
    out = national[rows_idx].select(LABEL_HEADERS).with_columns(pl.Series("Code commune", codes[chosen]))
    out = pl.concat([out, pl.DataFrame(scaled, schema=COUNT_HEADERS, orient="row")], how="horizontal")
    # one row per commune × CTN × NAF: add up the rare collisions
    out = out.group_by(["Code commune", *LABEL_HEADERS], maintain_order=True).agg(pl.col(COUNT_HEADERS).sum())
    # keep rows that carry something (a file lists establishments that exist)
    out = out.filter(pl.sum_horizontal(COUNT_HEADERS[:4]) > 0)
    if old_codes:
        out = _use_old_codes(out, rng)
    return out.select(["Code commune", *AT_HEADERS])


def _use_old_codes(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Write some rows of merged communes under a former code (e.g. 12218 → 12076)."""
    passage = reference.commune_passage().filter(
        (pl.col("code_source") != pl.col("code_cog2025")) & pl.col("origine").is_in(["cog2025-ancien-code", "cog2025-deleguee"])
    )
    old_of = dict(zip(passage["code_cog2025"], passage["code_source"]))
    codes = df["Code commune"].to_list()
    flip = rng.random(len(codes)) < 0.5
    new = [old_of[c] if f and c in old_of else c for c, f in zip(codes, flip)]
    return df.with_columns(pl.Series("Code commune", new))


def split_sex_age(df: pl.DataFrame, *, seed: int = 7, male_share: float = 0.55) -> pl.DataFrame:
    """Split every row into sex × age-band rows (floor of shares; rows left empty are dropped)."""
    rng = np.random.default_rng(seed)
    counts = df.select(COUNT_HEADERS).to_numpy()
    blocks = []
    keys = df.drop(COUNT_HEADERS)
    for s_label, s_share in (("H", male_share), ("F", 1 - male_share)):
        for a_label, a_share in zip(AGE_LABELS, AGE_WEIGHTS):
            noise = rng.uniform(0.7, 1.3, size=(len(df), 1))
            part = np.floor(counts * min(1.0, s_share * a_share * noise.mean()) * noise / noise.mean()).astype(np.int64)
            part = np.minimum(part, counts)
            blocks.append(
                pl.concat(
                    [
                        keys.with_columns(pl.lit(s_label).alias("Sexe"), pl.lit(a_label).alias("Tranche d'âge")),
                        pl.DataFrame(part, schema=COUNT_HEADERS, orient="row"),
                    ],
                    how="horizontal",
                )
            )
    out = pl.concat(blocks).filter(pl.sum_horizontal(COUNT_HEADERS[:4]) > 0)
    first = [c for c in df.columns if c not in AT_HEADERS]
    return out.select([*first, "Sexe", "Tranche d'âge", *AT_HEADERS])


def to_departements(df: pl.DataFrame) -> pl.DataFrame:
    """Commune rows added up by département (a département-level Carsat file)."""
    m = geography.normalise_communes(df["Code commune"])
    keys = [c for c in df.columns if c not in COUNT_HEADERS and c != "Code commune"]
    out = (
        df.with_columns(pl.Series("Département", m["departement"]))
        .group_by(["Département", *keys], maintain_order=True)
        .agg(pl.col(COUNT_HEADERS).sum())
    )
    return out.select(["Département", *keys, *COUNT_HEADERS])


def write_workbook(df: pl.DataFrame, path: Path, *, year: int, sheet: str | None = None, title: str | None = None) -> Path:
    """Write an Ameli-style workbook: title in A1, note in I2, header on row 4, data below."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    wb.set_properties({"created": datetime(year + 1, 1, 1), "author": "prst (fichier d'exemple)"})
    ws = wb.add_worksheet(sheet or f"AT {year} par CTN X NAF")
    ws.write_string(0, 0, title or f"Risque Accident du travail {year} par CTN et code NAF")
    ws.write_string(1, 8, "Les cases vides correspondent à la valeur 0.")
    for j, c in enumerate(df.columns):
        ws.write_string(3, j, c)
    numeric = [df.schema[c].is_numeric() for c in df.columns]
    for i, row in enumerate(df.iter_rows(), start=4):
        for j, v in enumerate(row):
            if v is None:
                continue
            if numeric[j]:
                ws.write_number(i, j, v)
            else:
                ws.write_string(i, j, str(v))
    wb.close()
    return path


def write_csv(df: pl.DataFrame, path: Path, *, year: int, encoding: str = "cp1252", bom: bool = False) -> Path:
    """A French-spreadsheet CSV: title line, ``;``, decimal comma, thousands separated by spaces."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def fmt(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}".replace(",", "\u00a0" if encoding != "cp1252" else " ")
        if isinstance(v, float):
            return f"{v:.1f}".replace(".", ",")
        return str(v)

    def quote(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if any(ch in text for ch in ';"\n') else text

    lines = [f"Risque Accident du travail {year} par CTN et code NAF", ""]
    lines.append(";".join(quote(c) for c in df.columns))
    for row in df.iter_rows():
        lines.append(";".join(quote(fmt(v)) for v in row))
    lines.append("Source : Carsat, traitement prst (fichier d'exemple)")
    text = "\r\n".join(lines)
    if encoding.lower() in {"cp1252", "latin-1", "latin1"}:
        text = text.replace("≥", ">=")  # not in Latin-1: providers write it this way
    data = text.encode(encoding)
    if bom:
        data = b"\xef\xbb\xbf" + data
    path.write_bytes(data)
    return path


def big_table(national: pl.DataFrame, n_rows: int, *, seed: int = 1) -> pl.DataFrame:
    """A commune × sex × age-band Carsat table of about ``n_rows`` rows (for benchmarks)."""
    rng = np.random.default_rng(seed)
    base = spread_over_communes(national, "carsat-mp", seed=seed, max_communes=3, share=0.05, old_codes=False)
    full = split_sex_age(base, seed=seed)
    if full.height >= n_rows:
        return full.sample(n_rows, seed=seed).sort(["Code commune", "CTN", "Code NAF"])
    # not enough distinct cells: draw more communes for the same rows
    extra = []
    i = 0
    while sum(len(e) for e in extra) + full.height < n_rows:
        i += 1
        more = spread_over_communes(national, "carsat-mp", seed=seed + 100 * i, max_communes=3, share=0.05, old_codes=False)
        extra.append(split_sex_age(more, seed=seed + i))
    out = pl.concat([full, *extra]).unique(subset=["Code commune", "Sexe", "Tranche d'âge", "CTN", "Code NAF"], keep="first")
    del rng
    return out.head(n_rows)


REAL_TOTALS = {
    # Carsat totals from the CNAM annual report (transcribed by a third party, see demo PROVENANCE)
    "carsat-mp": {2023: (25_720, 915_685), 2024: (24_474, 918_417)},
    "carsat-lr": {2023: (25_087, 716_311), 2024: (24_371, 714_133)},
}


def other_year(df: pl.DataFrame, *, employees: float, events: float, seed: int = 2023) -> pl.DataFrame:
    """The same table for another year: employees and hours × ``employees``, events × ``events``,
    each row with its own noise (the same factor for all event columns of a row keeps every
    « part ≤ total » relation)."""
    rng = np.random.default_rng(seed)
    n = df.height
    noise = rng.normal(1.0, 0.08, size=n).clip(0.6, 1.4)
    base = ["Nombre de salariés", "Nombre d'heures travaillées", "Nombre de SIRET"]
    ev = [c for c in COUNT_HEADERS if c not in base]
    # floor() loses more on small counts: search the factor that gives the wanted total of accidents
    at = df["AT en 1er règlement"].to_numpy().astype(float)
    target = events * at.sum()
    lo, hi = 0.1, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.floor(at * noise * mid).sum() < target else (lo, mid)
    factor = pl.Series(noise * hi)
    exprs = [(pl.col(c) * employees).floor().cast(pl.Int64).alias(c) for c in base]
    exprs += [(pl.col(c) * factor).floor().cast(pl.Int64).alias(c) for c in ev]
    return df.with_columns(exprs)
