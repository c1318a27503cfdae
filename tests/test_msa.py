"""msa: agricultural employees' AT, trajet and MP (fictitious sample), end to end."""

from __future__ import annotations

import json
import tomllib

import polars as pl
import pytest

from conftest import FIXTURES, Cli, restricted
from prst_etl.reference.geography import DEPARTEMENTS_OCCITANIE
from prst_etl.sources.causes import crosswalk
from prst_etl.sources.builtin.msa import sectors
from test_ameli_mp import read_sheet

FOLDER = FIXTURES / "sources/msa"
SAMPLE = FOLDER / "exemple.xlsx"
AT_SHEET, MP_SHEET = "AT-Trajet 2024", "MP 2024"
MEASURES = {
    "msa_salaries": "Nombre de salariés",
    "msa_heures_travaillees": "Heures travaillées",
    "msa_at": "Accidents du travail avec arrêt",
    "msa_at_journees_it": "Journées d'arrêt (AT)",
    "msa_trajet": "Accidents de trajet avec arrêt",
}
# RA tableau → cause family, written out independently of sources/msa/familles-causes.toml
RA_FAMILY = {"39": "tms", "57": "tms", "57 bis": "tms", "29": "tms", "53": "tms", "47 bis": "cancers", "59": "cancers",
             "61": "cancers", "44": "chimique", "45": "chimique", "58": "chimique", "16": "biologique"}  # fmt: skip


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    wh = tmp_path_factory.mktemp("msa") / "warehouse"
    rep = Cli().json("ingest", "msa", SAMPLE, "--warehouse", wh)
    assert rep["outcome"] == "loaded", rep["issues"][:5]
    tables = {t: pl.read_parquet(next((wh / "facts/current/msa" / t).rglob("*.parquet"))) for t in ("msa", "msa_mp")}
    return rep, wh, tables, read_sheet(SAMPLE, AT_SHEET), read_sheet(SAMPLE, MP_SHEET)


def test_both_sheets_load(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, _, tables, at, mp = loaded
    assert rep["issues"] == [] and rep["years"] == [2024] and rep["sheet"] == f"{AT_SHEET}, {MP_SHEET}"
    assert rep["tables"] == {"msa": at.height, "msa_mp": mp.height}
    f = tables["msa"]
    assert set(f["geo_level"]) == {"departement"} and set(f["geo_code"]) == set(DEPARTEMENTS_OCCITANIE)
    assert set(f["sector_level"]) == {"ensemble"} and set(f["sector_code"]) == {"_T"}
    assert set(f["sex"]) == {"F", "M"} and set(f["age_band"]) == {"Y_LT30", "Y30T49", "Y_GE50"}
    assert set(f["secteur_msa"]) <= set(sectors().values()) and "viticulture" in set(f["secteur_msa"])


@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_totals_equal_the_file_and_secrets_stay_secret(loaded, measure) -> None:  # type: ignore[no-untyped-def]
    _, _, tables, at, _ = loaded
    col = MEASURES[measure]
    f = tables["msa"]
    secret = at.filter(pl.col(col) == "s").height
    assert f[measure].sum() == at.filter(pl.col(col) != "s").select(pl.col(col).cast(pl.Float64).sum()).item()
    assert f[measure].null_count() == secret
    if secret:
        assert (f[f"{measure}__status"] == "s").sum() == secret
    else:
        assert f"{measure}__status" not in f.columns  # no sign written, no status column
    assert measure in {"msa_at", "msa_at_journees_it"} or secret == 0


def test_mp_by_ra_tableau_and_cause_family(loaded) -> None:  # type: ignore[no-untyped-def]
    _, _, tables, _, mp = loaded
    f = tables["msa_mp"]
    assert f["msa_mp"].sum() == mp["Maladies professionnelles reconnues"].cast(pl.Float64).sum()
    # RA tableaux keep their own numbering, in their own dimension
    assert "039A" in set(f["mp_tableau_ra"]) and "057B" in set(f["mp_tableau_ra"]) and "mp_tableau" not in f.columns
    want = (
        mp.with_columns(pl.col("Tableau de MP (régime agricole)").replace_strict(RA_FAMILY, default="autres").alias("f"))
        .group_by("f")
        .agg(pl.col("Maladies professionnelles reconnues").cast(pl.Float64).sum().alias("v"))
    )
    got = f.group_by("cause_family").agg(pl.col("msa_mp").sum().alias("v"))
    assert dict(got.iter_rows()) == dict(want.iter_rows())
    assert dict(got.iter_rows())["tms"] > 0.8 * f["msa_mp"].sum()


def test_ra_crosswalk_is_data() -> None:
    cw = crosswalk("msa")
    assert cw.path.parent.name == "msa" and cw.default == "autres"
    assert cw.family_of("039A") == "tms"  # RA 39 ≈ RG 57
    assert cw.family_of("057A") == "tms" and cw.family_of("057B") == "tms"  # RA 57 ≈ RG 98, 57 bis ≈ RG 97
    assert cw.family_of("047A") == "autres" and cw.family_of("047B") == "cancers"  # amiante; 47 bis ≈ RG 30 bis
    assert cw.family_of("058A") == "chimique" and cw.family_of("HT") == "autres"
    labels = dict(cw.tableau_labels)
    assert "périarticulaires" in labels["039A"]


def test_region_export_rolls_up_departements_and_keeps_secrets(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, wh, tables, _, _ = loaded
    out = restricted(tmp_path / "r.parquet")
    r = Cli()("export", "--no-secret", "--level", "region", "--warehouse", wh, "--output", out, "-s", "ensemble")
    assert r.exit_code == 0, r.stderr
    e = pl.read_parquet(out).filter((pl.col("sex") == "_T") & (pl.col("age_band") == "_T") & (pl.col("secteur_msa") == "_T"))
    cell = lambda ind: e.filter((pl.col("indicator") == ind) & (pl.col("cause_family") == "_T") & (pl.col("mp_tableau_ra") == "_T"))  # noqa: E731
    assert cell("msa_salaries")["value"].item() == tables["msa"]["msa_salaries"].sum()
    at = cell("msa_at")
    assert at["value"].item() is None and at["status"].item() == "s"  # a sum over a secret cell is not published
    assert cell("msa_mp")["value"].item() == tables["msa_mp"]["msa_mp"].sum()


def test_broken_copy_is_rejected_with_every_problem(cli, wh) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "msa", FOLDER / "exemple-errone.xlsx", "--warehouse", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 1 and rep["outcome"] == "rejected" and not wh.exists()
    got = [(i["sheet"], i["row"], i["column"], i["code"]) for i in rep["issues"]]
    assert got == [
        (AT_SHEET, 5, "Secteur de risque MSA", "unknown-msa-sector"),
        (AT_SHEET, 6, "Département", "departement-outside-scope"),
        (AT_SHEET, 7, "Heures travaillées", "missing-value"),
        (AT_SHEET, 8, "Tranche d'âge", "invalid-age-band"),
        (MP_SHEET, 5, "Tableau de MP (régime agricole)", "unknown-mp-tableau"),
        (MP_SHEET, 6, "Maladies professionnelles reconnues", "non-numeric-count"),
    ]
    conf = tomllib.loads((FOLDER / "conformance.toml").read_text(encoding="utf-8"))
    assert set(conf["expected_codes"]) == {c for *_, c in got}


def test_sector_written_as_label_code_or_alias(cli, wh, loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.testing.samples_msa import write_msa

    _, _, tables, at, mp = loaded
    at2 = at.with_columns(
        pl.col("Secteur de risque MSA").replace({"Viticulture": "VITICULTURE", "Coopératives agricoles": "cooperatives", "Entreprises du paysage": "Paysagistes"})
    )
    rep = cli.json("ingest", "msa", write_msa(at2, mp.head(3), tmp_path / "msa-2024.xlsx"), "-w", wh, "--dry-run")
    assert rep["outcome"] == "dry-run" and rep["issues"] == [] and rep["tables"]["msa"] == at.height
