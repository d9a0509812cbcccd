"""Watchlists (布控): an agency watches a person, an ID number, a phone or a plate; every record or event
published afterwards that names it — by the value itself, or through the master person index (a record
of the same person without the ID number) — is a **match**, raised as an alert for that agency, once.

- ``mdm.watch``: one row per watch — who registered it (agency, user), the kind and value (the value is
  as sensitive as the warehouse's own columns, and stays in ``mdm`` with them; what is shown and
  written anywhere else is its mask), reason, case number, expiry, the routes to notify, and its
  revocation. A watch matches from its registration until it expires or is revoked.
- ``mdm.watch_match``: one row per watch and record (so a record published again is not told again),
  with how it matched (``id``, ``phone``, ``plate`` or ``person``: through the index), the batch, the
  alert raised, and who acknowledged it when.

When it matches: :func:`match_batch` right after a batch publishes (the publish stage calls it), and
:func:`match_linked` right after a linking run (records the index has just tied to a watched person).
Each agency is matched through its own grant (:class:`~exchange.access.lens.Lens`): a row it may not
read, an ID column it is not shown, a phone or plate it does not see in full, match nothing for it — an
agency never learns of a match in data outside its grant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    select,
    text,
    update,
)

from exchange.access.lens import Lens, Row, core_table, read_rows, rows_by_key
from exchange.errors import ConfigError
from exchange.spec.schema import EntitySchema

metadata = MetaData()
KINDS = ("person", "id", "phone", "plate")
MAX_DAYS = 366
"""The longest a watch may run before it is renewed (a new watch, with its reason again)."""

watch = Table(
    "watch", metadata,
    Column("watch_id", Text(), nullable=False, comment="W + 12 hex digits"),
    Column("agency", Text(), nullable=False, comment="the consumer agency whose grant it matches through"),
    Column("kind", Text(), nullable=False, comment="person, id, phone or plate"),
    Column("value", Text(), nullable=False, comment="person_uid, or the normalised ID number, phone or plate"),
    Column("shown", Text(), nullable=False, comment="the value as shown outside mdm (masked)"),
    Column("reason", Text(), nullable=False),
    Column("case_number", Text(), nullable=False, comment="the case the watch is for"),
    Column("notify", Text(), comment="alert routes (connection names), comma-separated"),
    Column("created_by", Text(), nullable=False, comment="agency/user"),
    Column("created_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False),
    Column("revoked_at", DateTime()),
    Column("revoked_by", Text()),
    PrimaryKeyConstraint("watch_id", name="pk_mdm_watch"),
    schema="mdm", comment="Watches (布控): what an agency is alerted of when a batch publishes it.",
)

match = Table(
    "watch_match", metadata,
    Column("match_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("watch_id", Text(), nullable=False),
    Column("entity", Text(), nullable=False),
    Column("source_agency", Text(), nullable=False),
    Column("source_record_id", Text(), nullable=False),
    Column("batch_id", Text(), comment="batch of the record version that matched"),
    Column("via", Text(), nullable=False, comment="id, phone, plate, or person (through the person index)"),
    Column("person_uid", Text(), comment="the watched person the record is tied to (via person)"),
    Column("matched_at", DateTime(), nullable=False),
    Column("alert_id", BigInteger(), comment="audit.alert raised for it"),
    Column("acknowledged_by", Text()),
    Column("acknowledged_at", DateTime()),
    Column("note", Text()),
    UniqueConstraint("watch_id", "entity", "source_agency", "source_record_id", name="uq_mdm_watch_match"),
    schema="mdm", comment="Each record a watch matched, once; its alert and acknowledgement.",
)


def ensure(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


# -- what a watch is --------------------------------------------------------------------------------

def normalized(kind: str, value: str) -> str:
    """``value`` as the warehouse stores it; ConfigError naming what is wrong."""
    from exchange.formats import (
        check_phone,
        check_plate,
        check_resident_id,
        normalize_phone,
        normalize_plate,
        normalize_resident_id,
        upgrade_legacy_resident_id,
    )

    if kind not in KINDS:
        raise ConfigError(f"watch kind {kind!r}: one of {', '.join(KINDS)}")
    text = str(value or "").strip()
    if kind == "person":
        if not (text.upper().startswith("MP") and text[2:].isdigit()):
            raise ConfigError(f"a person watch takes a person_uid (MP + 10 digits), not {_masked(text)!r}")
        return text.upper()
    if kind == "id":
        number = normalize_resident_id([text])[0].as_py() or ""
        if len(number) == 15:
            number = upgrade_legacy_resident_id([number])[0].as_py() or number
        problem = check_resident_id([number])[0].as_py()
        if problem:
            raise ConfigError(f"the ID number to watch is not valid ({problem})")
        return number
    if kind == "phone":
        phone = normalize_phone([text])[0].as_py() or ""
        problem = check_phone([phone])[0].as_py()
        if problem:
            raise ConfigError(f"the phone to watch is not valid ({problem})")
        return phone
    plate = normalize_plate([text])[0].as_py() or ""
    problem = check_plate([plate])[0].as_py()
    if problem:
        raise ConfigError(f"the plate to watch is not valid ({problem})")
    return plate


def _masked(value: str) -> str:
    return value[:2] + "*" * max(0, len(value) - 2)


def shown(kind: str, value: str) -> str:
    """The watched value as lists, alerts, messages and the ledger show it."""
    from exchange.access import masks

    if kind == "person":
        return value
    if kind == "id":
        return masks.partial("id", value) or _masked(value)
    if kind == "phone":
        return masks.partial("phone", value) or _masked(value)
    return value[:2] + "*" * (len(value) - 2)


@dataclass(frozen=True)
class Watch:
    watch_id: str
    agency: str
    kind: str
    value: str
    shown: str
    reason: str
    case_number: str
    notify: tuple[str, ...]
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None

    def active(self, at: dt.datetime) -> bool:
        return self.revoked_at is None and self.created_at <= at < self.expires_at

    @classmethod
    def of(cls, row: Any) -> Watch:
        r = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
        return cls(r["watch_id"], r["agency"], r["kind"], r["value"], r["shown"], r["reason"], r["case_number"],
                   tuple(x for x in (r.get("notify") or "").split(",") if x), r["created_by"], r["created_at"],
                   r["expires_at"], r.get("revoked_at"))

    def public(self, at: dt.datetime | None = None) -> dict[str, Any]:
        """The watch as its agency sees it (the value masked)."""
        state = "revoked" if self.revoked_at else ("expired" if at and at >= self.expires_at else "active")
        return {"watch_id": self.watch_id, "agency": self.agency, "kind": self.kind, "value": self.shown,
                "reason": self.reason, "case_number": self.case_number, "notify": list(self.notify),
                "created_by": self.created_by, "created_at": _iso(self.created_at),
                "expires_at": _iso(self.expires_at), "revoked_at": _iso(self.revoked_at), "state": state}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(sep=" ", timespec="seconds") if value else None


def new_id() -> str:
    return "W" + uuid.uuid4().hex[:12].upper()


def register(conn: Connection, *, agency: str, kind: str, value: str, reason: str, case_number: str,
             expires_at: dt.datetime, notify: Iterable[str], by: str, at: dt.datetime) -> Watch:
    """Store a new watch (its value normalised); ConfigError for what is missing or wrong."""
    if not (reason or "").strip():
        raise ConfigError("a watch needs its reason")
    if not (case_number or "").strip():
        raise ConfigError("a watch needs the case number it is for")
    if expires_at <= at:
        raise ConfigError(f"the watch would expire ({expires_at:%Y-%m-%d %H:%M}) before it starts")
    if expires_at - at > dt.timedelta(days=MAX_DAYS):
        raise ConfigError(f"a watch runs at most {MAX_DAYS} days; renew it when it ends")
    value = normalized(kind, value)
    w = Watch(new_id(), agency, kind, value, shown(kind, value), reason.strip(), case_number.strip(),
              tuple(r.strip() for r in notify if r.strip()), by, at, expires_at)
    conn.execute(watch.insert().values(watch_id=w.watch_id, agency=w.agency, kind=w.kind, value=w.value,
                                       shown=w.shown, reason=w.reason, case_number=w.case_number,
                                       notify=",".join(w.notify), created_by=w.created_by, created_at=w.created_at,
                                       expires_at=w.expires_at))
    return w


def get(conn: Connection, watch_id: str) -> Watch | None:
    row = conn.execute(select(watch).where(watch.c.watch_id == watch_id)).first()
    return Watch.of(row) if row else None


def revoke(conn: Connection, watch_id: str, *, by: str, at: dt.datetime) -> None:
    conn.execute(update(watch).where(watch.c.watch_id == watch_id).values(revoked_at=at, revoked_by=by))


def listing(conn: Connection, agency: str | None = None) -> list[Watch]:
    q = select(watch).order_by(watch.c.created_at.desc(), watch.c.watch_id)
    if agency is not None:
        q = q.where(watch.c.agency == agency)
    return [Watch.of(r) for r in conn.execute(q)]


def active(conn: Connection, at: dt.datetime) -> list[Watch]:
    q = select(watch).where(watch.c.revoked_at.is_(None), watch.c.expires_at > at, watch.c.created_at <= at)
    return [Watch.of(r) for r in conn.execute(q.order_by(watch.c.watch_id))]


# -- matching --------------------------------------------------------------------------------------------

@dataclass
class Match:
    watch: Watch
    row: Row
    via: str
    person_uid: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.watch.watch_id, self.row.entity, *self.row.key)


@dataclass
class Targets:
    """What a watch looks for, through its agency's grant: values per kind, and the watched person."""

    values: dict[str, set[str]]
    person_uid: str | None


def targets(conn: Connection, lens: Lens, w: Watch) -> Targets:
    """A person watch (or an ID watch whose number the index knows) looks for every ID number the index
    holds for the person and for the plates registered to them that the agency may tie to them."""
    from exchange.investigate.persons import resolve, subjects

    values: dict[str, set[str]] = {"id": set(), "phone": set(), "plate": set()}
    uid = None
    if w.kind in ("phone", "plate"):
        values[w.kind].add(w.value)
        return Targets(values, None)
    if w.kind == "id":
        values["id"].add(w.value)
    try:
        found = resolve(conn, w.value)
    except ConfigError:  # an ID number the index splits between persons: the number alone
        found = None
    if found is not None:
        uid = found[0]
        person = subjects(conn, lens, [uid]).get(uid)
        if person is not None:
            values["id"] |= person.ids
            values["plate"] |= set(person.plates)
    return Targets(values, uid)


def _column_ok(lens: Lens, entity: str, column: str, kind: str) -> bool:
    """May the agency match on this column: an ID number it is shown (fully or partly, as it ties records to
    persons), a phone or plate it sees in full."""
    return lens.discloses(entity, column) if kind == "id" else lens.searchable(entity, column)


def match_batch(conn: Connection, lens_of: Callable[[str], Lens | None], schema: EntitySchema, batch_id: str,
                watches: list[Watch]) -> list[Match]:
    """The rows of ``batch_id`` in ``core.<schema>`` each watch matches through its agency's grant: by
    the value in an ID, phone or plate column, or by the person index's existing tie of the record to
    the watched person."""
    from exchange.investigate.persons import links_of_records, tied_records

    fields = schema.search_fields("id", "phone", "plate")
    out: list[Match] = []
    for w in watches:
        lens = lens_of(w.agency)
        if lens is None or not lens.allows(schema.name):
            continue
        t = targets(conn, lens, w)
        for column, kind in fields.items():
            wanted = sorted(t.values.get(kind, ()))
            if not wanted or not _column_ok(lens, schema.name, column, kind):
                continue
            via = kind if w.kind == kind else "person"
            for row in read_rows(conn, lens, schema.name, f'_batch_id = :b AND "{column}" IN :v',
                                 {"b": batch_id, "v": wanted}):
                out.append(Match(w, row, via, t.person_uid))
        if t.person_uid is not None and schema.event is None:  # records the index already ties to the person
            keys = [(str(r[0]), str(r[1])) for r in conn.execute(text(
                f"SELECT source_agency, source_record_id FROM {core_table(schema.name)} WHERE _batch_id = :b"),
                {"b": batch_id})]
            links = [x for x in links_of_records(conn, schema.name, keys) if _active(conn, x[5]) == t.person_uid]
            for records in tied_records(conn, lens, links).values():
                out.extend(Match(w, linked.row, "person", t.person_uid) for linked in records)
    return _unique(out)


def match_linked(conn: Connection, lens_of: Callable[[str], Lens | None], run_id: int, watches: list[Watch]
                 ) -> list[Match]:
    """The records a linking run has just tied (new or moved links) to a watched person, for each watch
    whose agency may tie them (row visible, ID column disclosed)."""
    from exchange.investigate.persons import LINK_COLUMNS, tied_records

    out: list[Match] = []
    by_person: dict[str, list[Watch]] = {}
    lenses: dict[str, Lens] = {}
    for w in watches:
        if w.kind not in ("person", "id"):
            continue
        lens = lens_of(w.agency)
        if lens is None:
            continue
        lenses[w.watch_id] = lens
        uid = targets(conn, lens, w).person_uid
        if uid:
            by_person.setdefault(uid, []).append(w)
    if not by_person:
        return []
    rows = [tuple(r) for r in conn.execute(text(f"SELECT {LINK_COLUMNS}, loaded_at FROM mdm.person_link "
                                                "WHERE run_id = :r"), {"r": run_id})]
    current = {uid: _active(conn, uid) for uid in {r[5] for r in rows}}
    for uid, ws in by_person.items():
        mine = [r for r in rows if current.get(r[5]) == uid]
        for w in ws:  # records loaded since the watch began: new activity, not the person's history
            links = [r[:6] for r in mine if str(r[6] or "") >= w.created_at.isoformat(sep=" ")]
            if not links:
                continue
            for records in tied_records(conn, lenses[w.watch_id], links).values():  # type: ignore[arg-type]
                out.extend(Match(w, linked.row, "person", uid) for linked in records)
    return _unique(out)


def _active(conn: Connection, uid: str) -> str:
    from exchange.investigate.persons import active_uids

    return active_uids(conn, {uid}).get(uid, uid)


def _unique(matches: list[Match]) -> list[Match]:
    seen: dict[tuple[str, str, str, str], Match] = {}
    for m in matches:
        if m.key not in seen or (seen[m.key].via == "person" and m.via != "person"):
            seen[m.key] = m  # the value itself is the stronger reason
    return list(seen.values())


def record_new(conn: Connection, matches: list[Match], at: dt.datetime) -> list[tuple[Match, int]]:
    """Store the matches not told before; (match, match_id) of the new ones."""
    new = []
    for m in matches:
        wid, entity, agency, record = m.key
        c = match.c
        done = conn.execute(select(c.match_id).where(c.watch_id == wid, c.entity == entity, c.source_agency == agency,
                                                     c.source_record_id == record)).first()
        if done is not None:
            continue
        result = conn.execute(match.insert().values(watch_id=wid, entity=entity, source_agency=agency,
                                                    source_record_id=record, batch_id=m.row.raw.get("_batch_id"),
                                                    via=m.via, person_uid=m.person_uid, matched_at=at))
        new.append((m, int(result.inserted_primary_key[0])))
    return new


def set_alert(conn: Connection, match_id: int, alert_id: int) -> None:
    conn.execute(update(match).where(match.c.match_id == match_id).values(alert_id=alert_id))


def matches_of(conn: Connection, agency: str | None, *, open_only: bool = False, limit: int = 200
               ) -> list[dict[str, Any]]:
    """The matches of an agency's watches (every agency's for None), newest first, with their watch."""
    c, wc = match.c, watch.c
    q = select(match, wc.agency, wc.kind, wc.shown, wc.reason, wc.case_number).join(
        watch, wc.watch_id == c.watch_id).order_by(c.match_id.desc()).limit(limit)
    if agency is not None:
        q = q.where(wc.agency == agency)
    if open_only:
        q = q.where(c.acknowledged_at.is_(None))
    return [dict(r._mapping) for r in conn.execute(q)]


def acknowledge(conn: Connection, match_id: int, *, agency: str | None, by: str, note: str | None,
                at: dt.datetime) -> dict[str, Any] | None:
    """Mark a match acknowledged (by its watch's agency: None is the operator); None when there is no such
    match for the agency. Acknowledging twice keeps the first."""
    c, wc = match.c, watch.c
    q = select(match, wc.agency).join(watch, wc.watch_id == c.watch_id).where(c.match_id == match_id)
    row = conn.execute(q).first()
    if row is None or (agency is not None and row._mapping["agency"] != agency):
        return None
    found = dict(row._mapping)
    if found["acknowledged_at"] is None:
        conn.execute(update(match).where(c.match_id == match_id).values(acknowledged_by=by, acknowledged_at=at,
                                                                         note=note))
        found.update(acknowledged_by=by, acknowledged_at=at, note=note)
    return found


def shown_match(conn: Connection, lens: Lens, m: dict[str, Any]) -> dict[str, Any]:
    """A match as its agency sees it: the record's values through its grant (None when it can no longer
    read the record: a grant narrowed since), and how and when it matched."""
    rows = rows_by_key(conn, lens, m["entity"], [(m["source_agency"], m["source_record_id"])])
    row = rows.get((m["source_agency"], m["source_record_id"]))
    return {"match_id": m["match_id"], "watch_id": m["watch_id"], "kind": m["kind"], "watched": m["shown"],
            "reason": m["reason"], "case_number": m["case_number"], "entity": m["entity"],
            "agency": m["source_agency"], "record": m["source_record_id"], "batch": m["batch_id"], "via": m["via"],
            "person_uid": m["person_uid"], "matched_at": _iso(m["matched_at"]),
            "acknowledged_by": m["acknowledged_by"], "acknowledged_at": _iso(m["acknowledged_at"]),
            "note": m["note"], "values": row.shown if row is not None else None}
