"""prst aggregate checks that every count of the facts is found again at the coarsest level."""

from __future__ import annotations

import duckdb
import polars as pl

from conftest import CARSAT


def test_a_territory_lost_on_the_way_up_stops_the_aggregation(cli, wh, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.pipeline import aggregate as agg

    assert cli("ingest", "carsat-mp", CARSAT / "departements-2024.xlsx", "-w", wh).exit_code == 0
    real = agg.geo_map

    def lossy(from_level, to_level, codes, spsti):  # type: ignore[no-untyped-def]
        m = real(from_level, to_level, codes, spsti)
        return m.filter(pl.col("geo_code") != "31") if to_level == "region" else m  # Haute-Garonne forgotten

    monkeypatch.setattr(agg, "geo_map", lossy)
    r = cli("aggregate", "-w", wh)
    assert r.exit_code == 3, r.stdout
    assert "ne retrouvent pas la somme des faits" in r.stderr and "Rien n'a été enregistré" in r.stderr
    con = duckdb.connect(str(wh / "prst.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT count(*) FROM aggregates").fetchall() == [(0,)]
    finally:
        con.close()
    monkeypatch.setattr(agg, "geo_map", real)
    r = cli("aggregate", "-w", wh)
    assert r.exit_code == 0 and "Conservation vérifiée" in r.stdout
    rep = cli.json("aggregate", "-w", wh)  # nothing new: up to date
    assert rep["computed"] == [] and rep["conservation"] == []


def test_hidden_cells_hide_the_total_instead_of_shrinking_it(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A cell the source wrote « s » has no number: the région total has none either (not a smaller one)."""
    import fastexcel

    from prst_etl.pipeline.aggregate import aggregate
    from test_bad_input import set_cell, write_xlsx

    df = fastexcel.read_excel(CARSAT / "departements-2024.xlsx").load_sheet(0, header_row=3, dtypes="string").to_polars()
    path = write_xlsx(set_cell(df, 0, "Nombre de salariés", "s"), tmp_path / "s.xlsx")
    assert cli("ingest", "carsat-mp", path, "-w", wh).exit_code == 0
    report = aggregate(wh)
    sal = [c for c in report.conservation if c["measure"] == "salaries"]
    assert sal and all(c["ok"] for c in report.conservation)
    assert sal[0]["level"] == "region"
