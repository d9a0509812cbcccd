"""A person as the investigation tools see them through a grant: the records the caller may tie to the
person, the ID numbers and plates those records give, and the person's events and timeline.

A record ties to the person only when the caller may read its row and its grant discloses the
record's ID column (in full or partially), exactly as in the profile. Events are tied to persons
through the master person index — by the ID number they carry, or by the plate through the vehicle
register — and each event is shown only when the caller may read its row and sees the column that
names the person (or the register row that names the owner).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from exchange.access.lens import Lens, Row, per_agency, plain, read_rows, rows_by_key
from exchange.errors import ConfigError
from exchange.linking.records import PERSON_SOURCES, RecordSource
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of

SOURCES: dict[tuple[str, str], RecordSource] = {(s.entity, s.role): s for s in PERSON_SOURCES}
MAX_EVENTS = 2000


@dataclass
class Linked:
    """One record of the person the caller may see, with the role the person has in it."""

    row: Row
    role: str
    source: RecordSource

    def value(self, attribute: str) -> Any:
        column = self.source.columns.get(attribute)
        return self.row.raw.get(column) if column else None


@dataclass
class Subject:
    person_uid: str
    status: str
    followed: list[str]
    records: list[Linked] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    """ID numbers the index holds for the person (server side: never sent out by themselves)."""
    plates: dict[str, Linked] = field(default_factory=dict)
    """plate → the register record (visible, owner disclosed) that ties it to the person."""

    @property
    def label(self) -> Any:
        for linked in self.records:
            name = linked.row.show(linked.source.columns.get("name", ""))
            if name:
                return name
        return None


def resolve(conn: Connection, ident: str) -> tuple[str, str, list[str]] | None:
    """(active person_uid, status, uids followed) for a person_uid or an ID number; None if unknown.

    An ID number names the active person whose golden ID it is (as the profile resolves it), else the one
    person its records are linked to. When the index holds it for several persons (a split awaiting
    review), the question is ambiguous: refused, asking for the person_uid (their uids are not named)."""
    ident = ident.strip().upper()
    if ident.startswith("MP"):
        uid = ident
    else:
        uids = [r[0] for r in conn.execute(text("SELECT person_uid FROM mdm.person WHERE id_number = :n "
                                                "AND status = 'active'"), {"n": ident})]
        if not uids:
            linked = {r[0] for r in conn.execute(text("SELECT person_uid FROM mdm.person_link WHERE id_number = :n"),
                                                 {"n": ident})}
            uids = sorted(set(active_uids(conn, linked).values()))
        if not uids:
            return None
        if len(uids) > 1:
            raise ConfigError(f"the ID number is held by {len(uids)} persons in the person index (a split awaiting "
                              f"review): ask by person_uid")
        uid = uids[0]
    followed: list[str] = []
    for _ in range(20):
        row = conn.execute(text("SELECT status, merged_into FROM mdm.person WHERE person_uid = :u"), {"u": uid}).first()
        if row is None:
            return None
        status, merged_into = row
        if status != "merged" or not merged_into:
            return uid, status, followed
        followed.append(uid)
        uid = merged_into
    return None


LINK_COLUMNS = "source_agency, entity, source_record_id, role, id_number, person_uid"


def links_of(conn: Connection, uids: Iterable[str]) -> list[tuple[str, str, str, str, str | None, str]]:
    """(agency, entity, record, role, id_number, person_uid) of every record the index links to ``uids``."""
    wanted = sorted(set(uids))
    if not wanted:
        return []
    dialect = dialect_of(conn)
    sql = f"SELECT {LINK_COLUMNS} FROM mdm.person_link WHERE {dialect.one_of('person_uid', 'u')}"
    return dialect.select_rows(conn, sql, {"u": dialect.values(wanted)})


def links_of_records(conn: Connection, entity: str, keys: Iterable[tuple[str, str]]
                     ) -> list[tuple[str, str, str, str, str | None, str]]:
    """The same, of the records ``keys`` (agency, record) of ``entity``: who each is linked to (one statement)."""
    sql, params = per_agency(conn, f"SELECT {LINK_COLUMNS} FROM mdm.person_link WHERE entity = :e AND", keys)
    return dialect_of(conn).select_rows(conn, sql, {**params, "e": entity}) if sql else []


def tied_records(conn: Connection, lens: Lens, links: Iterable[tuple[str, str, str, str, Any, str]]
                 ) -> dict[str, list[Linked]]:
    """person_uid → the linked records the caller may read *and* tie to a person (ID column disclosed)."""
    by_entity: dict[str, list[tuple[str, str, str, str]]] = {}
    for agency, entity, record, role, _id, uid in links:
        source = SOURCES.get((entity, role))
        if source is None or "id_number" not in source.columns:
            continue
        if not lens.discloses(entity, source.columns["id_number"]):
            continue
        by_entity.setdefault(entity, []).append((agency, record, role, uid))
    out: dict[str, list[Linked]] = {}
    for entity, items in by_entity.items():
        rows = rows_by_key(conn, lens, entity, {(a, r) for a, r, _role, _uid in items})
        for agency, record, role, uid in items:
            row = rows.get((agency, record))
            if row is not None:
                out.setdefault(uid, []).append(Linked(row, role, SOURCES[(entity, role)]))
    return out


def subjects(conn: Connection, lens: Lens, uids: Iterable[str]) -> dict[str, Subject]:
    """The persons ``uids`` (active ones) as the caller may see them: those no visible record ties to are
    left out."""
    links = links_of(conn, uids)
    out = {}
    for uid, records in tied_records(conn, lens, links).items():
        s = Subject(uid, "active", [], records)
        s.ids = {str(link[4]) for link in links if link[5] == uid and link[4]}
        s.plates = {str(r.row.raw["plate"]): r for r in records if r.row.entity == "vehicle" and r.row.raw.get("plate")}
        out[uid] = s
    return out


def subject(conn: Connection, lens: Lens, ident: str) -> Subject | None:
    """The person behind ``ident`` as the caller may see them; None when unknown or when no record the
    caller may read names them (answered like "not found": no oracle)."""
    found = resolve(conn, ident)
    if found is None:
        return None
    uid, status, followed = found
    s = subjects(conn, lens, [uid]).get(uid)
    if s is not None:
        s.status, s.followed = status, followed
    return s


def records_where(conn: Connection, lens: Lens, entity: str, column: str,
                  values: Iterable[str]) -> dict[str, list[Linked]]:
    """person_uid → records of ``entity`` whose ``column`` is one of ``values``, tied for the caller."""
    wanted = sorted(set(values))
    if not wanted or not lens.allows(entity):
        return {}
    dialect, quoted = dialect_of(conn), f'c."{column}"'
    sql = (f'SELECT l.source_agency, l.entity, l.source_record_id, l.role, l.id_number, l.person_uid '
           f'FROM core."{entity}" AS c JOIN mdm.person_link AS l ON l.source_agency = c.source_agency '
           f'AND l.entity = :e AND l.source_record_id = c.source_record_id WHERE {dialect.one_of(quoted, "v")}')
    links = dialect.select_rows(conn, sql, {"e": entity, "v": dialect.values(wanted)})
    return tied_records(conn, lens, links)  # type: ignore[arg-type]


def active_uids(conn: Connection, uids: set[str]) -> dict[str, str]:
    """person_uid → the uid it is now (a merged person's survivor; itself otherwise)."""
    if not uids:
        return {}
    dialect = dialect_of(conn)
    sql = ("SELECT person_uid, COALESCE(merged_into, person_uid) FROM mdm.person "
           f"WHERE {dialect.one_of('person_uid', 'u')}")
    return dict(dialect.select_rows(conn, sql, {"u": dialect.values(sorted(uids))}))


def plate_owners(conn: Connection, lens: Lens, plates: Iterable[str]) -> dict[str, str]:
    """plate → the active person_uid of its registered owner, where the caller may read the register row
    and tie it to its owner (the owner's ID number disclosed)."""
    owners: dict[str, str] = {}
    for uid, records in records_where(conn, lens, "vehicle", "plate", plates).items():
        for linked in records:
            owners[str(linked.row.raw["plate"])] = uid
    current = active_uids(conn, set(owners.values()))
    return {plate: current.get(uid, uid) for plate, uid in owners.items()}


# -- events --------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    at: Any
    end: Any
    kind: str
    label: str
    row: Row
    place: dict[str, Any]
    detail: dict[str, Any]
    via: str | None = None
    """How the entry is tied to the person: the column (an ID number) or the register (a plate)."""

    def as_dict(self) -> dict[str, Any]:
        return {"at": plain(self.at), "end": plain(self.end), "kind": self.kind, "label": self.label,
                **self.row.provenance, "place": self.place, "detail": self.detail, "via": self.via}


def as_datetime(value: Any) -> dt.datetime | None:
    """A stored date or time as a datetime (SQLite hands both over as text)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def event_entry(schema: EntitySchema, row: Row, via: str | None) -> Entry:
    ev = schema.event
    assert ev is not None
    shown = row.shown
    place = {"code": shown.get(ev.place), "name": shown.get(ev.place_name) if ev.place_name else None,
             "division": shown.get(ev.division)}
    if ev.longitude and ev.latitude:
        place["lon"], place["lat"] = shown.get(ev.longitude), shown.get(ev.latitude)
    detail = {d: shown.get(d) for d in ev.detail if d in shown}
    return Entry(row.raw.get(ev.start), row.raw.get(ev.end) if ev.end else None, schema.name, ev.label, row, place,
                 detail, via)


def _window(column: str, start: dt.datetime | None, end: dt.datetime | None) -> tuple[str, dict[str, Any]]:
    where, params = [], {}
    if start is not None:
        where.append(f'"{column}" >= :w0')
        params["w0"] = start
    if end is not None:
        where.append(f'"{column}" < :w1')
        params["w1"] = end
    return (" AND " + " AND ".join(where)) if where else "", params


def events_of(conn: Connection, lens: Lens, schemas: Iterable[EntitySchema], who: Subject,
              start: dt.datetime | None = None, end: dt.datetime | None = None,
              limit: int = MAX_EVENTS) -> list[Entry]:
    """The person's events in the window, newest first, through the grant: a statement per table and column,
    its text the same whatever the values and window, planned once per connection (``generic_plans``)."""
    out: list[Entry] = []
    dialect = dialect_of(conn)
    lookups = [(schema, schema.event, column, kind, sorted(who.ids) if kind == "id" else sorted(who.plates))
               for schema in schemas if schema.event is not None and lens.allows(schema.name)
               for column, kind in schema.search_fields("id", "plate").items()
               if (who.ids if kind == "id" else who.plates) and lens.discloses(schema.name, column)]
    if not lookups:
        return out
    with dialect.generic_plans(conn):
        for schema, ev, column, kind, values in lookups:
            extra, params = _window(ev.start, start, end)
            rows = read_rows(conn, lens, schema.name, dialect.one_of(f'"{column}"', "v") + extra,
                             {"v": dialect.values(values), **params}, order=f'"{ev.start}" DESC', limit=limit)
            for row in rows:
                via = column if kind == "id" else f"vehicle:{who.plates[str(row.raw[column])].row.key[1]}"
                out.append(event_entry(schema, row, via))
    out.sort(key=lambda e: str(e.at), reverse=True)
    return out[:limit]


def timeline(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], who: Subject,
             start: dt.datetime | None = None, end: dt.datetime | None = None,
             limit: int = MAX_EVENTS) -> list[dict[str, Any]]:
    """Every event and dated record of the person in time order (oldest first), through the grant."""
    entries = [e.as_dict() for e in events_of(conn, lens, schemas.values(), who, start, end, limit)]
    for linked in who.records:
        entity = linked.row.entity
        when_field = schemas[entity].when if entity in schemas else None
        at: Any = linked.row.raw.get(when_field) if when_field else None
        extra: dict[str, Any] = {}
        if entity == "case_party":  # a party is placed at its case's time, when the caller may read the case
            case = _case_of(conn, lens, schemas, linked)
            if case is not None:
                at = case.raw.get(schemas["case"].when or "")
                extra = {k: case.shown.get(k) for k in ("case_type", "title", "division_code") if k in case.shown}
        if at is None:
            continue
        stamp = as_datetime(at)
        if stamp is None or (start is not None and stamp < start) or (end is not None and stamp >= end):
            continue
        detail = {k: v for k, v in linked.row.shown.items() if k not in ("source_record_id",)}
        label = schemas[entity].label if entity in schemas else None
        entries.append({"at": plain(at), "end": None, "kind": entity, "label": label or entity,
                        **linked.row.provenance, "role": linked.role,
                        "place": {"division": linked.row.shown.get("division_code") or extra.get("division_code")},
                        "detail": {**detail, **extra}, "via": linked.source.columns.get("id_number")})
    entries.sort(key=lambda e: str(e["at"]))
    return entries[-limit:]


def _case_of(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], linked: Linked) -> Row | None:
    number = linked.row.raw.get("case_number")
    if number is None or "case" not in schemas:
        return None
    rows = read_rows(conn, lens, "case", "source_agency = :a AND case_number = :n",
                     {"a": linked.row.key[0], "n": number}, limit=1)
    return rows[0] if rows else None
