"""Multi-point collision (多点碰撞): who was at at least ``K`` of ``N`` places, each in its own time window.

A **point** is a place and a window: a place code (a hotel, an internet café, a checkpoint, a compound —
the ``event.place`` of every event schema), a division code at any of the five levels (4 digits a
city, 6 a district or county, 9 a town or street, 12 a community or village: every event whose
division starts with it), or coordinates with a radius (``near``). For each point the events of every
event table the caller's grant allows are read through the grant (its jurisdiction, its columns),
and tied to **subjects**: a person through the ID number the event carries (the master person
index), a vehicle through its plate — and the vehicle's registered owner through the register, the
owner's event marked ``via`` the plate. A subject present at ``min_points`` points or more is an
answer, with the events that put it there.

Only columns the grant discloses tie events to subjects: an ID number shown in full or in part (a record
so tied is a person's, as in the profile), a plate only in full — a grant that masks plates cannot collide
vehicles, nor tie a pass to the car's owner. Bounded: at most :data:`MAX_POINTS` points, a window of at most
:data:`MAX_WINDOW`, :data:`MAX_EVENTS_PER_POINT` events read per point (the answer says when a point
was cut), :data:`MAX_SUBJECTS` subjects and :data:`MAX_EVIDENCE` events per subject and point shown.
Deterministic: subjects by the number of points (most first), then kind and key.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row, read_rows
from exchange.errors import ConfigError
from exchange.investigate.persons import as_datetime, plate_owners, subjects
from exchange.investigate.search import id_holders
from exchange.spec.schema import EntitySchema

MAX_POINTS = 10
MAX_WINDOW = dt.timedelta(days=31)
MAX_RADIUS_M = 5000.0
MAX_EVENTS_PER_POINT = 20_000
MAX_SUBJECTS = 200
MAX_EVIDENCE = 3
DIVISION_RE = re.compile(r"^(\d{4}|\d{6}|\d{9}|\d{12})$")
LEVELS = {4: "city", 6: "district", 9: "town", 12: "community"}
EARTH_M = 6_371_000.0


@dataclass(frozen=True)
class Point:
    """One place and time window of a collision; exactly one of ``place``, ``division``, ``near``."""

    start: dt.datetime
    end: dt.datetime
    place: str | None = None
    division: str | None = None
    near: tuple[float, float, float] | None = None
    """(longitude, latitude, radius in metres)."""
    label: str = ""

    @classmethod
    def of(cls, data: dict[str, Any], label: str) -> Point:
        """A point from its mapping form (the API's JSON, a YAML file): ``place``, ``division`` or
        ``near: {longitude, latitude, radius_m}``, with ``start`` and ``end``; every problem named."""
        where = f"point {label}"
        unknown = set(data) - {"place", "division", "near", "start", "end", "label"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; a point has place, division "
                              f"or near, and start and end")
        near = data.get("near")
        if near is not None:
            if not isinstance(near, dict) or not {"longitude", "latitude", "radius_m"} <= set(near):
                raise ConfigError(f"{where}: near needs longitude, latitude and radius_m")
            try:
                near = (float(near["longitude"]), float(near["latitude"]), float(near["radius_m"]))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: near: longitude, latitude and radius_m must be numbers") from exc
        point = cls(start=_when(data.get("start"), where, "start"), end=_when(data.get("end"), where, "end"),
                    place=_text(data.get("place")), division=_text(data.get("division")), near=near,
                    label=str(data.get("label") or label))
        point.check()
        return point

    @classmethod
    def parse(cls, text: str, label: str) -> Point:
        """The command line's form: ``place=KK42@2026-10-10T08:00/2026-10-10T09:00``,
        ``division=610902001@…/…`` or ``near=109.03,32.68,500@…/…`` (radius in metres)."""
        m = re.fullmatch(r"\s*(place|division|near)=([^@]+)@([^/]+)/(.+?)\s*", text)
        if m is None:
            raise ConfigError(f"point {label}: {text!r} is not KIND=VALUE@START/END (KIND place, division or near), "
                              f"e.g. place=KK42@2026-10-10T08:00/2026-10-10T09:00")
        kind, value, start, end = m.groups()
        data: dict[str, Any] = {"start": start, "end": end}
        if kind == "near":
            parts = value.split(",")
            if len(parts) != 3:
                raise ConfigError(f"point {label}: near=LONGITUDE,LATITUDE,RADIUS_M, e.g. near=109.03,32.68,500")
            data["near"] = dict(zip(("longitude", "latitude", "radius_m"), parts, strict=True))
        else:
            data[kind] = value
        return cls.of(data, label)

    def check(self) -> None:
        where = f"point {self.label}"
        given = [k for k in ("place", "division", "near") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigError(f"{where}: give exactly one of place, division or near "
                              f"(got {', '.join(given) or 'none'})")
        if self.end <= self.start:
            raise ConfigError(f"{where}: end {self.end} is not after start {self.start}")
        if self.end - self.start > MAX_WINDOW:
            raise ConfigError(f"{where}: a window of at most {MAX_WINDOW.days} days (got {self.end - self.start})")
        if self.division is not None and not DIVISION_RE.match(self.division):
            raise ConfigError(f"{where}: division {self.division!r} is not a division code of 4, 6, 9 or 12 digits "
                              f"(city, district, town, community); a compound is a place (place=XQ…)")
        if self.near is not None:
            lon, lat, radius = self.near
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ConfigError(f"{where}: near: longitude {lon} / latitude {lat} out of range")
            if not 0 < radius <= MAX_RADIUS_M:
                raise ConfigError(f"{where}: near: radius_m must be above 0 and at most {MAX_RADIUS_M:.0f}")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"label": self.label, "start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.place is not None:
            out["place"] = self.place
        if self.division is not None:
            out["division"] = self.division
            out["level"] = LEVELS[len(self.division)]
        if self.near is not None:
            out["near"] = {"longitude": self.near[0], "latitude": self.near[1], "radius_m": self.near[2]}
        return out

    def where(self, schema: EntitySchema) -> tuple[str, dict[str, Any]] | None:
        """SQL over the event table of ``schema`` selecting this point's events (None: it has none)."""
        ev = schema.event
        assert ev is not None
        params: dict[str, Any] = {"t0": self.start, "t1": self.end}
        when = f'"{ev.start}" >= :t0 AND "{ev.start}" <= :t1'
        if self.place is not None:
            params["place"] = self.place
            return f'"{ev.place}" = :place AND {when}', params
        if self.division is not None:  # a range over the code's prefix: the (division, time) index serves it
            params["lo"], params["hi"] = self.division, self.division[:-1] + chr(ord(self.division[-1]) + 1)
            return f'"{ev.division}" >= :lo AND "{ev.division}" < :hi AND {when}', params
        assert self.near is not None
        if not (ev.longitude and ev.latitude and ev.longitude in schema.fields and ev.latitude in schema.fields):
            return None
        lon, lat, radius = self.near
        dlat = math.degrees(radius / EARTH_M)
        dlon = dlat / max(math.cos(math.radians(lat)), 1e-6)
        params.update(x0=lon - dlon, x1=lon + dlon, y0=lat - dlat, y1=lat + dlat)
        return (f'"{ev.longitude}" >= :x0 AND "{ev.longitude}" <= :x1 AND "{ev.latitude}" >= :y0 '
                f'AND "{ev.latitude}" <= :y1 AND {when}'), params

    def holds(self, schema: EntitySchema, row: Row) -> bool:
        """Whether a row the SQL selected is within the point (the circle of ``near``, not its box)."""
        if self.near is None:
            return True
        ev = schema.event
        assert ev is not None and ev.longitude and ev.latitude
        try:
            lon, lat = float(row.raw[ev.longitude]), float(row.raw[ev.latitude])
        except (TypeError, ValueError, KeyError):
            return False
        return _metres(self.near[0], self.near[1], lon, lat) <= self.near[2]


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(a))


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


def _when(value: Any, where: str, name: str) -> dt.datetime:
    """A window's end as the events are stored: a local time without an offset."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ConfigError(f"{where}: {name} {value.isoformat()}: give the local time without an offset, as the "
                              f"agencies record their events (e.g. 2026-10-10T08:00)")
        return value
    if value is None:
        raise ConfigError(f"{where}: {name} is required (e.g. 2026-10-10T08:00)")
    try:
        return _when(dt.datetime.fromisoformat(str(value).strip()), where, name)
    except ValueError as exc:
        raise ConfigError(f"{where}: {name} {value!r} is not a date and time like 2026-10-10T08:00") from exc


def points_of(raw: list[Any]) -> list[Point]:
    """Points from the API's or a file's list (each a mapping, or the command line's text form)."""
    if not isinstance(raw, list) or not raw:
        raise ConfigError("points: give a list of at least two points")
    points = [Point.parse(p, f"P{i}") if isinstance(p, str) else Point.of(p, f"P{i}") if isinstance(p, dict)
              else _bad_point(p, i) for i, p in enumerate(raw, start=1)]
    check_points(points, None)
    return points


def _bad_point(value: Any, i: int) -> Point:
    raise ConfigError(f"point P{i}: a mapping (place/division/near, start, end) or KIND=VALUE@START/END, "
                      f"not {type(value).__name__}")


def check_points(points: list[Point], min_points: int | None) -> None:
    if not 2 <= len(points) <= MAX_POINTS:
        raise ConfigError(f"a collision takes 2 to {MAX_POINTS} points (got {len(points)})")
    labels = [p.label for p in points]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"point labels must differ (got {', '.join(labels)})")
    if min_points is not None and not 2 <= min_points <= len(points):
        raise ConfigError(f"min_points must be between 2 and the number of points, {len(points)} (got {min_points})")


@dataclass
class _Found:
    kind: str
    key: str
    shown: Any
    points: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    owner: str | None = None

    def add(self, point: str, evidence: dict[str, Any]) -> None:
        self.points.setdefault(point, []).append(evidence)


def _evidence(schema: EntitySchema, row: Row, point: str, at: dt.datetime, via: str | None) -> dict[str, Any]:
    ev = schema.event
    assert ev is not None
    out = {"point": point, **row.provenance, "label": ev.label, "at": at.isoformat(sep=" "),
           "place": row.shown.get(ev.place), "place_name": row.shown.get(ev.place_name) if ev.place_name else None,
           "division": row.shown.get(ev.division)}
    if via:
        out["via"] = via
    return out


def collide(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], points: list[Point],
            min_points: int) -> dict[str, Any]:
    """The subjects present at ``min_points`` of ``points`` or more, through the caller's grant."""
    check_points(points, min_points)
    found: dict[tuple[str, str], _Found] = {}
    point_info = []
    events = [s for _n, s in sorted(schemas.items()) if s.event is not None and lens.allows(s.name)]
    for point in points:
        read = 0
        cut = False
        for schema in events:
            columns = {c: k for c, k in schema.search_fields("id", "plate").items() if _ties(lens, schema.name, c, k)}
            selected = point.where(schema)
            if not columns or selected is None:
                continue
            where, params = selected
            assert schema.event is not None
            rows = read_rows(conn, lens, schema.name, where, params, limit=MAX_EVENTS_PER_POINT + 1,
                             order=f'"{schema.event.start}"')
            if len(rows) > MAX_EVENTS_PER_POINT:
                rows, cut = rows[:MAX_EVENTS_PER_POINT], True
            rows = [r for r in rows if point.holds(schema, r)]
            read += len(rows)
            _tie(conn, lens, schema, columns, rows, point.label, found)
        point_info.append({**point.as_dict(), "events": read, "truncated": cut})
    hits = [f for f in found.values() if len(f.points) >= min_points]
    hits.sort(key=lambda f: (-len(f.points), f.kind, f.key))
    labels = {p.label: i for i, p in enumerate(points)}
    people = subjects(conn, lens, [f.key for f in hits[:MAX_SUBJECTS] if f.kind == "person"])
    out = []
    for f in hits[:MAX_SUBJECTS]:
        entry: dict[str, Any] = {"kind": f.kind, "points": sorted(f.points, key=labels.__getitem__),
                                 "count": len(f.points)}
        if f.kind == "person":
            entry["person_uid"] = f.key
            entry["label"] = people[f.key].label if f.key in people else None
        else:
            entry["plate"], entry["owner"] = f.shown, f.owner
        entry["events"] = [e for label in entry["points"] for e in f.points[label][:MAX_EVIDENCE]]
        out.append(entry)
    return {"points": point_info, "min_points": min_points, "subjects": out, "total": len(hits),
            "truncated": any(p["truncated"] for p in point_info) or len(hits) > MAX_SUBJECTS}


def _ties(lens: Lens, entity: str, column: str, kind: str) -> bool:
    """Whether the caller may tie events by ``column``: an ID number it sees (in full or in part: a record
    so tied is a person's, as in the profile), a plate only in full (two masked plates are not to be told
    apart, nor tied to an owner)."""
    return lens.discloses(entity, column) if kind == "id" else lens.searchable(entity, column)


def _tie(conn: Connection, lens: Lens, schema: EntitySchema, columns: dict[str, str], rows: list[Row], point: str,
         found: dict[tuple[str, str], _Found]) -> None:
    """Tie the events of one point to persons (ID numbers) and vehicles (plates, and their owners)."""
    ev = schema.event
    assert ev is not None
    for column, kind in columns.items():
        values = {str(r.raw[column]) for r in rows if r.raw.get(column)}
        if not values:
            continue
        owners = id_holders(conn, values) if kind == "id" else plate_owners(conn, lens, values)
        for r in rows:
            value, at = r.raw.get(column), as_datetime(r.raw.get(ev.start))
            if not value or at is None:
                continue
            value = str(value)
            uid = owners.get(value)
            if kind == "plate":
                shown = r.shown.get(column)
                vehicle = found.setdefault(("vehicle", value), _Found("vehicle", value, shown, owner=uid))
                vehicle.add(point, _evidence(schema, r, point, at, None))
                if uid is not None:
                    person = found.setdefault(("person", uid), _Found("person", uid, None))
                    person.add(point, _evidence(schema, r, point, at, f"plate {shown}"))
            elif uid is not None:
                person = found.setdefault(("person", uid), _Found("person", uid, None))
                person.add(point, _evidence(schema, r, point, at, None))
