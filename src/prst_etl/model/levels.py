"""The geographic and sector levels of prst, and what each level rolls up to: the one list.

Every other module reads these names from here (the facts contract, the roll-ups of
``aggregate``, the levels ``export`` accepts, the linked tables of the secrecy).

Geography is not a tree: zones d'emploi cross départements, SPSTI perimeters are dated,
overlapping sets of communes, and an SPSTI's part in a département
(``spsti-departement``, code ``<spsti>@<dep>``) is the finest level of sources that count
by SPSTI and département (IODA). A figure is rolled up from the finest level a source
gives, never split to a finer one, never département ↔ zone d'emploi.
"""

from __future__ import annotations

from typing import Literal, get_args

GeoLevel = Literal["commune", "zone-emploi", "departement", "region", "france", "spsti", "spsti-departement"]
GEO_LEVELS: tuple[GeoLevel, ...] = get_args(GeoLevel)
"""Every geographic level a fact or an aggregate may carry."""

TreeLevel = Literal["commune", "zone-emploi", "departement", "region", "france"]
TREE_LEVELS: tuple[TreeLevel, ...] = get_args(TreeLevel)
"""The levels of the packaged geography (COG communes, zones d'emploi, départements, régions,
France), finest first: those :mod:`prst_etl.reference.geography` maps."""

EXPORT_LEVELS: tuple[GeoLevel, ...] = ("commune", "zone-emploi", "departement", "region", "france", "spsti")
"""Levels ``export`` writes (and under which the secrecy links its tables), finest first;
``spsti-departement`` is a level of sources, summed into SPSTI, département and région."""

GEO_TARGETS: dict[str, tuple[str, ...]] = {
    "commune": ("commune", "zone-emploi", "departement", "region", "france", "spsti"),
    "zone-emploi": ("zone-emploi", "region", "france"),
    "departement": ("departement", "region", "france"),
    "region": ("region", "france"),
    "france": ("france",),
    "spsti-departement": ("spsti-departement", "spsti", "departement", "region"),
    "spsti": ("spsti",),
}
"""Levels computed from each level (itself included): never a finer level from a coarser one,
never département ↔ zone d'emploi (every ZE code used by prst lies inside one région), never
SPSTI → région (perimeters overlap)."""

TREE_TARGETS: dict[str, tuple[str, ...]] = {
    lvl: tuple(t for t in GEO_TARGETS[lvl] if t in TREE_LEVELS) for lvl in TREE_LEVELS
}
""":data:`GEO_TARGETS` within the packaged geography (what a commune code rolls up to)."""

GRAIN: dict[str, int] = {lvl: i for i, lvl in enumerate(("commune", "spsti-departement", "zone-emploi", "spsti", "departement", "region", "france"))}
"""Fineness of the level a source gives (0 = finest): when two sources of a series both cover a
territory, the finer one is preferred."""

SectorLevel = Literal["naf732", "naf615", "naf272", "a88", "a64", "a38", "a21", "a17", "a10", "ensemble"]
SECTOR_LEVELS: tuple[SectorLevel, ...] = get_args(SectorLevel)
"""NAF rév. 2 levels, finest first: sub-class (``0111Z``), class (``01.11``), group (``01.1``),
division (A88), A64, A38, section (A21), A17, A10, and the total ``ensemble`` (code ``_T``)."""
NAF_LEVELS: tuple[SectorLevel, ...] = SECTOR_LEVELS[:-1]
SECTOR_TOTAL_LEVEL: SectorLevel = "ensemble"

__all__ = [
    "EXPORT_LEVELS",
    "GEO_LEVELS",
    "GEO_TARGETS",
    "GRAIN",
    "NAF_LEVELS",
    "SECTOR_LEVELS",
    "SECTOR_TOTAL_LEVEL",
    "TREE_LEVELS",
    "TREE_TARGETS",
    "GeoLevel",
    "SectorLevel",
    "TreeLevel",
]
