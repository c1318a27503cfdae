"""What a secret export publishes: no hidden value in any file it writes, one status per value
(linked measures and sources), zeros of small populations protected, headline totals kept, and
the same bytes from the same files."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from conftest import FIXTURES, NATIONAL
from prst_etl.testing import samples
from prst_etl.warehouse import open_warehouse

KEYS = ["geo_code", "sector_level", "sector_code", "sex", "age_band", "year", "indicator"]


def _carsat(tmp: Path) -> Path:
    nat = samples.read_national(NATIONAL)
    df = samples.spread_over_communes(nat, "carsat-mp", seed=8, old_codes=False)
    df = df.filter(pl.col("Code commune").str.slice(0, 2).is_in(["09", "32"])).head(400)
    return samples.write_workbook(df, tmp / "at.xlsx", year=2024)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Carsat (communes), ioda (parts SPSTI × département) and both URSSAF files."""
    from conftest import Cli

    cli = Cli()
    tmp = tmp_path_factory.mktemp("published")
    wh = tmp / "warehouse"
    files = [("carsat-mp", _carsat(tmp)), ("ioda", FIXTURES / "sources/ioda/exemple.xlsx"),
             ("urssaf", FIXTURES / "sources/urssaf/exemple.csv")]  # fmt: skip
    for source, path in files:
        r = cli("ingest", source, path, "-w", wh)
        assert r.exit_code == 0, r.stderr
    assert cli("aggregate", "-w", wh).exit_code == 0
    return cli, wh


def _pattern(wh: Path) -> pl.DataFrame:
    from prst_etl.pipeline.secret import secret_pattern

    with open_warehouse(wh) as w:
        return secret_pattern(w, None)[0]


def _tables(path: Path) -> list[pl.DataFrame]:
    if path.suffix == ".parquet":
        return [pl.read_parquet(path)]
    if path.suffix == ".csv":
        return [pl.read_csv(path, separator=";", infer_schema=False, encoding="utf8-lossy")]
    if path.suffix == ".xlsx":
        return list(pl.read_excel(path, sheet_id=0, infer_schema_length=0).values())
    if path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        return [pl.DataFrame(data)] if isinstance(data, list) else []
    raise AssertionError(f"unexpected file {path}")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_no_file_written_by_a_secret_export_carries_a_hidden_value(warehouse, tmp_path, fmt) -> None:  # type: ignore[no-untyped-def]
    """Disclosure 1: the audit file published every hidden value. Every file the export writes
    (data, audit; CLI JSON) is scanned: no row of a hidden cell holds its value anywhere."""
    cli, wh = warehouse
    out = tmp_path / "x"
    out.mkdir()
    r = cli("export", "-l", "departement", "-w", wh, "-o", out / f"d.{fmt}", "--format", fmt, "--secret", "--json")
    assert r.exit_code == 0, r.stderr
    (out / "cli.json").write_text(r.stdout, encoding="utf-8")
    hidden = _pattern(wh).filter((pl.col("geo_level") == "departement") & (pl.col("value") > 0))
    assert hidden.height > 50
    hidden = hidden.select(*[k for k in KEYS if k != "indicator"], "indicator", pl.col("value").alias("_hidden"))
    files = sorted(out.iterdir())
    assert {p.name for p in files} >= {f"d.{fmt}", f"d_secret-audit.{fmt}", "cli.json"}
    audit = _tables(out / f"d_secret-audit.{fmt}")[0]
    assert "value" not in audit.columns and audit.height >= hidden.height
    assert {"status", "rule"} <= set(audit.columns)
    for path in files:
        for t in _tables(path):
            on = [k for k in KEYS if k in t.columns]
            if len(on) < len(KEYS):
                continue
            t = t.with_columns(pl.col(c).cast(pl.String) for c in on)
            j = t.join(hidden.with_columns(pl.col(c).cast(pl.String) for c in on), on=on, how="inner")
            for c in [c for c in t.columns if c not in on]:
                v = j[c].cast(pl.String).str.replace(",", ".").cast(pl.Float64, strict=False)
                leak = j.filter(v == j["_hidden"])
                assert leak.height == 0, f"{path.name}: column {c} holds hidden values\n{leak.head()}"


def test_one_value_one_status(warehouse) -> None:  # type: ignore[no-untyped-def]
    """Disclosure 2: the total of the risk families and the AT in 1st settlement, and the two
    URSSAF files, were suppressed independently. Now one pattern each, identical."""
    _, wh = warehouse
    p = _pattern(wh)
    k = ["year", "geo_level", "geo_code", "sector_level", "sector_code", "sex", "age_band", "source"]
    risk = p.filter((pl.col("indicator") == "at_risque") & (pl.col("risk_family") == "_T")).select(*k, "secret")
    at = p.filter(pl.col("indicator") == "at_1er_reglement").select(*k, "secret")
    assert at.height > 0
    assert risk.sort(k).equals(at.sort(k))


@pytest.mark.xfail(
    strict=False,
    reason="seen failing (one primary's upper bound equal to its value) only when run after "
    "tests/test_aggregate.py::test_rates_ci_and_significance in the same process: state carried "
    "between tests, not yet found (see the closing note of issue 12)",
)
def test_ioda_parts_link_departements_and_spsti(warehouse) -> None:  # type: ignore[no-untyped-def]
    """Disclosure 2: ioda parts (SPSTI × département) add up to both départements and SPSTI; the
    problem ties them, and no primary cell can be narrowed by an attacker who knows it."""
    from prst_etl.pipeline.secret import PARTS, linked_table, secret_problems, suppress
    from prst_etl.secrecy.verify import attacker_ranges

    _, wh = warehouse
    with open_warehouse(wh) as w:
        problems, _ = secret_problems(w, None)
    pb = next(p for p in problems if p.source == "ioda" and p.measure == "inaptitudes")
    assert PARTS in set(pb.cells["geo_level"])
    work, edims, hiers = linked_table(pb.cells, pb.dims, pb.spsti)
    names = {h.name for h in hiers}
    assert "SPSTI, parts" in names
    res = suppress(pb.cells, pb.dims, pb.rules, pb.spsti).frame
    status = work.join(res.select(*pb.dims, "secret"), on=pb.dims, how="left", nulls_equal=True)["secret"]
    status = status.zip_with(work["geo_level"] != PARTS, pl.Series(["non-publie"] * work.height))
    prim = (status == "secret").fill_null(False).to_numpy() & (work["value"].to_numpy() > 0)
    import numpy as np

    rows = np.flatnonzero(prim)
    assert len(rows) > 0
    rows = np.random.default_rng(0).choice(rows, min(15, len(rows)), replace=False)
    r = attacker_ranges(work, edims, hiers, status, targets=np.sort(rows))
    u = np.maximum(0.1 * r["value"].to_numpy(), 1.0)
    assert (r["high"].to_numpy() >= r["value"].to_numpy() + u - 1e-6).all()
    assert (r["low"].to_numpy() <= r["value"].to_numpy() - np.minimum(u, r["value"].to_numpy()) + 1e-6).all()


def test_zero_rule_is_configuration_and_the_engine_protects_zeros() -> None:
    """Disclosure 3: a zero of a small population was recovered exactly as 0. With a zero
    protection, the engine gives it an upper bound of at least 1 (checked by LP); without, it
    does not. The rule is read from schemas/secret.toml."""
    import numpy as np

    from prst_etl.pipeline.secret import config
    from prst_etl.secrecy import Hierarchy, secondary_suppression
    from prst_etl.secrecy.verify import attacker_ranges

    assert config().zero_rule == "population"
    # 3 regions × 3 sectors + totals; the cell (A, s1) is zero with a population of 2 units
    geo = Hierarchy("geo", pl.DataFrame({"parent": ["R"] * 3, "child": ["A", "B", "C"]}))
    sec = Hierarchy("sector", pl.DataFrame({"parent": ["T"] * 3, "child": ["s1", "s2", "s3"]}))
    v = {("A", "s1"): 0, ("A", "s2"): 7, ("A", "s3"): 9, ("B", "s1"): 6, ("B", "s2"): 8, ("B", "s3"): 11,
         ("C", "s1"): 5, ("C", "s2"): 12, ("C", "s3"): 10}  # fmt: skip
    rows = [(g, s, x) for (g, s), x in v.items()]
    for g in "ABC":
        rows.append((g, "T", sum(x for (gg, _), x in v.items() if gg == g)))
    for s in ("s1", "s2", "s3"):
        rows.append(("R", s, sum(x for (_, ss), x in v.items() if ss == s)))
    rows.append(("R", "T", sum(v.values())))
    cells = pl.DataFrame(rows, schema=["geo", "sector", "value"], orient="row").with_columns(pl.col("value").cast(pl.Float64))
    primary = (pl.col("geo") == "A") & (pl.col("sector") == "s1")
    prim = cells.select(primary.alias("p"))["p"]
    target = np.flatnonzero(prim.to_numpy())
    for zp, protected in ((0.0, False), (1.0, True)):
        status = secondary_suppression(cells, ["geo", "sector"], [geo, sec], prim, protection=0.1, min_protection=1, zero_protection=zp)
        r = attacker_ranges(cells, ["geo", "sector"], [geo, sec], status, targets=target)
        assert (r["high"][0] >= 1 - 1e-9) is protected, r


def _headline_secondary(p: pl.DataFrame) -> pl.DataFrame:
    return p.filter(
        pl.col("geo_level").is_in(["region", "departement", "zone-emploi"]) & (pl.col("sector_level") == "ensemble")
        & pl.all_horizontal([pl.col(c) == "_T" for c in ("sex", "age_band", "ctn", "risk_family")])
        & pl.col("indicator").is_in(["salaries", "heures_travaillees", "at_1er_reglement"])
        & (pl.col("secret") == "secret-secondaire")
    )  # fmt: skip


def test_headline_totals_are_out_of_reach_of_the_secondary_search(warehouse, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Disclosure 4: the all-sectors, both-sexes, all-ages totals of territories were chosen as
    secondary. They are now out of reach of the search, and allowed only for cells it leaves
    short. With zeros published (zero_rule = "publish"), none is hidden here; protecting the
    zeros of small populations can still need some (a zero moves only upwards: the cubes that
    move it reach the totals), which the cost report counts."""
    import dataclasses

    from prst_etl.pipeline import secret

    _, wh = warehouse
    cfg = dataclasses.replace(secret.config(), zero_rule="publish")
    monkeypatch.setattr(secret, "config", lambda: cfg)
    with open_warehouse(wh) as w:
        p, short = secret.compute_secret_pattern(w, None)
    assert short == (0, 0)
    head = _headline_secondary(p)
    assert head.height == 0, head.select("geo_level", "geo_code", "indicator", "source", "rule").to_dicts()


def test_exports_of_the_same_files_are_byte_identical(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two fresh warehouses, the same files (census-weighted values included): the same bytes."""
    from conftest import Cli

    cli = Cli()
    for n in (1, 2):
        wh = tmp_path / f"w{n}"
        for source, path in (("insee-rp", FIXTURES / "sources/insee-rp/exemple.csv"), ("urssaf", FIXTURES / "sources/urssaf/exemple.csv")):
            r = cli("ingest", source, path, "-w", wh, "--year", "2021") if source == "insee-rp" else cli("ingest", source, path, "-w", wh)
            assert r.exit_code == 0, r.stderr
        for fmt in ("parquet", "csv"):
            r = cli("export", "-l", "departement", "-w", wh, "-o", tmp_path / f"o{n}.{fmt}", "--format", fmt, "--secret")
            assert r.exit_code == 0, r.stderr
    for name in ("o{}.parquet", "o{}.csv", "o{}_secret-audit.parquet", "o{}_secret-audit.csv"):
        assert (tmp_path / name.format(1)).read_bytes() == (tmp_path / name.format(2)).read_bytes(), name


def test_measure_identities_are_checked_at_aggregate_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """at_ip ≥ at_ip_lt10 + at_ip_ge10 (catalogue [[identity]]): a cube that breaks it gets a note."""
    from prst_etl.pipeline.aggregate import identity_notes
    from prst_etl.sources import all_sources

    spec = all_sources()["carsat-mp"]().table("at")
    cube = pl.DataFrame({m: [1.0, 2.0] for m in spec.measure_ids}).with_columns(
        pl.Series("at_ip", [5.0, 2.0]), pl.Series("at_ip_lt10", [3.0, 2.0]), pl.Series("at_ip_ge10", [1.0, 1.0]),
        pl.Series("at_somme_taux_ip", [9.0, 9.0]), pl.Series("at_somme_taux_ip_lt10", [1.0, 1.0]),
    )
    cube.write_parquet(tmp_path / "c.parquet")
    notes = identity_notes(spec, tmp_path / "c.parquet", "carsat-mp at 2024")
    assert len(notes) == 1 and "at_ip ≥ at_ip_lt10 + at_ip_ge10" in notes[0] and "1 case(s)" in notes[0]
