"""Source plugins: one per provider file format.

Adding a source (the recipe — what the test suite checks, nothing more):

1. **one module** here (or in your own package) with a :class:`~prst_etl.sources.base.Source`
   subclass — usually a :class:`~prst_etl.sources.tabular.TabularSource` — decorated
   with :func:`register_source`; what the source *is* (``id``, ``provider``, ``title``,
   ``description``, ``geo_levels``, ``tables`` and their measures) is declared as class
   attributes; a built-in module is imported in :func:`_load_builtins`;
2. **one mapping file** ``sources/<id>/<version>.toml`` (headers accepted for each column);
   a provider that renames a column next year gets a new version that ``extends``
   the previous one, not new code. An outside package keeps its mappings in its
   own folder and names it in the class attribute ``mappings_root``;
3. **one fixture folder** ``tests/fixtures/sources/<id>/``: a valid sample, a broken copy,
   ``PROVENANCE.md`` (where the files come from) and
4. **one conformance entry**, its ``conformance.toml`` (``sample``, ``broken``,
   ``expected_codes``, optional ``args``), which enrols the source in
   ``tests/test_sources_conformance.py``: the sample extracts to the declared tables, passes the
   fact contract, balances its ledger and is conserved up to the coarsest aggregate; the broken
   copy is refused with the expected findings; the empty template is read back;
5. then a row in the README « Sources » table (checked), the contract snapshots
   (``python -m prst_etl.contracts --write``, checked) and a line in CHANGELOG.md.

``prst sources template ID`` then writes an empty workbook a provider can fill.

**The hooks a plugin overrides** (all public, with their defaults):

* :class:`~prst_etl.sources.base.Source` — ``extract(path, *, year, sheet, mapping_version) ->
  Extraction`` for a file that is not one table described by a mapping (see
  :class:`~prst_etl.sources.builtin.insee.InseeEstimations`); ``template_mapping(mapping, year)``.
* :class:`~prst_etl.sources.tabular.TabularSource` — ``normalise(raw, ctx, out)`` (required: the raw
  rows, validated, into fact tables); ``key_columns(ctx)`` (cleaned keys ``_k_*``, unique per cell);
  ``raw_checks(ctx)`` (vectorised rules, :class:`~prst_etl.sources.tabular.RawCheck`);
  ``skip_rows(raw, ctx, out)`` (rows left out before validation, counted with their reason);
  ``layout_for_sheet(mapping, sheet)``; ``check_column_set(mapping, found, row, issue)``;
  ``read_amounts(ctx)`` (what a raw row gives to each stored measure, for the ledger: by default one
  count column per measure); ``derived_measures()`` (measures computed from others, said in the ledger).
* Helpers a ``normalise`` uses: ``ctx.set_aside(out, rows, reason)`` (rows read, checked, not stored:
  the file's own totals), :func:`~prst_etl.sources.tabular.merge_cells` (rows that fall on one cell
  once old commune codes are mapped are added up, never one kept),
  :func:`~prst_etl.sources.tabular.record_zone_moves` (old communes counted in another zone
  d'emploi), ``out.ledger.set_aside(table, measure, reason, amount)``.

Whatever a plugin's ``extract`` does, :func:`prst_etl.pipeline.ingest.ingest` then checks every table
against the canonical fact contract (:func:`prst_etl.model.facts.fact_schema`) and settles the ledger:
for every stored measure, stored = read − set aside, or the file is refused (``accounting-mismatch``).
The severity of each finding code is data (``schemas/findings.toml``, per source if need be).

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


