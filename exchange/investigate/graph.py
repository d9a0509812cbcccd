"""The relation graph (人员关系): who is related to a person, through what, and how strongly.

Edges are found set-wise for a whole frontier of persons at once (depth 1, 2, 3), each kind from the
records the caller may tie to persons (:func:`exchange.investigate.persons.tied_records`):

=================  ======  ============================================================================
kind               weight  evidence
=================  ======  ============================================================================
household          5       both persons' records carry the same household number (person, household head)
case               4       both are parties of the same case (with their roles)
dispute            4       the applicant and the respondent of the same mediation case
vehicle            3       both registered the same plate (ownership history)
hotel_room         3       the same hotel room on overlapping nights
phone              2       the same phone number in their records
address            1       the same full address in person records of different households
co_presence        1/time  the same place within ``window`` minutes, at least ``min_times`` times at
                           ``min_places`` distinct places (counts in the edge)
=================  ======  ============================================================================

An edge exists for the caller only when every record it rests on is one the caller may read and tie
to a person — an edge through a record the grant hides does not exist for it. Depth and fan-out are
bounded (:class:`Limits`): each person keeps its ``fan_out`` heaviest edges, the graph stops at
``max_nodes``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from exchange.access.lens import Lens, Row, plain
from exchange.investigate.persons import (
    Linked,
    Subject,
    active_uids,
    as_datetime,
    links_of_records,
    plate_owners,
    records_where,
    subjects,
    tied_records,
)
from exchange.investigate.presence import Seen, at_places, events_of
from exchange.investigate.search import id_holders
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of

WEIGHTS = {"household": 5.0, "case": 4.0, "dispute": 4.0, "vehicle": 3.0, "hotel_room": 3.0, "phone": 2.0,
           "address": 1.0, "co_presence": 1.0}
MAX_EVIDENCE = 5


@dataclass(frozen=True)
class Limits:
    depth: int = 1
    fan_out: int = 25
    max_nodes: int = 200
    window_minutes: int = 10
    min_times: int = 3
    min_places: int = 2
    days: int = 90
    """Co-presence looks at the events of the last ``days`` days before the newest one."""

    def __post_init__(self) -> None:
        if not 1 <= self.depth <= 3:
            raise ValueError(f"depth {self.depth}: give 1, 2 or 3")
        if self.fan_out < 1 or self.max_nodes < 2:
            raise ValueError("fan_out must be at least 1 and max_nodes at least 2")


@dataclass
class Edge:
    a: str
    b: str
    kind: str
    weight: float = 0.0
    evidence: list[tuple[tuple[Row, ...], dict[str, Any]]] = field(default_factory=list)
    count: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    def add(self, *rows: Row, **detail: Any) -> None:
        self.count += 1
        self.evidence.append((rows, detail))

    def as_dict(self) -> dict[str, Any]:
        """The edge with its first :data:`MAX_EVIDENCE` pieces of evidence in a fixed order (by time, then by
        record), not in the order the database returned them: the same request gives the same answer."""
        first = sorted(self.evidence, key=_evidence_order)[:MAX_EVIDENCE]
        return {"source": self.a, "target": self.b, "kind": self.kind, "weight": round(self.weight, 2),
                "count": self.count, **self.detail,
                "evidence": [{"records": [r.provenance for r in rows], **{k: plain(v) for k, v in detail.items()}}
                             for rows, detail in first]}


def _evidence_order(evidence: tuple[tuple[Row, ...], dict[str, Any]]) -> tuple[str, list[tuple[str, ...]]]:
    rows, detail = evidence
    return (str(plain(detail.get("at") or detail.get("night") or "")), [(r.entity, *r.key) for r in rows])


class _Edges:
    def __init__(self) -> None:
        self.edges: dict[tuple[str, str, str], Edge] = {}

    def add(self, a: str, b: str, kind: str, *rows: Row, **detail: Any) -> Edge | None:
        if a == b:
            return None
        x, y = sorted((a, b))
        edge = self.edges.setdefault((x, y, kind), Edge(x, y, kind))
        edge.add(*rows, **detail)
        return edge


def _by_value(tied: dict[str, list[Linked]], attribute: str, entities: Iterable[str] | None = None
              ) -> dict[str, list[tuple[str, Linked]]]:
    out: dict[str, list[tuple[str, Linked]]] = {}
    for uid, records in tied.items():
        for linked in records:
            if entities is not None and linked.row.entity not in entities:
                continue
            value = linked.value(attribute)
            if value not in (None, ""):
                out.setdefault(str(value), []).append((uid, linked))
    return out


def _shared(edges: _Edges, mine: dict[str, list[tuple[str, Linked]]], theirs: dict[str, list[Linked]],
            attribute: str, kind: str, *, same_household: bool = True) -> None:
    by_value: dict[str, list[tuple[str, Linked]]] = {}
    for uid, records in theirs.items():
        for linked in records:
            value = linked.value(attribute)
            if value not in (None, ""):
                by_value.setdefault(str(value), []).append((uid, linked))
    for value, own in mine.items():
        for a, la in own:
            for b, lb in by_value.get(value, []):
                if not same_household and la.value("household_number") and \
                        la.value("household_number") == lb.value("household_number"):
                    continue
                edges.add(a, b, kind, la.row, lb.row, **{attribute: la.row.shown.get(la.source.columns[attribute])})


def _records_edges(conn: Connection, lens: Lens, edges: _Edges, tied: dict[str, list[Linked]]) -> None:
    # household: the same household number in person records and household-head records
    households = _by_value(tied, "household_number")
    if households:
        theirs = records_where(conn, lens, "person", "household_number", households)
        for uid, records in records_where(conn, lens, "household", "household_number", households).items():
            theirs.setdefault(uid, []).extend(records)
        _shared(edges, households, theirs, "household_number", "household")
    # phone and address
    phones = _by_value(tied, "phone")
    if phones:
        theirs = {}
        for entity, column in (("person", "phone"), ("case_party", "phone"), ("dispute", "applicant_phone"),
                               ("vehicle", "owner_phone")):
            for uid, records in records_where(conn, lens, entity, column, phones).items():
                theirs.setdefault(uid, []).extend(records)
        _shared(edges, phones, theirs, "phone", "phone")
    addresses = _by_value(tied, "address", entities=("person",))
    if addresses:
        _shared(edges, addresses, records_where(conn, lens, "person", "address", addresses), "address", "address",
                same_household=False)
    # cases: the parties of the same case, with their roles
    cases: dict[str, list[tuple[str, Linked]]] = {}
    for uid, records in tied.items():
        for linked in records:
            if linked.row.entity == "case_party" and linked.row.raw.get("case_number"):
                cases.setdefault(str(linked.row.raw["case_number"]), []).append((uid, linked))
    if cases:
        for uid, records in records_where(conn, lens, "case_party", "case_number", cases).items():
            for lb in records:
                for a, la in cases.get(str(lb.row.raw.get("case_number")), []):
                    edges.add(a, uid, "case", la.row, lb.row, case_number=la.row.shown.get("case_number"),
                              roles={a: la.row.shown.get("role"), uid: lb.row.shown.get("role")})
    # disputes: the two sides of the same mediation case
    disputes = {linked.row.key: (uid, linked) for uid, records in tied.items() for linked in records
                if linked.row.entity == "dispute"}
    if disputes:
        links = links_of_records(conn, "dispute", disputes)
        for uid, records in tied_records(conn, lens, links).items():
            for lb in records:
                own = disputes.get(lb.row.key)
                if own is not None and own[1].role != lb.role:
                    edges.add(own[0], uid, "dispute", own[1].row, dispute_number=lb.row.shown.get("dispute_number"),
                              roles={own[0]: own[1].role, uid: lb.role})
    # vehicles: the owners of the same plate
    plates = {str(linked.row.raw["plate"]): (uid, linked) for uid, records in tied.items() for linked in records
              if linked.row.entity == "vehicle" and linked.row.raw.get("plate")}
    if plates:
        for uid, records in records_where(conn, lens, "vehicle", "plate", plates).items():
            for lb in records:
                own = plates.get(str(lb.row.raw.get("plate")))
                if own is not None:
                    edges.add(own[0], uid, "vehicle", own[1].row, lb.row, plate=lb.row.shown.get("plate"))


# -- events: the same hotel room, co-presence ---------------------------------------------------------------


def _event_edges(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], edges: _Edges,
                 persons: dict[str, Subject], limits: Limits) -> None:
    ids = {n: uid for uid, s in persons.items() for n in s.ids}
    plates = {p: uid for uid, s in persons.items() for p in s.plates}
    window = dt.timedelta(minutes=limits.window_minutes)
    co: dict[tuple[str, str], list[tuple[Seen, Row]]] = {}
    lookups = [(schema, column, kind) for schema in schemas.values() if schema.event is not None
               for column, kind in schema.search_fields("id", "plate").items()]
    # the subjects' own events: one text per table, planned once per connection; the reads of who else was
    # at those places (ranges of times, a text per number of ranges) are planned with their values
    with dialect_of(conn).generic_plans(conn):
        own = [events_of(conn, lens, schema, column, kind, ids if kind == "id" else plates, None)
               for schema, column, kind in lookups]
    for (schema, column, kind), mine in zip(lookups, own, strict=True):
        ev = schema.event
        assert ev is not None
        if not mine:
            continue
        newest = max(s.at for s in mine)
        mine = [s for s in mine if s.at >= newest - dt.timedelta(days=limits.days)]
        others = at_places(conn, lens, schema, mine, window)
        numbers = {str(r.raw.get(column)) for r in others if r.raw.get(column)}
        holders = id_holders(conn, numbers) if kind == "id" else plate_owners(conn, lens, numbers)
        by_place: dict[str, list[Row]] = {}
        for r in others:
            by_place.setdefault(str(r.raw.get(ev.place)), []).append(r)
        for s in mine:
            for r in by_place.get(s.place, []):
                other = holders.get(str(r.raw.get(column)))
                at = as_datetime(r.raw.get(ev.start))
                if other is None or other == s.uid or at is None:
                    continue
                if schema.name == "hotel_stay" and _same_room(s, r, ev.end):
                    hotel = s.row.shown.get(ev.place_name or ev.place)
                    edges.add(s.uid, other, "hotel_room", s.row, r, hotel=hotel, room=r.shown.get("room"),
                              night=str(s.at.date()))
                if abs(at - s.at) <= window:
                    co.setdefault(tuple(sorted((s.uid, other))), []).append((s, r))  # type: ignore[arg-type]
    for (a, b), pairs in co.items():
        occasions = {(p.row.entity, p.place, p.at.replace(second=0, microsecond=0)) for p, _ in pairs}
        places = {(p.row.entity, p.place) for p, _ in pairs}
        if len(occasions) < limits.min_times or len(places) < limits.min_places:
            continue
        edge = None
        for s, r in pairs:
            edge = edges.add(a, b, "co_presence", s.row, r, place=s.row.shown.get(schemas[s.row.entity].event.place),
                             at=s.at)
        if edge is not None:
            edge.detail = {"times": len(occasions), "places": len(places)}


def _same_room(s: Seen, r: Row, end_field: str | None) -> bool:
    if str(s.row.raw.get("room")) != str(r.raw.get("room")) or not s.row.raw.get("room"):
        return False
    r_in = as_datetime(r.raw.get("check_in"))
    r_out = as_datetime(r.raw.get(end_field)) if end_field else None
    if r_in is None:
        return False
    s_out = s.end or s.at + dt.timedelta(days=1)
    return r_in < s_out and s.at < (r_out or r_in + dt.timedelta(days=1))


# -- the graph -----------------------------------------------------------------------------------------------


def graph(conn: Connection, lens: Lens, schemas: dict[str, EntitySchema], root: Subject,
          limits: Limits = Limits()) -> dict[str, Any]:
    """Nodes and edges around ``root`` to ``limits.depth``, through the caller's grant."""
    nodes: dict[str, Subject] = {root.person_uid: root}
    level = {root.person_uid: 0}
    kept: dict[tuple[str, str, str], Edge] = {}
    frontier = {root.person_uid}
    for depth in range(1, limits.depth + 1):
        edges = _Edges()
        level_subjects = {uid: nodes[uid] for uid in frontier if uid in nodes}
        _records_edges(conn, lens, edges, {uid: s.records for uid, s in level_subjects.items()})
        _event_edges(conn, lens, schemas, edges, level_subjects, limits)
        merged = active_uids(conn, {u for e in edges.edges.values() for u in (e.a, e.b)})
        per_node: dict[str, list[Edge]] = {}
        for edge in edges.edges.values():
            edge.a, edge.b = merged.get(edge.a, edge.a), merged.get(edge.b, edge.b)
            if edge.a == edge.b:
                continue
            edge.weight = WEIGHTS[edge.kind] * (edge.count if edge.kind == "co_presence" else 1)
            for end in (edge.a, edge.b):
                if end in frontier:
                    per_node.setdefault(end, []).append(edge)
        new: set[str] = set()
        for uid, own in per_node.items():
            for edge in sorted(own, key=lambda e: (-e.weight, e.kind, e.a, e.b))[:limits.fan_out]:
                other = edge.b if edge.a == uid else edge.a
                if other not in level:
                    if len(level) >= limits.max_nodes:
                        continue
                    level[other] = depth
                    new.add(other)
                kept[(edge.a, edge.b, edge.kind)] = edge
        if not new:
            break
        nodes.update(subjects(conn, lens, new))
        frontier = {uid for uid in new if uid in nodes}
    node_list = []
    for uid, d in sorted(level.items(), key=lambda x: (x[1], x[0])):
        s = nodes.get(uid)
        node_list.append({"person_uid": uid, "label": s.label if s else None, "depth": d})
    return {"root": root.person_uid, "depth": limits.depth, "nodes": node_list,
            "edges": [e.as_dict() for e in sorted(kept.values(), key=lambda e: (-e.weight, e.kind, e.a, e.b))],
            "limits": {"fan_out": limits.fan_out, "max_nodes": limits.max_nodes,
                       "window_minutes": limits.window_minutes, "min_times": limits.min_times,
                       "min_places": limits.min_places}}
