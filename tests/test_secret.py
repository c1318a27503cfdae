"""Statistical secrecy applied by export (default), diff-years, and their files."""

from __future__ import annotations

import json
import warnings

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from conftest import CARSAT
from prst_etl.warehouse import open_warehouse


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A commune-level Carsat file small enough to be checked by linear programming."""
    from conftest import Cli, commune_sample

    cli = Cli()
    tmp = tmp_path_factory.mktemp("secret")
    path, df = commune_sample(tmp, 400, "mp.xlsx")
    wh = tmp / "warehouse"
    assert cli("ingest", "carsat-mp", path, "-w", wh).exit_code == 0
    return cli, wh, df


def _export(cli, wh, level, out, *extra):  # type: ignore[no-untyped-def]
    r = cli("export", "-l", level, "-w", wh, "-o", out, "--secret", "--json", *extra)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_export_hides_small_cells_and_what_would_reveal_them(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli, wh, df = loaded
    res = _export(cli, wh, "departement", tmp_path / "d.parquet")
    e = pl.read_parquet(res["path"])
    audit = pl.read_parquet(res["audit"])
    assert set(e["sector_level"]) <= {"a38", "a21", "ensemble"}  # the publishable scope
    at = e.filter(pl.col("indicator") == "at_1er_reglement")
    hidden = at.filter(pl.col("status").is_in(["secret", "secret-secondaire"]))
    assert hidden.height > 0 and hidden["value"].is_null().all()
    # every published AT count is 0 or at least 5 (health threshold), every hidden one is in the audit
    pub = at.filter(pl.col("status").is_null())
    assert ((pub["value"] == 0) | (pub["value"] >= 5)).all()
    a = audit.filter(pl.col("indicator") == "at_1er_reglement")
    assert a.height == hidden.height
    assert set(a["rule"]) <= {"seuil-sante", "frequence", "frequence,seuil-sante", "secondaire", "conserve"}
    assert set(a.filter(pl.col("status") == "secret")["rule"]) - {"secondaire", "conserve"} and "secondaire" in set(a["rule"])
    # a rate whose numerator is hidden is hidden
    keys = ["geo_code", "sector_level", "sector_code", "sex", "age_band", "ctn", "risk_family"]
    tf = e.filter(pl.col("indicator") == "at_tf").join(hidden.select(keys), on=keys, how="inner")
    assert tf.height == hidden.height and tf["value"].is_null().all()
    assert set(tf["status"]) <= {"secret", "secret-secondaire"}


def _attacker_view(pb):  # type: ignore[no-untyped-def]
    """Suppress one table; its linked table and the status the attacker sees: the hidden cells,
    and as unknowns the communes (not published under secrecy, schemas/secret.toml) and the
    cells the source hid. Returns (work, edims, hiers, status, hidden)."""
    from prst_etl.pipeline.secret import UNPUBLISHED, linked_table, suppress

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = suppress(pb.cells, pb.dims, pb.rules, pb.spsti).frame
    work, edims, hiers = linked_table(pb.cells, pb.dims, pb.spsti)
    status = work.join(res.select(*pb.dims, "secret"), on=pb.dims, how="left", nulls_equal=True)["secret"]
    hidden = status.is_not_null()
    status = status.zip_with((work["geo_level"] != "commune") & ~work["unknown"], pl.Series([UNPUBLISHED] * work.height))
    return work, edims, hiers, status, hidden


def _narrowed(rules) -> pl.Expr:  # type: ignore[no-untyped-def]
    """A range (``low``, ``high``) narrower than the cell's protection interval."""
    margin = pl.max_horizontal(pl.lit(rules.min_protection), pl.col("value") * rules.protection)
    return (pl.col("value") > 0) & (
        (pl.col("high") < pl.col("value") + margin - 1e-6) | (pl.col("low") > pl.col("value") - pl.min_horizontal(margin, pl.col("value")) + 1e-6)
    )


EXACT = (pl.col("value") > 0) & (pl.col("high") - pl.col("low") < 1e-6)


def test_no_hidden_cell_can_be_narrowed_by_linear_programming(loaded) -> None:  # type: ignore[no-untyped-def]
    """The attacker knows every published cell of every level and every equation."""
    from prst_etl.pipeline.secret import secret_problems
    from prst_etl.secrecy.verify import attacker_ranges
    from prst_etl.pipeline.secret import UNPUBLISHED, config

    _, wh, _ = loaded
    with open_warehouse(wh) as w:
        problems, _ = secret_problems(w, None)
    pb = next(p for p in problems if p.measure == "at_1er_reglement")
    work, edims, hiers, status, hidden = _attacker_view(pb)
    assert hidden.sum() > 0
    published_hidden = np.flatnonzero((status.is_not_null() & (status != UNPUBLISHED)).to_numpy())
    assert len(published_hidden) == int(hidden.sum())
    # every primary cell and a sample of the secondary ones (two LPs per cell; the fuller run is
    # benchmarks/bench_secrecy_attack.py)
    primary = np.flatnonzero((status == "secret").fill_null(False).to_numpy())
    others = np.setdiff1d(published_hidden, primary)
    rng = np.random.default_rng(0)
    targets = np.union1d(primary[:120], rng.choice(others, size=min(60, len(others)), replace=False))
    ranges = attacker_ranges(work, edims, hiers, status, targets=targets)
    assert ranges.height == len(targets) and (ranges["status"] != UNPUBLISHED).all()
    assert set(ranges["geo"].str.split(":").list.first()) <= {"zone-emploi", "departement", "region", "spsti"}
    # primary cells keep their whole interval; secondary ones too in strict mode, and in
    # "exact" mode (the default) are never recovered exactly
    strict = config().protect_secondary is True
    bad = ranges.filter(_narrowed(pb.rules) & ((pl.col("status") == "secret") | strict))
    assert bad.height == 0, bad.head()
    assert ranges.filter(EXACT).height == 0


def test_same_warehouse_same_pattern(loaded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cli, wh, _ = loaded
    a = _export(cli, wh, "region", tmp_path / "a.parquet")
    for f in (wh / "secret").glob("*.parquet"):
        f.unlink()  # recomputed, not read from the cache
    b = _export(cli, wh, "region", tmp_path / "b.parquet")
    assert open(a["path"], "rb").read() == open(b["path"], "rb").read()
    assert open(a["audit"], "rb").read() == open(b["audit"], "rb").read()


def test_keep_pattern_keeps_published_secrets_hidden(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_bad_input import set_cell, write_xlsx

    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    assert cli("release", "create", "pub-2024", "-w", wh).exit_code == 0
    first = _export(cli, wh, "departement", tmp_path / "a.parquet")
    before = pl.read_parquet(first["audit"]).filter(pl.col("indicator") == "at_1er_reglement")
    # a corrected file where every small count became large
    fixed = small.with_columns(pl.lit("500").alias("AT en 1er règlement"))
    assert cli("ingest", "carsat-mp", write_xlsx(fixed, tmp_path / "v2.xlsx"), "-w", wh, "--yes").exit_code == 0
    plain = pl.read_parquet(_export(cli, wh, "departement", tmp_path / "b.parquet")["audit"])
    kept = pl.read_parquet(_export(cli, wh, "departement", tmp_path / "c.parquet", "--keep-pattern", "pub-2024")["audit"])
    keys = ["geo_code", "sector_level", "sector_code", "sex", "age_band", "year", "indicator"]
    was = before.select(keys)
    assert was.join(kept.select(keys), on=keys, how="anti").height == 0  # all still hidden
    assert was.join(plain.select(keys), on=keys, how="anti").height > 0  # without --keep-pattern they would not be
    assert "conserve" in set(kept["rule"])


def test_commune_level_is_not_published_under_secrecy(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    r = cli("export", "-l", "commune", "-w", wh, "--secret", "-o", tmp_path / "c.parquet")
    assert r.exit_code == 2 and "--no-secret" in r.stderr


def test_no_secret_is_restricted_diffusion(cli, wh, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("ingest", "carsat-mp", CARSAT / "communes-2024-extrait.xlsx", "-w", wh).exit_code == 0
    r = cli.runner.invoke(__import__("prst_etl.cli", fromlist=["app"]).app,
                          ["export", "-l", "region", "-w", str(wh), "--no-secret", "-o", str(tmp_path / "r.parquet"), "--json"])  # fmt: skip
    res = json.loads(r.stdout)
    assert res["path"].endswith("r_diffusion-restreinte.parquet") and res["audit"] is None
    meta = pq.read_schema(res["path"]).metadata
    assert meta[b"prst.diffusion"] == "diffusion restreinte".encode()
    r = cli.runner.invoke(__import__("prst_etl.cli", fromlist=["app"]).app,
                          ["export", "-l", "region", "-w", str(wh), "--no-secret", "-f", "csv", "--json"])  # fmt: skip
    csv = json.loads(r.stdout)["path"]
    assert "diffusion-restreinte" in csv
    assert set(pl.read_csv(csv, separator=";", infer_schema=False)["diffusion"]) == {"diffusion restreinte"}


def test_diff_years_shows_hidden_cells_and_flags_secret_changes(cli, wh, small, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from test_bad_input import write_xlsx

    a = write_xlsx(small, tmp_path / "a.xlsx", title="Risque Accident du travail 2023 par CTN et code NAF", sheet="AT 2023")
    bigger = small.with_columns(pl.lit("400").alias("AT en 1er règlement"))
    b = write_xlsx(bigger, tmp_path / "b.xlsx")
    assert cli("ingest", "carsat-mp", a, "-w", wh).exit_code == 0
    assert cli("ingest", "carsat-mp", b, "-w", wh).exit_code == 0
    out = tmp_path / "d.parquet"
    r = cli("diff-years", "2023", "2024", "-l", "departement", "-i", "at_1er_reglement", "-w", wh, "--secret",
            "--format", "parquet", "-o", out)  # fmt: skip
    assert r.exit_code == 0, r.stderr
    d = pl.read_parquet(out)
    assert d.filter(pl.col("status_1").is_in(["secret", "secret-secondaire"]))["value_1"].is_null().all()
    assert d["flags"].fill_null("").str.contains("secret statistique : cachée en 2023, publiée en 2024").any()


def _lp_check(pb, where: pl.Expr) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Suppress one table, solve the attacker's LPs for the hidden cells matching ``where``:
    (primary cells narrowed, cells recovered exactly)."""
    from prst_etl.secrecy.verify import attacker_ranges

    work, edims, hiers, status, _ = _attacker_view(pb)
    targets = work.with_columns(status.alias("_s")).with_row_index("_i").filter(
        pl.col("_s").is_in(["secret", "secret-secondaire"]) & where
    )["_i"].to_numpy()
    assert len(targets)
    r = attacker_ranges(work, edims, hiers, status, targets=targets)
    narrowed = r.filter((pl.col("status") == "secret") & _narrowed(pb.rules))
    return narrowed.height, r.filter(EXACT).height


def test_cells_the_source_hid_are_unknown_not_zero(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The MSA file hides some of its own totals (« s »). Taken as absent (zero), they made small
    cells exactly recoverable from the published ones; as unknown cells of the equations, every
    primary cell keeps its interval (checked by linear programming)."""
    from conftest import FIXTURES, Cli
    from prst_etl.pipeline.secret import secret_problems

    cli, wh = Cli(), tmp_path / "warehouse"
    assert cli("ingest", "msa", FIXTURES / "sources/msa/exemple.xlsx", "-w", wh).exit_code == 0
    assert cli("aggregate", "-w", wh).exit_code == 0
    with open_warehouse(wh) as w:
        problems, _ = secret_problems(w, None)
    pb = next(pb for pb in problems if pb.measure == "msa_at")
    assert pb.cells["value"].null_count() > 0, "the fixture should hold cells the source hid"
    # the départements where cells were recoverable before (the LP on all of them takes 15 s)
    assert _lp_check(pb, pl.col("geo").is_in(["departement:48", "departement:65", "departement:81"])) == (0, 0)
