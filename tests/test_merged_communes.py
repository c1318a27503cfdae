"""Merged communes: rows given under old codes are added up (never one kept), the ledger balances,
and rows that move to another zone d'emploi (the zone of the commune nouvelle's chef-lieu) are said
so at ingest, in « prst loads show » and in the export of the zones concerned.

Cap d'Astarac (32365 in COG 2025) merged Cabas-Loumassès (32067) and Monbardon (32260), of the zone
d'emploi 7604 (Auch), with Saint-Blancard (32365, its chef-lieu) and Sarcos (32413), of 7622.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Cli, restricted
from prst_etl.testing.samples_mp import MP_HEADERS, MP_NOTES, write_sheets

MERGED = {"32067": "32365", "32260": "32365", "32365": "32365", "32413": "32365"}
SALARIES = {"32067": 100, "32260": 200, "32413": 400, "31555": 1000, "32013": 50}  # 32013 Auch (7604)


def mp_rows(commune: str, salaries: int, cases: list[tuple[str, str, int]], ctn: str = "BB", naf: str = "4399C") -> list[dict]:
    """The MP rows of one commune × CTN × NAF: its effectifs repeated on every tableau × syndrome row."""
    out = []
    for tableau, syndrome, n in cases:
        row = {h: None for h in MP_HEADERS}
        row.update({
            "code CTN / Compte spécial MP": ctn, "Code NAF": naf, "code Tableau de MP": tableau,
            "Code syndrome / CIM 10": syndrome, "Nombre de salariés*": salaries,
            "Nombre d'heures travaillées*": salaries * 1500, "Nombre d'établissements*": max(1, salaries // 50),
            "MP en 1er règlement": n,
        })  # fmt: skip
        out.append({"Code commune": commune, **row})
    return out


def mp_sheet(rows: list[dict]) -> pl.DataFrame:
    cols = ["Code commune", *MP_HEADERS]
    numeric = {"Nombre de salariés*", "Nombre d'heures travaillées*", "Nombre d'établissements*", "MP en 1er règlement"}
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c in numeric else pl.String) for c in cols})


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    rows = []
    for old in ("32067", "32260", "32413"):
        rows += mp_rows(old, SALARIES[old], [("057A", "M75.1", 1), ("098A", "M51.1", 2)])
    rows += mp_rows("31555", SALARIES["31555"], [("057A", "M75.1", 5)])
    rows += mp_rows("32013", SALARIES["32013"], [("057A", "M75.1", 1)])
    folder = tmp_path_factory.mktemp("merged")
    path = write_sheets([("MP 2024", "Maladies professionnelles 2024", mp_sheet(rows), MP_NOTES)], folder / "mp.xlsx", year=2024)
    wh = folder / "warehouse"
    rep = Cli().json("ingest", "carsat-mp", path, "-w", wh)
    assert rep["outcome"] == "loaded", rep["issues"]
    return rep, wh, folder


def facts(wh: Path, table: str) -> pl.DataFrame:
    return pl.read_parquet(next((wh / "facts/current/carsat-mp" / table).rglob("*.parquet")))


def test_employees_of_every_old_commune_are_kept(merged) -> None:  # type: ignore[no-untyped-def]
    rep, wh, _ = merged
    eff = facts(wh, "mp_effectifs")
    got = dict(eff.select("geo_code", "mp_salaries").iter_rows())
    assert got == {"32365": 700, "31555": 1000, "32013": 50}  # 100 + 200 + 400: not the first old commune's 100
    mp = facts(wh, "mp").group_by("geo_code").agg(pl.col("mp_1er_reglement").sum())
    assert dict(mp.iter_rows()) == {"32365": 9, "31555": 5, "32013": 1}
    flows = {f["measure"]: f for f in rep["accounting"]}
    assert flows["mp_salaries"]["read"] == 2 * 700 + 1000 + 50 and flows["mp_salaries"]["stored"] == 1750
    assert all(f["balanced"] for f in rep["accounting"])
    assert rep["stats"]["rows_merged"] > 0


def test_rows_moved_to_another_zone_are_reported(merged) -> None:  # type: ignore[no-untyped-def]
    rep, wh, _ = merged
    moves = [(m["tables"], m["old_code"], m["new_code"], m["old_zone"], m["new_zone"], m["rows"], m["counts"]) for m in rep["moves"]]
    assert moves == [
        (["mp", "mp_effectifs"], "32067", "32365", "7604", "7622", 2, {"mp_1er_reglement": 3.0}),
        (["mp", "mp_effectifs"], "32260", "32365", "7604", "7622", 2, {"mp_1er_reglement": 3.0}),
    ]  # 32413 was already in 7622: nothing moves
    warnings = [(i["code"], i["severity"], i["value"]) for i in rep["issues"]]
    assert warnings == [("geo-moved", "warning", "32067"), ("geo-moved", "warning", "32260")]
    shown = Cli().json("loads", "show", str(rep["load_id"]), "-w", wh)
    assert [(m["old_code"], m["old_zone"], m["new_zone"]) for m in shown["moves"]] == [("32067", "7604", "7622"), ("32260", "7604", "7622")]
    r = Cli()("loads", "show", str(rep["load_id"]), "-w", wh)
    assert "32067" in r.stdout and "7604" in r.stdout and "zone d'emploi du chef-lieu" in r.stdout


def test_export_of_the_zones_concerned_says_so_in_coverage(merged) -> None:  # type: ignore[no-untyped-def]
    _, wh, folder = merged
    out = restricted(folder / "ze.parquet")
    r = Cli()("export", "--no-secret", "-l", "zone-emploi", "-w", wh, "-o", out, "-s", "ensemble")
    assert r.exit_code == 0, r.stderr
    df = pl.read_parquet(out).filter(pl.col("indicator") == "mp_salaries")
    cov = dict(df.filter(pl.col("ctn") == "_T").select("geo_code", "coverage").unique().iter_rows())
    assert "comprend les lignes des anciennes communes 32067, 32260 (zone 7604)" in cov["7622"]
    assert "sans les lignes des anciennes communes 32067, 32260, comptées dans la zone 7622" in cov["7604"]
    assert "anciennes communes" not in cov["7625"]  # Toulouse (31555): nothing moved there
    dep = restricted(folder / "dep.parquet")
    assert Cli()("export", "--no-secret", "-l", "departement", "-w", wh, "-o", dep, "-s", "ensemble").exit_code == 0
    d = pl.read_parquet(dep).filter((pl.col("indicator") == "mp_salaries") & (pl.col("ctn") == "_T"))
    assert dict(d.select("geo_code", "value").iter_rows()) == {"31": 1000, "32": 750}


# -- property: whatever old codes a file uses, nothing is lost or counted twice ---------------------
OLD_CODES = sorted(MERGED) + ["31555", "09255", "09056"]  # 09255 (old) → 09056


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cells=st.lists(
        st.tuples(st.sampled_from(OLD_CODES), st.sampled_from(["4399C", "4120A"]), st.integers(0, 500), st.integers(0, 4)),
        min_size=1, max_size=12, unique_by=lambda t: (t[0], t[1]),
    ),
    tableaux=st.integers(1, 3),
)  # fmt: skip
def test_merged_communes_conserve_every_count(tmp_path_factory, cells, tableaux) -> None:  # type: ignore[no-untyped-def]
    """Generated MP sheets (CSV) with old and current codes of merged communes: the employees stored
    are those of each (old commune, NAF) counted once, then added up; the MP are all kept."""
    from prst_etl.sources import get_source

    codes = [("057A", "M75.1"), ("098A", "M51.1"), ("079A", "M23.2")][:tableaux]
    rows = [r for c, naf, sal, n in cells for r in mp_rows(c, sal, [(t, s, n) for t, s in codes], naf=naf)]
    path = tmp_path_factory.mktemp("prop") / "Carsat MP 2024.csv"
    mp_sheet(rows).write_csv(path, separator=";")
    ext = get_source("carsat-mp").extract(path)
    assert ext.ok, [(i.code, i.message) for i in ext.issues if i.severity == "error"]
    eff, mp = ext.tables["mp_effectifs"], ext.tables["mp"]
    assert eff["mp_salaries"].sum() == sum(sal for _, _, sal, _ in cells)
    assert mp["mp_1er_reglement"].sum() == sum(n for *_, n in cells) * tableaux
    assert eff.select("geo_code", "sector_code").is_duplicated().sum() == 0
    current = {MERGED.get(c, {"09255": "09056"}.get(c, c)) for c, *_ in cells}
    assert set(eff["geo_code"]) == current
    flows = ext.ledger.settle(ext.tables, {t.name: t for t in get_source("carsat-mp").tables if t.name in ext.tables})
    assert flows == []


def test_carsat_mp_sheet_accepts_the_real_workbook_conventions(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Carsat MP sheet written like the national 2024 workbook: a CTN × NAF without disease (empty
    tableau and syndrome), a ter tableau, a psychic disorder named by its kind, a NAF code outside NAF rév. 2."""
    rows = mp_rows("31555", 300, [("015T", "C34", 1), ("Hors tableau", "F32", 2)])
    rows[1]["Top MP psy alinéa 7"] = "dépression"
    rows += mp_rows("31555", 80, [(None, None, 0)], naf="4420C")  # no disease, odd NAF: its employees are kept
    path = tmp_path / "Carsat MP 2024.csv"
    mp_sheet(rows).write_csv(path, separator=";")
    rep = cli.json("ingest", "carsat-mp", path, "-w", tmp_path / "w")
    assert rep["outcome"] == "loaded", rep["issues"]
    assert [(i["code"], i["severity"], i["value"]) for i in rep["issues"]] == [("unknown-naf", "warning", "4420C")]
    mp = facts(tmp_path / "w", "mp")
    assert dict(mp.select("mp_tableau", "mp_psy").iter_rows()) == {"015T": "_Z", "HT": "depression"}
    assert dict(mp.select("mp_psy", "cause_family").iter_rows())["depression"] == "psy"
    eff = facts(tmp_path / "w", "mp_effectifs")
    assert dict(eff.select("sector_code", "mp_salaries").iter_rows()) == {"4399C": 300, "_U": 80}
