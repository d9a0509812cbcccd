"""The person profile through a grant: the same columns, masks and rows as the agency's views.

``ProfilePolicy(grant, key).apply(profile)`` takes the profile ``exchange.linking`` builds (every
section, raw values) and returns what the consumer may see, or None when the person lies outside
its jurisdiction. Default deny: a section whose entity is not granted is dropped, a field the grant
does not list is dropped, and a row is kept only when the grant's row rule can be shown to hold
(its division, the household of a member, the case of a party).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from exchange.access import masks
from exchange.access.spec import EntityShare, Grant, RowFilter

ALWAYS = ("person_uid", "status", "query", "merged_from")
SOURCE_KEYS = ("source", "sources", "party_source")


def treat(share: EntityShare, column: str, value: Any, key: bytes | None) -> tuple[bool, Any]:
    """(visible, value as the consumer sees it) for one column of ``share``."""
    rule = share.column(column)
    if rule is None:
        return False, None
    if rule.treatment == "full" or value is None:
        return True, value
    if rule.treatment == "pseudonym":
        if key is None:
            return False, None
        return True, masks.pseudonym(key, value)
    return True, masks.partial(rule.partial or "name", value)


def row_allowed(share: EntityShare, row: dict[str, Any], related_divisions: Iterable[str | None] = ()) -> bool:
    """The grant's row rule, in Python: jurisdiction (own division, or the related entity's when the
    row has none) and value filters. Unknown → not allowed."""
    return rows_allow(share.rows, row, related_divisions)


def rows_allow(rows: RowFilter, row: dict[str, Any], related_divisions: Iterable[str | None] = ()) -> bool:
    """:func:`row_allowed` for a row filter of its own (a grant's counted entities have no share)."""
    for column, values in rows.where:
        if row.get(column) not in values:
            return False
    if rows.regions is None:
        return True
    prefixes = [r.code for r in rows.regions if not r.compound]
    compounds = {r.code for r in rows.regions if r.compound}
    own = row.get(rows.division_column) if rows.division_column else None
    if own and any(str(own).startswith(p) for p in prefixes):
        return True
    if rows.compound_column and row.get(rows.compound_column) in compounds:
        return True
    if rows.via_entity and not own:
        return any(d and any(str(d).startswith(p) for p in prefixes) for d in related_divisions)
    return False


@dataclass
class Served:
    profile: dict[str, Any] | None  # None: outside the grant (answer as if not found)
    rows: int
    reason: str = "ok"


Rank = Callable[[str, str, str], int]
"""(golden field, agency, entity) → trust rank (0 first): the index's survivorship, passed in."""
DISCLOSING = ("full", "partial")
"""Treatments of a record's identifier column under which linking the record to a person is disclosed."""


@dataclass(frozen=True)
class Evidence:
    """One record linked to the person, as the profile reader hands it over (``evidence`` entries)."""

    link: Any
    agency: str
    entity: str
    record: str
    role: str
    batch: Any
    loaded_at: Any
    columns: dict[str, str]  # golden attribute → column of the record's table
    values: dict[str, Any]  # column → value
    row: dict[str, Any]  # the columns the row rules read
    related: dict[str, list[Any]]  # "<entity>.<key>.<division>" → related rows' divisions

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Evidence:
        return cls(doc.get("link"), str(doc.get("agency")), str(doc.get("entity")), str(doc.get("record")),
                   str(doc.get("role")), doc.get("batch"), doc.get("loaded_at"), dict(doc.get("columns") or {}),
                   dict(doc.get("values") or {}), dict(doc.get("row") or {}), dict(doc.get("related") or {}))

    @property
    def source(self) -> tuple[str, str]:
        return (self.agency, self.record)


def _sources(item: dict[str, Any]) -> Iterable[tuple[str, str]]:
    for k in SOURCE_KEYS:
        src = item.get(k)
        for s in src if isinstance(src, list) else [src] if src else []:
            yield (str(s.get("agency")), str(s.get("record")))


def evidence_columns(grants: Iterable[Grant]) -> dict[str, tuple[str, ...]]:
    """entity → the columns the grants' row rules read (division, compound, via key, value filters):
    what the profile reader must hand over with each linked record for :class:`ProfilePolicy`."""
    wanted: dict[str, set[str]] = {}
    for grant in grants:
        for entity, share in grant.entities.items():
            rows = share.rows
            cols = {rows.division_column, rows.compound_column, rows.via_column, *(c for c, _ in rows.where)}
            wanted.setdefault(entity, set()).update(c for c in cols if c)
    return {entity: tuple(sorted(cols)) for entity, cols in sorted(wanted.items())}


class ProfilePolicy:
    """A consumer's grant applied to person profiles.

    The rule: the agency sees a person only when at least one row it may read names that person, and
    every value, record and provenance it receives comes from such rows. The profile reader hands over
    ``evidence`` — every linked record with what it says and the columns the row rules read; a record
    counts only when the grant lets the agency read its row *and* discloses its identifier column (a
    party whose ID number the agency sees only as a pseudonym is not linked to a named person for it).
    Identity is chosen again among those records (the index's golden value where its record is
    visible, else the most trusted visible record: ``rank``, then the newest); every item of every
    section is kept only when its own record is visible. A profile without evidence is refused."""

    def __init__(self, grant: Grant, key: bytes | None = None, rank: Rank | None = None) -> None:
        self.grant = grant
        self.key = key
        self.rank = rank or (lambda _field, _agency, _entity: 0)

    def _fields(self, share: EntityShare, item: dict[str, Any], mapping: dict[str, str] | None = None,
                keep: Iterable[str] = ()) -> dict[str, Any]:
        """The item's schema fields through the grant; provenance and ``keep`` keys as they are."""
        mapping = mapping or {}
        out: dict[str, Any] = {}
        for k, v in item.items():
            if k in SOURCE_KEYS or k in keep:
                out[k] = v
                continue
            visible, value = treat(share, mapping.get(k, k), v, self.key)
            if visible:
                out[k] = value
        return out

    def visible(self, ev: Evidence) -> bool:
        """May the agency read this record's row, and does its grant disclose who the record names?"""
        share = self.grant.share(ev.entity)
        if share is None:
            return False
        id_column = ev.columns.get("id_number")
        rule = share.column(id_column) if id_column else None
        if rule is None or rule.treatment not in DISCLOSING:
            return False
        rows = share.rows
        related: list[Any] = []
        if rows.via_entity:
            related = ev.related.get(f"{rows.via_entity}.{rows.via_column}.{rows.via_division_column}", [])
        return row_allowed(share, ev.row, related)

    def _identity(self, identity: dict[str, Any], seen: list[Evidence]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        names = list(identity) + sorted({a for ev in seen for a in ev.columns} - set(identity))
        newest = sorted(seen, key=lambda ev: (ev.loaded_at is not None, str(ev.loaded_at or "")), reverse=True)
        for name in names:
            golden = identity.get(name) or {}
            gsrc = golden.get("source") or {}
            candidates = []
            for ev in newest:  # min() keeps the first of equals: the newest record wins a tie of trust
                column = ev.columns.get(name)
                share = self.grant.share(ev.entity)
                if column is None or share is None or share.column(column) is None:
                    continue
                is_golden = (ev.agency, ev.entity, ev.record) == (gsrc.get("agency"), gsrc.get("entity"),
                                                                  gsrc.get("record"))
                value = golden.get("value") if is_golden else ev.values.get(column)
                if value is None:
                    continue
                candidates.append(((not is_golden, self.rank(name, ev.agency, ev.entity)), ev, column, share, value))
            if not candidates:
                continue
            _, ev, column, share, value = min(candidates, key=lambda c: c[0])
            _visible, shown = treat(share, column, value, self.key)
            out[name] = {"value": shown, "source": {"agency": ev.agency, "entity": ev.entity, "record": ev.record,
                                                    "batch": ev.batch}}
        return out

    def apply(self, profile: dict[str, Any] | None) -> Served:
        if profile is None:
            return Served(None, 0, "not found")
        out = {k: profile[k] for k in ALWAYS if k in profile}
        if profile.get("status") != "active":
            return Served(out, 0, "ok")
        if "evidence" not in profile:
            return Served(None, 0, "refused: profile without evidence")
        seen = [ev for ev in map(Evidence.of, profile.get("evidence") or []) if self.visible(ev)]
        if not seen:
            return Served(None, 0, "outside grant")
        g = self.grant
        keys = {(ev.entity, ev.agency, ev.record, ev.role) for ev in seen}
        by_entity: dict[str, set[tuple[str, str]]] = {}
        for ev in seen:
            by_entity.setdefault(ev.entity, set()).add(ev.source)
        out["identity"] = self._identity(profile.get("identity") or {}, seen)
        rows = len(seen)
        sections: dict[str, list[Any]] = {}
        households = self._households(profile.get("households") or [], seen)
        if households is not None:
            sections["households"] = households
            rows += sum(len(h["registrations"]) + len(h["members"]) for h in households)
        party, case = g.share("case_party"), g.share("case")
        if party is not None:
            sections["cases"] = []
            for c in profile.get("cases") or []:
                src = c.get("party_source") or {}
                if ("case_party", str(src.get("agency")), str(src.get("record")), "subject") not in keys:
                    continue
                case_row = {k: v for k, v in c.items() if k not in ("role", "name_recorded", "party_source")}
                entry = self._fields(party, {"case_number": c.get("case_number"), "role": c.get("role"),
                                             "name_recorded": c.get("name_recorded"),
                                             "party_source": c.get("party_source")},
                                     mapping={"name_recorded": "name"})
                if case is not None and "source" in c and row_allowed(case, case_row):
                    fields = self._fields(case, case_row)
                    fields.pop("case_number", None)
                    entry.update(fields)
                sections["cases"].append(entry)
        for section, entity, keep in (("disputes", "dispute", ("role",)), ("programmes", "special_population", ()),
                                      ("organizations", "organization", ("role",))):
            share = g.share(entity)
            if share is None:
                continue
            kept = []
            for item in profile.get(section) or []:
                if not any(s in by_entity.get(entity, ()) for s in _sources(item)):
                    continue
                entry = self._fields(share, item, keep=keep)
                if entity == "dispute":  # the roles the agency may see this person in
                    mine = sorted(ev.role for ev in seen if ev.entity == "dispute" and ev.source in set(_sources(item)))
                    entry["role"] = mine[0] if len(mine) == 1 else mine
                kept.append(entry)
            sections[section] = kept
        out.update(sections)
        out["records"] = [r for r in profile.get("records") or []
                          if (r.get("entity"), r.get("agency"), r.get("record"), r.get("role")) in keys]
        out["agencies"] = sorted({r["agency"] for r in out["records"]})
        return Served(out, rows)

    def _households(self, households: list[dict[str, Any]], seen: list[Evidence]) -> list[dict[str, Any]] | None:
        """Households the agency knows this person in (through a visible member or head record), with the
        registrations and members it may read; members shown with their own visible record's values."""
        household, person = self.grant.share("household"), self.grant.share("person")
        if household is None and person is None:
            return None
        numbers: dict[str, set[str]] = {}
        for ev in seen:
            number = ev.values.get(ev.columns.get("household_number", ""))
            if number is not None and ev.entity in ("person", "household"):
                numbers.setdefault(str(number), set()).add("member" if ev.entity == "person" else "head")
        out = []
        for h in households:
            number = h.get("household_number")
            if number not in numbers:
                continue
            regs = [r for r in h.get("registrations") or [] if household is not None and row_allowed(household, r)]
            divisions = [r.get("division_code") for r in h.get("registrations") or []]
            members = []
            for m in h.get("members") or []:
                if person is None:
                    break
                own = [s for s in m.get("sources") or [] if row_allowed(person, s, divisions)]
                if not own:
                    continue
                first = own[0]
                entry = {"person_uid": m.get("person_uid")}
                for col in ("name", "gender", "birth_date"):
                    shown, value = treat(person, col, first.get(col), self.key)
                    if shown:
                        entry[col] = value
                entry["sources"] = [{k: s.get(k) for k in ("agency", "record", "batch")} for s in own]
                members.append(entry)
            entry = {"relation": sorted(numbers[number]), "member_total": len(members)}
            if household is not None:
                shown, value = treat(household, "household_number", number, self.key)
            else:
                shown, value = treat(person, "household_number", number, self.key) if person else (False, None)
            if shown:
                entry["household_number"] = value
            entry["registrations"] = [self._fields(household, r) for r in regs] if household is not None else []
            entry["members"] = members
            out.append(entry)
        return out

