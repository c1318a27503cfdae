"""Choropleth maps of the région's zones d'emploi and départements (Altair geoshape → SVG).

Geometry ships in ``publish/geo/`` (IGN Admin Express and Insee, see its PROVENANCE.md).
Classes are computed honestly: quantiles (default) or Jenks natural breaks over the
published values, and the legend says the method and how many territories each class holds.
A territory under secrecy is hatched, one without data dotted, never coloured; each shape
also carries its class number (or « s ») as text, so nothing is said by colour alone; a
non-significant rate is marked « * », a partial figure « ° ».

The map of a level, indicator and year is rendered **once**; a portrait outlines its
territory by restyling the shapes of that territory in the shared SVG (:func:`outline`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from prst_etl.publish import charts

GEO_FILES = {"departement": ("departements-occitanie.geojson", "code"), "zone-emploi": ("ze2020-occitanie.geojson", None)}
PALETTES = {
    1: ["#fc8d59"],
    2: ["#fdcc8a", "#d7301f"],
    3: ["#fee8c8", "#fdbb84", "#e34a33"],
    4: ["#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"],
    5: ["#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"],
}
"""ColorBrewer OrRd: sequential, readable by colour-blind readers and in grey."""
SECRET_FILL = "#fffffe"
NODATA_FILL = "#fffffd"
"""Sentinel fills replaced by patterns after rendering (Vega has no pattern fills)."""
LEVEL_PLURAL = {"departement": "départements", "zone-emploi": "zones d'emploi"}


@cache
def features(level: str) -> tuple[dict[str, Any], ...]:
    """Features of a level with ``code``, ``label`` and a label point (``lon``, ``lat``)."""
    name, key = GEO_FILES[level]
    raw = json.loads(resources.files("prst_etl.publish").joinpath("geo", name).read_text(encoding="utf-8"))
    out = []
    for f in raw["features"]:
        p = f["properties"]
        if level == "zone-emploi":
            code, label = p.get("ze2020_partie_reg") or p["ze2020"], p["libze2020"]
        else:
            code, label = p[key], p["nom"]
        lon, lat = label_point(f["geometry"])
        geom = simplify(f["geometry"], TOLERANCE)
        out.append({"type": "Feature", "geometry": geom, "properties": {"code": code, "label": label, "lon": lon, "lat": lat}})
    return tuple(out)


TOLERANCE = 0.004
"""Douglas-Peucker tolerance in degrees (about 0.3 px on the maps): the shipped layers carry
several points per pixel, which only make the SVG (and the PDF) heavier."""


def _dp(points: list[list[float]], tol: float) -> list[list[float]]:
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (x1, y1), (x2, y2) = points[a], points[b]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        best, idx = 0.0, -1
        for i in range(a + 1, b):
            x, y = points[i]
            d = abs(dy * (x - x1) - dx * (y - y1)) / norm if norm else math.hypot(x - x1, y - y1)
            if d > best:
                best, idx = d, i
        if idx >= 0 and best > tol:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    return [p for p, k in zip(points, keep) if k]


def simplify(geom: dict[str, Any], tol: float) -> dict[str, Any]:
    """The geometry with each ring simplified (a ring keeps at least 4 points)."""

    def ring(r: list[list[float]]) -> list[list[float]]:
        out = _dp(r, tol)
        return out if len(out) >= 4 else r

    if geom["type"] == "Polygon":
        return {"type": "Polygon", "coordinates": [ring(r) for r in geom["coordinates"]]}
    return {"type": "MultiPolygon", "coordinates": [[ring(r) for r in poly] for poly in geom["coordinates"]]}


def label_point(geom: dict[str, Any]) -> tuple[float, float]:
    """Area centroid of the largest polygon's outer ring (good enough for a label)."""
    polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
    best, best_a = (0.0, 0.0), -1.0
    for poly in polys:
        ring = poly[0]
        a = cx = cy = 0.0
        for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
            cr = x1 * y2 - x2 * y1
            a += cr
            cx += (x1 + x2) * cr
            cy += (y1 + y2) * cr
        if abs(a) > best_a and a != 0:
            best_a, best = abs(a), (cx / (3 * a), cy / (3 * a))
    return round(best[0], 4), round(best[1], 4)


# -- classes --------------------------------------------------------------------------------------
def quantile_classes(values: list[float], k: int) -> list[float]:
    """Upper bounds of ``k`` classes holding about as many values each (equal values stay together)."""
    v = sorted(values)
    n = len(v)
    bounds = []
    for i in range(1, k):
        b = v[min(n - 1, math.ceil(i * n / k) - 1)]
        if not bounds or b > bounds[-1]:
            bounds.append(b)
    if bounds and bounds[-1] >= v[-1]:
        bounds.pop()
    return bounds + [v[-1]]


def jenks_classes(values: list[float], k: int) -> list[float]:
    """Upper bounds of Jenks (Fisher) natural-breaks classes: least within-class variance."""
    v = sorted(values)
    n = len(v)
    k = min(k, len(set(v)))
    if k <= 1:
        return [v[-1]]
    pre, pre2 = [0.0], [0.0]
    for x in v:
        pre.append(pre[-1] + x)
        pre2.append(pre2[-1] + x * x)

    def ssd(i: int, j: int) -> float:  # values i..j-1
        s, s2, m = pre[j] - pre[i], pre2[j] - pre2[i], j - i
        return s2 - s * s / m

    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(k + 1)]
    cut = [[0] * (n + 1) for _ in range(k + 1)]
    cost[0][0] = 0.0
    for c in range(1, k + 1):
        for j in range(c, n + 1):
            for i in range(c - 1, j):
                val = cost[c - 1][i] + ssd(i, j)
                if val < cost[c][j]:
                    cost[c][j], cut[c][j] = val, i
    bounds, j = [], n
    for c in range(k, 0, -1):
        bounds.append(v[j - 1])
        j = cut[c][j]
    return sorted(set(bounds))


def classify(values: list[float], method: str = "quantiles", k: int = 4) -> list[float]:
    if not values:
        return []
    k = min(k, len(values))
    if len(values) >= 8:
        k = min(k, 4)
    elif len(values) >= 5:
        k = min(k, 3)
    else:
        k = min(k, 2)
    return jenks_classes(values, k) if method == "jenks" else quantile_classes(values, k)


def class_of(value: float, bounds: list[float]) -> int:
    for i, b in enumerate(bounds):
        if value <= b:
            return i
    return len(bounds) - 1


def _luminance(hex_colour: str) -> float:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


# -- the map --------------------------------------------------------------------------------------
@dataclass
class MapItem:
    code: str
    label: str
    value: float | None
    status: str | None
    text: str
    """The value as shown (French number, or its sign)."""
    ns: bool = False
    partial: bool = False
    cls: int | None = None


@dataclass
class Legend:
    label: str
    fill: str
    """A colour, or ``hatch`` / ``dots``."""
    count: int
    mark: str = ""


@dataclass
class Map:
    ident: str
    level: str
    indicator: str
    title: str
    year: int
    unit: str
    items: list[MapItem]
    method: str = "quantiles"
    bounds: list[float] = field(default_factory=list)
    legend: list[Legend] = field(default_factory=list)
    svg: str = ""
    rows: dict[str, Any] = field(default_factory=dict)
    """The published rows behind the map, by territory code."""

    @property
    def n_shapes(self) -> int:
        return len(features(self.level))


def build(ident: str, level: str, indicator: str, title: str, unit: str, year: int, items: list[MapItem],
          fmt_value, method: str = "quantiles") -> Map:  # type: ignore[no-untyped-def]  # fmt: skip
    """Classes, legend and the shared SVG of one choropleth (rendered once per spec)."""
    m = Map(ident, level, indicator, title, year, unit, items, method)
    coloured = [it for it in items if it.value is not None]
    m.bounds = classify([it.value for it in coloured], method)  # type: ignore[misc]
    palette = PALETTES.get(len(m.bounds), PALETTES[4])
    for it in coloured:
        it.cls = class_of(it.value, m.bounds)  # type: ignore[arg-type]
    by_code = {it.code: it for it in items}
    noun = LEVEL_PLURAL[level]
    for i, _ in enumerate(m.bounds):
        members = [it.value for it in coloured if it.cls == i]
        if members:
            lo, hi = min(members), max(members)  # type: ignore[type-var]
            span = fmt_value(lo) if lo == hi else f"de {fmt_value(lo)} à {fmt_value(hi)}"
            m.legend.append(Legend(f"{span} ({len(members)} {noun if len(members) > 1 else noun[:-1]})", palette[i], len(members), str(i + 1)))
    n_secret = sum(1 for it in items if it.value is None and it.status in ("secret", "secret-secondaire", "s"))
    n_nd = len(features(level)) - len(coloured) - n_secret
    if n_secret:
        m.legend.append(Legend(f"secret statistique ({n_secret})", "hatch", n_secret, "s"))
    if n_nd:
        m.legend.append(Legend(f"pas de donnée ({n_nd})", "dots", n_nd, ""))

    # Shapes with their fill and words; label points with the class number
    feats, points = [], []
    for f in features(level):
        code, label = f["properties"]["code"], f["properties"]["label"]
        it = by_code.get(code)
        if it is not None and it.cls is not None:
            fill, mark = palette[it.cls], str(it.cls + 1) + ("*" if it.ns else "") + ("°" if it.partial else "")
            words = f"{it.text} {unit}, classe {it.cls + 1} sur {len(m.bounds)}" + (", non significatif" if it.ns else "") + (", chiffre partiel" if it.partial else "")
        elif it is not None and it.status in ("secret", "secret-secondaire", "s"):
            fill, mark, words = SECRET_FILL, "s", "secret statistique"
        else:
            fill, mark, words = NODATA_FILL, "", "pas de donnée"
        ink = "#ffffff" if fill.startswith("#") and fill not in (SECRET_FILL, NODATA_FILL) and _luminance(fill) < 0.18 else "#111111"
        feats.append({"type": "Feature", "geometry": f["geometry"], "properties": {"fill": fill, "desc": f"{label} [{code}] : {words}"}})
        if mark:
            points.append({"lon": f["properties"]["lon"], "lat": f["properties"]["lat"], "mark": mark, "ink": ink})
    m.svg = _render(m, feats, points)
    return m


def _render(m: Map, feats: list[dict[str, Any]], points: list[dict[str, Any]]) -> str:
    import altair as alt

    width, height = (440, 400) if m.level == "zone-emploi" else (400, 360)
    # Named datasets: Altair builds and validates the small spec, the geometry is added after
    # (validating thousands of coordinates through Altair's schema would cost seconds).
    shapes = alt.Chart(alt.NamedData(name="shapes")).mark_geoshape(stroke="#555555", strokeWidth=0.6).encode(
        fill=alt.Fill("properties.fill:N", scale=None), description=alt.Description("properties.desc:N")
    )
    labels = alt.Chart(alt.NamedData(name="points")).mark_text(fontSize=10, fontWeight="bold").encode(
        longitude="lon:Q", latitude="lat:Q", text="mark:N", color=alt.Color("ink:N", scale=None)
    )
    spec = alt.layer(shapes, labels).project(type="mercator").properties(width=width, height=height).to_dict()
    spec["datasets"] = {"shapes": feats, "points": points}
    spec["config"] = {"view": {"stroke": None}, "font": charts.FONT}
    svg = charts.render(spec)
    return _patterns(svg, m.ident)


def _patterns(svg: str, ident: str) -> str:
    defs = (
        f'<defs><pattern id="{ident}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#444444" stroke-width="2"/></pattern>'
        f'<pattern id="{ident}-dots" patternUnits="userSpaceOnUse" width="5" height="5">'
        f'<rect width="5" height="5" fill="#f2f2f2"/><circle cx="2.5" cy="2.5" r="0.8" fill="#777777"/></pattern></defs>'
    )
    end = svg.index(">") + 1
    svg = svg[:end] + defs + svg[end:]
    return svg.replace(f'fill="{SECRET_FILL}"', f'fill="url(#{ident}-hatch)"').replace(f'fill="{NODATA_FILL}"', f'fill="url(#{ident}-dots)"')


_SHAPE = re.compile(r'<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="geoshape"[^>]*/>')


def outline(svg: str, codes: tuple[str, ...] | list[str]) -> str:
    """The shared map with the shapes of ``codes`` drawn last with a thick black outline."""
    shapes = list(_SHAPE.finditer(svg))
    if not shapes or not codes:
        return svg
    want = {f"[{c}]" for c in codes}
    keep, top = [], []
    for s in shapes:
        (top if any(w in s.group(1) for w in want) else keep).append(s.group(0))
    if not top:
        return svg
    top = [
        re.sub(r' stroke-width="[^"]*"', "", re.sub(r' stroke="[^"]*"', "", t)).replace("/>", ' stroke="#000000" stroke-width="2.6" class="prst-outline"/>')
        for t in top
    ]
    a, b = shapes[0].start(), shapes[-1].end()
    return svg[:a] + "".join(keep + top) + svg[b:]


def swatch(entry: Legend, ident: str) -> str:
    """A small inline SVG swatch of a legend entry (with its own pattern)."""
    if entry.fill == "hatch":
        body = (f'<pattern id="{ident}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
                f'<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#444444" stroke-width="2"/></pattern>')  # fmt: skip
        fill = f"url(#{ident})"
    elif entry.fill == "dots":
        body = (f'<pattern id="{ident}" patternUnits="userSpaceOnUse" width="5" height="5"><rect width="5" height="5" fill="#f2f2f2"/>'
                f'<circle cx="2.5" cy="2.5" r="0.8" fill="#777777"/></pattern>')  # fmt: skip
        fill = f"url(#{ident})"
    else:
        body, fill = "", entry.fill
    return (f'<svg class="swatch" width="22" height="16" viewBox="0 0 22 16" aria-hidden="true" focusable="false">'
            f'<defs>{body}</defs><rect x="0.5" y="0.5" width="21" height="15" fill="{fill}" stroke="#555555"/></svg>')  # fmt: skip
