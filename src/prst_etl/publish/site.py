"""``prst site``: a static site of every publication, opened from disk (no server, no network).

Layout::

    index.html                       home page: the regional maps, links to everything
    portraits/index.html             every portrait, by level
    portraits/<level>/<code>.html    one portrait (and .pdf)
    chiffres-cles.html (.pdf)        the key figures
    tableau-de-bord.html (.pdf)      the yearly dashboard
    indicateurs/index.html, <id>.html  the indicator dictionary
    telechargements.html, donnees/   the published long tables, CSV and Parquet, per level
    geo/                             the map layers and their provenance

The maps are rendered once, in the main process; portraits (HTML and PDF, the slow part) are
made by worker processes that reread the state from the cache of :mod:`prst_etl.publish.data`
and reuse the rendered maps.
"""

from __future__ import annotations

import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from prst_etl.publish import charts, render
from prst_etl.publish import data as pdata
from prst_etl.publish.api import PublishResult, _pdf_ok

SITE_DIR = "site"


def _human(n: int) -> str:
    from prst_etl.publish import fmt

    if n >= 1024**2:
        return f"{fmt.number(n / 1024**2, 1)}\u202fMo"
    return f"{fmt.number(max(1, round(n / 1024)))}\u202fko"


def portrait_path(level: str, slug: str, ext: str) -> str:
    return f"portraits/{level}/{slug}.{ext}"


# -- workers ----------------------------------------------------------------------------------------
# Portraits are made by child processes (« python -m prst_etl.publish.site ARGS.json »): a fresh
# interpreter, as neither polars' nor vl-convert's threads survive a fork, and the caller's main
# module (a script, a notebook) must not be re-imported as multiprocessing's spawn would.
def _start_worker(root: Path, as_of: str | None, out: Path, pdf: bool, jobs: list[tuple[str, str, str]], svgs: Path, args: Path):  # type: ignore[no-untyped-def]
    import json
    import subprocess
    import sys

    args.write_text(json.dumps({"root": str(root), "as_of": as_of, "out": str(out), "pdf": pdf, "jobs": jobs, "svgs": str(svgs)}), encoding="utf-8")
    env = dict(os.environ, PRST_NO_PROGRESS="1")
    log = args.with_suffix(".log").open("w", encoding="utf-8")  # a file: a full pipe would block the worker
    return subprocess.Popen([sys.executable, "-m", "prst_etl.publish.site", str(args)], stdout=subprocess.PIPE,
                            stderr=log, text=True, env=env)  # fmt: skip


def _worker_main(argfile: str) -> None:
    import json

    from prst_etl.publish.portrait import Builder

    a = json.loads(Path(argfile).read_text(encoding="utf-8"))
    charts.preload(json.loads(Path(a["svgs"]).read_text(encoding="utf-8")))
    b = Builder(pdata.load(a["root"], a["as_of"]))
    for level, code, csv in a["jobs"]:
        for f in _write_portrait(b, b.data.territory(level, code), Path(a["out"]), a["pdf"], csv):
            print(f, flush=True)


def _write_portrait(b, t, out: Path, pdf: bool, csv: str) -> list[str]:  # type: ignore[no-untyped-def]
    ctx = b.portrait(t)
    html_rel = portrait_path(t.level, t.slug, "html")
    page = render.html("portrait.html", ctx | {"pdf_link": f"{t.slug}.pdf" if pdf else None, "csv_link": csv}, nav=True, root="../../")
    render.write(out / html_rel, page)
    files = [str(out / html_rel)]
    if pdf:
        render.pdf(render.html("portrait.html", ctx), out / portrait_path(t.level, t.slug, "pdf"))
        files.append(str(out / portrait_path(t.level, t.slug, "pdf")))
    return files


# -- the site ---------------------------------------------------------------------------------------
def build(output: Path | None, *, warehouse=None, as_of=None, pdf=True, jobs=None, progress=None, sample=None) -> PublishResult:  # type: ignore[no-untyped-def]
    """``sample``: only the first N territories of each level (tests)."""
    from prst_etl.publish import documents
    from prst_etl.publish.portrait import Builder, Counter
    from prst_etl.publish.content import Notes, config

    t0 = time.perf_counter()
    res = PublishResult()
    fmts = _pdf_ok(["html", "pdf"] if pdf else ["html"], res)
    pdf = "pdf" in fmts
    data = pdata.load(warehouse, as_of, progress)
    out = Path(output) if output else data.root / SITE_DIR
    if out.exists():
        if not (out / "index.html").exists() and any(out.iterdir()):
            from prst_etl.errors import UsageError

            raise UsageError(f"Le dossier « {out} » existe et n'est pas un site prst : rien n'est écrit.",
                             hint="Choisissez un dossier vide ou inexistant avec --output.")  # fmt: skip
        shutil.rmtree(out)
    out.mkdir(parents=True)
    b = Builder(data)

    # Shared maps, rendered once here and handed to the workers
    year = max(data.years, default=None)
    for mc in config("portrait").get("map", []):
        for lvl in mc["levels"]:
            b.map(mc["indicator"], lvl, None)
    svgs = dict(charts._CACHE)

    # Portraits: worker processes (spawned: polars and vl-convert threads do not survive a fork)
    terrs = [t for lvl in pdata.PORTRAIT_LEVELS for t in data.territories(lvl)[:sample]]
    csv_of = {lvl: f"../../donnees/prst_{lvl}.csv" for lvl in pdata.PORTRAIT_LEVELS}
    jobs = jobs or min(2, os.cpu_count() or 1)
    tasks = [(t.level, t.code, csv_of[t.level]) for t in terrs]
    workers = []
    tmpdir = None
    if jobs > 1 and len(tasks) > 4:
        import json
        import tempfile

        tmpdir = Path(tempfile.mkdtemp(prefix="prst-site-"))
        (tmpdir / "svgs.json").write_text(json.dumps(svgs), encoding="utf-8")
        # the main process makes the regional documents meanwhile: it takes a smaller share of portraits
        shares = [tasks[i::jobs] for i in range(jobs)]
        for i, share in enumerate(shares):
            workers.append(_start_worker(data.root, as_of, out, pdf, share, tmpdir / "svgs.json", tmpdir / f"args-{i}.json"))
        tasks_here: list[tuple[str, str, str]] = []
    else:
        tasks_here = tasks

    # Meanwhile, here: the regional documents, the dictionary, the downloads, the home page
    for kind in ("chiffres-cles", "tableau-de-bord"):
        if progress:
            progress(kind)
        ctx_doc = (documents.chiffres_cles(b) if kind == "chiffres-cles" else documents.tableau_de_bord(b))
        template = f"{kind}.html"
        render.write(out / template, render.html(template, ctx_doc | {"pdf_link": f"{kind}.pdf" if pdf else None}, nav=True))
        res.files.append(out / template)
        if pdf:
            render.pdf(render.html(template, ctx_doc), out / f"{kind}.pdf")
            res.files.append(out / f"{kind}.pdf")
    _dictionary(b, out, res)
    _downloads(data, out, res, pdf)
    # home page: the regional maps, nothing outlined
    notes, counter = Notes(), Counter()
    figs = []
    for mc in config("portrait").get("map", []):
        for lvl in mc["levels"]:
            m = b.map(mc["indicator"], lvl, None)
            if m is not None:
                figs.append(b.map_figure(m, counter, None, notes))
    home = out / "index.html"
    render.write(home, render.html("index.html", {"title": "Observatoire régional santé-travail Occitanie", "maps": figs,
                                                  "n_portraits": len(terrs), "state": data.state, "year": year}, nav=True))  # fmt: skip
    res.files.append(home)

    # The portraits: made here, or collected from the workers
    for n, (level, code, csv) in enumerate(tasks_here, 1):
        t = data.territory(level, code)
        if progress:
            progress(f"portraits {n}/{len(tasks_here)} : {t.label}")
        res.files += [Path(f) for f in _write_portrait(b, t, out, pdf, csv)]
    for i, w in enumerate(workers):
        stdout, _ = w.communicate()
        stderr = (tmpdir / f"args-{i}.log").read_text(encoding="utf-8", errors="replace") if tmpdir else ""
        if w.returncode != 0:
            from prst_etl.errors import PrstError

            raise PrstError("La fabrication des portraits a échoué dans un processus de travail.", hint=stderr.strip()[-2000:])
        res.files += [Path(line) for line in stdout.splitlines() if line.strip()]
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)
    groups = []
    for lvl in pdata.PORTRAIT_LEVELS:
        items = [(t, f"{lvl}/{t.slug}.html", f"{lvl}/{t.slug}.pdf" if pdf else None) for t in data.territories(lvl)[:sample]]
        groups.append((lvl, {"region": "Région", "departement": "Départements", "zone-emploi": "Zones d'emploi",
                             "spsti": "Périmètres des SPSTI"}[lvl], items))  # fmt: skip
    render.write(out / "portraits" / "index.html",
                 render.html("portraits.html", {"title": "Portraits de territoire", "groups": groups, "state": data.state},
                             nav=True, root="../"))  # fmt: skip
    res.files.append(out / "portraits" / "index.html")
    res.home = home
    res.stats = dict(charts.STATS) | {"portraits": len(terrs), "bytes": sum(p.stat().st_size for p in res.files if p.exists())}
    res.seconds = time.perf_counter() - t0
    return res


def _dictionary(b, out: Path, res: PublishResult) -> None:  # type: ignore[no-untyped-def]
    from prst_etl.publish import documents

    fam_names = {"socio-economique": "Données socio-économiques", "sinistralite": "Sinistralité", "inaptitude": "Inaptitude",
                 "sante-travail": "Maladies à caractère professionnel"}  # fmt: skip
    families: dict[str, list[Any]] = {}
    for ind in b.cat.values():
        families.setdefault(fam_names.get(ind.family, ind.family), []).append(ind)
        page = documents.indicator_page(b, ind)
        path = out / "indicateurs" / f"{ind.id}.html"
        render.write(path, render.html("indicateur.html", {"title": ind.label, "p": page, "state": b.data.state}, nav=True, root="../"))
        res.files.append(path)
    path = out / "indicateurs" / "index.html"
    render.write(path, render.html("indicateurs.html", {"title": "Dictionnaire des indicateurs", "families": list(families.items()),
                                                        "state": b.data.state}, nav=True, root="../"))  # fmt: skip
    res.files.append(path)


def _downloads(data: pdata.PublishData, out: Path, res: PublishResult, pdf: bool) -> None:
    from prst_etl.publish import fmt

    rows = []
    names = {"region": "Région", "departement": "Départements", "zone-emploi": "Zones d'emploi", "spsti": "Périmètres des SPSTI", "france": "France"}
    for lvl in pdata.DATA_LEVELS:
        df = data.frame(lvl)
        item: dict[str, Any] = {"name": names[lvl], "rows": fmt.number(df.height)}
        for ext in ("csv", "parquet"):
            p = out / "donnees" / f"prst_{lvl}.{ext}"
            # CSV for spreadsheets: all sectors together (the A21 detail makes it too big to open); Parquet: everything
            pdata.write_table(df.filter(pl.col("sector_level") == "ensemble") if ext == "csv" else df, p, ext)
            res.files.append(p)
            item |= {ext: f"donnees/{p.name}", f"{ext}_name": p.name, f"{ext}_size": _human(p.stat().st_size)}
        rows.append(item)
    geo = out / "geo"
    geo.mkdir(exist_ok=True)
    src = resources.files("prst_etl.publish").joinpath("geo")
    for name in ("departements-occitanie.geojson", "ze2020-occitanie.geojson", "PROVENANCE.md"):
        (geo / name).write_bytes(src.joinpath(name).read_bytes())
        res.files.append(geo / name)
    render.write(out / "telechargements.html", render.html("telechargements.html", {"title": "Téléchargements", "downloads": rows,
                                                                                    "state": data.state, "pdf": pdf}, nav=True))  # fmt: skip
    res.files.append(out / "telechargements.html")


if __name__ == "__main__":
    import sys

    _worker_main(sys.argv[1])
