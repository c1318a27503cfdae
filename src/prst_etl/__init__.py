"""prst: versioned warehouse of occupational-health indicators (PRST Occitanie).

The library behind the ``prst`` command, in a few names::

    from prst_etl import ingest, aggregate, export, diff, open_warehouse

    report = ingest("carsat-mp", "carsat_mp_2024.xlsx", warehouse="warehouse")
    aggregate("warehouse")
    result = export("departement", warehouse="warehouse", fmt="csv")
    with open_warehouse("warehouse") as wh:
        print(wh.loads())

and, to add a provider format from another package, :class:`Source` and
:func:`register_source` (see :mod:`prst_etl.sources`). The names are loaded on first
use, so that ``import prst_etl`` (and ``prst --help``) stays instant.

Rooms of the package, each using only those below it:
``cli`` → ``pipeline`` (the verbs) → ``sources`` · ``warehouse`` · ``secrecy`` →
``reference`` · ``model`` (the vocabulary); ``testing`` builds sample data and is
never imported by a verb.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_API: dict[str, tuple[str, str]] = {
    "ingest": ("prst_etl.pipeline.ingest", "ingest"),
    "aggregate": ("prst_etl.pipeline.aggregate", "aggregate"),
    "export": ("prst_etl.pipeline.export", "export"),
    "diff": ("prst_etl.pipeline.diff", "diff"),
    "open_warehouse": ("prst_etl.warehouse", "open_warehouse"),
    "Source": ("prst_etl.sources.base", "Source"),
    "register_source": ("prst_etl.sources", "register_source"),
}

__all__ = ["Source", "__version__", "aggregate", "diff", "export", "ingest", "open_warehouse", "register_source"]

if TYPE_CHECKING:  # pragma: no cover
    from prst_etl.pipeline.aggregate import aggregate
    from prst_etl.pipeline.diff import diff
    from prst_etl.pipeline.export import export
    from prst_etl.pipeline.ingest import ingest
    from prst_etl.sources import register_source
    from prst_etl.sources.base import Source
    from prst_etl.warehouse import open_warehouse


def __getattr__(name: str) -> Any:
    if name in _API:
        module, attr = _API[name]
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'prst_etl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
