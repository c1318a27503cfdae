"""The real national « MP par CTN et code NAF » 2024 workbook, end to end (ingest → aggregate → export).

The figures below were computed from the file independently of prst (see the fixture's PROVENANCE.md);
prst must find them again at France level: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, Cli

REAL = FIXTURES / "sources/ameli-mp/2024-stat-nationales-mp-ctn-naf.xlsx"
MP, SALARIES, HEURES = 50_598, 20_799_568, 34_359_322_638
TMS, ZC = 44_723, 2_556
PSY = {"depression": 1_310, "anxiete-stress": 450, "autre": 45}
TABLEAUX = {"057A": 40_976, "098A": 2_255, "079A": 931, "097A": 477, "069A": 84}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Ingested through the CLI, aggregated; the France-level cells of both tables (all sectors)."""
    from prst_etl.pipeline.aggregate import aggregate, current_aggregates
    from prst_etl.warehouse import open_warehouse

    wh = tmp_path_factory.mktemp("ameli-mp-real") / "warehouse"
    r = Cli()("ingest", "ameli-mp", REAL, "-w", wh, "--json")
    rep = json.loads(r.stdout)
    assert r.exit_code == 0 and rep["outcome"] == "loaded", rep["issues"][:5]
    aggregate(wh, sources=["ameli-mp"])
    with open_warehouse(wh) as w:
        parts = current_aggregates(w, "france")
        france = {
            t: pl.scan_parquet(w.abs(p)).filter(pl.col("sector_level") == "ensemble").collect()
            for t, p in parts.select("table_name", "path").iter_rows()
        }
    return rep, france, wh


DIMS = {"mp": ("sex", "age_band", "ctn", "mp_tableau", "mp_syndrome", "mp_psy", "cause_family"),
        "mp_effectifs": ("sex", "age_band", "ctn")}  # fmt: skip


def total(france: dict[str, pl.DataFrame], measure: str, **dims: str) -> float:
    """The France value of a measure, all sectors, « all » (_T) in every dimension not given."""
    table = "mp_effectifs" if measure in ("mp_salaries", "mp_heures_travaillees", "mp_etablissements") else "mp"
    cond = pl.col("geo_code") == "FR"
    for d in DIMS[table]:
        cond &= pl.col(d) == dims.get(d, "_T")
    cell = france[table].filter(cond)
    assert cell.height == 1, (measure, dims, cell)
    return cell[measure].item()


def test_every_row_is_kept_and_only_the_odd_naf_codes_are_flagged(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, _, _ = loaded
    st = rep["stats"]
    assert (st["rows_read"], st["rows_kept"], st["rows_rejected"]) == (26_755, 26_755, 0)
    assert [(i["code"], i["severity"], i["value"]) for i in rep["issues"]] == [
        ("unknown-naf", "warning", "4420C"), ("unknown-naf", "warning", "4598A"), ("unknown-naf", "warning", "7011B"),
    ]  # fmt: skip
    assert all("_U" in i["message"] for i in rep["issues"])


def test_ledger_states_what_was_read_set_aside_and_stored(loaded) -> None:  # type: ignore[no-untyped-def]
    rep, _, _ = loaded
    flows = {(f["table"], f["measure"]): f for f in rep["accounting"]}
    sal = flows[("mp_effectifs", "mp_salaries")]
    assert sal["read"] == 1_086_076_539  # the column summed over every tableau × syndrome row
    assert sal["stored"] == SALARIES and sal["read"] - sum(sal["set_aside"].values()) == SALARIES
    assert list(sal["set_aside"]) == ["répétés sur chaque ligne tableau × syndrome d'un même CTN × NAF, comptés une fois"]
    assert flows[("mp", "mp_1er_reglement")] | {"set_aside": None} == {
        "table": "mp", "measure": "mp_1er_reglement", "read": MP, "set_aside": None, "stored": MP, "derived": "", "balanced": True,
    }  # fmt: skip
    assert all(f["balanced"] for f in rep["accounting"])


def test_france_totals_are_the_file_totals(loaded) -> None:  # type: ignore[no-untyped-def]
    _, france, _ = loaded
    assert total(france, "mp_1er_reglement") == MP
    assert total(france, "mp_salaries") == SALARIES
    assert total(france, "mp_heures_travaillees") == HEURES
    assert total(france, "mp_1er_reglement", cause_family="tms") == TMS
    assert total(france, "mp_1er_reglement", ctn="ZC") == ZC
    for code, n in TABLEAUX.items():
        assert total(france, "mp_1er_reglement", mp_tableau=code) == n


def test_psychic_disorders_are_a_dimension_and_the_psy_family_keeps_its_total(loaded) -> None:  # type: ignore[no-untyped-def]
    _, france, _ = loaded
    kinds = {k: total(france, "mp_1er_reglement", mp_psy=k) for k in PSY}
    assert kinds == PSY
    assert total(france, "mp_1er_reglement", cause_family="psy") == sum(PSY.values())
    assert total(france, "mp_1er_reglement", mp_psy="_Z") == MP - sum(PSY.values())


def test_ter_tableaux_are_read(loaded) -> None:  # type: ignore[no-untyped-def]
    _, france, _ = loaded
    ter = {code: total(france, "mp_1er_reglement", mp_tableau=code) for code in ("010T", "015T", "030T", "037T", "070T")}
    assert sum(ter.values()) == 84 and all(ter.values())  # cancers, as the file counts them
    assert total(france, "mp_1er_reglement", mp_tableau="015T", cause_family="cancers") == ter["015T"]


def test_pairs_without_disease_keep_their_employees(loaded) -> None:  # type: ignore[no-untyped-def]
    _, _, wh = loaded
    eff = pl.read_parquet(next((Path(wh) / "facts/ameli-mp/mp_effectifs").rglob("*.parquet")))
    mp = pl.read_parquet(next((Path(wh) / "facts/ameli-mp/mp").rglob("*.parquet")))
    pairs = mp.select("ctn", "sector_code").unique()
    alone = eff.join(pairs, on=["ctn", "sector_code"], how="anti")
    assert alone["mp_salaries"].sum() == 205_691  # the 2 554 rows of the file with no tableau
    assert eff.height == 4_502 - 3  # the three codes outside NAF rév. 2 join BB × _U


def test_dry_run_through_the_cli_reads_the_real_workbook(cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("ingest", "ameli-mp", REAL, "-w", tmp_path / "w", "--dry-run")
    assert r.exit_code == 0, r.stdout
    assert "Fichier valide" in r.stdout and "avertissement" in r.stdout and "4420C" in r.stdout
    assert not (tmp_path / "w").exists()
