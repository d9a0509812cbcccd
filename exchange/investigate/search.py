"""Element joint search (要素联查): one text, every entity and event table the caller's grant allows.

The text becomes probes (:mod:`exchange.investigate.query`) run against the element index
(:mod:`exchange.investigate.elements`) and, for full ID numbers and plates, against the event tables'
own indexes. Every candidate row is then read through the caller's :class:`~exchange.access.lens.Lens`:
a hit exists only when the caller may read the row (entity granted, jurisdiction) *and* sees the
matched column in full (matching against a masked column would confirm what the mask hides). Hits are
grouped by person (through the master person index, only where the grant discloses the record's ID
column, as in the profile), else by vehicle or organization; each names its agency, table, record and
batch, with the values as the caller's views show them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row, read_rows, rows_by_key
from exchange.investigate.persons import plate_owners
from exchange.investigate.query import KINDS, SUBSTRING_KINDS, Probe, plan
from exchange.linking.records import PERSON_SOURCES
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.dialects.base import OverBudget

MAX_GROUPS = 50
PER_PROBE = 150
PER_TEXT_PROBE = 120
"""A common name (王伟, its pinyin) or a few characters of an address can match thousands of records: a
probe reads the first 150 (120 for substrings; about 50 persons, the groups an answer shows) and the
answer says it was cut (``truncated``). Hits of a weaker probe than a cut one are left out: they would rank
after matches the answer already cannot all show."""
EVENTS_PER_TABLE = 20
SUBSTRING_BUDGET_MS = 300
"""Wall time on the server a search's substring probes may take (with the others, one statement)."""


@dataclass
class Hit:
    agency: str
    entity: str
    record: str
    batch: str | None
    field: str
    kind: str
    match: str
    rank: int
    value: Any
    row: Row | None = None
    event: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"agency": self.agency, "table": f"core.{self.entity}", "record": self.record, "batch": self.batch,
                "field": self.field, "kind": self.kind, "match": self.match, "value": self.value}


@dataclass
class Group:
    group: str  # person, vehicle, organization, record
    key: str
    label: Any = None
    rank: int = 99
    hits: list[Hit] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"group": self.group}
        if self.group == "person":
            out["person_uid"] = self.key
        out["label"] = self.label
        out["rank"] = self.rank
        out["hits"] = [h.as_dict() for h in sorted(self.hits, key=lambda h: (h.event, h.rank, h.entity, h.record))]
        return out


@dataclass
class SearchResult:
    query: str
    kinds: list[str]
    groups: list[Group]
    hits: int
    truncated: bool
    too_common: list[str] = field(default_factory=list)
    """Kinds searched by substring whose search ran out of time (the text is in too many of them)."""

    def as_dict(self) -> dict[str, Any]:
        return {"query": self.query, "kinds": self.kinds, "hits": self.hits, "truncated": self.truncated,
                "too_common": self.too_common, "groups": [g.as_dict() for g in self.groups]}


_ROLE_OF_FIELD = {(s.entity, column): s for s in PERSON_SOURCES for column in s.columns.values()}


def _probe_sql(probe: Probe, n: int = 0, kinds: tuple[str, ...] = ()) -> tuple[str, dict[str, Any]]:
    """The probe's condition on ``mdm.search_element`` and its parameters (suffixed ``n``), for its kind or
    for ``kinds``. Kinds are written as literals (from a closed set): the planner then knows a substring
    probe may use the trigram index, which holds the substring kinds only."""
    kinds = kinds or (probe.kind,)
    if not set(kinds) <= set(KINDS):
        raise ValueError(f"unknown element kind in {kinds!r}")
    v, k = probe.value, "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"
    if probe.mode == "exact":
        return f"{k} AND key = :v{n}", {f"v{n}": v}
    if probe.mode == "suffix":  # a range on the reversed key: a prefix scan whatever the collation
        return f"{k} AND key_rev >= :v{n} AND key_rev < :hi{n}", {f"v{n}": v, f"hi{n}": v + "\uffff"}
    if probe.mode == "prefix":
        return f"{k} AND key >= :v{n} AND key < :hi{n}", {f"v{n}": v, f"hi{n}": v + "\uffff"}
    if probe.mode == "pattern":  # one unreadable character: the longer known side narrows the scan
        head, _, tail = v.partition("?")
        like = v.replace("?", "_")
        if len(tail) > len(head):
            rev = tail[::-1]
            return (f"{k} AND key_rev >= :v{n} AND key_rev < :hi{n} AND key LIKE :like{n}",
                    {f"v{n}": rev, f"hi{n}": rev + "\uffff", f"like{n}": like})
        return (f"{k} AND key >= :v{n} AND key < :hi{n} AND key LIKE :like{n}",
                {f"v{n}": head, f"hi{n}": head + "\uffff", f"like{n}": like})
    if probe.mode == "pinyin":
        return f"{k} AND py = :v{n}", {f"v{n}": v}
    if probe.mode == "fuzzy":
        return f"{k} AND fpy = :v{n}", {f"v{n}": v}
    if probe.mode == "substring":
        if not set(kinds) <= set(SUBSTRING_KINDS):
            raise ValueError(f"a substring probe of {kinds!r}: only {', '.join(SUBSTRING_KINDS)} are indexed so")
        escaped = v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"{k} AND key LIKE :v{n} ESCAPE '\\'", {f"v{n}": f"%{escaped}%"}
    raise ValueError(f"unknown probe mode {probe.mode!r}")


def _index_hits(conn: Connection, lens: Lens, probes: list[Probe], entities: list[str]
                ) -> tuple[list[Hit], bool, list[str]]:
    """(hits, whether a probe had more rows than it reads, the kinds whose substring search ran out of
    time). A substring search of a text made of the city's commonest stretches (号楼2单元) makes the trigram
    index collect every match before the first is read: seconds at a few million persons. It gets
    ``SUBSTRING_BUDGET_MS``; past that the other probes answer alone and the answer says which kinds were
    too common to search in full."""
    texts = [p for p in probes if p.mode == "substring"]
    if not texts:
        return (*_read_hits(conn, lens, probes, entities), [])
    try:
        with dialect_of(conn).time_budget(conn, SUBSTRING_BUDGET_MS):
            return (*_read_hits(conn, lens, probes, entities), [])
    except OverBudget:
        others = [p for p in probes if p.mode != "substring"]
        hits = _read_hits(conn, lens, others, entities)[0] if others else []
        return hits, True, sorted({p.kind for p in texts})


def _read_hits(conn: Connection, lens: Lens, probes: list[Probe], entities: list[str]) -> tuple[list[Hit], bool]:
    """(hits, whether a probe had more rows than it reads): every probe in one statement (one round trip),
    each at most ``PER_PROBE`` rows (``PER_TEXT_PROBE`` for substrings). The substring probes of one text
    (an address, an organization, a case title) are one scan of the trigram index."""
    parts, params = [], {"ents": entities}
    by_part: list[dict[str, Probe]] = []
    texts = [p for p in probes if p.mode == "substring"]
    others = [p for p in probes if p.mode != "substring"]
    for n, probe in enumerate(others):
        where, values = _probe_sql(probe, n)
        params.update(values)
        parts.append(where)
        by_part.append({probe.kind: probe})
    for value in dict.fromkeys(p.value for p in texts):
        same = [p for p in texts if p.value == value]
        where, values = _probe_sql(same[0], len(parts), tuple(p.kind for p in same))
        params.update(values)
        parts.append(where)
        by_part.append({p.kind: p for p in same})
    caps = [PER_PROBE] * len(others) + [PER_TEXT_PROBE] * (len(parts) - len(others))
    sql = " UNION ALL ".join(
        f"SELECT * FROM (SELECT {n} AS part, kind, entity, source_agency, source_record_id, field, batch_id "
        f"FROM mdm.search_element WHERE {where} AND entity IN :ents "
        f"LIMIT {caps[n] + 1}) AS p{n}"  # one more than read: whether the part was cut
        for n, where in enumerate(parts))
    hits: dict[tuple[str, str, str, str], Hit] = {}
    seen = [0] * len(parts)
    floor: int | None = None  # the best rank among the probes that had more rows than they read
    for n, kind, entity, agency, record, fld, batch in dialect_of(conn).select_rows(conn, sql, params):
        seen[n] += 1
        if seen[n] > caps[n]:
            rank = min(p.rank for p in by_part[n].values())
            floor = rank if floor is None else min(floor, rank)
            continue
        probe = by_part[n].get(kind)
        if probe is None or not lens.searchable(entity, fld):
            continue
        key = (entity, agency, record, fld)
        if key not in hits or hits[key].rank > probe.rank:
            hits[key] = Hit(agency, entity, record, batch, fld, probe.kind, probe.mode, probe.rank, None)
    if floor is None:
        return list(hits.values()), False
    # A cut probe already has more matches than the answer shows, and groups are ordered by rank: a weaker
    # probe's hits (a homophone when the name itself overflows) would only fill the places after them. They
    # are not read; the answer says it was cut.
    return [h for h in hits.values() if h.rank <= floor], True


def _event_hits(conn: Connection, lens: Lens, schemas: Iterable[EntitySchema],
                values: dict[str, set[str]]) -> list[Hit]:
    """Events naming one of ``values`` (kind → full values) in a column the caller sees in full: one statement
    per table and column, its text the same whatever the values (one array parameter, the limit a
    parameter), planned once per connection (``Dialect.generic_plans``)."""
    out, dialect = [], dialect_of(conn)
    wanted_in = [(schema, column, kind, sorted(values[kind])) for schema in schemas
                 if schema.event is not None and lens.allows(schema.name)
                 for column, kind in schema.search_fields("id", "plate").items()
                 if values.get(kind) and lens.searchable(schema.name, column)]
    if not wanted_in:
        return out
    with dialect.generic_plans(conn):
        for schema, column, kind, wanted in wanted_in:
            rows = read_rows(conn, lens, schema.name, dialect.one_of(f'"{column}"', "v"),
                             {"v": dialect.values(wanted)},
                             limit=EVENTS_PER_TABLE * max(1, len(wanted)), order=f'"{schema.event.start}" DESC')
            for row in rows:
                out.append(Hit(row.key[0], schema.name, row.key[1], row.raw.get("_batch_id"), column, kind, "exact", 0,
                               row.show(column), row, event=True))
    return out


def _persons(conn: Connection, lens: Lens, hits: list[Hit]) -> dict[tuple[str, str, str, str], str]:
    """(entity, agency, record, field) → active person_uid, for hits whose record the caller may tie to a
    person: the field belongs to a person role and the grant discloses that role's ID column."""
    wanted: dict[tuple[str, str, str], list[Hit]] = {}
    for h in hits:
        source = _ROLE_OF_FIELD.get((h.entity, h.field))
        if source is None or "id_number" not in source.columns:
            continue
        if not lens.discloses(h.entity, source.columns["id_number"]):
            continue
        wanted.setdefault((h.agency, h.entity, source.role), []).append(h)
    out: dict[tuple[str, str, str, str], str] = {}
    if not wanted:
        return out
    wanted_rows = sorted({(agency, entity, role, h.record) for (agency, entity, role), group in wanted.items()
                          for h in group})
    dialect = dialect_of(conn)
    rows, params = dialect.rows_of("w", ("a", "e", "r", "id"), wanted_rows)
    sql = ("SELECT l.source_agency, l.entity, l.role, l.source_record_id, COALESCE(p.merged_into, l.person_uid) "
           f"FROM {rows} JOIN mdm.person_link AS l ON l.source_agency = w.a AND l.entity = w.e AND l.role = w.r "
           "AND l.source_record_id = w.id JOIN mdm.person AS p ON p.person_uid = l.person_uid")
    found = {tuple(r[:4]): r[4] for r in dialect.select_rows(conn, sql, params)}
    for (agency, entity, role), group in wanted.items():
        for h in group:
            uid = found.get((agency, entity, role, h.record))
            if uid is not None:
                out[(h.entity, h.agency, h.record, h.field)] = uid
    return out


def id_holders(conn: Connection, numbers: Iterable[str]) -> dict[str, str]:
    """Validated ID number → the active person_uid the index gives it (events are tied to persons by the
    number they carry; an ID number the index splits between persons ties to none)."""
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    dialect = dialect_of(conn)
    sql = ("SELECT l.id_number, COALESCE(p.merged_into, l.person_uid) FROM mdm.person_link AS l "
           f"JOIN mdm.person AS p ON p.person_uid = l.person_uid WHERE {dialect.one_of('l.id_number', 'ids')}")
    found: dict[str, set[str]] = {}
    for number, uid in dialect.select_rows(conn, sql, {"ids": dialect.values(wanted)}):
        found.setdefault(number, set()).add(uid)
    return {n: next(iter(u)) for n, u in found.items() if len(u) == 1}


def search(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], text_: str, kind: str | None = None,
           *, limit: int = MAX_GROUPS) -> SearchResult:
    probes = plan(text_, kind)
    indexed = lens.entities(sorted(n for n, s in schemas.items() if s.event is None and s.search_fields()))
    hits, cut, too_common = _index_hits(conn, lens, probes, indexed) if indexed else ([], False, [])
    by_entity: dict[str, list[Hit]] = {}
    for h in hits:
        by_entity.setdefault(h.entity, []).append(h)
    visible: list[Hit] = []
    for entity, group in by_entity.items():
        rows = rows_by_key(conn, lens, entity, {(h.agency, h.record) for h in group})
        for h in group:
            row = rows.get((h.agency, h.record))
            if row is None:
                continue  # outside the caller's rows (jurisdiction, filters) or gone
            h.row, h.value = row, row.show(h.field)
            visible.append(h)
    exact = {p.kind: {p.value} for p in probes if p.mode == "exact" and p.kind in ("id", "plate")}
    for h in visible:  # the full values a last-digits or wildcard search resolved to
        if h.kind in ("id", "plate") and h.row is not None and h.row.raw.get(h.field):
            exact.setdefault(h.kind, set()).add(str(h.row.raw[h.field]))
    visible += _event_hits(conn, lens, schemas.values(), exact)
    persons = _persons(conn, lens, visible)
    owners = plate_owners(conn, lens, {str(h.row.raw.get(h.field)) for h in visible
                                       if h.kind == "plate" and h.row is not None})
    holders = id_holders(conn, {str(h.row.raw[h.field]) for h in visible
                                if h.kind == "id" and h.row is not None and h.row.raw.get(h.field)})
    groups: dict[tuple[str, str], Group] = {}
    for h in visible:
        raw = h.row.raw if h.row is not None else {}
        uid = persons.get((h.entity, h.agency, h.record, h.field))
        if uid is None and h.kind == "plate":
            uid = owners.get(str(raw.get(h.field)))
        if uid is None and h.kind == "id" and schemas[h.entity].event is not None:
            uid = holders.get(str(raw.get(h.field)))  # an event names the person by ID number
        if uid is not None:
            gkey = ("person", uid)
        elif h.entity == "vehicle" or h.kind == "plate":
            gkey = ("vehicle", str(raw.get("plate") or raw.get(h.field)))
        elif h.entity == "organization":
            gkey = ("organization", str(raw.get("credit_code") or h.record))
        else:
            gkey = ("record", f"{h.agency}/{h.entity}/{h.record}")
        g = groups.setdefault(gkey, Group(gkey[0], gkey[1]))
        g.hits.append(h)
        g.rank = min(g.rank, h.rank)
        if g.label is None:
            g.label = _label(g.group, h)
    ordered = sorted(groups.values(), key=lambda g: (g.rank, -len(g.hits), g.key))
    return SearchResult(query=text_, kinds=sorted({p.kind for p in probes}), groups=ordered[:limit],
                        hits=len(visible), truncated=cut or len(ordered) > limit, too_common=too_common)


def _label(group: str, h: Hit) -> Any:
    """What names the group for the caller: the person's name as its row shows it (masked where the
    grant masks it), the plate, the organization's name."""
    if h.row is None:
        return h.value
    row = h.row
    if group == "person":
        source = _ROLE_OF_FIELD.get((h.entity, h.field))
        if source is not None:
            return row.show(source.columns["name"])
        return next((v for k, v in row.shown.items() if k.endswith("name") and v), h.value)
    if group == "vehicle":
        return row.show("plate") or h.value
    if group == "organization":
        return row.show("name") or h.value
    return h.value
