"""SVG charts: Vega-Lite specs built with Altair, rendered by vl-convert (no browser).

A chart is a pure function of its spec, so each distinct spec is rendered once per process
(:data:`STATS` counts renders and reuses). The SVG is then made accessible and lighter:
``role="img"`` with a ``<title>`` and a ``<desc>`` (the text alternative), and path
coordinates rounded to 0.1 px.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
from pathlib import Path
from typing import Any

BAR = "#2b5c8a"
"""Bar colour (contrast 6.9:1 on white)."""
FONT = "sans-serif"
_CACHE: dict[str, str] = {}
STATS = {"rendered": 0, "reused": 0}
DISK: list[Path] = []
"""Folder of rendered SVGs kept between runs (set by :func:`prst_etl.publish.data.load`: the state's cache)."""


def spec_key(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def render(spec: dict[str, Any]) -> str:
    """SVG of a Vega-Lite spec, from the cache when the same spec was rendered before."""
    import vl_convert as vlc

    key = spec_key(spec)
    if key in _CACHE:
        STATS["reused"] += 1
        return _CACHE[key]
    disk = DISK[-1] / f"{key[:24]}.svg" if DISK else None
    if disk is not None and disk.exists():
        STATS["reused"] += 1
        _CACHE[key] = disk.read_text(encoding="utf-8")
        return _CACHE[key]
    svg = vlc.vegalite_to_svg(spec, format_locale="fr-FR", allowed_base_urls=[])
    svg = _lighten(svg)
    _CACHE[key] = svg
    STATS["rendered"] += 1
    if disk is not None and spec.get("datasets"):  # maps: shared by every document of the state
        try:
            disk.parent.mkdir(parents=True, exist_ok=True)
            tmp = disk.with_name(disk.name + f".{os.getpid()}")
            tmp.write_text(svg, encoding="utf-8")
            os.replace(tmp, disk)
        except OSError:
            pass
    return svg


def preload(svgs: dict[str, str]) -> None:
    """Seed the cache (rendered by another process)."""
    _CACHE.update(svgs)


_NUM = re.compile(r"-?\d+\.\d+")


def _r1(m: re.Match[str]) -> str:
    s = f"{float(m.group()):.1f}"
    return s[:-2] if s.endswith(".0") else s


def _round_d(m: re.Match[str]) -> str:
    return f' d="{_NUM.sub(_r1, m.group(1))}"'


def _lighten(svg: str) -> str:
    return re.sub(r' d="([^"]*)"', _round_d, svg)


def accessible(svg: str, ident: str, title: str, desc: str) -> str:
    """An inline SVG a screen reader announces as one image with its title and text alternative."""
    head = f'<svg role="img" aria-labelledby="{ident}-t" aria-describedby="{ident}-d" id="{ident}" focusable="false" '
    body = svg.replace("<svg ", head, 1)
    end = body.index(">") + 1
    meta = f'<title id="{ident}-t">{html.escape(title)}</title><desc id="{ident}-d">{html.escape(desc)}</desc>'
    return body[:end] + meta + body[end:]


def _config() -> dict[str, Any]:
    return {
        "font": FONT, "view": {"stroke": None},
        "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelColor": "#222", "titleColor": "#222", "gridColor": "#ddd"},
        "header": {"labelFontSize": 12, "labelFontWeight": "bold", "labelColor": "#222"},
    }  # fmt: skip


def short(label: str, n: int = 42) -> str:
    """Axis labels are cut in Python (Vega's own truncation measures the text many times)."""
    return label if len(label) <= n else label[: n - 1].rstrip(" ,") + "…"


def hbar(rows: list[dict[str, Any]], axis_title: str, *, width: int = 330) -> dict[str, Any]:
    """Horizontal bars, one per row (``label``, ``value`` or None, ``text``), in the given order;
    each bar labelled with its French number; a hidden value gets its sign and no bar."""
    import altair as alt

    values = [{"label": short(r["label"]), "value": r["value"], "x": r["value"] or 0, "text": r["text"]} for r in rows]
    order = [v["label"] for v in values]
    base = alt.Chart(alt.Data(values=values))
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=0, ticks=False, domain=False))
    bars = base.mark_bar(color=BAR, height={"band": 0.75}).encode(
        x=alt.X("value:Q", title=axis_title, axis=alt.Axis(format="~s", tickCount=4, grid=True)), y=y
    )
    text = base.mark_text(align="left", dx=3, fontSize=11, color="#111").encode(x="x:Q", y=y, text="text:N")
    chart = alt.layer(bars, text).properties(width=width, height=alt.Step(20))
    return chart.to_dict() | {"config": _config()}


def facet_bars(rows: list[dict[str, Any]], facets: list[str], axis_title: str, *, width: int = 190) -> dict[str, Any]:
    """Horizontal bars by ``label`` (rows), one panel per ``facet`` (e.g. sex): nothing said by colour."""
    import altair as alt

    values = [{"label": r["label"], "facet": r["facet"], "value": r["value"], "x": r["value"] or 0, "text": r["text"]} for r in rows]
    order = list(dict.fromkeys(r["label"] for r in rows))
    base = alt.Chart()
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=0, ticks=False, domain=False))
    bars = base.mark_bar(color=BAR, height={"band": 0.75}).encode(
        x=alt.X("value:Q", title=axis_title, axis=alt.Axis(format="~s", tickCount=3, grid=True)), y=y
    )
    text = base.mark_text(align="left", dx=3, fontSize=10, color="#111").encode(x="x:Q", y=y, text="text:N")
    chart = (
        alt.layer(bars, text, data=alt.Data(values=values))
        .properties(width=width, height=alt.Step(18))
        .facet(column=alt.Column("facet:N", sort=facets, title=None))
    )
    return chart.to_dict() | {"config": _config()}
