"""Publications (portraits, chiffres clés, tableau de bord, site): figures equal the export,
no hidden value anywhere, the right comparison territories, reproducible from a release,
valid and accessible HTML, tagged PDF, maps with one shape per territory."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl
import pytest

from prst_etl.publish import content, fmt, maps
from prst_etl.publish import data as pdata

NATIONAL = Path(__file__).parent / "fixtures/sources/ameli-at/2024-stat-nationales-at-ctn-naf.xlsx"
NS = {"h": "http://www.w3.org/1999/xhtml", "svg": "http://www.w3.org/2000/svg"}
NUMBER = re.compile(r"\d{1,3}(?:\u202f\d{3})*(?:,\d+)?")


# -- fixtures: one small demo-like warehouse per session ------------------------------------------
@pytest.fixture(scope="session")
def pub_wh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prst_etl.testing.publish_sample import build

    root = tmp_path_factory.mktemp("publish") / "warehouse"
    build(root, NATIONAL, rows=120, france=False, csv=True)  # CSV: the same rows, quicker to write and read
    pdata.load(root)  # computes and caches the secrecy-applied frames once
    return root


@pytest.fixture(scope="session")
def pub(pub_wh: Path) -> pdata.PublishData:
    return pdata.load(pub_wh)


@pytest.fixture(scope="session")
def zone(pub: pdata.PublishData) -> pdata.Territory:
    """A zone d'emploi of Midi-Pyrénées with an accident frequency (commune-level Carsat data)."""
    ze = pub.frame("zone-emploi").filter((pl.col("indicator") == "at_if") & pl.col("value").is_not_null())
    codes = set(ze["geo_code"].to_list())
    return next(t for t in pub.territories("zone-emploi") if t.code in codes and t.parents[0][1] in ("31", "81", "12", "82"))


@pytest.fixture(scope="session")
def portraits(pub_wh: Path, zone: pdata.Territory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from prst_etl.publish import build_portraits

    out = tmp_path_factory.mktemp("portraits")
    files: dict[str, Path] = {}
    res = build_portraits("zone-emploi", [zone.code], warehouse=pub_wh, formats=["html", "pdf"], output=out)
    files["ze.html"], files["ze.pdf"] = res.files
    res = build_portraits("departement", ["31"], warehouse=pub_wh, formats=["html"], output=out)
    files["dep.html"] = res.files[0]
    return files


def parse(path: Path) -> ET.Element:
    import html5lib

    return html5lib.parse(path.read_text(encoding="utf-8"), treebuilder="etree", namespaceHTMLElements=True)


def figures(root: ET.Element) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("data-ind")]


def text_of(root: ET.Element) -> str:
    return " ".join(t for t in root.itertext())


def pdf_text(path: Path) -> str:
    import pypdf

    return "\n".join(p.extract_text() or "" for p in pypdf.PdfReader(path).pages)


_EXPORTS: dict[tuple, pl.DataFrame] = {}


def export_frame(wh: Path, level: str, secret: bool = True) -> pl.DataFrame:
    """What « prst export » writes at that level (the reference the documents must match)."""
    from prst_etl.pipeline.export import export

    if (wh, level, secret) in _EXPORTS:
        return _EXPORTS[(wh, level, secret)]
    res = export(level, warehouse=wh, fmt="parquet", sector_levels=["a21", "ensemble"], secret=secret,
                 output=wh.parent / f"check_{level}_{secret}.parquet")  # fmt: skip
    _EXPORTS[(wh, level, secret)] = pl.read_parquet(res.path)
    return _EXPORTS[(wh, level, secret)]


def _key(e: ET.Element) -> tuple:
    dims = tuple(sorted(tuple(x.split("=")) for x in e.get("data-dims", "").split(";") if x))  # type: ignore[misc]
    return (e.get("data-ind"), e.get("data-level"), e.get("data-geo"), int(e.get("data-year")), e.get("data-sector-level"),
            e.get("data-sector"), e.get("data-sex"), e.get("data-age"), dims)  # fmt: skip


def export_index(frames: dict[str, pl.DataFrame]) -> dict[tuple, dict]:
    out = {}
    for level, df in frames.items():
        extras = [c for c in df.columns if c not in content.ROW_COLUMNS and c != "sector_label"]
        for r in df.iter_rows(named=True):
            dims = tuple(sorted((d, r[d]) for d in extras if r[d] not in (None, "_T")))
            out[(r["indicator"], level, r["geo_code"], r["year"], r["sector_level"], r["sector_code"], r["sex"], r["age_band"], dims)] = r
    return out


# -- figures ----------------------------------------------------------------------------------------
def test_every_figure_of_a_portrait_equals_the_export(pub_wh: Path, portraits: dict[str, Path]) -> None:
    frames = {lvl: export_frame(pub_wh, lvl) for lvl in ("zone-emploi", "departement", "region")}
    index = export_index(frames)
    checked = 0
    for name in ("ze.html", "dep.html"):
        for e in figures(parse(portraits[name])):
            row = index[_key(e)]
            if e.get("data-value") is None:
                assert row["value"] is None and row["status"] == e.get("data-status")
                assert (e.text or "").strip() in ("s", "nd", "///")
                continue
            assert float(e.get("data-value")) == pytest.approx(row["value"], rel=1e-12)
            ind = pdata.indicator(row["indicator"])
            dec = fmt.decimals_for(ind, {k: int(v) for k, v in content.config("portrait")["decimals"].items()})
            assert (e.text or "").strip() == content.value_text(ind, row["value"], dec)
            checked += 1
    assert checked > 100


def test_the_pdf_carries_the_same_figures(portraits: dict[str, Path]) -> None:
    text = re.sub(r"\s", "", pdf_text(portraits["ze.pdf"]))
    root = parse(portraits["ze.html"])
    main = [e for e in figures(root) if e.get("data-value") and e.get("data-sector") == "_T" and e.get("data-sex") == "_T"]
    assert len(main) > 20  # the published figures of the zone (the count depends on the secrecy pattern)
    missing = [e.text for e in main if re.sub(r"\s", "", e.text or "") not in text]
    assert not missing


def test_no_hidden_value_appears_in_html_svg_or_pdf(pub_wh: Path, portraits: dict[str, Path], zone: pdata.Territory) -> None:
    from prst_etl.pipeline.export import Filters, frame_as_of

    # the cells this portrait could show: every cell of the zone, the « all » cells of its comparisons
    dep = zone.parents[0][1]
    wanted = {"zone-emploi": [zone.code], "departement": [dep], "region": ["76"]}
    keep = {lvl: pl.col("geo_code").is_in(codes) for lvl, codes in wanted.items()}
    published = export_index({lvl: export_frame(pub_wh, lvl).filter(keep[lvl]) for lvl in wanted})
    # the true values of those territories only (the filter keeps them before rates are computed: quicker)
    true = export_index({lvl: frame_as_of(pub_wh, lvl, None, ["a21", "ensemble"], None, filters=Filters.of(codes=codes))[0]
                         for lvl, codes in wanted.items()})  # fmt: skip
    html_text = portraits["ze.html"].read_text(encoding="utf-8")
    root = parse(portraits["ze.html"])
    tokens = set(NUMBER.findall(text_of(root))) | set(NUMBER.findall(pdf_text(portraits["ze.pdf"])))
    shown = {(e.text or "").strip() for e in figures(root)}
    hidden = 0
    for key, row in published.items():
        if row["status"] not in fmt.HIDDEN or key[0] not in pdata.indicators():
            continue
        if key[1] != "zone-emploi" and (key[5], key[6], key[7]) != ("_T", "_T", "_T"):
            continue
        value = true[key]["value"]
        if value is None:
            continue
        hidden += 1
        assert f'data-value="{float(value)!r}"' not in html_text or float(value) in {r["value"] for r in published.values()}
        ind = pdata.indicator(key[0])
        for dec in (0, 1, 2):
            t = content.value_text(ind, value, dec).replace("\u202f%", "")
            # a short or round number appears anyway (years, « 100 à 249 salariés »…): look for the telling ones
            telling = ("," in t and not t.endswith(",0") and len(t) >= 4) or abs(value) >= 1000
            if telling and t not in shown:
                assert t not in tokens, (key, t)
    assert hidden > 10  # the test would mean nothing without hidden cells


def test_comparisons_use_the_right_parents(portraits: dict[str, Path], zone: pdata.Territory) -> None:
    root = parse(portraits["ze.html"])
    main = next(t for t in root.iter(f"{{{NS['h']}}}table") if "principal" in (t.get("id") or "") and "accidents" in t.get("id"))
    heads = [" ".join(th.itertext()).strip() for th in main.iter(f"{{{NS['h']}}}th") if th.get("scope") == "col"]
    dep_code, dep_label = zone.parents[0][1], zone.parents[0][2]
    assert dep_label in heads and "Occitanie" in heads
    levels = {(e.get("data-level"), e.get("data-geo")) for e in figures(main)}
    assert levels >= {("zone-emploi", zone.code), ("departement", dep_code), ("region", "76")}
    assert {lvl for lvl, _ in levels} <= {"zone-emploi", "departement", "region", "france"}


def test_a_portrait_as_of_a_release_is_identical_after_later_loads(pub_wh: Path, tmp_path: Path) -> None:
    from prst_etl.demo import data_dir
    from prst_etl.pipeline.ingest import ingest
    from prst_etl.publish import build_portraits
    from prst_etl.warehouse import open_warehouse

    wh = tmp_path / "wh"
    shutil.copytree(pub_wh, wh)
    with open_warehouse(wh, write=True) as w:
        w.create_release("diagnostic-test", "pour le test")
    first = build_portraits("departement", ["31"], warehouse=wh, as_of="diagnostic-test", formats=["html"], output=tmp_path / "a").files[0]
    assert ingest("insee-rp", data_dir() / "insee-rp_td_2021_occitanie.csv", warehouse=wh).valid
    shutil.rmtree(wh / pdata.CACHE_DIR)  # recompute from the warehouse, not from the cache
    again = build_portraits("departement", ["31"], warehouse=wh, as_of="diagnostic-test", formats=["html"], output=tmp_path / "b").files[0]
    assert first.read_bytes() == again.read_bytes()
    assert "diagnostic-test" in first.read_text(encoding="utf-8")
    assert 'data-ind="population"' not in first.read_text(encoding="utf-8")  # the later load is not in it
    with open_warehouse(wh) as w:
        assert w.loads()["source"].to_list()[-1] == "insee-rp"


# -- HTML, accessibility, PDF -------------------------------------------------------------------------
def test_html_is_valid_and_accessible(portraits: dict[str, Path]) -> None:
    import html5lib

    page = portraits["ze.html"].read_text(encoding="utf-8")
    html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)  # raises on any parse error
    root = parse(portraits["ze.html"])
    assert root.get("lang") == "fr"
    levels = [int(e.tag[-1]) for e in root.iter() if re.fullmatch(r"\{[^}]+\}h[1-6]", str(e.tag))]
    assert levels[0] == 1 and levels.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:]))  # no skipped heading level
    figs = list(root.iter(f"{{{NS['h']}}}figure"))
    kinds = [" ".join(f.find(f"{{{NS['h']}}}figcaption").itertext()).split()[0] for f in figs]
    assert kinds.count("Carte") >= 2 and "Graphique" in kinds
    for f in figs:
        assert f.find(f"{{{NS['h']}}}figcaption") is not None
        svg = next(f.iter(f"{{{NS['svg']}}}svg"))
        assert svg.get("role") == "img" and svg.get("aria-describedby")
        assert svg.find(f"{{{NS['svg']}}}title") is not None and (svg.find(f"{{{NS['svg']}}}desc").text or "").strip()
        assert next(f.iter(f"{{{NS['h']}}}table"), None) is not None  # the data behind the chart
    for t in root.iter(f"{{{NS['h']}}}table"):
        assert t.find(f"{{{NS['h']}}}caption") is not None
    assert "\u202f" in page and re.search(r"\d\u202f\d{3}", page)  # French numbers


def test_secret_cells_show_s_with_their_reason(portraits: dict[str, Path]) -> None:
    root = parse(portraits["ze.html"])
    secret = [e for e in figures(root) if e.get("data-status") in fmt.HIDDEN]
    assert secret and all((e.text or "").strip() == "s" for e in secret)
    notes = {li.get("id"): " ".join(li.itertext()) for li in root.iter(f"{{{NS['h']}}}li") if (li.get("id") or "").startswith("note-")}
    for e in secret:
        link = e.find(f".//{{{NS['h']}}}a")
        assert link is not None and "secret statistique" in notes[link.get("href")[1:]], (dict(e.attrib), ET.tostring(e)[:300])


def test_the_pdf_is_tagged(portraits: dict[str, Path]) -> None:
    import pypdf

    root = pypdf.PdfReader(portraits["ze.pdf"]).trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in root
    assert str(root["/Lang"]).lower().startswith("fr")


def test_no_pango_gives_html_and_says_why(pub_wh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prst_etl.publish import build_portraits, render

    monkeypatch.setattr(render, "pdf_problem", lambda: "WeasyPrint ne trouve pas la bibliothèque Pango du système.")
    res = build_portraits("region", ["76"], warehouse=pub_wh, formats=["html", "pdf"], output=tmp_path)
    assert [p.suffix for p in res.files] == [".html"]
    assert res.notes and "Pango" in res.notes[0] and "HTML" in res.notes[0]


# -- maps ------------------------------------------------------------------------------------------------
def test_map_classes_are_honest() -> None:
    assert maps.quantile_classes([1, 2, 3, 4, 5, 6, 7, 8], 4) == [2, 4, 6, 8]
    assert maps.quantile_classes([1, 1, 1, 1, 5, 6], 3) == [1, 6]  # equal values stay in one class: fewer classes
    assert maps.jenks_classes([1, 1.1, 1.2, 5, 5.1, 9, 9.2], 3) == [1.2, 5.1, 9.2]
    items = [maps.MapItem(f["properties"]["code"], f["properties"]["label"], float(i), None, str(i), ns=i == 3)
             for i, f in enumerate(maps.features("departement")[:10])]  # fmt: skip
    items.append(maps.MapItem("66", "Pyrénées-Orientales", None, "secret", "s"))
    m = maps.build("t", "departement", "at_if", "Test", "AT", 2024, items, lambda v: fmt.number(v, 1))
    counts = {e.mark: e.count for e in m.legend}
    assert sum(c for k, c in counts.items() if k.isdigit()) == 10 and counts["s"] == 1 and counts[""] == 2
    assert m.svg.count("url(#t-hatch)") == 1 and m.svg.count("url(#t-dots)") == 2
    assert len(re.findall(r'aria-roledescription="geoshape"', m.svg)) == 13
    assert re.search(r">\d\*<", m.svg)  # the non-significant rate is marked on the map
    outlined = maps.outline(m.svg, ["31"])
    assert outlined.count("prst-outline") == 1 and len(re.findall(r'aria-roledescription="geoshape"', outlined)) == 13


def test_series_breaks_are_marked() -> None:
    ind = pdata.indicator("at_if")
    r1 = {"value": 30.0, "year": 2019, "status": None, "ci_low": 29.0, "ci_high": 31.0}
    r2 = {"value": 25.0, "year": 2021, "status": None, "ci_low": 24.0, "ci_high": 26.0}
    ch = content.change(ind, "region", r1, r2, 1)
    assert ch.words == "rupture de série" and ch.text == "-16,7\u202f%"
    assert content.change(ind, "region", {**r1, "year": 2023}, {**r2, "year": 2024}, 1).words == "baisse significative"


def test_french_numbers() -> None:
    assert fmt.number(12345.65, 1) == "12\u202f345,7"  # half up, narrow no-break space
    assert fmt.percent(-3.25, 1, sign=True) == "-3,3\u202f%"
    assert fmt.number(-0.01, 1) == "0,0"
    assert fmt.note_mark(1) == "a" and fmt.note_mark(27) == "aa"


# -- regional documents, site, CLI ---------------------------------------------------------------------
def test_tableau_de_bord_and_chiffres_cles(pub_wh: Path, tmp_path: Path) -> None:
    from prst_etl.publish import build_chiffres_cles, build_tableau_de_bord

    tdb = build_tableau_de_bord(warehouse=pub_wh, first=2021, last=2024, formats=["html"], output=tmp_path).files[0]
    root = parse(tdb)
    rows = next(t for t in root.iter(f"{{{NS['h']}}}table") if t.get("id") == "tableau-de-bord").find(f"{{{NS['h']}}}tbody")
    assert len(rows) == len(content.config("tableau-de-bord")["indicator"])
    page = tdb.read_text(encoding="utf-8")
    # series starting after the baseline (AT from 2023, URSSAF from 2021…): said, not hidden
    assert re.search(r"pas de valeur en 2021 : évolution depuis 202[2-4]", page)
    cc = build_chiffres_cles(warehouse=pub_wh, baseline=2021, formats=["html", "pdf"], output=tmp_path).files
    import pypdf

    assert 1 <= len(pypdf.PdfReader(cc[1]).pages) <= 4  # a short document: 2-4 pages on the demo warehouse
    assert re.search(r"Depuis 202[1-3] : ", cc[0].read_text(encoding="utf-8"))  # the change since the baseline, where published


@pytest.fixture(scope="session")
def site_home(pub_wh: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prst_etl.publish import build_site

    res = build_site(tmp_path_factory.mktemp("site") / "site", warehouse=pub_wh, pdf=False, sample=1)
    assert res.home is not None and res.home.exists()
    return res.home


def test_every_page_of_the_site_is_valid_html(site_home: Path) -> None:
    import html5lib

    pages = sorted(site_home.parent.rglob("*.html"))
    assert len(pages) > 60  # home, lists, one page per indicator, portraits, documents
    for page in pages:
        try:
            html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001 - name the page
            raise AssertionError(f"{page.relative_to(site_home.parent)}: {exc}") from exc
        assert '<html lang="fr">' in page.read_text(encoding="utf-8")[:200], page
    for ext in ("csv", "parquet"):
        assert (site_home.parent / "donnees" / f"prst_zone-emploi.{ext}").exists()


def test_site_opens_in_headless_chromium(site_home: Path, tmp_path: Path) -> None:
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("chromium absent : .ci/run l'installe (apt-get install chromium) ; test du site dans un vrai navigateur non fait")
    home = site_home
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=2000", "--dump-dom", home.as_uri()]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
    dom = run.stdout
    svgs = re.findall(r'<svg role="img"[^>]*id="(carte-[^"]+)-svg".*?</svg>', dom, flags=re.S)
    assert svgs
    for ident in svgs:
        body = re.search(rf'id="{re.escape(ident)}-svg".*?</svg>', dom, flags=re.S).group(0)  # type: ignore[union-attr]
        level = "zone-emploi" if ident.endswith("zone-emploi") else "departement"
        assert body.count('aria-roledescription="geoshape"') == len(maps.features(level)), ident
    shot = tmp_path / "accueil.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1200,1600",
                    f"--screenshot={shot}", home.as_uri()], capture_output=True, timeout=60)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 10_000
    # every local link of the home page exists
    for href in re.findall(r'href="([^"#:]+)"', home.read_text(encoding="utf-8")):
        assert (home.parent / href).exists(), href


def test_cli_portrait(cli, pub_wh: Path, tmp_path: Path, zone: pdata.Territory) -> None:  # type: ignore[no-untyped-def]
    import json

    r = cli("portrait", "--level", "zone-emploi", "--code", zone.code, "--format", "html", "-o", tmp_path, "-w", pub_wh, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [Path(p).name for p in data["files"]] == [f"portrait_zone-emploi_{zone.slug}.html"]
    r = cli("portrait", "--level", "zone-emploi", "--code", "9999", "-w", pub_wh)
    assert r.exit_code == 2 and "9999" in r.stderr and zone.code in r.stderr
    r = cli("portrait", "--level", "zone-emploi", "--code", zone.code, "--all", "-w", pub_wh)
    assert r.exit_code == 2
