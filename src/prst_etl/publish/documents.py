"""The regional documents: chiffres clés (a few pages of key figures) and the yearly tableau de
bord of the plan's pilotage indicators. Settings are data: ``schemas/publications/``."""

from __future__ import annotations

from typing import Any

from prst_etl import __version__
from prst_etl.publish import charts, fmt
from prst_etl.publish.content import (
    TOTAL,
    Notes,
    Sources,
    alt_text_bars,
    breaks_between,
    change,
    config,
    dim_label,
    make_cell,
    value_text,
)
from prst_etl.publish.data import FRANCE, REGION
from prst_etl.publish.portrait import Builder, Counter, Figure, Table


def chiffres_cles(b: Builder, year: int | None = None, baseline: int | None = None) -> dict[str, Any]:
    cfg = config("chiffres-cles")
    baseline = baseline or int(cfg.get("baseline", 2021))
    notes, counter, sources = Notes(), Counter(), Sources(b.data)
    reg, fr = b.levels["region"](REGION), b.levels["france"](FRANCE)
    region = b.data.territory("region", REGION)
    ref_year = year or max(reg.all_years(), default=None)
    themes = []
    for th in cfg["theme"]:
        cards = []
        for ind_id in th.get("indicators", []):
            ind = b.cat.get(ind_id)
            r = reg.latest(ind_id, ref_year) if ind else None
            if r is None:
                continue
            dec = b.decimals(ind)
            ys = [y for y in reg.years(ind_id) if baseline <= y < r["year"]]
            base_row = reg.get(ind_id, ys[0]) if ys else None
            ch = change(ind, "region", base_row, r, dec)
            if ys and ys[0] != baseline:
                ch.words = (ch.words + " ; " if ch.words else "") + f"pas de donnée en {baseline}"
            frow = fr.get(ind_id, r["year"])
            cards.append({"ind": ind, "year": r["year"], "cell": make_cell(r, ind, notes, dec), "change": ch,
                          "france": make_cell(frow, ind, notes, dec) if frow else None,
                          "refs": sources.refs(r["sources"], r["year"])})  # fmt: skip
        figs: list[Any] = []
        if th.get("map"):
            m = b.map(th["map"], "departement", ref_year)
            if m is not None:
                figs.append(b.map_figure(m, counter, None, notes))
        if th.get("sector_chart"):
            figs += b._sectors({"id": f"cc-{len(themes)}", "by_sector": [th["sector_chart"]], "chart": "sector", "top": 10}, region, reg, ref_year, notes, counter)
        if th.get("sex_age_chart"):
            figs += b._sex_age({"id": f"cc-{len(themes)}", "by_sex_age": [th["sex_age_chart"]], "chart": "sex_age"}, region, reg, ref_year, notes, counter)
        if th.get("dim_chart"):
            figs += b._dims({"id": f"cc-{len(themes)}", "by_dim": [th["dim_chart"]], "chart": "dim"}, region, reg, [], ref_year, notes, counter)
        if cards or figs:
            themes.append({"title": th["title"], "cards": cards, "figures": figs, "id": f"theme-{len(themes) + 1}"})
    return {
        "title": f"{cfg['title']} — {ref_year}", "year": ref_year, "baseline": baseline, "themes": themes,
        "notes": notes.listing(), "sources": sources.listing(), "state": b.data.state, "version": __version__,
        "territory": region,
    }  # fmt: skip


def tableau_de_bord(b: Builder, first: int | None = None, last: int | None = None) -> dict[str, Any]:
    cfg = config("tableau-de-bord")
    baseline = int(cfg.get("baseline", 2021))
    level, code = cfg.get("level", "region"), cfg.get("code", REGION)
    idx = b.levels[level](code)
    notes, sources = Notes(), Sources(b.data)
    all_years = idx.all_years()
    last = last or (max(all_years) if all_years else baseline)
    first = first or baseline
    years = list(range(first, last + 1))
    rows = []
    for entry in cfg["indicator"]:
        ind = b.cat.get(entry["id"])
        if ind is None:
            continue
        dims = tuple((k, v) for k, v in entry.items() if k not in ("id", "label", "sex", "age_band"))
        sex, age = entry.get("sex", TOTAL), entry.get("age_band", TOTAL)
        dec = b.decimals(ind)
        cells, series = [], []
        for y in years:
            r = idx.get(ind.id, y, sex=sex, age=age, dims=dims)
            c = make_cell(r, ind, notes, dec, idx.extras) if r else None
            if r and y > years[0] and breaks_between(ind, level, y - 1, y):
                for brk in breaks_between(ind, level, y - 1, y):
                    n = notes.add(f"break:{brk}", f"Rupture de série entre {y - 1} et {y} : {brk}.")
                    c.notes.append(n)  # type: ignore[union-attr]
                c.extra = "rupture"  # type: ignore[union-attr]
            cells.append(c)
            if c is not None and c.value is not None:
                series.append((y, c.value, c.text))
            if r:
                sources.refs(r["sources"], y)
        present = [y for y, c in zip(years, cells) if c is not None and c.value is not None]
        ch, base_note = None, ""
        if present:
            y0 = baseline if baseline in present else present[0]
            if y0 != baseline:
                base_note = f"pas de valeur en {baseline} : évolution depuis {y0}"
            if present[-1] != y0:
                r0 = idx.get(ind.id, y0, sex=sex, age=age, dims=dims)
                r1 = idx.get(ind.id, present[-1], sex=sex, age=age, dims=dims)
                ch = change(ind, level, r0, r1, dec)
                if ch.breaks and not ch.words.startswith("rupture"):
                    ch.words = "rupture de série"
        label = entry.get("label") or ind.label
        spark = _sparkline(series, ind) if len(series) >= 2 else ""
        rows.append({"ind": ind, "label": label, "cells": cells, "change": ch, "base_note": base_note, "spark": spark,
                     "empty": not present})  # fmt: skip
    return {
        "title": f"{cfg['title']} — {first}-{last}", "years": years, "baseline": baseline, "rows": rows,
        "territory": b.data.territory(level, code) if level != "france" else None, "notes": notes.listing(),
        "sources": sources.listing(), "state": b.data.state, "version": __version__,
    }  # fmt: skip


def _sparkline(series: list[tuple[int, float, str]], ind) -> str:  # type: ignore[no-untyped-def]
    """A small line of the series (decorative: the values are in the row)."""
    import altair as alt

    values = [{"year": str(y), "value": v} for y, v, _ in series]
    chart = (
        alt.Chart(alt.Data(values=values)).mark_line(point=True, color=charts.BAR)
        .encode(x=alt.X("year:O", axis=None), y=alt.Y("value:Q", axis=None, scale=alt.Scale(zero=False)))
        .properties(width=90, height=26)
    )  # fmt: skip
    spec = chart.to_dict() | {"config": {"view": {"stroke": None}}}
    svg = charts.render(spec)
    return svg.replace('class="marks"', 'class="marks spark" aria-hidden="true" focusable="false"', 1)


def indicator_page(b: Builder, ind) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One entry of the indicator dictionary."""
    from prst_etl.publish.data import indicator_breaks

    breaks = [f"{a}{'-' + str(z) if z != a else ''} : {label}" for a, z, label in indicator_breaks(ind)]
    dims = {"sex": "sexe", "age_band": "tranche d'âge", "risk_family": "famille de risque", "cause_family": "famille de cause",
            "size_band": "taille d'établissement ou d'entreprise", "visit_type": "type de visite"}  # fmt: skip
    levels = {"commune": "commune", "zone-emploi": "zone d'emploi", "departement": "département", "region": "région",
              "france": "France", "spsti": "périmètre de SPSTI"}  # fmt: skip
    ci = {"poisson": "exact de Poisson", "wilson": "de Wilson (proportion)", "none": "aucun"}.get(ind.ci, ind.ci)
    from prst_etl.publish.data import providers

    provider = providers(ind.sources)
    example = b.levels["region"](REGION).latest(ind.id, None)
    ex = None
    if example is not None:
        ex = {"year": example["year"], "cell": make_cell(example, ind, Notes(), b.decimals(ind))}
    return {
        "ind": ind, "breaks": breaks, "by": [dims.get(d, d) for d in ind.by], "levels": [levels.get(lv, lv) for lv in ind.levels],
        "ci": ci, "providers": provider, "example": ex, "multiplier": fmt.number(ind.multiplier) if ind.is_rate else "",
        "min_den": fmt.number(ind.min_denominator) if ind.min_denominator else "",
    }  # fmt: skip


__all__ = ["chiffres_cles", "tableau_de_bord", "indicator_page", "Figure", "Table", "value_text", "dim_label", "alt_text_bars"]
