"""An outsider's attack on the published files of one warehouse (every level at once): the
linear program of every relation the files imply — geography through the communes, sectors,
sex and age margins, source dimensions, measure identities and shared quantities — solved for
sampled hidden cells (``prst_etl.testing.outsider``). The fuller run is
``benchmarks/bench_secrecy_attack.py``."""

from __future__ import annotations

import polars as pl
import pytest

from prst_etl.testing import outsider

LEVELS = ["region", "departement", "zone-emploi"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A small commune-level Carsat file (AT sheet), exported under secrecy at every published level,
    and without secrecy (the truth, communes included)."""
    from conftest import Cli, commune_sample

    cli = Cli()
    tmp = tmp_path_factory.mktemp("outsider")
    path, df = commune_sample(tmp, 160, "at.xlsx")
    wh = tmp / "warehouse"
    assert cli("ingest", "carsat-mp", path, "-w", wh).exit_code == 0
    pub, truth = [], []
    for level in LEVELS:
        r = cli("export", "-l", level, "-w", wh, "-o", tmp / f"{level}.parquet", "--secret")
        assert r.exit_code == 0, r.stderr
        pub.append(pl.read_parquet(tmp / f"{level}.parquet"))
    from prst_etl.pipeline.export import frame_as_of

    for level in [*LEVELS, "commune"]:  # the truth, and which communes have cells (given to the attacker)
        truth.append(frame_as_of(wh, level, None, None, None)[0])
    return outsider.published_counts(pub), outsider.published_counts(truth)


@pytest.mark.parametrize(
    "measures", [["at_1er_reglement", "at_risque"], ["at_ip", "at_ip_lt10", "at_ip_ge10"], ["salaries", "heures_travaillees"]]
)
def test_outsider_recovers_no_hidden_cell(published, measures) -> None:  # type: ignore[no-untyped-def]
    """Sampled hidden cells: primary ones keep their interval, secondary ones are not exact. (The
    risk families other than their total are left out, to keep the program small: the relation
    tested is total of the families = AT in 1st settlement.)"""
    pub, truth = published
    pub = pub.filter(pl.col("risk_family").is_null() | (pl.col("risk_family") == "_T"))
    truth = truth.filter(pl.col("risk_family").is_null() | (pl.col("risk_family") == "_T"))
    cells, dims, hs, status = outsider.linked_program(pub, truth, measures, 2024)
    assert status.is_in(["secret", "secret-secondaire"]).sum() > 0
    r = outsider.attack(cells, dims, hs, status, sample=3 if "at_ip" in measures else 6)
    assert r.height > 0
    assert r["ok"].all(), r.filter(~pl.col("ok"))
