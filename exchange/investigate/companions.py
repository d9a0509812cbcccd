"""Companions (同行): who travels with a person or a vehicle — seen at the same place within ``minutes``
of it, at least ``min_times`` times at ``min_places`` distinct places or more, in a window.

The subject's own events in the window (a person: the events carrying its ID numbers, and the passes of
the vehicles registered to it; a vehicle: its passes) are read through the caller's grant; for each,
the events at the same place within ``minutes`` (:func:`exchange.investigate.presence.at_places`); each
of those tied to a companion — a person through its ID number, a vehicle through its plate (in full
only, as for the collision) — and counted once per occasion (place and minute). Sorted by occasions,
then places, then key; each companion with the pairs of events that make it (its evidence).

Bounded: a window of at most :data:`MAX_WINDOW`; at most :data:`MAX_OWN_EVENTS` of the subject's events
(the newest; the answer says when it was cut), :data:`MAX_COMPANIONS` companions and
:data:`MAX_EVIDENCE` pairs each.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row
from exchange.errors import ConfigError
from exchange.investigate.persons import Subject, as_datetime, plate_owners, subjects
from exchange.investigate.presence import Seen, at_places, events_of
from exchange.investigate.search import id_holders
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of

MAX_WINDOW = dt.timedelta(days=31)
MAX_OWN_EVENTS = 2000
MAX_COMPANIONS = 100
MAX_EVIDENCE = 5
MAX_MINUTES = 120


@dataclass(frozen=True)
class Terms:
    start: dt.datetime
    end: dt.datetime
    minutes: int = 5
    min_times: int = 2
    min_places: int = 2

    def check(self) -> None:
        if self.end <= self.start:
            raise ConfigError(f"the window's end {self.end} is not after its start {self.start}")
        if self.end - self.start > MAX_WINDOW:
            raise ConfigError(f"a window of at most {MAX_WINDOW.days} days (got {self.end - self.start})")
        if not 1 <= self.minutes <= MAX_MINUTES:
            raise ConfigError(f"minutes: between 1 and {MAX_MINUTES} (got {self.minutes})")
        if self.min_times < 1 or self.min_places < 1 or self.min_places > self.min_times:
            raise ConfigError(f"min_times ({self.min_times}) and min_places ({self.min_places}) must be at least 1, "
                              f"and min_places at most min_times")


@dataclass
class _Companion:
    kind: str
    key: str
    shown: Any
    owner: str | None = None
    pairs: list[tuple[Seen, Row]] = field(default_factory=list)
    occasions: set[tuple[str, str, dt.datetime]] = field(default_factory=set)

    @property
    def places(self) -> set[tuple[str, str]]:
        return {(entity, place) for entity, place, _ in self.occasions}


def _own_events(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], ids: set[str], plates: set[str],
                terms: Terms) -> list[Seen]:
    mine: list[Seen] = []
    with dialect_of(conn).generic_plans(conn):  # lookups of one text each: planned once per connection
        for schema in schemas.values():
            if schema.event is None:
                continue
            for column, kind in schema.search_fields("id", "plate").items():
                owners = {n: "subject" for n in (ids if kind == "id" else plates)}
                if kind == "plate" and not lens.searchable(schema.name, column):
                    continue
                mine += events_of(conn, lens, schema, column, kind, owners, terms.start, terms.end)
    return mine


def companions(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], subject: Subject | None,
               plate: str | None, terms: Terms) -> dict[str, Any]:
    """The companions of ``subject`` (a person as the caller sees it) or of the vehicle ``plate``."""
    terms.check()
    ids = set(subject.ids) if subject is not None else set()
    plates = set(subject.plates) if subject is not None else {plate} if plate else set()
    mine = _own_events(conn, lens, schemas, ids, plates, terms)
    mine.sort(key=lambda s: (s.at, s.row.key), reverse=True)
    cut = len(mine) > MAX_OWN_EVENTS
    mine = mine[:MAX_OWN_EVENTS]
    window = dt.timedelta(minutes=terms.minutes)
    own_keys = {s.row.key for s in mine}
    found: dict[tuple[str, str], _Companion] = {}
    for name, schema in sorted(schemas.items()):
        ev = schema.event
        seen = [s for s in mine if s.row.entity == name]
        if ev is None or not seen:
            continue
        others = [r for r in at_places(conn, lens, schema, seen, window) if r.key not in own_keys]
        by_place: dict[str, list[Row]] = {}
        for r in others:
            by_place.setdefault(str(r.raw.get(ev.place)), []).append(r)
        for column, kind in schema.search_fields("id", "plate").items():
            if not (lens.discloses(name, column) if kind == "id" else lens.searchable(name, column)):
                continue
            values = {str(r.raw[column]) for r in others if r.raw.get(column)}
            holders = id_holders(conn, values) if kind == "id" else plate_owners(conn, lens, values)
            for s in seen:
                for r in by_place.get(s.place, []):
                    value, at = r.raw.get(column), as_datetime(r.raw.get(ev.start))
                    if not value or at is None or abs(at - s.at) > window:
                        continue
                    value = str(value)
                    uid = holders.get(value)
                    targets = []
                    if kind == "plate" and value not in plates:
                        targets.append(found.setdefault(("vehicle", value), _Companion(
                            "vehicle", value, r.shown.get(column), owner=uid)))
                    if uid is not None and (subject is None or uid != subject.person_uid):
                        targets.append(found.setdefault(("person", uid), _Companion("person", uid, None)))
                    for c in targets:
                        c.pairs.append((s, r))
                        c.occasions.add((name, s.place, s.at.replace(second=0, microsecond=0)))
    kept = [c for c in found.values() if len(c.occasions) >= terms.min_times and len(c.places) >= terms.min_places]
    kept.sort(key=lambda c: (-len(c.occasions), -len(c.places), c.kind, c.key))
    people = subjects(conn, lens, [c.key for c in kept[:MAX_COMPANIONS] if c.kind == "person"])
    out = []
    for c in kept[:MAX_COMPANIONS]:
        entry: dict[str, Any] = {"kind": c.kind, "times": len(c.occasions), "places": len(c.places)}
        if c.kind == "person":
            entry.update(person_uid=c.key, label=people[c.key].label if c.key in people else None)
        else:
            entry.update(plate=c.shown, owner=c.owner)
        entry["evidence"] = [_pair(schemas[s.row.entity], s, r) for s, r in
                             sorted(c.pairs, key=lambda p: (p[0].at, p[1].key))[:MAX_EVIDENCE]]
        out.append(entry)
    return {"subject": subject.person_uid if subject is not None else None, "plate": plate if subject is None else None,
            "window": {"start": terms.start.isoformat(), "end": terms.end.isoformat()},
            "terms": {"minutes": terms.minutes, "min_times": terms.min_times, "min_places": terms.min_places},
            "own_events": len(mine), "truncated": cut or len(kept) > MAX_COMPANIONS, "total": len(kept),
            "companions": out}


def _pair(schema: EntitySchema, s: Seen, r: Row) -> dict[str, Any]:
    ev = schema.event
    assert ev is not None
    return {"label": ev.label, "place": s.row.shown.get(ev.place),
            "place_name": s.row.shown.get(ev.place_name) if ev.place_name else None,
            "subject": {**s.row.provenance, "at": s.at.isoformat(sep=" ")},
            "companion": {**r.provenance, "at": str(as_datetime(r.raw.get(ev.start)))}}
