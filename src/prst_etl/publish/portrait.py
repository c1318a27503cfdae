"""The portrait de territoire: every indicator the warehouse publishes for one territory.

Order of the specification (``schemas/publications/portrait.toml``); for each indicator the
latest year up to the portrait's year, its change over one year and whether it is
significant, its 95 % interval, and the same figure for the comparison territories
(département and région for a zone d'emploi, région and France where the source covers
it). Breakdowns by sex and age band, by A21 section and by source dimension follow, each
table with its chart; maps of the région's zones d'emploi and départements with the
territory outlined. Figures come only from the secrecy-applied frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from prst_etl import __version__
from prst_etl.model.codes import SEX_LABELS, age_bounds
from prst_etl.publish import charts, fmt, maps
from prst_etl.publish.content import (
    EMPTY,
    TOTAL,
    Cell,
    LevelIndex,
    Notes,
    Sources,
    alt_text_bars,
    change,
    ci_text,
    config,
    coverage_words,
    dim_label,
    finest_bands,
    make_cell,
    value_text,
)
from prst_etl.publish.data import DATA_LEVELS, LEVEL_NAMES, PublishData, Territory, indicators


@dataclass
class Counter:
    n: dict[str, int] = field(default_factory=dict)

    def next(self, kind: str) -> int:
        self.n[kind] = self.n.get(kind, 0) + 1
        return self.n[kind]


@dataclass
class Table:
    ident: str
    number: int
    title: str
    head: list[str]
    rows: list[list[Any]]
    caption: str = ""
    row_header: bool = True


@dataclass
class Figure:
    ident: str
    number: int
    title: str
    svg: str
    alt: str
    table: Table | None = None
    kind: str = "Graphique"
    legend: list[Any] = field(default_factory=list)
    caption: str = ""


class Builder:
    """Builds documents from one :class:`PublishData`; shares maps between documents."""

    def __init__(self, data: PublishData) -> None:
        self.data = data
        self.cfg = config("portrait")
        self.levels = {lvl: LevelIndex(data.frame(lvl)) for lvl in DATA_LEVELS}
        self.decimals_cfg = {k: int(v) for k, v in self.cfg.get("decimals", {}).items()}
        self._maps: dict[tuple[str, str, int | None], maps.Map | None] = {}
        self.cat = indicators()

    def decimals(self, ind) -> int:  # type: ignore[no-untyped-def]
        return fmt.decimals_for(ind, self.decimals_cfg)

    def fmt_value(self, ind):  # type: ignore[no-untyped-def]
        dec = self.decimals(ind)
        return lambda v: value_text(ind, v, dec)

    # -- maps (shared) --------------------------------------------------------------------------
    def map(self, ind_id: str, level: str, year: int | None) -> maps.Map | None:
        key = (ind_id, level, year)
        if key not in self._maps:
            self._maps[key] = self._build_map(ind_id, level, year)
        return self._maps[key]

    def _build_map(self, ind_id: str, level: str, year: int | None) -> maps.Map | None:
        ind = self.cat.get(ind_id)
        if ind is None:
            return None
        li = self.levels[level]
        cells = li.totals(ind_id)
        years = sorted(y for y in cells["year"].unique().to_list() if year is None or y <= year)
        if not years:
            return None
        y = years[-1]
        rows = {r["geo_code"]: r for r in cells.filter(pl.col("year") == y).iter_rows(named=True)}
        items = []
        dec = self.decimals(ind)
        for f in maps.features(level):
            code = f["properties"]["code"]
            r = rows.get(code)
            if r is None:
                continue
            hidden = r["value"] is None or r["status"] in fmt.NO_VALUE
            text = fmt.STATUS_SIGN.get(r["status"] or "nd", "nd") if hidden else value_text(ind, r["value"], dec)
            items.append(maps.MapItem(code, f["properties"]["label"], None if hidden else float(r["value"]), r["status"], text,
                                      ns=r["status"] == fmt.STATUS_NS, partial=(r["coverage"] or "").startswith("partiel")))  # fmt: skip
        if not any(it.value is not None for it in items):
            return None
        title = f"{ind.label} par {maps.LEVEL_PLURAL[level][:-1] if level == 'zone-emploi' else 'département'}, {y}"
        if level == "zone-emploi":
            title = f"{ind.label} par zone d'emploi, {y}"
        m = maps.build(f"carte-{ind_id}-{level}", level, ind_id, title, ind.unit, y, items, self.fmt_value(ind))
        m.rows = rows
        return m

    def map_figure(self, m: maps.Map, counter: Counter, territory: Territory | None, notes: Notes) -> Figure:
        ind = self.cat[m.indicator]
        outline_codes: tuple[str, ...] = ()
        outline_words = ""
        if territory is not None:
            for lvl, codes, words in territory.outline:
                if lvl == m.level:
                    outline_codes, outline_words = codes, words
        svg = maps.outline(m.svg, outline_codes) if outline_codes else m.svg
        n = counter.next("carte")
        rows = []
        for it in sorted(m.items, key=lambda i: i.label):
            cell = make_cell(m.rows.get(it.code), ind, notes, self.decimals(ind))
            cls = "" if it.cls is None else str(it.cls + 1)
            rows.append([it.label + (" (contour)" if it.code in outline_codes else ""), cell, cls,
                         "partiel" if it.partial else "complet"])  # fmt: skip
        table = Table(f"{m.ident}-donnees", counter.next("tableau"), f"Données de la carte {n} : {m.title}",
                      ["Territoire", f"Valeur ({ind.unit})", "Classe", "Couverture"], rows)  # fmt: skip
        method = "quantiles (classes d'effectifs voisins)" if m.method == "quantiles" else "seuils naturels de Jenks"
        caption = (
            f"{len(m.bounds)} classes par {method}, calculées sur les {sum(1 for i in m.items if i.value is not None)} "
            f"{maps.LEVEL_PLURAL[m.level]} dont la valeur est publiée. Le numéro de classe est écrit sur chaque territoire ; "
            "hachures : secret statistique ; pointillés : pas de donnée ; * : taux non significatif ; ° : chiffre partiel."
        )
        if outline_codes:
            caption += f" Contour noir épais : {outline_words}."
        if m.level == "zone-emploi":
            caption += " Arles et Avignon : partie occitane de la zone seulement."
        hi = [i for i in m.items if i.value is not None]
        top = max(hi, key=lambda i: i.value or 0)
        low = min(hi, key=lambda i: i.value or 0)
        alt = (
            f"Carte de l'Occitanie : {m.title.lower()}. Valeur la plus élevée : {top.label} ({top.text}) ; "
            f"la plus basse : {low.label} ({low.text}). "
            + (f"Le territoire du portrait est entouré d'un contour noir ({outline_words}). " if outline_codes else "")
            + f"Toutes les valeurs sont dans le tableau {table.number}."
        )
        legend = [(maps.swatch(e, f"{m.ident}-sw{i}"), e) for i, e in enumerate(m.legend)]
        return Figure(m.ident, n, m.title, charts.accessible(svg, f"{m.ident}-svg", m.title, alt), alt, table, "Carte", legend, caption)

    # -- the portrait ---------------------------------------------------------------------------
    def portrait(self, t: Territory, year: int | None = None) -> dict[str, Any]:
        notes, counter = Notes(), Counter()
        sources = Sources(self.data)
        idx = self.levels[t.level](t.code)
        parents = [(lvl, code, label, self.levels[lvl](code)) for lvl, code, label in t.parents]
        ref_year = year or max(idx.all_years(), default=None)

        summary = []
        for ind_id in self.cfg.get("summary", []):
            ind = self.cat.get(ind_id)
            if ind is None:
                continue
            r = idx.latest(ind_id, ref_year)
            if r is None:
                continue
            dec = self.decimals(ind)
            comp = []
            for lvl, code, label, pidx in parents[:2]:
                pr = pidx.get(ind_id, r["year"])
                if pr is not None:
                    comp.append((label, make_cell(pr, ind, notes, dec)))
            prev = idx.get(ind_id, r["year"] - 1)
            summary.append({"ind": ind, "year": r["year"], "cell": make_cell(r, ind, notes, dec), "comp": comp,
                            "change": change(ind, t.level, prev, r, dec), "refs": sources.refs(r["sources"], r["year"])})  # fmt: skip

        # Maps first (the reader's way in), then the sections
        map_figs = []
        for mc in self.cfg.get("map", []):
            for lvl in mc["levels"]:
                m = self.map(mc["indicator"], lvl, ref_year)
                if m is not None:
                    map_figs.append(self.map_figure(m, counter, t, notes))

        sections = [self._section(sec, t, idx, parents, ref_year, notes, sources, counter) for sec in self.cfg["section"]]
        return {
            "title": f"Portrait de territoire — {t.kind} : {t.label}",
            "short_title": t.label,
            "territory": t,
            "level_name": LEVEL_NAMES[t.level],
            "year": ref_year,
            "parents": [(lvl, code, label) for lvl, code, label, _ in parents],
            "summary": summary,
            "maps": map_figs,
            "sections": [s for s in sections if s["table"] or s["missing"]],
            "notes": notes.listing(),
            "sources": sources.listing(),
            "state": self.data.state,
            "version": __version__,
        }

    def _section(self, sec, t: Territory, idx, parents, ref_year, notes: Notes, sources: Sources, counter: Counter) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        rows, missing = [], []
        for ind_id in sec.get("indicators", []):
            ind = self.cat.get(ind_id)
            if ind is None:
                continue
            r = idx.latest(ind_id, ref_year)
            if r is None:
                if ind.levels and t.level not in ind.levels:
                    missing.append((ind.label, "non publié à ce niveau géographique (la source ne le permet pas)"))
                else:
                    missing.append((ind.label, "pas de donnée dans l'entrepôt pour ce territoire"))
                continue
            dec = self.decimals(ind)
            cell = make_cell(r, ind, notes, dec)
            cov = coverage_words(self.data, r, t.level)
            if cov:
                cell.notes.append(notes.add(f"cov:{cov}", cov))
            ch = change(ind, t.level, idx.get(ind_id, r["year"] - 1), r, dec)
            if ch.breaks:
                ch.words = "rupture de série"
                for b in ch.breaks:
                    notes.add(f"break:{b}", f"Rupture de série : {b}.")
            comps = []
            for lvl, code, label, pidx in parents:
                pr = pidx.get(ind_id, r["year"])
                c = make_cell(pr, ind, notes, dec) if pr is not None else EMPTY
                if pr is not None:
                    pcov = coverage_words(self.data, pr, lvl)
                    if pcov:
                        c.notes.append(notes.add(f"cov:{pcov}", f"{label} : {pcov}"))
                comps.append(c)
            refs = sources.refs(r["sources"], r["year"])
            rows.append({"ind": ind, "year": r["year"], "cell": cell, "change": ch, "ci": ci_text(ind, r, dec), "comps": comps, "refs": refs})
        table = None
        if rows:
            table = {"ident": f"{sec['id']}-principal", "number": counter.next("tableau"),
                     "title": f"{sec['title']} : {t.label}", "parents": [label for _, _, label, _ in parents], "rows": rows}  # fmt: skip
        blocks: list[Any] = []
        blocks += self._sex_age(sec, t, idx, ref_year, notes, counter)
        blocks += self._sectors(sec, t, idx, ref_year, notes, counter)
        blocks += self._dims(sec, t, idx, parents, ref_year, notes, counter)
        return {"id": sec["id"], "title": sec["title"], "intro": sec.get("intro", ""), "table": table, "missing": missing, "blocks": blocks}

    # -- breakdowns ---------------------------------------------------------------------------------
    def _sex_age(self, sec, t, idx, ref_year, notes, counter) -> list[Any]:  # type: ignore[no-untyped-def]
        """By age band and sex: one table per indicator that has age bands (the first one charted);
        the indicators given by sex only share one table."""
        out: list[Any] = []
        by_sex: list[tuple[Any, int, list[Cell]]] = []
        charted = sec.get("chart") != "sex_age"
        ranges = self.cfg.get("ages", {})
        for ind_id in sec.get("by_sex_age", []):
            ind = self.cat.get(ind_id)
            main = idx.latest(ind_id, ref_year) if ind else None
            if main is None:
                continue
            y = main["year"]
            rows = [r for r in idx.rows_of(ind_id) if r["year"] == y and r["sector_code"] == TOTAL and not _has_dims(r, idx.extras)]
            sexes = [s for s in ("F", "M", TOTAL) if any(r["sex"] == s for r in rows)]
            ages = finest_bands(sorted({r["age_band"] for r in rows}))
            if ind_id in ranges:
                lo, hi = ranges[ind_id]
                ages = [a for a in ages if age_bounds(a)[0] >= lo and age_bounds(a)[1] <= hi + 1]
            dec = self.decimals(ind)
            if not ages:
                if len(sexes) > 1:
                    by_sex.append((ind, y, [make_cell(idx.get(ind_id, y, sex=s), ind, notes, dec) for s in ("F", "M", TOTAL)]))
                continue
            body = []
            for a in [*ages, TOTAL]:
                cells = [make_cell(idx.get(ind_id, y, sex=s, age=a), ind, notes, dec) for s in sexes]
                if not all(c.empty for c in cells):
                    body.append([dim_label(self.data, "age_band", a) if a != TOTAL else "Tous âges", *cells])
            tn = counter.next("tableau")
            title = f"{ind.label} par sexe et tranche d'âge, {t.label}, {y}"
            table = Table(f"{sec['id']}-{ind_id}-sexe-age", tn, title, ["Âge", *[SEX_LABELS[s] for s in sexes]], body,
                          caption=f"unité : {ind.unit}")  # fmt: skip
            if not charted and {"F", "M"} <= set(sexes):
                crow = []
                for a in ages:
                    for s in ("F", "M"):
                        c = make_cell(idx.get(ind_id, y, sex=s, age=a), ind, notes, dec)
                        crow.append({"label": dim_label(self.data, "age_band", a), "facet": SEX_LABELS[s], "value": c.value, "text": c.text})
                if any(c["value"] is not None for c in crow):
                    fid = f"{sec['id']}-{ind_id}-graphique"
                    alt = alt_text_bars(
                        f"{ind.label.lower()} par tranche d'âge, un panneau pour les femmes et un pour les hommes, {t.label}, {y}",
                        [(f"{c['facet'].lower()}, {c['label']}", c["value"], c["text"]) for c in crow], f"tableau {tn}",
                    )  # fmt: skip
                    svg = charts.accessible(charts.render(charts.facet_bars(crow, ["Femmes", "Hommes"], ind.unit)), fid + "-svg", title, alt)
                    out.append(Figure(fid, counter.next("graphique"), title, svg, alt, table))
                    charted = True
                    continue
            out.append(table)
        if by_sex:
            body = [[f"{ind.label} ({ind.unit}, {y})", *cells] for ind, y, cells in by_sex]
            out.append(Table(f"{sec['id']}-par-sexe", counter.next("tableau"), f"Par sexe, {t.label}",
                             ["Indicateur", "Femmes", "Hommes", "Ensemble"], body))  # fmt: skip
        return out

    def _sectors(self, sec, t, idx, ref_year, notes, counter) -> list[Any]:  # type: ignore[no-untyped-def]
        cols = []
        for ind_id in sec.get("by_sector", []):
            ind = self.cat.get(ind_id)
            main = idx.latest(ind_id, ref_year) if ind else None
            if main is None:
                continue
            y = main["year"]
            if any(r["year"] == y and r["sector_level"] == "a21" for r in idx.rows_of(ind_id)):
                cols.append((ind, y))
        if not cols:
            return []
        labels = self.levels[t.level].sector_labels
        codes = sorted({r["sector_code"] for ind, y in cols for r in idx.rows_of(ind.id) if r["sector_level"] == "a21" and r["year"] == y})
        top = sec.get("top")
        if top:  # a short document: the first sections by published value of the first indicator
            ind0, y0 = cols[0]
            vals = {c: (idx.get(ind0.id, y0, "a21", c) or {}).get("value") for c in codes}
            codes = sorted([c for c in codes if vals[c] is not None], key=lambda c: -vals[c])[:top]
        body = []
        for code in codes:
            cells = [make_cell(idx.get(ind.id, y, "a21", code), ind, notes, self.decimals(ind)) for ind, y in cols]
            body.append([f"{code} – {charts.short(labels.get(code, code), 60)}", *cells])
        total = [make_cell(idx.get(ind.id, y), ind, notes, self.decimals(ind)) for ind, y in cols]
        body.append(["Ensemble des secteurs", *total])
        tn = counter.next("tableau")
        title = f"Par secteur d'activité (sections de la NAF, A21), {t.label}"
        if top:
            title += f" : les {len(codes)} premières sections dont la valeur est publiée"
        table = Table(f"{sec['id']}-secteurs", tn, title, ["Secteur", *[f"{ind.label} ({ind.unit}, {y})" for ind, y in cols]], body)
        ind, y = cols[0]
        crow = []
        for code in codes:
            c = make_cell(idx.get(ind.id, y, "a21", code), ind, notes, self.decimals(ind))
            crow.append({"label": labels.get(code, code), "value": c.value, "text": c.text})
        if not top:
            crow.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0)))
        if sec.get("chart") != "sector" or not any(r["value"] is not None for r in crow):
            return [table]
        ctitle = f"{ind.label} par secteur d'activité, {t.label}, {y}" + (f" ({len(codes)} premières sections)" if top else "")
        fid = f"{sec['id']}-secteurs-graphique"
        alt = alt_text_bars(ctitle, [(r["label"], r["value"], r["text"]) for r in crow], f"tableau {tn}")
        svg = charts.accessible(charts.render(charts.hbar(crow, ind.unit)), fid + "-svg", ctitle, alt)
        return [Figure(fid, counter.next("graphique"), ctitle, svg, alt, table)]

    def _dims(self, sec, t, idx, parents, ref_year, notes, counter) -> list[Any]:  # type: ignore[no-untyped-def]
        out: list[Any] = []
        charted = sec.get("chart") != "dim"
        for ind_id, dim in sec.get("by_dim", []):
            ind = self.cat.get(ind_id)
            if ind is None or dim not in idx.extras:
                continue
            ys = sorted({r["year"] for r in idx.rows_of(ind_id) if _dim_code(r, dim) != TOTAL and (ref_year is None or r["year"] <= ref_year)})
            if not ys:
                continue
            y = ys[-1]
            codes = sorted({_dim_code(r, dim) for r in idx.rows_of(ind_id) if r["year"] == y and r["sector_code"] == TOTAL
                            and r["sex"] == TOTAL and r["age_band"] == TOTAL and _dim_code(r, dim) != TOTAL})  # fmt: skip
            if not codes:
                continue
            dec = self.decimals(ind)
            comp = [p for p in parents if p[0] != "france"][:2]
            body = []
            for code in codes:
                dims = ((dim, code),)
                cells = [make_cell(idx.get(ind_id, y, dims=dims), ind, notes, dec, idx.extras)]
                cells += [make_cell(p[3].get(ind_id, y, dims=dims), ind, notes, dec, idx.extras) for p in comp]
                body.append([dim_label(self.data, dim, code), *cells])
            tn = counter.next("tableau")
            title = f"{ind.label}, {t.label}, {y}"
            table = Table(f"{sec['id']}-{ind_id}-{dim}", tn, title, ["", t.label, *[p[2] for p in comp]], body, caption=f"Unité : {ind.unit}.")
            crow = [{"label": row[0], "value": row[1].value, "text": row[1].text} for row in body]
            if not charted and any(r["value"] is not None for r in crow) and len(crow) > 1:
                charted = True
                crow.sort(key=lambda r: (r["value"] is None, -(r["value"] or 0)))
                fid = f"{sec['id']}-{ind_id}-{dim}-graphique"
                alt = alt_text_bars(title, [(r["label"], r["value"], r["text"]) for r in crow], f"tableau {tn}")
                svg = charts.accessible(charts.render(charts.hbar(crow, ind.unit)), fid + "-svg", title, alt)
                out.append(Figure(fid, counter.next("graphique"), title, svg, alt, table))
            else:
                out.append(table)
        return out


def _dim_code(r: dict[str, Any], dim: str) -> str:
    return r.get(dim) or TOTAL


def _has_dims(r: dict[str, Any], extras: tuple[str, ...]) -> bool:
    return any(r.get(d) not in (None, TOTAL) for d in extras)


def cell_text(c: Cell) -> str:
    return c.text
