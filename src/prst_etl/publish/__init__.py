"""Documents and files made for people and other tools: portraits de territoire, chiffres clés,
the yearly tableau de bord, maps, the static site that holds them all, and published releases.

Everything here reads the warehouse through :mod:`prst_etl.publish.data` only (the one module
that knows the pipeline's functions), and only with statistical secrecy applied: a document is
a publication. Heavy libraries (Jinja2, Altair, vl-convert, WeasyPrint) are imported inside the
functions that use them, so that ``prst --help`` stays fast.

Modules:

* ``data``: the secrecy-applied frames of every level, the loads behind them, the territories;
* ``fmt``: French numbers (babel ``fr_FR``) and the words for statuses;
* ``content``: what a portrait, the chiffres clés and the tableau de bord say (pure, no I/O);
* ``charts`` and ``maps``: SVG charts and choropleths (Altair + vl-convert), rendered once each;
* ``render``: Jinja2 templates to HTML, WeasyPrint to PDF;
* ``site``: the static site;
* ``release`` and ``datapackage``: ``prst publish``, a release as Hive-partitioned Parquet any
  engine reads, with its ``manifest.json`` and its Frictionless Data Package.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PublishResult", "build_chiffres_cles", "build_portraits", "build_site", "build_tableau_de_bord"]


def __getattr__(name: str) -> Any:
    """The public functions, imported on first use (``prst --help`` loads none of this)."""
    if name in __all__:
        from prst_etl.publish import api

        return getattr(api, name)
    raise AttributeError(name)
