"""The city's county boundaries (``schemas/reference/boundaries/<city>.geojson``, made by
``scripts/gen_boundaries.py`` from the national map service's data — see that script for the source and
its licence): which city the exchange serves, and the outlines its map draws. Read once, checked."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from exchange.errors import ConfigError

FOLDER = Path("schemas") / "reference" / "boundaries"

Ring = list[tuple[float, float]]


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    polygons: tuple[tuple[Ring, ...], ...]
    """Each polygon: its outer ring, then its holes; (longitude, latitude)."""

    def contains(self, lon: float, lat: float) -> bool:
        return any(_inside(poly[0], lon, lat) and not any(_inside(h, lon, lat) for h in poly[1:])
                   for poly in self.polygons)

    def bbox(self) -> tuple[float, float, float, float]:
        xs = [x for poly in self.polygons for x, _ in poly[0]]
        ys = [y for poly in self.polygons for _, y in poly[0]]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass(frozen=True)
class CityMap:
    city: str
    """The 6-digit code of the city (610900)."""
    counties: tuple[Area, ...]
    source: dict[str, str]

    @property
    def prefix(self) -> str:
        return self.city[:4]

    def county(self, code: str) -> Area | None:
        return next((a for a in self.counties if a.code == code), None)

    def bbox(self) -> tuple[float, float, float, float]:
        boxes = [a.bbox() for a in self.counties]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                max(b[3] for b in boxes))


def _inside(ring: Ring, x: float, y: float) -> bool:
    """Even-odd rule."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


@functools.lru_cache(maxsize=4)
def city_map(root: Path) -> CityMap:
    """The one boundary file under ``schemas/reference/boundaries``."""
    files = sorted((root / FOLDER).glob("*.geojson"))
    if len(files) != 1:
        raise ConfigError(f"{FOLDER}: expected the boundaries of one city (<code>.geojson, made by "
                          f"scripts/gen_boundaries.py), found {len(files)}")
    path = files[0]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        counties = []
        for f in data["features"]:
            geom = f["geometry"]
            polys = geom["coordinates"] if geom["type"] == "MultiPolygon" else [geom["coordinates"]]
            counties.append(Area(str(f["properties"]["code"]), str(f["properties"]["name"]),
                                 tuple(tuple([(float(x), float(y)) for x, y, *_ in ring] for ring in poly)
                                       for poly in polys)))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{FOLDER / path.name}: not a boundary file ({exc.__class__.__name__}: {exc})") from None
    city = path.stem
    wrong = [a.code for a in counties if not a.code.startswith(city[:4])]
    if len(city) != 6 or not city.isdigit() or wrong or not counties:
        raise ConfigError(f"{FOLDER / path.name}: the file is named after its city (6 digits) and holds only "
                          f"its counties" + (f"; not of {city}: {', '.join(wrong)}" if wrong else ""))
    return CityMap(city, tuple(counties), dict(data.get("source") or {}))
