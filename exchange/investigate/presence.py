"""Where a person or a vehicle was, and who else was there: the events of given ID numbers or plates
(:func:`events_of`), and the events at the same places within a window of their times
(:func:`at_places`), through the caller's grant — what the relation graph's co-presence edges and the
companions tool (同行) are built on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row, read_rows
from exchange.investigate.persons import as_datetime
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of


@dataclass
class Seen:
    """One event of a subject: whom it stands for (a person_uid, or a plate), the row, its place and times."""

    uid: str
    row: Row
    place: str
    at: dt.datetime
    end: dt.datetime | None


def events_of(conn: Connection, lens: Lens, schema: EntitySchema, column: str, kind: str,
              owners: dict[str, str], since: dt.datetime | None, until: dt.datetime | None = None) -> list[Seen]:
    """The events of ``schema`` naming one of ``owners`` (ID number or plate → the subject it stands for),
    from ``since`` to ``until`` when given, for the caller. One text whatever the owners (an array
    parameter): callers that look up several tables do it under ``Dialect.generic_plans``."""
    ev = schema.event
    assert ev is not None
    if not owners or not lens.allows(schema.name) or not lens.discloses(schema.name, column):
        return []
    dialect = dialect_of(conn)
    where, params = dialect.one_of(f'"{column}"', "v"), {"v": dialect.values(sorted(owners))}
    if since is not None:
        where += f' AND "{ev.start}" >= :since'
        params["since"] = since
    if until is not None:
        where += f' AND "{ev.start}" <= :until'
        params["until"] = until
    out = []
    for row in read_rows(conn, lens, schema.name, where, params):
        at = as_datetime(row.raw.get(ev.start))
        if at is not None:
            out.append(Seen(owners[str(row.raw[column])], row, str(row.raw.get(ev.place)), at,
                             as_datetime(row.raw.get(ev.end)) if ev.end else None))
    return out


PLACES_PER_STATEMENT = 100


def at_places(conn: Connection, lens: Lens, schema: EntitySchema, seen: list[Seen], window: dt.timedelta
               ) -> list[Row]:
    """Rows of ``schema`` at the places of ``seen`` within ``window`` of their times, for the caller: one
    range per cluster of nearby times at a place, up to ``PLACES_PER_STATEMENT`` ranges a statement (the
    place-and-time index serves each range; PostgreSQL ORs their bitmaps)."""
    ev = schema.event
    assert ev is not None
    by_place: dict[str, list[dt.datetime]] = {}
    for s in seen:
        by_place.setdefault(s.place, []).append(s.at)
    ranges: list[tuple[str, dt.datetime, dt.datetime]] = []
    for place, times in by_place.items():
        times.sort()
        start = prev = times[0]
        for t in [*times[1:], None]:
            if t is not None and t - prev <= window * 4:
                prev = t
                continue
            ranges.append((place, start - window, prev + window))
            if t is not None:
                start = prev = t
    rows: list[Row] = []
    for i in range(0, len(ranges), PLACES_PER_STATEMENT):
        chunk = ranges[i:i + PLACES_PER_STATEMENT]
        where = " OR ".join(f'("{ev.place}" = :p{n} AND "{ev.start}" >= :a{n} AND "{ev.start}" <= :b{n})'
                            for n in range(len(chunk)))
        params = {k: v for n, (p, a, b) in enumerate(chunk) for k, v in ((f"p{n}", p), (f"a{n}", a), (f"b{n}", b))}
        rows += read_rows(conn, lens, schema.name, where, params)
    return rows
