"""Packaged reference tables: shape, counts and key facts (reads package data only)."""

from __future__ import annotations

from importlib.resources import files

import polars as pl
import pytest

from prst_etl import reference

LOADERS = [
    reference.communes,
    reference.departements,
    reference.regions,
    reference.zones_emploi,
    reference.commune_ze,
    reference.commune_passage,
    reference.naf,
    reference.naf_labels,
    reference.ctn,
]


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_every_column_is_text_and_table_not_empty(loader) -> None:
    df = loader()
    assert df.height > 0
    assert all(dt == pl.String for dt in df.dtypes), df.schema


def test_loaders_are_cached() -> None:
    assert reference.naf() is reference.naf()
    assert reference.communes(2025) is reference.communes()


def test_commune_counts_by_vintage() -> None:
    for vintage, expected in [(2024, 4453), (2025, 4446)]:
        df = reference.communes(vintage)
        assert df.filter(pl.col("type") == "commune-actuelle").height == expected
        assert set(df["type"].unique()) == {"commune-actuelle", "commune-deleguee", "commune-associee"}
        assert df["region"].unique().to_list() == ["76"]
    with pytest.raises(ValueError):
        reference.communes(2019)


def test_codes_keep_leading_zeros() -> None:
    cur = reference.communes(2025)
    assert "09001" in cur["code"].to_list()
    assert cur["code"].str.contains(r"^\d{5}$").all()
    assert reference.departements().filter(pl.col("code") == "09")["nom"].to_list() == ["Ariège"]


def test_departements_and_regions() -> None:
    dep = reference.departements()
    occ = dep.filter(pl.col("region") == "76")["code"].sort().to_list()
    assert occ == ["09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"]
    assert {"2A", "2B", "971", "976"} <= set(dep["code"])
    assert reference.regions().filter(pl.col("code") == "76")["nom"].to_list() == ["Occitanie"]


def test_zones_emploi() -> None:
    ze = reference.zones_emploi()
    assert ze.height == 27
    assert ze["ze_code"].is_unique().all()
    parts = ze.filter(pl.col("partie_reg").is_not_null()).sort("ze2020")
    assert parts["ze2020"].to_list() == ["0052", "0053"]
    assert parts["ze_code"].to_list() == ["0052-76", "0053-76"]
    assert parts["ze_libelle"].to_list() == ["Arles (partie Occitanie)", "Avignon (partie Occitanie)"]
    assert ze.filter(pl.col("partie_reg").is_null())["ze_code"].str.contains(r"^76(0[1-9]|1\d|2[0-5])$").all()


def test_every_current_commune_has_exactly_one_zone() -> None:
    cz = reference.commune_ze()
    cur = reference.communes(2025).filter(pl.col("type") == "commune-actuelle")
    assert cz.height == cur.height == 4446
    assert cz["code"].is_unique().all()
    assert set(cz["code"]) == set(cur["code"])
    assert cz["ze_code"].null_count() == 0
    assert set(cz["ze_code"]) == set(reference.zones_emploi()["ze_code"])


def test_merged_commune_spanning_two_zones() -> None:
    # Cap d'Astarac (32365, 2025) merged communes of Auch (7604) and Saint-Gaudens (7622)
    row = reference.commune_ze().filter(pl.col("code") == "32365")
    assert row["ze_code"].to_list() == ["7622"]
    assert row["origine"].to_list() == ["fusion-zone-chef-lieu"]  # the zone of its chef-lieu 32365 (Insee's rule)
    old = reference.commune_ze_geo2022().filter(pl.col("code_geo2022").is_in(["32067", "32260", "32365", "32413"]))
    assert dict(old.select("code_geo2022", "ze_code").iter_rows()) == {"32067": "7604", "32260": "7604", "32365": "7622", "32413": "7622"}
    assert reference.commune_ze().filter(pl.col("code") == "12218")["ze_code"].to_list() == ["7621"]


def test_passage_is_a_function_onto_current_communes() -> None:
    p = reference.commune_passage()
    cur = set(reference.communes(2025).filter(pl.col("type") == "commune-actuelle")["code"])
    assert p["code_source"].is_unique().all()
    assert set(p["code_cog2025"]) == cur
    mapping = dict(p.select("code_source", "code_cog2025").iter_rows())
    assert mapping["12076"] == "12218"
    for gone in ["09255", "09287", "12076", "30094", "32067", "32260", "32413", "34093", "46217"]:
        assert gone in mapping and mapping[gone] != gone and gone not in cur


def test_passage_covers_every_code_of_both_vintages() -> None:
    codes = set(reference.commune_passage()["code_source"])
    for vintage in (2024, 2025):
        df = reference.communes(vintage)
        olds = df["anciens_codes"].drop_nulls().str.split("|").explode()
        assert set(df["code"]) | set(olds) <= codes


def test_naf_counts() -> None:
    naf = reference.naf()
    assert naf.height == 732
    assert naf["code"].str.contains(r"^\d{4}[A-Z]$").all()
    expected = {"naf615": 615, "naf272": 272, "a88": 88, "a64": 64, "a38": 38, "a21": 21, "a17": 17, "a10": 10}
    assert {c: naf[c].n_unique() for c in expected} == expected
    row = naf.filter(pl.col("code") == "0111Z").row(0, named=True)
    assert (row["naf615"], row["naf272"], row["a88"], row["a38"], row["a21"]) == ("01.11", "01.1", "01", "AZ", "A")


def test_naf_labels_cover_every_code() -> None:
    lab = reference.naf_labels()
    naf = reference.naf().rename({"code": "naf732"})
    for level in naf.columns:
        got = set(lab.filter(pl.col("level") == level)["code"])
        assert got == set(naf[level]), level
    assert lab["libelle"].null_count() == 0
    assert lab.filter((pl.col("level") == "a64") & (pl.col("code") == "HZ3"))["libelle"].to_list() == [
        "Transports aériens"
    ]
    assert lab.filter((pl.col("level") == "a21") & (pl.col("code") == "P"))["libelle"].to_list() == ["Enseignement"]


def test_ctn() -> None:
    ctn = reference.ctn()
    assert ctn["code"].to_list() == ["AA", "BB", "CC", "DD", "EE", "FF", "GG", "HH", "II", "ZC"]
    assert ctn["alias"].to_list() == list("ABCDEFGHIZ")
    assert ctn.filter(pl.col("code") == "BB")["libelle"].to_list() == ["Industries du bâtiment et des travaux publics"]


def test_provenance_names_every_data_file() -> None:
    root = files("prst_etl.reference")
    text = root.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    names = [p.name for p in root.joinpath("data").iterdir() if p.name.endswith(".csv")]
    assert len(names) == 12
    for name in names:
        assert f"`{name}`" in text
    for publisher in ["Insee", "Etalab", "Licence Ouverte", "Assurance Maladie"]:
        assert publisher in text


def test_spsti_list_is_the_shared_fictitious_one() -> None:
    t = reference.spsti()
    assert all(dt == pl.String for dt in t.dtypes)
    assert t.height == 17 and t["code"].is_unique().all()
    assert t["nom"].str.ends_with("(fictif)").all()
    assert set(t["champ"]) == {"interprofessionnel", "BTP"}
    pairs = reference.spsti_departements()
    occ = ["09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"]
    # every département has an interprofessional service and exactly one BTP service
    assert sorted(pairs.filter(~pl.col("code").str.contains("BTP"))["departement"].unique()) == occ
    assert sorted(pairs.filter(pl.col("code").str.contains("BTP"))["departement"]) == occ
    assert pairs.filter(pl.col("code") == "SPSTI-31-B")["departement"].to_list() == ["31"]
