#!/usr/bin/env python3
"""Build prst's packaged reference tables from the shared real-data folder.

Usage::

    python scripts/build_reference.py [SHARED_REAL_DATA_DIR]

``SHARED_REAL_DATA_DIR`` defaults to ``../shared/data/real`` (relative to the
current directory). The script reads the Insee / Etalab / CNAM files described
in that folder's PROVENANCE.md files and writes compact UTF-8 CSV files (``,``
separator, codes as text) to ``src/prst_etl/reference/data/`` plus
``src/prst_etl/reference/PROVENANCE.md``. prst itself never reads the shared
folder: only this script does, and its outputs are committed.

Dependencies: the standard library and polars (with fastexcel, polars' Excel
engine, for the Ameli workbook). Every check is an ``assert`` or a
``BuildError``: the script stops rather than write a doubtful table.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
OUT_DIR = REPO / "src" / "prst_etl" / "reference" / "data"
PROVENANCE = REPO / "src" / "prst_etl" / "reference" / "PROVENANCE.md"

REGION = "76"
DEPARTEMENTS_OCCITANIE = {"09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"}
# The 2022 codes of the ZE file that are no longer communes in COG 2025, and the new code.
ZE_GONE_CODES = {"09255", "09287", "12076", "30094", "32067", "32260", "32413", "34093", "46217"}
ZE_NEW_CODES = {"12218"}
# Manual decisions for merged communes whose former communes lie in different zones and
# whose chef-lieu is not among the former communes of the ZE file (none so far).
ZE_OVERRIDES: dict[str, str] = {}
# Known errors in Insee's aggregated-level label files, fixed from the other Insee file.
# (level, code) -> (wrong label in int_eng_na_2008_<level>.csv, label kept from niv_agreg_naf_rev_2.csv)
NAF_LABEL_FIXES = {
    ("a64", "HZ3"): ("Commerce et réparation d'automobiles et de motocycles", "Transports aériens"),
}


class BuildError(RuntimeError):
    """A source file does not satisfy an expectation of the build."""


def check(cond: bool, msg: str) -> None:
    """Raise BuildError(msg) unless cond (asserts survive ``python -O``)."""
    if not cond:
        raise BuildError(msg)


def clean_label(s: str) -> str:
    """Collapse whitespace (incl. embedded line breaks, NBSP) and use ASCII apostrophes."""
    return re.sub(r"\s+", " ", s.replace("\u2019", "'")).strip()


def loose(s: str) -> str:
    """Comparison key for labels: no accents, case, typography or spacing."""
    s = clean_label(s).replace("m²", "m2")
    s = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower()
    return re.sub(r"\s+", "", s)


def read_text_csv(path: Path, sep: str = ",") -> pl.DataFrame:
    """Read a UTF-8 CSV with every column as text."""
    return pl.read_csv(path, separator=sep, infer_schema=False)


def read_cp1252(path: Path) -> list[list[str]]:
    """Read one of Insee's cp1252 ';' CSV files (quoted headers with line breaks)."""
    with path.open(encoding="cp1252", newline="") as f:
        return list(csv.reader(f, delimiter=";"))


def write_csv(df: pl.DataFrame, name: str, report: Report) -> None:
    """Write df as UTF-8 ',' CSV (nulls as empty fields) and record it for PROVENANCE."""
    check(all(dt == pl.String for dt in df.dtypes), f"{name}: non-text column")
    path = OUT_DIR / name
    df.write_csv(path, line_terminator="\n")
    report.files[name] = (df.height, df.columns, hashlib.sha256(path.read_bytes()).hexdigest())
    print(f"  wrote {name}: {df.height} rows")


@dataclass
class Report:
    """Facts gathered during the build, written into PROVENANCE.md."""

    files: dict[str, tuple[int, list[str], str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


# --------------------------------------------------------------------------- COG


def build_cog(src: Path, report: Report) -> tuple[dict[int, pl.DataFrame], pl.DataFrame]:
    """Write communes_cog2024/2025, departements, regions; return communes and départements."""
    cols = {"chefLieu": "chef_lieu", "anciensCodes": "anciens_codes"}
    out: dict[int, pl.DataFrame] = {}
    type_order = {"commune-actuelle": 0, "commune-deleguee": 1, "commune-associee": 2}
    for vintage in (2024, 2025):
        raw = read_text_csv(src / "cog-communes" / f"communes_cog{vintage}_occitanie.csv")
        check(set(raw["region"].unique()) == {REGION}, f"COG {vintage}: region other than 76")
        check(set(raw["type"].unique()) <= set(type_order), f"COG {vintage}: unexpected type")
        check(raw["code"].str.contains(r"^\d{5}$").all(), f"COG {vintage}: bad commune code")
        check(set(raw["departement"].unique()) == DEPARTEMENTS_OCCITANIE, f"COG {vintage}: départements")
        df = (
            raw.rename(cols)
            .select("code", "nom", "type", "departement", "region", "chef_lieu", "anciens_codes")
            .sort(pl.col("code"), pl.col("type").replace_strict(type_order, return_dtype=pl.Int8))
        )
        act = df.filter(pl.col("type") == "commune-actuelle")
        check(act["code"].is_unique().all(), f"COG {vintage}: duplicate commune-actuelle")
        # déléguées/associées must point to a commune-actuelle of the same vintage
        child = df.filter(pl.col("type") != "commune-actuelle")
        check(child["chef_lieu"].is_in(act["code"].implode()).all(), f"COG {vintage}: dangling chef-lieu")
        check(act["chef_lieu"].is_null().all(), f"COG {vintage}: actuelle with chef-lieu")
        write_csv(df, f"communes_cog{vintage}.csv", report)
        counts = df.group_by("type").len().sort("type").iter_rows()
        report.notes["cog"].append(f"COG {vintage}: " + ", ".join(f"{n} {t}" for t, n in counts))
        out[vintage] = df
    check(out[2025].filter(pl.col("type") == "commune-actuelle").height == 4446, "COG 2025: expected 4 446 communes")

    dep = read_text_csv(src / "cog-communes" / "departements_cog2024_2025.csv").select("code", "nom", "region")
    reg = read_text_csv(src / "cog-communes" / "regions_cog2024_2025.csv").select("code", "nom")
    check(dep["code"].is_unique().all() and reg["code"].is_unique().all(), "duplicate département/région")
    check(dep["region"].is_in(reg["code"].implode()).all(), "département with unknown région")
    occ = set(dep.filter(pl.col("region") == REGION)["code"])
    check(occ == DEPARTEMENTS_OCCITANIE, f"région 76 départements: {sorted(occ)}")
    write_csv(dep.sort("code"), "departements.csv", report)
    write_csv(reg.sort("code"), "regions.csv", report)
    return out, dep


# ------------------------------------------------------------------ passage table


ORIGIN_PRIORITY = [
    "cog2025-actuelle",
    "cog2025-deleguee",
    "cog2025-associee",
    "cog2025-ancien-code",
    "cog2024-actuelle",
    "cog2024-deleguee",
    "cog2024-associee",
    "cog2024-ancien-code",
    "ze2020-geo2022",
]


def vintage_links(df: pl.DataFrame, vintage: int) -> list[tuple[str, str, str]]:
    """(source code, commune-actuelle of the same vintage, origin) for every code of one COG."""
    links = []
    for code, typ, chef, anciens in df.select("code", "type", "chef_lieu", "anciens_codes").iter_rows():
        if typ == "commune-actuelle":
            links.append((code, code, f"cog{vintage}-actuelle"))
            for old in (anciens or "").split("|"):
                if old:
                    links.append((old, code, f"cog{vintage}-ancien-code"))
        else:
            links.append((code, chef, f"cog{vintage}-{typ.removeprefix('commune-')}"))
    return links


def build_passage(cog: dict[int, pl.DataFrame], ze_codes: list[str], report: Report) -> dict[str, str]:
    """Map every Occitanie commune code of COG 2024, COG 2025 and the 2022 ZE file to COG 2025.

    COG 2025 statements are taken as they are; a COG 2024 code goes to its 2024
    commune-actuelle, then through the 2025 map; a 2022 ZE code goes through both.
    Every candidate target is collected; a code with two different targets is a
    conflict, resolved by ORIGIN_PRIORITY (most recent vintage first) and reported.
    """
    current = set(cog[2025].filter(pl.col("type") == "commune-actuelle")["code"])
    candidates: dict[str, list[tuple[str, str]]] = defaultdict(list)

    for s, t, o in vintage_links(cog[2025], 2025):
        candidates[s].append((t, o))

    def resolve(code: str) -> str | None:
        """Current target of a code, by ORIGIN_PRIORITY, or None if not known yet."""
        cands = candidates.get(code)
        if not cands:
            return None
        return min(cands, key=lambda c: ORIGIN_PRIORITY.index(c[1]))[0]

    links24 = vintage_links(cog[2024], 2024)
    for s, parent24, o in links24:
        target = resolve(parent24)
        check(target is not None, f"COG 2024 commune {parent24} unknown in COG 2025")
        candidates[s].append((target, o))
    for s in ze_codes:
        target = resolve(s)
        check(target is not None, f"ZE 2022 code {s} unknown in COG 2024/2025")
        candidates[s].append((target, "ze2020-geo2022"))

    passage: dict[str, tuple[str, str]] = {}
    conflicts = []
    for s, cands in sorted(candidates.items()):
        best = min(cands, key=lambda c: ORIGIN_PRIORITY.index(c[1]))
        if len({t for t, _ in cands}) > 1:
            conflicts.append(f"{s} -> {sorted(set(cands))}, kept {best[0]} ({best[1]})")
        passage[s] = best
    check(all(t in current for t, _ in passage.values()), "passage target not a COG 2025 commune")
    check(current <= set(passage), "COG 2025 commune missing from passage")
    check(all(passage[c] == (c, "cog2025-actuelle") for c in current), "current commune not mapped to itself")
    check(passage["12076"][0] == "12218", "expected 12076 -> 12218 (Conques-en-Rouergue)")
    for c in ZE_GONE_CODES:
        check(c not in current and c in passage, f"{c} should be a former code")
    report.notes["passage"].append(
        f"{len(passage)} source codes -> {len(current)} COG 2025 communes; "
        f"{sum(1 for s, (t, _) in passage.items() if s != t)} codes map to another commune."
    )
    by_origin = defaultdict(int)
    for _, o in passage.values():
        by_origin[o] += 1
    report.notes["passage"].append(
        "Rows by origine: "
        + ", ".join(f"{o}: {by_origin[o]}" for o in ORIGIN_PRIORITY if by_origin[o])
        + " (a COG 2024 or ZE 2022 code already stated by COG 2025 keeps the 2025 origine; "
        "its 2024/2022 route was still computed and compared)."
    )
    if conflicts:
        report.notes["passage"].append(
            "Codes with two candidate targets (resolved by priority): " + "; ".join(conflicts)
        )
    else:
        report.notes["passage"].append("No code maps to two different current communes (checked).")
    df = pl.DataFrame(
        [(s, t, o) for s, (t, o) in sorted(passage.items())],
        schema=["code_source", "code_cog2025", "origine"],
        orient="row",
    )
    write_csv(df, "commune_passage.csv", report)
    return {s: t for s, (t, _) in passage.items()}


# --------------------------------------------------------------------- zones


def build_ze(src: Path, cog: dict[int, pl.DataFrame], report: Report) -> list[str]:
    """Write ze2020.csv; return the 2022 commune codes of the ZE file."""
    ze = read_text_csv(src / "insee-ze2020" / "ze2020_communes_occitanie_geo2022.csv")
    check(ze.height == 4454 and ze["CODGEO"].is_unique().all(), "ZE file: 4 454 unique communes expected")
    check(set(ze["REG"].unique()) == {REGION}, "ZE file: région other than 76")
    check(ze["CODGEO"].str.contains(r"^\d{5}$").all(), "ZE file: bad commune code")
    check(ze["ZE2020"].str.contains(r"^\d{4}$").all(), "ZE file: bad ZE code")
    zones = (
        ze.group_by("ZE2020", "LIBZE2020", "ZE2020_PARTIE_REG")
        .agg()
        .rename({"ZE2020": "ze2020", "LIBZE2020": "libelle", "ZE2020_PARTIE_REG": "partie_reg"})
        .with_columns(ze_code=pl.coalesce("partie_reg", "ze2020"))
        .with_columns(
            ze_libelle=pl.when(pl.col("partie_reg").is_null())
            .then(pl.col("libelle"))
            .otherwise(pl.col("libelle") + " (partie Occitanie)")
        )
        .sort("ze2020")
    )
    check(zones.height == 27 and zones["ze2020"].is_unique().all(), "expected 27 zones, one label each")
    inter = zones.filter(pl.col("partie_reg").is_not_null())
    check(inter["ze2020"].to_list() == ["0052", "0053"], "expected interregional zones 0052, 0053")
    check(inter["partie_reg"].to_list() == ["0052-76", "0053-76"], "expected parts 0052-76, 0053-76")
    check(zones.filter(pl.col("partie_reg").is_null())["ze2020"].str.starts_with("76").all(), "non-76 zone")
    new_codes = set(cog[2025].filter(pl.col("type") == "commune-actuelle")["code"]) - set(ze["CODGEO"])
    check(new_codes == ZE_NEW_CODES, f"new codes vs ZE 2022: {sorted(new_codes)}")
    write_csv(zones, "ze2020.csv", report)
    return ze["CODGEO"].to_list()


def build_commune_ze(src: Path, cog: dict[int, pl.DataFrame], passage: dict[str, str], report: Report) -> None:
    """Write commune_ze2020.csv (one zone per COG 2025 commune-actuelle) and
    commune_ze2020_geo2022.csv (the Insee composition itself, in 2022 geography).

    The Insee composition is in 2022 geography. Each 2022 code is mapped to its
    COG 2025 commune; when the former communes of a commune lie in different
    zones, the commune nouvelle goes to the zone of its chef-lieu (COG ``chefLieu``:
    the former commune whose code the new commune carries), which is what Insee's
    zoning does, unless ZE_OVERRIDES decides. The population of each zone's part is
    reported beside, for information.
    """
    ze = read_text_csv(src / "insee-ze2020" / "ze2020_communes_occitanie_geo2022.csv").with_columns(
        ze_code=pl.coalesce("ZE2020_PARTIE_REG", "ZE2020")
    )
    raw24 = read_text_csv(src / "cog-communes" / "communes_cog2024_occitanie.csv")
    pop24 = dict(
        raw24.filter(pl.col("type") == "commune-actuelle")
        .select("code", pl.col("population").cast(pl.Int64))
        .iter_rows()
    )
    zone_of = {c: (z, zc) for c, z, zc in ze.select("CODGEO", "ZE2020", "ze_code").iter_rows()}
    preds: dict[str, list[str]] = defaultdict(list)
    for code in zone_of:
        preds[passage[code]].append(code)

    rows = []
    for code in sorted(cog[2025].filter(pl.col("type") == "commune-actuelle")["code"]):
        olds = preds.get(code)
        check(bool(olds), f"commune {code} has no predecessor in the ZE file")
        zset = {zone_of[o] for o in olds}
        if len(zset) == 1:
            ((z, zc),) = zset
            origine = "insee-geo2022" if olds == [code] else "passage-meme-zone"
        else:
            chef_zone = zone_of.get(code)  # the former commune that carries the current code: the chef-lieu
            by_pop: dict[tuple[str, str], int] = defaultdict(int)
            for o in olds:
                by_pop[zone_of[o]] += pop24.get(o, 0)
            detail = ", ".join(f"{o} ({zone_of[o][1]}, pop. 2024 {pop24.get(o, '?')})" for o in sorted(olds))
            if code in ZE_OVERRIDES:
                zc = ZE_OVERRIDES[code]
                z = next(zz for zz, c in zset if c == zc)
                origine = "decision-manuelle"
            else:
                check(chef_zone is not None, f"{code}: former communes in zones {zset} and no chef-lieu among them: add ZE_OVERRIDES")
                z, zc = chef_zone  # type: ignore[misc]
                origine = "fusion-zone-chef-lieu"
            report.notes["ze"].append(
                f"{code} merges communes of zones {sorted(c for _, c in zset)}: {detail}. Assigned {zc}, the zone of "
                f"its chef-lieu {code} (the former commune whose code it keeps; Insee's rule). Population 2024 by zone, "
                f"for information: {dict((k[1], v) for k, v in sorted(by_pop.items(), key=lambda kv: -kv[1]))}. "
                "Rows a provider gives under the other former codes are counted in this zone (prst ingest says so)."
            )
        rows.append((code, z, zc, origine))
    df = pl.DataFrame(rows, schema=["code", "ze2020", "ze_code", "origine"], orient="row")
    current = cog[2025].filter(pl.col("type") == "commune-actuelle")["code"]
    check(df.height == current.len() == 4446 and df["code"].is_unique().all(), "one zone per commune")
    check(set(df["code"]) == set(current), "commune_ze codes != COG 2025 communes")
    check(df["ze_code"].n_unique() == 27, "every one of the 27 zones must keep a commune")
    write_csv(df, "commune_ze2020.csv", report)
    report.notes["ze"].append(
        "Origins: " + ", ".join(f"{o}: {n}" for o, n in df.group_by("origine").len().sort("origine").iter_rows())
    )
    geo22 = ze.select(pl.col("CODGEO").alias("code_geo2022"), pl.col("ZE2020").alias("ze2020"), "ze_code").sort("code_geo2022")
    check(geo22["code_geo2022"].is_unique().all(), "one zone per 2022 commune")
    write_csv(geo22, "commune_ze2020_geo2022.csv", report)


# ----------------------------------------------------------------------- NAF

NAF_FORMATS = {
    "NAF732_sous_classe": r"^\d\d\.\d\d[A-Z]$",
    "NAF615_classe": r"^\d\d\.\d\d$",
    "NAF272_groupe": r"^\d\d\.\d$",
    "A129": r"^[A-Z]\d\d[A-Z]$",
    "A88_division": r"^\d\d$",
    "A64": r"^[A-Z]{2}\d$",
    "A38": r"^[A-Z]{2}$",
    "A21_section": r"^[A-Z]$",
    "A10": r"^[A-Z]{2}$",
    "A17": r"^[A-Z][A-Z0-9]$",
}
NAF_LEVELS = {  # prst level -> column of the passage table
    "naf615": "NAF615_classe",
    "naf272": "NAF272_groupe",
    "a88": "A88_division",
    "a64": "A64",
    "a38": "A38",
    "a21": "A21_section",
    "a17": "A17",
    "a10": "A10",
}
NAF_COUNTS = {
    "naf732": 732,
    "naf615": 615,
    "naf272": 272,
    "a88": 88,
    "a64": 64,
    "a38": 38,
    "a21": 21,
    "a17": 17,
    "a10": 10,
}


def parse_division_ranges(text: str) -> set[str]:
    """'13-18,20-25, 31-33' -> {'13', ..., '33'}."""
    out = set()
    for part in text.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        out |= {f"{i:02d}" for i in range(int(lo), int(hi or lo) + 1)}
    return out


def build_naf(src: Path, report: Report) -> pl.DataFrame:
    """Write naf.csv after checking the passage table against Insee's own files."""
    d = src / "naf-rev2"
    t = read_text_csv(d / "naf_rev2_table_passage_niveaux.csv", sep=";")
    for col, rx in NAF_FORMATS.items():
        check(t[col].str.contains(rx).all(), f"NAF passage: {col} not matching {rx}")
    check(t.height == 732 and t["NAF732_sous_classe"].is_unique().all(), "NAF: 732 unique sub-classes")
    sub = t["NAF732_sous_classe"]
    check((t["NAF615_classe"] == sub.str.slice(0, 5)).all(), "class != sub-class[:5]")
    check((t["NAF272_groupe"] == sub.str.slice(0, 4)).all(), "group != sub-class[:4]")
    check((t["A88_division"] == sub.str.slice(0, 2)).all(), "division != sub-class[:2]")
    # every aggregated level must be a function of the division
    for col in ("A64", "A38", "A21_section", "A17", "A10"):
        check(t.group_by("A88_division").agg(pl.col(col).n_unique())[col].max() == 1, f"{col} not a function of A88")

    # cross-check with Insee's table_NAF2-NA.csv (cp1252, 2 header lines)
    insee = [r for r in read_cp1252(d / "insee-naf2008-csv" / "table_NAF2-NA.csv")[2:] if r and r[0].strip()]
    cols = [
        "NAF732_sous_classe",
        "NAF615_classe",
        "NAF272_groupe",
        "A129",
        "A88_division",
        "A64",
        "A38",
        "A21_section",
        "A10",
    ]
    from_insee = {tuple(x.strip() for x in (r[0], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])) for r in insee}
    ours = set(t.select(cols).iter_rows())
    check(from_insee == ours, f"passage table differs from table_NAF2-NA.csv: {len(from_insee ^ ours)} rows")
    # cross-check A17 with the division ranges of int_eng_na_2008_a17.csv
    a17 = {}
    for r in read_cp1252(d / "insee-naf2008-csv" / "int_eng_na_2008_a17.csv")[1:]:
        if len(r) > 4 and r[1].strip():
            for div in parse_division_ranges(r[4]):
                a17[div] = r[1].strip()
    check(all(a17[div] == code for div, code in t.select("A88_division", "A17").iter_rows()), "A17 mismatch")

    naf = t.select(
        pl.col("NAF732_sous_classe").str.replace(".", "", literal=True).alias("code"),
        *[pl.col(c).alias(lvl) for lvl, c in NAF_LEVELS.items()],
    )
    check(naf["code"].str.contains(r"^\d{4}[A-Z]$").all(), "sub-class without dot")
    for lvl, n in NAF_COUNTS.items():
        got = naf["code" if lvl == "naf732" else lvl].n_unique()
        check(got == n, f"NAF {lvl}: {got} codes, expected {n}")
    dotless = read_text_csv(d / "naf2008.csv", sep=";")
    check(set(dotless["code"]) == set(naf["code"]), "naf2008.csv codes differ")
    write_csv(naf.sort("code"), "naf.csv", report)
    report.notes["naf"].append(
        "Passage table formats (checked by regex): sub-class `01.11Z`, class `01.11`, group `01.1`, "
        "A129 `A01Z`, division `01`, A64 `AZ1`, A38 `AZ`, section `A`, A10 `AZ`, A17 `AZ`/`C1`. "
        "Identical to Insee's table_NAF2-NA.csv; A17 identical to the division ranges of int_eng_na_2008_a17.csv."
    )
    return naf


def build_naf_labels(src: Path, naf: pl.DataFrame, report: Report) -> None:
    """Write naf_labels.csv (level, code, libelle) for the nine levels."""
    d = src / "naf-rev2"
    ins = d / "insee-naf2008-csv"
    rows: list[tuple[str, str, str]] = []

    # 5 NAF levels: naf_extended.csv (clean typography), checked against int_courts_naf_rev_2.csv
    ext = read_text_csv(d / "naf_extended.csv")
    courts = {
        r[1].strip(): r[2] for r in read_cp1252(ins / "int_courts_naf_rev_2.csv")[1:] if len(r) > 2 and r[1].strip()
    }
    typo = 0
    for lvl, cc, lc in [
        ("naf732", "NIV5", "LIB_NIV5"),
        ("naf615", "NIV4", "LIB_NIV4"),
        ("naf272", "NIV3", "LIB_NIV3"),
        ("a88", "NIV2", "LIB_NIV2"),
        ("a21", "NIV1", "LIB_NIV1"),
    ]:
        u = ext.select(cc, lc).unique()
        check(u[cc].is_unique().all(), f"naf_extended: two labels for one {lvl} code")
        for code, lab in u.iter_rows():
            key = f"SECTION {code}" if lvl == "a21" else code
            check(key in courts and loose(courts[key]) == loose(lab), f"label {lvl} {code} differs from int_courts")
            typo += clean_label(courts[key]) != clean_label(lab)
            rows.append((lvl, code.replace(".", "") if lvl == "naf732" else code, clean_label(lab)))
    report.notes["naf"].append(
        f"naf732/naf615/naf272/a88/a21 labels from naf_extended.csv; all equal to Insee's int_courts_naf_rev_2.csv "
        f"up to typography ({typo} differ only by apostrophes, `É`/`E`, `m²`/`m2`, spacing or case)."
    )

    # aggregated levels: int_eng_na_2008_<lvl>.csv French column, checked against niv_agreg_naf_rev_2.csv
    agg: dict[tuple[str, str], str] = {}
    for r in read_cp1252(ins / "niv_agreg_naf_rev_2.csv")[1:]:
        for i, lvl in zip(range(1, 6), ["a10", "a21", "a38", "a64", "a88"], strict=True):
            if len(r) > 8 and r[i].strip():
                agg[(lvl, r[i].strip())] = r[8]
    for lvl, code_col, lab_col in [("a10", 1, 4), ("a17", 1, 6), ("a38", 0, 3), ("a64", 0, 3)]:
        wanted = set(naf[lvl])
        seen = set()
        for r in read_cp1252(ins / f"int_eng_na_2008_{lvl}.csv")[1:]:
            if len(r) <= lab_col or r[code_col].strip() not in wanted:
                continue  # blank lines and "dont" rows (CZ, LI, LI0) are not part of the level
            code, lab = r[code_col].strip(), clean_label(r[lab_col])
            if (lvl, code) in NAF_LABEL_FIXES:
                wrong, right = NAF_LABEL_FIXES[(lvl, code)]
                check(lab == wrong and loose(agg[(lvl, code)]) == loose(right), f"fix {lvl} {code} obsolete")
                lab = right
            elif (lvl, code) in agg:
                check(loose(agg[(lvl, code)]) == loose(lab), f"{lvl} {code}: int_eng and niv_agreg disagree")
            rows.append((lvl, code, lab))
            seen.add(code)
        check(seen == wanted, f"{lvl}: labels missing for {sorted(wanted - seen)}")
    report.notes["naf"].append(
        "a10/a17/a38/a64 labels: French column of int_eng_na_2008_<level>.csv, checked against niv_agreg_naf_rev_2.csv "
        "(a17 has no other source). Insee errors found: int_eng_na_2008_a64.csv labels HZ3 (air transport) "
        "'Commerce et réparation d'automobiles et de motocycles' -> kept 'Transports aériens' from niv_agreg; "
        "niv_agreg_naf_rev_2.csv labels section P 'ADMINISTRATION PUBLIQUE' (should be ENSEIGNEMENT) -> not used "
        "(section labels come from naf_extended.csv / int_courts)."
    )
    df = pl.DataFrame(rows, schema=["level", "code", "libelle"], orient="row")
    for lvl, n in NAF_COUNTS.items():
        check(df.filter(pl.col("level") == lvl)["code"].n_unique() == n, f"labels {lvl}")
    check(df.select("level", "code").is_unique().all(), "duplicate label")
    order = {lvl: i for i, lvl in enumerate(NAF_COUNTS)}
    df = df.sort(pl.col("level").replace_strict(order, return_dtype=pl.Int8), "code")
    write_csv(df, "naf_labels.csv", report)


# ----------------------------------------------------------------------- CTN


def build_ctn(src: Path, report: Report) -> None:
    """Write ctn.csv from the CTN / Libellé du CTN columns of the Ameli AT workbook."""
    wb = src / "ameli-at-ctn-naf" / "2024-stat-nationales-at-ctn-naf.xlsx"
    df = pl.read_excel(wb, read_options={"header_row": 3}, infer_schema_length=0)
    check(df.columns[:2] == ["CTN", "Libellé du CTN"], f"unexpected workbook header {df.columns[:2]}")
    ctn = df.select(code="CTN", libelle="Libellé du CTN").unique().sort("code")
    check(ctn["code"].is_unique().all(), "one label per CTN")
    expected = [c * 2 for c in "ABCDEFGHI"]
    check(ctn["code"].to_list() == expected, f"CTN codes {ctn['code'].to_list()}")
    ctn = ctn.with_columns(alias=pl.col("code").str.slice(0, 1), origine=pl.lit("ameli-at-2024"))
    special = pl.DataFrame({"code": ["ZC"], "libelle": ["Compte spécial MP"], "alias": ["Z"], "origine": ["prst"]})
    out = pl.concat([ctn, special]).select("code", "alias", "libelle", "origine")
    write_csv(out, "ctn.csv", report)


# ------------------------------------------------------------------ provenance


def write_provenance(report: Report) -> None:
    """Write PROVENANCE.md from a fixed text plus the facts gathered in the build."""
    listing = "\n".join(
        f"| `{name}` | {n} | `{','.join(cols)}` | `{sha[:16]}` |"
        for name, (n, cols, sha) in sorted(report.files.items())
    )
    notes = {k: "\n".join(f"- {x}" for x in v) for k, v in report.notes.items()}
    text = PROVENANCE_TEMPLATE.format(listing=listing, **notes)
    PROVENANCE.write_text(text, encoding="utf-8")
    print(f"  wrote {PROVENANCE.relative_to(REPO)}")


PROVENANCE_TEMPLATE = """\
# Reference tables packaged with prst — provenance

Generated by `scripts/build_reference.py` from the project's shared real-data folder (not shipped).
Do not edit the CSV files by hand: change the script and re-run it. All files are UTF-8, `,` separator,
one header line, codes stored as text with their leading zeros, empty field = no value.
Licence of all data below: **Licence Ouverte / Etalab 2.0** (see each source).

| File | Rows | Columns | sha256 (first 16) |
|---|---|---|---|
{listing}

## Communes, départements, régions — Insee COG via Etalab

- **Publisher**: Insee, Code officiel géographique (COG), republished by Etalab / DINUM as the npm package
  `@etalab/decoupage-administratif` (repository github.com/etalab/decoupage-administratif).
- **Vintages**: package version **4.1.0 = COG 2024**, **5.3.0 = COG 2025** (package README "Millésimes et versions"),
  files `package/data/communes.json`, `departements.json`, `regions.json`, flattened to CSV in the shared folder.
- **Licence**: Licence Ouverte (stated in the package README); package code MIT.
- **Transformation**:
  - `communes_cog2024.csv`, `communes_cog2025.csv`: rows with `region == "76"` (all types: commune-actuelle,
    commune-deleguee, commune-associee), columns `code, nom, type, departement, region, chefLieu -> chef_lieu,
    anciensCodes -> anciens_codes` (`|`-separated former codes), sorted by code then type (actuelle first).
    Dropped: arrondissement, commune, population, siren, zone. A commune déléguée may share the code of its
    commune nouvelle: filter on `type`.
  - `departements.csv`: all 109 entries (101 départements + 8 collectivités d'outre-mer / territories, whose région code is
    their own code), columns `code, nom, region`. `regions.csv`: all 26 entries, `code, nom`.
{cog}

## `commune_passage.csv` — any recent Occitanie commune code -> COG 2025

Built from the COG 2024 and 2025 files above and the 2022 codes of the ZE file below.
Rules, in priority order (`origine` column): a COG 2025 commune-actuelle maps to itself (`cog2025-actuelle`);
a COG 2025 commune déléguée / associée maps to its chef-lieu (`cog2025-deleguee`, `cog2025-associee`);
a COG 2025 former code (`anciens_codes`) maps to the commune that absorbed it (`cog2025-ancien-code`);
a code known only from COG 2024 goes to its 2024 commune-actuelle (itself, its chef-lieu, or the commune
listing it in `anciens_codes`) and then through the 2025 rules (`cog2024-*`); a code known only from the ZE file
(geography 2022) goes through the same rules (`ze2020-geo2022`). All candidate targets of a code are collected;
two different targets would be a conflict, kept by this priority (most recent vintage first) and listed here.
{passage}
- Checked: `12076` (Conques-en-Rouergue in 2022–2024) -> `12218` (the commune nouvelle changed its code in 2025).

## Zones d'emploi 2020 — Insee

- **Publisher**: Insee, "Base des zones d'emploi 2020 au 1er janvier 2022" (insee.fr/fr/information/4652957),
  file `ZE2020_au_01-01-2022.xlsx` ("Mise en ligne le 18/03/2022", géographie au 01/01/2022).
- **Origin**: GitHub `cynthia-francis/Project-LabourMarketTensions`, path `data/linking tables/Communes_to_ZE_2022.xlsx`,
  blob `3c3946ff4b30f7c36b28b555eeec94a675464586`, commit `758402852bad62e150693bd62a7067d97eb10536`
  (snapshot HEAD `4fa752da47778d41cf185134b2b2dbda3099d141`), byte-identical to the Insee file; sheet
  `Composition_communale` restricted to `REG == "76"` (4 454 communes) in the shared folder.
- **Licence**: Licence Ouverte / Etalab 2.0.
- **Transformation**:
  - `ze2020.csv`: the 27 distinct zones of the Occitanie communes: `ze2020` (Insee code), `libelle` (Insee label),
    `partie_reg` (`ZE2020_PARTIE_REG`, filled only for the interregional zones 0052 Arles and 0053 Avignon:
    `0052-76`, `0053-76`), `ze_code` (the code prst uses: `partie_reg` if filled, else `ze2020`) and `ze_libelle`
    (the label prst uses: `<libelle> (partie Occitanie)` for an interregional part, else `libelle`).
  - `commune_ze2020.csv`: every COG 2025 commune-actuelle of Occitanie (4 446) -> `ze2020`, `ze_code`, `origine`.
    The Insee composition is in 2022 geography: each 2022 code is mapped to COG 2025 with `commune_passage.csv`
    (9 codes disappeared: 09255, 09287, 12076, 30094, 32067, 32260, 32413, 34093, 46217; one new code: 12218).
    `origine`: `insee-geo2022` (same code in 2022), `passage-meme-zone` (the former communes were all in one zone),
    `fusion-zone-chef-lieu` (former communes in different zones).
  - **Rule for a merged commune whose former communes lie in different zones**: Insee places every commune in
    exactly one zone (its yearly re-publication of the composition in the current geography does so): a commune
    nouvelle belongs to the zone of its chef-lieu (COG `chefLieu`, the former commune whose code the new commune
    carries). prst does the same; the build stops when the chef-lieu is not among the former communes of the ZE
    file (to be settled by hand in `ZE_OVERRIDES`). The population of each zone's part is reported for information.
    Rows a provider still gives under the code of a former commune of another zone are counted in the new commune's
    zone: `prst ingest` reports them (old code, new code, both zones, rows and counts moved) and the export of the
    affected zones says so in `coverage`. To be confirmed against Insee's composition in géographie 2025.
  - `commune_ze2020_geo2022.csv`: the Insee composition itself (4 454 Occitanie communes of 2022 geography ->
    `ze2020`, `ze_code`): the zone an old code belonged to, to say when its rows move to another zone.
{ze}

## NAF rév. 2 — Insee

- **Publisher**: Insee, nomenclature d'activités française NAF rév. 2 (décret n° 2007-1888) and its aggregation
  levels (A10, A17, A21, A38, A64, A88). Content unchanged since 2008.
- **Origin**: GitHub `InseeFrLab/pynsee` (MIT, © Insee), `pynsee/metadata/data/naf.zip` (blob
  `4bc89602870824264ca5c3feb5a9b0331928a60f`, commit `593d4b754943ce7c3baea1a41bd2634f754fa635`, identical at
  snapshot HEAD `8e202710725cf7ee7d28b4e4be51941a54fd2200`), files `naf2008/*.csv` (Insee's xls saved as CSV:
  cp1252, `;`, quoted header cells with embedded line breaks); `naf_rev2_table_passage_niveaux.csv` built in the
  shared folder from `table_NAF2-NA.csv` plus A17; `naf_extended.csv` and `naf2008.csv` from GitHub
  `InseeFrLab/codif-ape-train` (Apache-2.0), `data/`, commit `53381b00fa968960e78ba3a20eded8cb21f531d1`.
- **Licence**: Licence Ouverte / Etalab 2.0 (Insee nomenclature).
- **Transformation**:
  - `naf.csv`: one row per sub-class (732): `code` = sub-class **without the dot** (`0111Z`, as in Sirene/APE and
    the Ameli files), then its codes at each level **in Insee's format**: `naf615` class `01.11`, `naf272` group
    `01.1`, `a88` division `01`, `a64` `AZ1`, `a38` `AZ`, `a21` section `A`, `a17` `AZ`, `a10` `AZ`.
    A129 is not kept.
  - `naf_labels.csv`: `level, code, libelle` in French for `naf732` (code without dot), `naf615`, `naf272`,
    `a88`, `a64`, `a38`, `a21`, `a17`, `a10`; whitespace collapsed (the Insee files carry line breaks, double
    and non-breaking spaces) and typographic apostrophes replaced by `'`.
{naf}

## CTN — CNAM, Assurance Maladie – Risques professionnels

- **Publisher**: Caisse nationale de l'Assurance Maladie, Direction des risques professionnels, "Statistiques AT
  par CTN et code NAF" (ameli.fr), workbook of reference year **2024** (sheet `AT 2024 par CTN X NAF`).
- **Origin**: GitHub `ayming-france/sinistralite-france`, `data/pipeline/at-by-ctn-naf.xlsx`, blob
  `2bbc8bc9e169a9f064c5343226272fec701155a6`, commit `a6eb55a0cf305ad4479877d931dc3e24f41efa78` (snapshot HEAD
  `7f36afe2a3cec323f1b99816d1a36f02b69786fa`); the repository gives
  `https://assurance-maladie.ameli.fr/sites/default/files/2023-stat-nationales-at-ctn-naf.xlsx` as source, but
  the sheet says 2024; stored as `2024-stat-nationales-at-ctn-naf.xlsx`.
- **Licence**: Assurance Maladie open data, Licence Ouverte / Etalab assumed (not stated in the file).
- **Transformation**: `ctn.csv` = the distinct (`CTN`, `Libellé du CTN`) pairs of the workbook (header on row 4):
  the 9 CTN coded with doubled letters `AA` … `II` as in the Ameli workbooks, labels verbatim; `alias` = the
  single letter (`A` … `I`) used in most documents; `origine = ameli-at-2024`. Added by prst (`origine = prst`):
  `ZC` / `Z` « Compte spécial MP » (occupational diseases charged to the special account, not to a CTN; absent
  from the AT workbook).

## `spsti.csv` — SPSTI of Occitanie (**fictitious**, maintained by hand)

- **Not real data.** The 17 services de prévention et de santé au travail interentreprises (SPSTI) listed here,
  their codes, names and perimeters are **fictitious**: they stand for the real services until their perimeters
  (dated sets of communes) are supplied by the DREETS. Every name ends with « (fictif) ».
- Maintained by hand (not built by `scripts/build_reference.py`; the script leaves the file alone). It is the one
  list of SPSTI codes prst accepts in provider files (sources `ioda`, `dgt-spsti`) and the codes of the SPSTI
  perimeter reference source.
- Columns: `code` (`SPSTI-<département>-<lettre>` for the 15 interprofessional services, `SPSTI-BTP-MP` and
  `SPSTI-BTP-LR` for the two building-trade services), `nom`, `champ` (`interprofessionnel` or `BTP`),
  `departements` (space-separated codes of the départements the service covers). The BTP services overlap the
  interprofessional ones (09 12 31 32 46 65 81 82 and 11 30 34 48 66): SPSTI perimeters never add up to the region.
"""


def main(argv: list[str] | None = None) -> int:
    """Build every reference file; return the process exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("shared", nargs="?", default="../shared/data/real", type=Path, help="shared real-data folder")
    args = ap.parse_args(argv)
    src: Path = args.shared.resolve()
    for d in ("cog-communes", "insee-ze2020", "naf-rev2", "ameli-at-ctn-naf"):
        if not (src / d).is_dir():
            print(f"error: {src / d} not found", file=sys.stderr)
            return 2
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report = Report()
    print(f"building reference tables from {src}")
    cog, _ = build_cog(src, report)
    ze_codes = build_ze(src, cog, report)
    passage = build_passage(cog, ze_codes, report)
    build_commune_ze(src, cog, passage, report)
    naf = build_naf(src, report)
    build_naf_labels(src, naf, report)
    build_ctn(src, report)
    write_provenance(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
