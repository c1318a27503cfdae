"""HTML from Jinja2 templates, PDF from the HTML with WeasyPrint (tagged PDF).

WeasyPrint needs the Pango library of the system. Where it is missing, prst still writes
every HTML page and says what is missing (:func:`pdf_problem`).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from prst_etl import __version__
from prst_etl.publish import fmt


@cache
def css() -> str:
    return resources.files("prst_etl.publish").joinpath("static", "prst.css").read_text(encoding="utf-8")


@cache
def env():  # type: ignore[no-untyped-def]
    import jinja2

    e = jinja2.Environment(
        loader=jinja2.PackageLoader("prst_etl.publish", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    e.filters["date_fr"] = fmt.date_fr
    e.filters["num"] = fmt.number
    e.filters["note"] = fmt.note_mark
    return e


def state_line(state) -> str:  # type: ignore[no-untyped-def]
    return env().get_template("_state.html").render(state=state).strip()


def html(template: str, context: dict[str, Any], *, nav: bool = False, root: str = "") -> str:
    """A complete, self-contained HTML page (CSS inline, SVG inline: it opens from disk)."""
    ctx = {"css": css(), "version": __version__, "nav": nav, "root": root, "pdf_link": None, "csv_link": None} | context
    ctx.setdefault("page_title", ctx.get("title", "prst"))
    ctx.setdefault("state_line", state_line(ctx["state"]) if "state" in ctx else "")
    return env().get_template(template).render(**ctx)


@cache
def pdf_problem() -> str | None:
    """Why PDF cannot be made here (None when it can)."""
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "le module Python « weasyprint » n'est pas installé (pip install weasyprint)."
    except OSError as exc:  # the Pango / GObject libraries of the system
        return (
            f"WeasyPrint ne trouve pas la bibliothèque Pango du système ({exc}). Sous Debian ou Ubuntu : "
            "apt-get install libpango-1.0-0 libpangoft2-1.0-0 ; voir https://doc.courtbouillon.org/weasyprint/stable/first_steps.html."
        )
    return None


def pdf(page: str, path: Path, base: Path | None = None) -> None:
    """Write a tagged PDF of an HTML page: structure tree (headings, tables, figures), language
    and title from the HTML. (The full PDF/UA-1 variant adds little to the tags and costs a
    second per document.)"""
    import logging

    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    weasyprint.HTML(string=page, base_url=str(base or path.parent)).write_pdf(
        tmp, pdf_tags=True, presentational_hints=False
    )
    tmp.replace(path)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    tmp.replace(path)
