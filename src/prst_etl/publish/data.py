"""The one door of ``publish`` to the warehouse and the pipeline.

Documents need, for one state of the warehouse (current, or ``--as-of`` a release): the long
frame of every publishable level **with statistical secrecy applied** (the same rows as
``prst export`` at that level), the loads that feed that state (for the source lines), the
release when there is one, and the territories with their comparison territories. Everything
else in ``publish`` works on what this module returns, so that when the pipeline's internals
move only this module changes.

The frames of a state are cached under ``<warehouse>/publish/`` keyed by the state's event
number, the catalogue and the secrecy rules (a state never changes once recorded), so that a
second document of the same state does not recompute them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

import polars as pl

from prst_etl import __version__, reference
from prst_etl.errors import UsageError
from prst_etl.model.indicators import Indicator, catalogue
from prst_etl.resources import data_dir

PORTRAIT_LEVELS = ("region", "departement", "zone-emploi", "spsti")
"""Levels that get a portrait de territoire (CLI spelling)."""
DATA_LEVELS = (*PORTRAIT_LEVELS, "france")
SECTOR_LEVELS = ["a21", "ensemble"]
"""Sector levels read for documents (A21 sections and all sectors; A38 is left to the exports)."""
REGION = reference_region = "76"
FRANCE = "FR"
LEVEL_NAMES = {
    "region": "Région", "departement": "Département", "zone-emploi": "Zone d'emploi",
    "spsti": "Périmètre de SPSTI", "france": "France",
}  # fmt: skip
CACHE_DIR = "publish"
CACHE_VERSION = "1"
"""Bump when what is cached changes."""


@dataclass(frozen=True)
class LoadInfo:
    """One load feeding the state: where a figure comes from."""

    load_id: int
    source: str
    provider: str
    title: str
    file_name: str
    loaded_at: datetime
    years: tuple[int, ...]
    mapping_version: str | None


@dataclass(frozen=True)
class StateInfo:
    """The state of the warehouse a document is made from."""

    as_of: str | None
    event_id: int
    release: str | None = None
    release_at: datetime | None = None
    release_note: str | None = None
    last_load_at: datetime | None = None


@dataclass(frozen=True)
class Territory:
    level: str
    code: str
    label: str
    parents: tuple[tuple[str, str, str], ...] = ()
    """Comparison territories ``(level, code, label)``, nearest first."""
    outline: tuple[tuple[str, tuple[str, ...], str], ...] = ()
    """Per map level: the shapes that draw this territory and what the outline means."""
    notes: tuple[str, ...] = ()
    """What a reader must know about the territory itself (Occitanie part, SPSTI scope…)."""

    @property
    def key(self) -> str:
        return f"{self.level}/{self.code}"

    @property
    def kind(self) -> str:
        return LEVEL_NAMES[self.level]

    @property
    def slug(self) -> str:
        return self.code.replace("@", "_").replace("/", "_")


@dataclass
class PublishData:
    """Secrecy-applied frames of one state, the loads behind it and its territories."""

    frames: dict[str, pl.DataFrame]
    notes: dict[str, list[str]]
    loads: list[LoadInfo]
    parts: pl.DataFrame
    """``source, table_name, year, load_id`` of the state."""
    state: StateInfo
    spsti_communes: pl.DataFrame
    """``spsti, commune, champ`` of the perimeters in force (latest year of the data)."""
    root: Path
    extra_labels: dict[tuple[str, str], str] = field(default_factory=dict)
    series_size: dict[str, int] = field(default_factory=dict)
    """How many sources share each source's series (the two Carsat: 2)."""

    # -- reading ---------------------------------------------------------------------------------
    def frame(self, level: str) -> pl.DataFrame:
        return self.frames[level]

    @cached_property
    def years(self) -> list[int]:
        ys: set[int] = set()
        for df in self.frames.values():
            ys.update(df["year"].unique().drop_nulls().to_list())
        return sorted(ys)

    def load_for(self, source: str, year: int) -> list[LoadInfo]:
        ids = set(self.parts.filter((pl.col("source") == source) & (pl.col("year") == year))["load_id"].to_list())
        return [ld for ld in self.loads if ld.load_id in ids]

    # -- territories -----------------------------------------------------------------------------
    @cached_property
    def _territories(self) -> dict[str, list[Territory]]:
        return _territories(self)

    def territories(self, level: str) -> list[Territory]:
        if level not in PORTRAIT_LEVELS:
            raise UsageError(f"Niveau inconnu : « {level} ».", hint="Niveaux : " + ", ".join(PORTRAIT_LEVELS))
        return self._territories[level]

    def territory(self, level: str, code: str) -> Territory:
        for t in self.territories(level):
            if t.code == code or t.code.lower() == code.lower():
                return t
        raise UsageError(
            f"Territoire inconnu au niveau « {level} » : « {code} ».",
            hint="Codes : " + ", ".join(t.code for t in self.territories(level)),
        )

    def label(self, level: str, code: str) -> str:
        if level == "france":
            return "France"
        for t in self._territories.get(level, []):
            if t.code == code:
                return t.label
        return code


# -- loading --------------------------------------------------------------------------------------
def _schema_hash() -> str:
    h = hashlib.sha256()
    schemas = data_dir("schemas")
    for p in sorted([*schemas.glob("indicators/*.toml"), schemas / "secret.toml", schemas / "ruptures.toml"]):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def load(warehouse: Path | str | None = None, as_of: str | None = None, progress=None) -> PublishData:  # type: ignore[no-untyped-def]
    """Everything documents need from one state of the warehouse (secrecy applied)."""
    from prst_etl.reference.territories import spsti_map
    from prst_etl.sources import all_sources
    from prst_etl.warehouse import open_warehouse, resolve_path

    root = resolve_path(warehouse)
    registry = all_sources()
    # The state: which event, which release, which loads
    with open_warehouse(root, as_of=as_of) as wh:
        event = wh.as_of if wh.as_of is not None else wh.last_event()
        release = None
        if as_of is not None:
            rel = wh.releases().filter(pl.col("name") == as_of.strip())
            release = rel.row(0, named=True) if rel.height else None
        parts = wh.current_parts().select("source", "table_name", "year", "load_id")
        ids = set(parts["load_id"].to_list())
        loads_df = wh.query("SELECT * FROM loads ORDER BY load_id").filter(pl.col("load_id").is_in(list(ids)))
        perims = wh.perimeter_rows()
    loads = []
    for r in loads_df.iter_rows(named=True):
        src = registry.get(r["source"])
        yrs = tuple(sorted(set(parts.filter(pl.col("load_id") == r["load_id"])["year"].to_list())))
        loads.append(
            LoadInfo(
                load_id=int(r["load_id"]), source=r["source"], provider=getattr(src, "provider", "") or r["source"],
                title=getattr(src, "title", "") or "", file_name=r["file_name"], loaded_at=r["created_at"],
                years=yrs, mapping_version=r.get("mapping_version"),
            )  # fmt: skip
        )
    state = StateInfo(
        as_of=as_of, event_id=int(event or 0), release=release["name"] if release else None,
        release_at=release["created_at"] if release else None, release_note=release["note"] if release else None,
        last_load_at=max((ld.loaded_at for ld in loads), default=None),
    )  # fmt: skip

    # The frames, from the cache when this state was read before
    key = hashlib.sha256(f"{CACHE_VERSION}|{__version__}|{state.event_id}|{_schema_hash()}|{SECTOR_LEVELS}".encode()).hexdigest()[:16]
    cache = root / CACHE_DIR / f"state-{key}"
    frames: dict[str, pl.DataFrame] = {}
    notes: dict[str, list[str]] = {}
    if (cache / "notes.json").exists():
        notes = json.loads((cache / "notes.json").read_text(encoding="utf-8"))
        frames = {lvl: pl.read_parquet(cache / f"{lvl}.parquet") for lvl in DATA_LEVELS}
    else:
        from prst_etl.pipeline.export import frame_as_of

        for lvl in DATA_LEVELS:
            if progress:
                progress(f"lecture de l'entrepôt : niveau {lvl}")
            df, lvl_notes, _, _ = frame_as_of(root, lvl, None, SECTOR_LEVELS, as_of, progress=progress, secret=True)
            frames[lvl] = _trim(df, lvl)
            notes[lvl] = lvl_notes
        _write_cache(cache, frames, notes)

    from prst_etl.publish import charts

    charts.DISK[:] = [cache / "charts"]
    # SPSTI perimeters in force in the latest year of the data
    years = sorted(set(frames["spsti"]["year"].unique().drop_nulls().to_list()))
    spsti = spsti_map(perims, years[-1]) if perims is not None and years else spsti_map(None, 0)
    labels = _extra_labels(registry)
    series: dict[str, int] = {}
    for src in registry.values():
        series[src.series or src.id] = series.get(src.series or src.id, 0) + 1
    sizes = {sid: series[src.series or sid] for sid, src in registry.items()}
    return PublishData(frames, notes, loads, parts, state, spsti.select("spsti", "commune", "champ"), root, labels, sizes)


def _trim(df: pl.DataFrame, level: str) -> pl.DataFrame:
    """Keep Occitanie (other régions and départements come with national sources)."""
    if level == "region":
        return df.filter(pl.col("geo_code") == REGION)
    if level == "departement":
        deps = reference.departements().filter(pl.col("region") == REGION)["code"].to_list()
        return df.filter(pl.col("geo_code").is_in(deps))
    return df


def _write_cache(cache: Path, frames: dict[str, pl.DataFrame], notes: dict[str, list[str]]) -> None:
    """Best effort: a read-only warehouse simply gets no cache."""
    try:
        tmp = cache.with_name(cache.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        for lvl, df in frames.items():
            df.write_parquet(tmp / f"{lvl}.parquet")
        (tmp / "notes.json").write_text(json.dumps(notes, ensure_ascii=False), encoding="utf-8")
        if cache.exists():
            import shutil

            shutil.rmtree(tmp)
        else:
            os.replace(tmp, cache)
    except OSError:
        pass


def _extra_labels(registry) -> dict[tuple[str, str], str]:  # type: ignore[no-untyped-def]
    """French labels of the codes of source dimensions (risk families, cause families, visit types…)."""
    out: dict[tuple[str, str], str] = {}
    for src in registry.values():
        for t in src.tables:
            for p in t.pivots:
                for _, code, label in p.columns:
                    out.setdefault((p.dimension, code), label)
    try:
        from prst_etl.sources.causes import crosswalk

        for fam in crosswalk("ameli-mp").families:
            out.setdefault(("cause_family", fam.code), fam.label)
    except Exception:  # noqa: BLE001 - labels are a nicety; the code is shown otherwise
        pass
    return out


# -- territories ----------------------------------------------------------------------------------
def _territories(data: PublishData) -> dict[str, list[Territory]]:
    deps = reference.departements().filter(pl.col("region") == REGION).sort("code")
    dep_name = dict(deps.select("code", "nom").iter_rows())
    region_label = dict(reference.regions().select("code", "nom").iter_rows()).get(REGION, "Occitanie")
    fr = ("france", FRANCE, "France")
    reg = ("region", REGION, region_label)
    communes = reference.communes(2025).filter(pl.col("type") == "commune-actuelle").select("code", "departement")
    cze = reference.commune_ze().join(communes, on="code")
    # main département of a zone: the one with most of its communes
    ze_dep = (
        cze.group_by("ze_code", "departement").len().sort(["ze_code", "len", "departement"], descending=[False, True, False])
        .group_by("ze_code", maintain_order=True).first()
    )  # fmt: skip
    ze_main = dict(ze_dep.select("ze_code", "departement").iter_rows())
    ze_deps = {k: sorted(v) for k, v in cze.group_by("ze_code").agg(pl.col("departement").unique()).iter_rows()}
    zes = reference.zones_emploi().sort("ze_code")
    out: dict[str, list[Territory]] = {}
    out["region"] = [Territory("region", REGION, region_label, (fr,))]
    out["departement"] = [
        Territory(
            "departement", c, n, (reg, fr),
            outline=(("departement", (c,), "le département"),
                     ("zone-emploi", tuple(z for z, d in sorted(ze_main.items()) if d == c),
                      "les zones d'emploi dont la plus grande part des communes est dans le département")),
        )  # fmt: skip
        for c, n in dep_name.items()
    ]
    ze_list = []
    for r in zes.iter_rows(named=True):
        code, main = r["ze_code"], ze_main.get(r["ze_code"])
        notes = []
        if r["partie_reg"]:
            notes.append(
                f"Zone d'emploi interrégionale : les chiffres portent sur sa partie occitane seulement "
                f"(communes de {', '.join(dep_name.get(d, d) for d in ze_deps.get(code, []))})."
            )
        elif len(ze_deps.get(code, [])) > 1:
            notes.append(
                "La zone d'emploi s'étend sur plusieurs départements ("
                + ", ".join(dep_name.get(d, d) for d in ze_deps[code])
                + f") ; elle est comparée à celui qui en compte le plus de communes ({dep_name.get(main, main)})."
            )
        parents = ((("departement", main, dep_name.get(main, main)),) if main else ()) + (reg, fr)
        ze_list.append(
            Territory(
                "zone-emploi", code, r["ze_libelle"], parents,
                outline=(("zone-emploi", (code,), "la zone d'emploi"),
                         ("departement", (main,) if main else (), "son département de comparaison")),
                notes=tuple(notes),
            )  # fmt: skip
        )
    out["zone-emploi"] = ze_list
    # SPSTI perimeters: the perimeters in force, else the packaged list
    sp_ref = reference.spsti()
    sp_frame = data.frames["spsti"].select("geo_code", "geo_label").unique("geo_code")
    names = dict(sp_frame.iter_rows()) | {c: n for c, n in sp_ref.select("code", "nom").iter_rows() if c not in dict(sp_frame.iter_rows())}
    champs = dict(sp_ref.select("code", "champ").iter_rows())
    if data.spsti_communes.height:
        champs |= dict(data.spsti_communes.select("spsti", "champ").unique("spsti").iter_rows())
    perim = data.spsti_communes.join(reference.commune_ze().select(pl.col("code").alias("commune"), "ze_code"), on="commune", how="left")
    perim = perim.join(communes.select(pl.col("code").alias("commune"), "departement"), on="commune", how="left")
    sp_zes = {k: sorted(set(v)) for k, v in perim.group_by("spsti").agg(pl.col("ze_code").drop_nulls()).iter_rows()}
    sp_deps = {k: sorted(set(v)) for k, v in perim.group_by("spsti").agg(pl.col("departement").drop_nulls()).iter_rows()}
    ref_deps = {c: d.split() for c, d in sp_ref.select("code", "departements").iter_rows()}
    sp_list = []
    for code in sorted(names):
        dl = sp_deps.get(code) or ref_deps.get(code, [])
        parents = ((("departement", dl[0], dep_name.get(dl[0], dl[0])),) if len(dl) == 1 else ()) + (reg, fr)
        notes = []
        champ = champs.get(code, "")
        if champ and champ != "interprofessionnel":
            notes.append(f"Champ du service : {champ} (seuls les salariés des secteurs de ce champ sont comptés).")
        notes.append(
            "Les périmètres des SPSTI se recouvrent (services interprofessionnels et de branche) : "
            "ils ne s'additionnent pas pour donner la région."
        )
        sp_list.append(
            Territory(
                "spsti", code, names[code], parents,
                outline=(("zone-emploi", tuple(sp_zes.get(code, ())),
                          "les zones d'emploi de ses communes (aucun fond communal n'est livré : le contour "
                          "englobe des communes hors du périmètre)"),
                         ("departement", tuple(dl), "ses départements")),
                notes=tuple(notes),
            )  # fmt: skip
        )
    out["spsti"] = sp_list
    return out


def resolve_root(warehouse: Path | str | None) -> Path:
    """The warehouse folder (``--warehouse``, ``$PRST_WAREHOUSE`` or ``./warehouse``)."""
    from prst_etl.warehouse import resolve_path

    return resolve_path(warehouse)


def providers(source_ids: tuple[str, ...]) -> list[str]:
    """« Provider (id) » of registered sources, for the indicator dictionary."""
    from prst_etl.sources import all_sources

    reg = all_sources()
    return [f"{reg[sid].provider} ({sid})" for sid in source_ids if sid in reg]


# -- for the site's downloads ---------------------------------------------------------------------
def write_table(df: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write a frame as prst writes its exports (CSV: ``;``, UTF-8 with BOM; atomic)."""
    from prst_etl.pipeline.write import write_frame

    write_frame(df, path, fmt)


def indicator(ind_id: str) -> Indicator | None:
    return catalogue().get(ind_id)


def indicators() -> dict[str, Indicator]:
    return catalogue()


def series_breaks() -> list[tuple[int, int, str, tuple[str, ...]]]:
    """Nomenclature and zoning breaks (``schemas/ruptures.toml``): ``(first, last, label, levels)``."""
    from prst_etl.pipeline.diff import nomenclature_breaks

    return [(b.first, b.last, b.label, b.levels) for b in nomenclature_breaks()]


def indicator_breaks(ind: Indicator) -> list[tuple[int, int, str]]:
    """The catalogue's series breaks of one indicator: ``(first, last, label)``."""
    from prst_etl.pipeline.diff import _parse_break

    out = []
    for text in ind.breaks:
        b = _parse_break(text)
        if b:
            out.append((b.first, b.last, b.label))
    return out


Z95 = 1.959963984540054
"""Two-sided 95 % normal quantile (the one ``prst diff-years`` uses)."""
