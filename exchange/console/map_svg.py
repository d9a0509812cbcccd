"""The map drawn as inline SVG, on the server: the city's real county outlines (``schemas/reference/
boundaries``) coloured by the rate per 10,000 residents, and below the district the cases as points for a
grant that shows their coordinates. No tiles, no script, no CDN: it works on a closed network."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from exchange.console.pages import e

WIDTH = 640
PALETTE = ("#eef4fb", "#c6dbef", "#9ecae1", "#4292c6", "#08519c")
POINT_COLOURS = {"criminal": "#c0392b", "administrative": "#e67e22", "incident": "#2c7fb8"}
NO_DATA = "#f2f2f2"


class Projection:
    """Longitude/latitude → SVG x/y: equirectangular, shrunk by cos(latitude) at the middle of the view."""

    def __init__(self, bbox: tuple[float, float, float, float], width: int = WIDTH, pad: float = 0.04) -> None:
        minx, miny, maxx, maxy = bbox
        dx, dy = (maxx - minx) or 0.01, (maxy - miny) or 0.01
        self.minx, self.maxy = minx - dx * pad, maxy + dy * pad
        self.kx = math.cos(math.radians((miny + maxy) / 2))
        self.scale = width / ((dx * (1 + 2 * pad)) * self.kx)
        self.width, self.height = width, round(dy * (1 + 2 * pad) * self.scale)

    def __call__(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.minx) * self.kx * self.scale, (self.maxy - lat) * self.scale


def _path(area: Any, proj: Projection) -> str:
    parts = []
    for poly in area.polygons:
        for ring in poly:
            pts = [proj(x, y) for x, y in ring]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
    return "".join(parts)


def label_point(area: Any) -> tuple[float, float]:
    """The area-weighted centroid of the largest outer ring."""
    best, best_area = area.polygons[0][0], 0.0
    for poly in area.polygons:
        ring = poly[0]
        a = abs(_ring_area(ring))
        if a > best_area:
            best, best_area = ring, a
    a = _ring_area(best)
    if not a:
        return best[0]
    cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(best, best[1:] + best[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    return cx / (6 * a), cy / (6 * a)


def _ring_area(ring: list[tuple[float, float]]) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def classes(rates: list[float]) -> list[float]:
    """Upper bounds of up to five classes (quantiles of the shown rates)."""
    values = sorted(set(rates))
    if not values:
        return []
    n = min(len(PALETTE), len(values))
    return [values[min(len(values) - 1, math.ceil(len(values) * (i + 1) / n) - 1)] for i in range(n)]


def colour(rate: float | None, bounds: list[float]) -> str:
    if rate is None or not bounds:
        return NO_DATA
    for i, upper in enumerate(bounds):
        if rate <= upper:
            return PALETTE[i]
    return PALETTE[len(bounds) - 1]


def map_svg(city: Any, answer: dict[str, Any], drill: Callable[[str], str]) -> str:
    """The counties (all of them, or the one ``answer['inside']`` lies in), each coloured by its row of the
    answer (district level) and linking to its towns (``drill(code)``); the answer's points on top."""
    inside = answer.get("inside")
    focus = city.county(inside[:6]) if inside else None
    counties = list(city.counties)
    proj = Projection(focus.bbox() if focus else city.bbox())
    rows = {r["code"]: r for r in answer["areas"]} if answer["level"] == "district" else {}
    bounds = classes([r["rate"] for r in rows.values() if r["rate"] is not None])
    k = answer["min_count"]
    out = [f'<svg class="map" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {proj.width} {proj.height}" '
           f'role="img" aria-label="{e(answer["label"])}分布图">']
    for area in counties:
        row = rows.get(area.code)
        faint = focus is not None and area.code != focus.code
        fill = "#fafafa" if faint else colour(row["rate"] if row else None, bounds)
        count = "" if row is None else (f"<{k}" if row["count"] is None else f'{row["count"]:,}')
        tip = f"{area.name} {area.code}" + (f"：{count} 件" if row else "") + (
            f"，每万人 {row['rate']}" if row and row["rate"] is not None else "")
        shape = (f'<path d="{_path(area, proj)}" fill="{fill}" stroke="{"#bbb" if faint else "#555"}" '
                 f'stroke-width="{0.6 if faint else 1.2}" fill-rule="evenodd"><title>{e(tip)}</title></path>')
        out.append(f'<a href="{e(drill(area.code))}" class="county" data-code="{e(area.code)}">{shape}</a>'
                   if not faint else shape)
    for area in counties:
        if focus is not None and area.code != focus.code:
            continue
        x, y = proj(*label_point(area))
        row = rows.get(area.code)
        sub = "" if row is None else (f"<{k}" if row["count"] is None else f'{row["count"]:,}')
        out.append(f'<text class="name" x="{x:.0f}" y="{y:.0f}" text-anchor="middle">{e(area.name)}</text>')
        if sub:
            out.append(f'<text class="count" x="{x:.0f}" y="{y + 15:.0f}" text-anchor="middle">{e(sub)}</text>')
    for lon, lat, kind in answer.get("points") or ():
        x, y = proj(lon, lat)
        if 0 <= x <= proj.width and 0 <= y <= proj.height:
            out.append(f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="2.6" '
                       f'fill="{POINT_COLOURS.get(str(kind), "#555")}"/>')
    out.append("</svg>")
    return "".join(out)


def _swatch(fill: str) -> str:
    """A colour sample as SVG (the console's content security policy allows no inline style)."""
    return (f'<svg class="swatch" width="16" height="11" aria-hidden="true"><rect x=".5" y=".5" width="15" height="10" '
            f'fill="{fill}" stroke="#888"/></svg>')


def legend(answer: dict[str, Any], type_labels: dict[str, str]) -> str:
    """The colour classes (district level) or the point colours."""
    if answer.get("points"):
        items = "".join(f"<span>{_swatch(c)}{e(type_labels.get(t, t))}</span>" for t, c in POINT_COLOURS.items())
        return f'<div class="legend">{items}</div>'
    if answer["level"] != "district":
        return ""
    bounds = classes([r["rate"] for r in answer["areas"] if r["rate"] is not None])
    items = [f"<span>{_swatch(PALETTE[i])}≤ {upper:g}</span>" for i, upper in enumerate(bounds)]
    items.append(f'<span>{_swatch(NO_DATA)}无数据或不足 {answer["min_count"]}</span>')
    return f'<div class="legend">每万人：{"".join(items)}</div>'
