"""Source plugins: one per provider file format.

Adding a source (the recipe):

1. a module here (or in your own package) with a :class:`~prst_etl.sources.base.Source`
   subclass — usually a :class:`~prst_etl.sources.tabular.TabularSource` — decorated
   with :func:`register_source`; what the source *is* (id, provider, geography,
   tables and measures) is declared as class attributes; a built-in module is
   imported in :func:`_load_builtins`;
2. a mapping file ``sources/<id>/<version>.toml`` (headers accepted for each column);
   a provider that renames a column next year gets a new version that ``extends``
   the previous one, not new code. An outside package keeps its mappings in its
   own folder and names it in the class attribute ``mappings_root``;
3. under ``tests/fixtures/sources/<id>/``: a valid sample ``exemple.<ext>``, a broken
   copy ``exemple-errone.<ext>``, ``PROVENANCE.md`` and ``conformance.toml``
   (``sample``, ``broken``, ``expected_codes``, optional ``args``), which enrols the
   source in ``tests/test_sources_conformance.py``; and ``tests/test_<source>.py``;
4. a row in the README « Sources » table, a line in CHANGELOG.md, the contract
   snapshots (``python -m prst_etl.contracts --write``).

``prst sources template ID`` then writes an empty workbook a provider can fill.

Built-in sources register through the same decorator as outside ones. An outside
package declares an entry point in the group ``prst_etl.sources`` pointing to its
module (or to a function returning Source classes)::

    [project.entry-points."prst_etl.sources"]
    mon-format = "mon_paquet.sources"

prst loads that group once, lazily, the first time the registry is read — except
when ``PRST_NO_PLUGINS=1`` (set by the test suite, so that installed plugins cannot
change test results). ``prst sources`` shows where each source comes from.
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from prst_etl.errors import PrstError, UnknownName
from prst_etl.sources.base import Source

ENTRY_POINT_GROUP = "prst_etl.sources"

SOURCES: dict[str, type[Source]] = {}
"""Registered sources by id."""
ORIGINS: dict[str, str] = {}
"""Where each source comes from: ``prst`` or the distribution that provides it."""

_plugins_loaded = False


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator: add a source to the registry (a duplicate id is an error)."""
    if not getattr(cls, "id", None):
        raise PrstError(f"La classe {cls.__name__} n'a pas d'identifiant de source (attribut id).")
    if cls.id in SOURCES and SOURCES[cls.id] is not cls:
        raise PrstError(
            f"Deux sources portent l'identifiant « {cls.id} » ({SOURCES[cls.id].__module__} et {cls.__module__})."
        )
    SOURCES[cls.id] = cls
    top = cls.__module__.split(".")[0]
    ORIGINS[cls.id] = "prst" if top == "prst_etl" else top
    return cls


def _load_builtins() -> None:
    # Importing the modules runs their @register_source decorators.
    from prst_etl.sources.builtin import (  # noqa: F401
        ameli_carsat,
        dares_accords,
        dgt_spsti,
        insee,
        ioda,
        msa,
        spf_mcp,
        spsti_perimetres,
        urssaf,
    )


def load_plugins(force: bool = False) -> None:
    """Load the outside plugins of the entry-point group, once.

    An entry point may name a module (whose classes use :func:`register_source`),
    a Source class, or a callable returning Source classes.
    """
    global _plugins_loaded
    if _plugins_loaded and not force:
        return
    _plugins_loaded = True
    if os.environ.get("PRST_NO_PLUGINS") == "1" and not force:
        return
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        before = dict(SOURCES)
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Source):
                register_source(obj)
            elif callable(obj):
                for cls in obj():
                    register_source(cls)
            # the sources this entry point added, or that live in its package, come from its distribution
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ep.value
            top = ep.value.split(":")[0].split(".")[0]
            for sid, cls in SOURCES.items():
                if ORIGINS.get(sid) != "prst" and (before.get(sid) is not cls or cls.__module__.split(".")[0] == top):
                    ORIGINS[sid] = dist
        except PrstError:
            raise
        except Exception as exc:  # a broken plugin must say so, not crash with a traceback
            raise PrstError(
                f"Le plugin « {ep.name} » ({ep.value}) ne se charge pas : {exc}",
                hint="Corrigez ou désinstallez le paquet qui le fournit ; PRST_NO_PLUGINS=1 les ignore tous.",
            ) from exc


def all_sources() -> dict[str, type[Source]]:
    _load_builtins()
    load_plugins()
    return dict(sorted(SOURCES.items()))


def get_source(source_id: str) -> Source:
    sources = all_sources()
    if source_id not in sources:
        raise UnknownName("source", source_id, list(sources))
    return sources[source_id]()


