"""The library functions behind ``prst portrait``, ``prst chiffres-cles``, ``prst tableau-de-bord``
and ``prst site``: each returns a :class:`PublishResult` (files written, notes for the user)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prst_etl.errors import UsageError
from prst_etl.publish import data as pdata

Progress = Callable[[str], None]
FORMATS = ("html", "pdf")
PUBLICATIONS_DIR = "publications"


@dataclass
class PublishResult:
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    home: Path | None = None
    """The site's home page (``prst site``)."""
    stats: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"files": [str(p) for p in self.files], "notes": self.notes, "seconds": round(self.seconds, 2),
                "home": str(self.home) if self.home else None, "stats": self.stats}  # fmt: skip


def _formats(formats: list[str] | tuple[str, ...] | None) -> list[str]:
    out = list(formats or FORMATS)
    for f in out:
        if f not in FORMATS:
            raise UsageError(f"Format inconnu : « {f} ».", hint="Formats : html, pdf.")
    return out


def _pdf_ok(formats: list[str], res: PublishResult) -> list[str]:
    """Drop PDF (saying why) where WeasyPrint cannot run."""
    from prst_etl.publish.render import pdf_problem

    if "pdf" in formats:
        why = pdf_problem()
        if why:
            res.notes.append(f"PDF non produit : {why} Les pages HTML sont écrites.")
            return [f for f in formats if f != "pdf"]
    return formats


def _out(warehouse: Path | str | None, output: Path | None) -> Path:
    return Path(output) if output else pdata.resolve_root(warehouse) / PUBLICATIONS_DIR


def _check_year(data: pdata.PublishData, year: int | None) -> None:
    if year is not None and year not in data.years:
        raise UsageError(
            f"Aucune donnée pour l'année {year} dans l'entrepôt.", hint="Années : " + ", ".join(map(str, data.years[-12:]))
        )


def build_portraits(
    level: str,
    codes: list[str] | None = None,
    *,
    warehouse: Path | str | None = None,
    year: int | None = None,
    as_of: str | None = None,
    formats: list[str] | tuple[str, ...] | None = None,
    output: Path | None = None,
    progress: Progress | None = None,
) -> PublishResult:
    """Portraits of ``codes`` (every territory of the level when None) as HTML and/or PDF."""
    from prst_etl.publish import charts, render
    from prst_etl.publish.portrait import Builder

    t0 = time.perf_counter()
    if level not in pdata.PORTRAIT_LEVELS:
        raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(pdata.PORTRAIT_LEVELS))
    res = PublishResult()
    fmts = _pdf_ok(_formats(formats), res)
    data = pdata.load(warehouse, as_of, progress)
    _check_year(data, year)
    terrs = data.territories(level) if codes is None else [data.territory(level, c) for c in codes]
    builder = Builder(data)
    out = _out(warehouse, output)
    tag = f"_{as_of.replace(':', '-')}" if as_of else ""
    for t in terrs:
        if progress:
            progress(f"portrait {t.kind.lower()} {t.label}")
        ctx = builder.portrait(t, year)
        stem = f"portrait_{level}_{t.slug}{('_' + str(year)) if year else ''}{tag}"
        if "pdf" in fmts and "html" in fmts:
            ctx["pdf_link"] = f"{stem}.pdf"
        page = render.html("portrait.html", ctx)
        if "html" in fmts:
            render.write(out / f"{stem}.html", page)
            res.files.append(out / f"{stem}.html")
        if "pdf" in fmts:
            render.pdf(render.html("portrait.html", ctx | {"pdf_link": None}), out / f"{stem}.pdf")
            res.files.append(out / f"{stem}.pdf")
    res.stats = dict(charts.STATS)
    res.seconds = time.perf_counter() - t0
    return res


def _document(kind: str, builder, year, baseline, first, last):  # type: ignore[no-untyped-def]
    from prst_etl.publish import documents

    if kind == "chiffres-cles":
        return "chiffres-cles.html", documents.chiffres_cles(builder, year, baseline)
    return "tableau-de-bord.html", documents.tableau_de_bord(builder, first, last)


def _build_document(
    kind: str, *, warehouse, as_of, formats, output, progress, year=None, baseline=None, first=None, last=None  # type: ignore[no-untyped-def]
) -> PublishResult:
    from prst_etl.publish import charts, render
    from prst_etl.publish.portrait import Builder

    t0 = time.perf_counter()
    res = PublishResult()
    fmts = _pdf_ok(_formats(formats), res)
    data = pdata.load(warehouse, as_of, progress)
    _check_year(data, year)
    for y in (first, last):
        if y is not None and y > max(data.years, default=y):
            raise UsageError(f"Aucune donnée après {max(data.years)} dans l'entrepôt (--to {y}).")
    if first and last and first > last:
        raise UsageError(f"--from {first} est après --to {last}.")
    builder = Builder(data)
    template, ctx = _document(kind, builder, year, baseline, first, last)
    out = _out(warehouse, output)
    tag = f"_{as_of.replace(':', '-')}" if as_of else ""
    stem = f"{kind}{('_' + str(year)) if year else ''}{tag}"
    if "html" in fmts:
        render.write(out / f"{stem}.html", render.html(template, ctx | {"pdf_link": f"{stem}.pdf" if "pdf" in fmts else None}))
        res.files.append(out / f"{stem}.html")
    if "pdf" in fmts:
        render.pdf(render.html(template, ctx), out / f"{stem}.pdf")
        res.files.append(out / f"{stem}.pdf")
    res.stats = dict(charts.STATS)
    res.seconds = time.perf_counter() - t0
    return res


def build_chiffres_cles(
    *, warehouse: Path | str | None = None, year: int | None = None, baseline: int | None = None, as_of: str | None = None,
    formats: list[str] | tuple[str, ...] | None = None, output: Path | None = None, progress: Progress | None = None,
) -> PublishResult:  # fmt: skip
    """The regional « chiffres clés » document (2–4 pages), HTML and/or PDF."""
    return _build_document("chiffres-cles", warehouse=warehouse, as_of=as_of, formats=formats, output=output, progress=progress,
                           year=year, baseline=baseline)  # fmt: skip


def build_tableau_de_bord(
    *, warehouse: Path | str | None = None, first: int | None = None, last: int | None = None, as_of: str | None = None,
    formats: list[str] | tuple[str, ...] | None = None, output: Path | None = None, progress: Progress | None = None,
) -> PublishResult:  # fmt: skip
    """The yearly tableau de bord of the pilotage indicators (``schemas/publications/tableau-de-bord.toml``)."""
    return _build_document("tableau-de-bord", warehouse=warehouse, as_of=as_of, formats=formats, output=output,
                           progress=progress, first=first, last=last)  # fmt: skip


def build_site(
    output: Path | None = None,
    *,
    warehouse: Path | str | None = None,
    as_of: str | None = None,
    pdf: bool = True,
    jobs: int | None = None,
    progress: Progress | None = None,
    sample: int | None = None,
) -> PublishResult:
    """The static site: home page with the regional maps, every portrait, chiffres clés, the
    dashboard, the indicator dictionary and the downloads. Opens from disk (no server, no network)."""
    from prst_etl.publish import site

    return site.build(output, warehouse=warehouse, as_of=as_of, pdf=pdf, jobs=jobs, progress=progress, sample=sample)
