"""ameli-mp: the national « MP par CTN et code NAF » workbook (fictitious sample), end to end."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, Cli, restricted
from prst_etl.sources.causes import crosswalk, tableau_code_expr

FOLDER = FIXTURES / "sources/ameli-mp"
SAMPLE = FOLDER / "exemple.xlsx"
BROKEN = FOLDER / "exemple-errone.xlsx"
SHEET = "MP 2024 par CTN X NAF"
COUNTS = {
    "mp_1er_reglement": "MP en 1er règlement",
    "mp_ip": "Nouvelles IP",
    "mp_ip_lt10": "dont IP avec taux < 10%",
    "mp_ip_ge10": "dont IP avec taux ≥ 10%",
    "mp_deces": "Décès",
    "mp_journees_it": "Journées d'IT",
    "mp_somme_taux_ip": "Somme des taux d'IP",
    "mp_somme_taux_ip_lt10": "somme des taux d'IP <10",
    "mp_somme_taux_ip_ge10": "somme des taux d'IP >=10",
}
EFFECTIFS = {
    "mp_salaries": "Nombre de salariés*",
    "mp_heures_travaillees": "Nombre d'heures travaillées*",
    "mp_etablissements": "Nombre d'établissements*",
}
CELL = ["code CTN / Compte spécial MP", "Code NAF"]


def read_sheet(path: Path, sheet: str | int = 0) -> pl.DataFrame:
    """The sheet as the provider wrote it (header on row 4), every cell as text."""
    import fastexcel

    return fastexcel.read_excel(path).load_sheet(sheet, header_row=3, dtypes="string").to_polars()


def num(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).fill_null(0)


@pytest.fixture(scope="module")
def raw() -> pl.DataFrame:
    return read_sheet(SAMPLE)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("ameli-mp") / "warehouse"
    rep = Cli().json("ingest", "ameli-mp", SAMPLE, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    facts = {t: pl.read_parquet(next((wh / "facts/current/ameli-mp" / t).rglob("*.parquet"))) for t in ("mp", "mp_effectifs")}
    return rep, facts, wh


def test_sample_loads_without_any_remark(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, facts, _ = loaded
    assert rep["issues"] == []  # « Code NAF2 » written as a number (1 for 01) matches the NAF sub-class
    assert rep["years"] == [2024] and rep["header_row"] == 4 and rep["sheet"] == SHEET
    assert rep["tables"] == {"mp": facts["mp"].height, "mp_effectifs": facts["mp_effectifs"].height}
    assert set(facts["mp"]["geo_code"]) == {"FR"} and set(facts["mp"]["geo_level"]) == {"france"}


@pytest.mark.parametrize("measure", sorted(COUNTS))
def test_disease_counts_add_up_to_the_file(loaded, raw, measure) -> None:  # type: ignore[no-untyped-def]
    _, facts, _ = loaded
    assert facts["mp"][measure].sum() == raw.select(num(COUNTS[measure]).sum()).item()


@pytest.mark.parametrize("measure", sorted(EFFECTIFS))
def test_effectifs_are_counted_once_per_ctn_and_naf(loaded, raw, measure) -> None:  # type: ignore[no-untyped-def]
    """The trap: employees, hours and establishments are repeated on every tableau × syndrome row."""
    _, facts, _ = loaded
    col = EFFECTIFS[measure]
    once = raw.unique(subset=CELL, keep="first").select(num(col).sum()).item()
    repeated = raw.select(num(col).sum()).item()
    assert repeated > 2 * once  # the sample repeats them a lot: summing rows would be badly wrong
    assert facts["mp_effectifs"][measure].sum() == once
    assert measure not in facts["mp"].columns


def test_one_effectifs_row_per_ctn_and_naf(loaded, raw) -> None:  # type: ignore[no-untyped-def]
    _, facts, _ = loaded
    eff = facts["mp_effectifs"]
    assert eff.height == raw.select(CELL).unique().height
    assert eff.select("ctn", "sector_code").is_duplicated().sum() == 0
    special = eff.filter(pl.col("ctn") == "ZC")  # compte spécial MP: NAF xxxxx, no employees
    assert special.height == 1 and special["sector_code"].item() == "_U" and special["mp_salaries"].item() == 0
    mp = facts["mp"]
    assert mp.filter(pl.col("ctn") == "ZC")["mp_1er_reglement"].sum() == raw.filter(pl.col(CELL[0]) == "ZC").select(num("MP en 1er règlement").sum()).item()


def expected_family(raw: pl.DataFrame) -> pl.Expr:
    """The documented priority, written out independently of the crosswalk file."""
    yes = lambda c: pl.col(c).fill_null("").str.to_lowercase() == "oui"  # noqa: E731
    number = pl.col("code Tableau de MP").str.slice(0, 3).cast(pl.Int32, strict=False)
    return (
        pl.when(yes("Top Cancers professionnels") | yes("Top cancers professionnels hors tableau")).then(pl.lit("cancers"))
        .when(yes("Top MP psy alinéa 7")).then(pl.lit("psy"))
        .when(yes("Top TMS") | number.is_in([57, 69, 79, 97, 98])).then(pl.lit("tms"))
        .when(yes("Top risque chimique")).then(pl.lit("chimique"))
        .when(yes("Top biologie")).then(pl.lit("biologique"))
        .otherwise(pl.lit("autres"))
    )  # fmt: skip


def test_cause_families_partition_the_diseases(loaded, raw) -> None:  # type: ignore[no-untyped-def]
    _, facts, _ = loaded
    want = raw.with_columns(expected_family(raw).alias("f")).group_by("f").agg(num("MP en 1er règlement").sum().alias("v"))
    got = facts["mp"].group_by("cause_family").agg(pl.col("mp_1er_reglement").sum().alias("v"))
    assert dict(got.iter_rows()) == dict(want.iter_rows())
    assert set(got["cause_family"]) == {"tms", "cancers", "psy", "chimique", "biologique", "autres"}
    assert got["v"].sum() == facts["mp"]["mp_1er_reglement"].sum()  # a partition: nothing counted twice
    # benzène leukaemia carries both « risque chimique » and « cancers »: cancers comes first
    assert set(facts["mp"].filter(pl.col("mp_tableau") == "004A")["cause_family"]) == {"cancers"}
    assert set(facts["mp"].filter(pl.col("mp_tableau") == "042A")["cause_family"]) == {"autres"}
    assert set(facts["mp"].filter(pl.col("mp_tableau") == "HT")["cause_family"]) == {"psy", "cancers"}


def test_tableau_and_syndrome_are_dimensions(loaded, raw) -> None:  # type: ignore[no-untyped-def]
    _, facts, _ = loaded
    mp = facts["mp"]
    assert mp.height == raw.height
    assert set(mp["mp_tableau"]) == set(raw["code Tableau de MP"].replace({"Hors tableau": "HT"}))
    assert set(mp["mp_syndrome"]) == set(raw["Code syndrome / CIM 10"])
    assert mp.select("ctn", "sector_code", "mp_tableau", "mp_syndrome").is_duplicated().sum() == 0


def test_crosswalk_is_data_with_a_documented_priority() -> None:
    cw = crosswalk("ameli-mp")
    assert cw.path.name == "familles-causes.toml" and cw.default == "autres"
    assert [f.code for f in cw.families] == ["cancers", "psy", "tms", "chimique", "biologique", "autres"]
    assert cw.family_of("057A") == "tms" and cw.family_of("098A") == "tms" and cw.family_of("030A") == "autres"
    assert cw.family_of("030A", {"top_cancers": True}) == "cancers"  # mésothéliome
    assert cw.family_of("HT", {"top_psy": True}) == "psy"
    assert cw.family_of("004A", {"top_chimique": True, "top_cancers": True}) == "cancers"
    assert cw.family_of("065A", {"top_chimique": True}) == "chimique"


@pytest.mark.parametrize(
    "text,code",
    [("057A", "057A"), ("57", "057A"), ("57.0", "057A"), ("30 bis", "030B"), ("RG 30 bis", "030B"), ("Tableau n° 42", "042A"),
     ("Hors tableau", "HT"), ("hors tableaux", "HT"), ("999", None), ("57 X", None), ("abc", None)],
)  # fmt: skip
def test_tableau_codes(text: str, code: str | None) -> None:
    assert pl.select(tableau_code_expr(pl.lit(text)))[0, 0] == code


def rejected(cli, wh: Path, source: str, path: Path) -> dict:  # type: ignore[no-untyped-def]
    r = cli("ingest", source, path, "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected", rep
    assert not wh.exists(), "a rejected file must not create the warehouse"
    return rep


def test_broken_copy_is_rejected_with_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    rep = rejected(cli, wh, "ameli-mp", BROKEN)
    got = [(i["row"], i["column"], i["code"]) for i in rep["issues"]]
    assert got == [
        (6, "Nombre de salariés", "inconsistent-effectifs"),
        (7, "code Tableau de MP", "unknown-mp-tableau"),
        (8, "Top TMS", "invalid-flag"),
        (9, "code CTN / Compte spécial MP", "unknown-ctn"),
        (10, "MP en 1er règlement", "non-numeric-count"),
        (11, "Décès", "negative-count"),
        (12, "Nouvelles IP", "parts-exceed-total"),
        (15, None, "duplicate-key"),
        (521, None, "duplicate-key"),
    ]
    assert {i["sheet"] for i in rep["issues"]} == {SHEET}
    first = rep["issues"][0]
    assert "CTN × code NAF" in first["message"] and first["value"] == "14352"
    codes = {i["code"] for i in rep["issues"]}
    import tomllib

    conf = tomllib.loads((FOLDER / "conformance.toml").read_text(encoding="utf-8"))
    assert set(conf["expected_codes"]) == codes and conf["sample"] == SAMPLE.name and conf["broken"] == BROKEN.name


def test_repeated_effectifs_differing_without_majority_name_every_row(cli, wh, raw, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two rows of one CTN × NAF with two different values: neither is « the » value, both are reported."""
    from prst_etl.testing.samples_mp import MP_NOTES, write_sheets

    groups = raw.with_row_index("i").group_by(CELL, maintain_order=True).agg(pl.col("i")).filter(pl.col("i").list.len() >= 2)
    keep_two = groups["i"][0].to_list()
    df = raw.with_row_index("i").filter(~pl.col("i").is_in(keep_two[2:])).drop("i")  # that CTN × NAF on two rows
    a, b = keep_two[:2]
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) == b).then(pl.lit("1")).otherwise(pl.col("Nombre d'établissements*")).alias("Nombre d'établissements*")
    )
    path = write_sheets([(SHEET, "Maladies professionnelles 2024 par CTN et code NAF", df, MP_NOTES)], tmp_path / "f.xlsx", year=2024)
    rep = rejected(cli, wh, "ameli-mp", path)
    assert [(i["row"], i["code"]) for i in rep["issues"]] == [(a + 5, "inconsistent-effectifs"), (b + 5, "inconsistent-effectifs")]


def test_secret_effectifs_repeated_identically_are_kept_once_as_secret(cli, wh, raw, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.testing.samples_mp import MP_NOTES, write_sheets

    ctn, naf = raw.group_by(CELL, maintain_order=True).len().filter(pl.col("len") >= 3).row(0)[:2]
    mask = (pl.col(CELL[0]) == ctn) & (pl.col(CELL[1]) == naf)
    df = raw.with_columns(pl.when(mask).then(pl.lit("s")).otherwise(pl.col("Nombre de salariés*")).alias("Nombre de salariés*"))
    path = write_sheets([(SHEET, "Maladies professionnelles 2024 par CTN et code NAF", df, MP_NOTES)], tmp_path / "f.xlsx", year=2024)
    rep = Cli().json("ingest", "ameli-mp", path, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:3]
    eff = pl.read_parquet(next((wh / "facts/current/ameli-mp/mp_effectifs").rglob("*.parquet")))
    cell = eff.filter((pl.col("ctn") == ctn) & (pl.col("sector_code") == naf))
    assert cell.height == 1 and cell["mp_salaries"].item() is None and cell["mp_salaries__status"].item() == "s"
    assert cell["mp_heures_travaillees"].item() is not None


def test_france_export_reads_cause_families(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, facts, wh = loaded
    out = restricted(tmp_path / "fr.parquet")
    assert Cli()("export", "--no-secret", "--level", "france", "--warehouse", wh, "--output", out, "-s", "ensemble").exit_code == 0
    e = pl.read_parquet(out).filter(
        (pl.col("indicator") == "mp_1er_reglement") & (pl.col("ctn") == "_T") & (pl.col("mp_tableau") == "_T")
        & (pl.col("mp_syndrome") == "_T") & (pl.col("mp_psy") == "_T")
    )  # fmt: skip
    by_family = dict(e.select("cause_family", "value").iter_rows())
    assert by_family["_T"] == facts["mp"]["mp_1er_reglement"].sum()
    assert sum(v for k, v in by_family.items() if k != "_T") == by_family["_T"]


def test_naf2_written_as_a_number_loses_no_zero(cli, wh, raw, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """« Code NAF2 » stored as a number (1 for 01) is the division of 0111Z; 2 is not (a warning)."""
    from prst_etl.testing.samples_mp import MP_NOTES, write_sheets

    first = raw.head(2).with_columns(
        pl.lit("0111Z").alias("Code NAF"), pl.lit("AZ").alias("Code NAF38"), pl.Series("Code NAF2", [1, 2], dtype=pl.Int64),
        pl.Series("Code syndrome / CIM 10", ["M75.1", "G56.0"]),
    )  # fmt: skip
    path = write_sheets([(SHEET, "Maladies professionnelles 2024", first, MP_NOTES)], tmp_path / "f.xlsx", year=2024)
    rep = cli.json("ingest", "ameli-mp", path, "-w", wh, "--dry-run")
    assert rep["outcome"] == "dry-run"
    assert [(i["row"], i["column"], i["code"], i["severity"]) for i in rep["issues"]] == [(6, "Code NAF2", "naf-mismatch", "warning")]


def test_mp_rates_use_the_effectifs_counted_once(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """mp_if divides the mp table by the mp_effectifs table, broadcast over the cause families."""
    import polars as pl

    from conftest import FIXTURES

    wh = tmp_path / "w"
    assert cli("ingest", "ameli-mp", FIXTURES / "sources/ameli-mp/exemple.xlsx", "-w", wh).exit_code == 0
    out = restricted(tmp_path / "fr.parquet")
    assert cli("export", "--no-secret", "-l", "france", "-w", wh, "-o", out, "-s", "ensemble").exit_code == 0
    df = pl.read_parquet(out)
    tot = lambda ind, **k: df.filter(  # noqa: E731
        (pl.col("indicator") == ind) & (pl.col("ctn") == "_T") & (pl.col("mp_tableau") == "_T")
        & (pl.col("mp_syndrome") == "_T") & (pl.col("mp_psy") == "_T") & (pl.col("cause_family") == k.get("cause", "_T"))
    )["value"]  # fmt: skip
    mp, sal = tot("mp_1er_reglement").item(), tot("mp_salaries").item()
    assert tot("mp_if").item() == pytest.approx(mp / sal * 10000)
    tms = tot("mp_1er_reglement", cause="tms").item()
    assert tot("mp_if", cause="tms").item() == pytest.approx(tms / sal * 10000)
    assert tot("part_mp_cause", cause="tms").item() == pytest.approx(tms / mp * 100)


def test_a_part_stored_before_the_psy_dimension_still_aggregates_and_exports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A warehouse written before the MP table gained ``mp_psy`` (issue 11): its parts lack the
    column; they did not break the kind of psychic disorder down, so they read as ``_T``."""
    from prst_etl import aggregate, export, ingest, open_warehouse

    wh = tmp_path / "warehouse"
    assert ingest("ameli-mp", SAMPLE, warehouse=wh).outcome == "loaded"
    with open_warehouse(wh) as w:
        part = w.abs(w.current_parts().filter(pl.col("table_name") == "mp")["path"].item())
    old = pl.read_parquet(part)
    assert "mp_psy" in old.columns
    total = old["mp_1er_reglement"].sum()
    old.drop("mp_psy").write_parquet(part)  # the part as an older prst wrote it
    assert aggregate(wh).computed
    res = export("france", warehouse=wh, secret=False, sector_levels=["ensemble"])
    out = pl.read_parquet(res.path).filter(pl.col("indicator") == "mp_1er_reglement")
    assert set(out["mp_psy"]) == {"_T"}
    all_cells = out.filter(pl.all_horizontal([pl.col(c) == "_T" for c in ("ctn", "cause_family", "mp_tableau", "mp_syndrome", "sex", "age_band") if c in out.columns]))
    assert all_cells["value"].sum() == total
