"""The person profile through a grant: the same columns, masks and rows as the agency's views.

``ProfilePolicy(grant, key).apply(profile)`` takes the profile ``exchange.linking`` builds (every
section, raw values) and returns what the consumer may see, or None when the person lies outside
its jurisdiction. Default deny: a section whose entity is not granted is dropped, a field the grant
does not list is dropped, and a row is kept only when the grant's row rule can be shown to hold
(its division, the household of a member, the case of a party).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from exchange.access import masks
from exchange.access.spec import EntityShare, Grant

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
    rows = share.rows
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


class ProfilePolicy:
    """A consumer's grant applied to person profiles."""

    def __init__(self, grant: Grant, key: bytes | None = None) -> None:
        self.grant = grant
        self.key = key

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

    def apply(self, profile: dict[str, Any] | None) -> Served:
        if profile is None:
            return Served(None, 0, "not found")
        out = {k: profile[k] for k in ALWAYS if k in profile}
        if profile.get("status") != "active":
            return Served(out, 0, "ok")
        g = self.grant
        person = g.share("person")
        if person is None:
            return Served(None, 0, "no grant on person")
        identity = profile.get("identity") or {}
        golden = {k: (v or {}).get("value") for k, v in identity.items()}
        households = profile.get("households") or []
        hh_divisions = [r.get("division_code") for h in households
                        if h.get("household_number") == golden.get("household_number")
                        for r in h.get("registrations") or []]
        if not row_allowed(person, golden, hh_divisions):
            return Served(None, 0, "outside jurisdiction")
        rows = 1
        out["identity"] = {}
        for name, entry in identity.items():
            visible, value = treat(person, name, (entry or {}).get("value"), self.key)
            if visible:
                out["identity"][name] = {**entry, "value": value}
        kept_sources: set[tuple[str, str]] = set()

        def remember(item: dict[str, Any]) -> None:
            for k in SOURCE_KEYS:
                src = item.get(k)
                for s in src if isinstance(src, list) else [src] if src else []:
                    kept_sources.add((str(s.get("agency")), str(s.get("record"))))

        sections: dict[str, list[Any]] = {}
        household = g.share("household")
        if household is not None:
            sections["households"] = []
            for h in households:
                regs = [r for r in h.get("registrations") or [] if row_allowed(household, r)]
                if not regs and not household.rows.unrestricted:
                    continue
                entry = {"relation": h.get("relation"), "member_total": h.get("member_total")}
                visible, number = treat(household, "household_number", h.get("household_number"), self.key)
                if visible:
                    entry["household_number"] = number
                entry["registrations"] = [self._fields(household, r) for r in regs]
                entry["members"] = [self._fields(person, m, keep=("person_uid",)) for m in h.get("members") or []]
                for r in regs:
                    remember(r)
                for m in h.get("members") or []:
                    remember(m)
                rows += len(regs) + len(entry["members"])
                sections["households"].append(entry)
        party, case = g.share("case_party"), g.share("case")
        if party is not None:
            sections["cases"] = []
            for c in profile.get("cases") or []:
                case_row = {k: v for k, v in c.items() if k not in ("role", "name_recorded", "party_source")}
                case_ok = case is not None and "source" in c and row_allowed(case, case_row)
                party_row = {"case_number": c.get("case_number"), "role": c.get("role"), "name": c.get("name_recorded")}
                divisions = [c.get("division_code")] if "source" in c else []
                if not row_allowed(party, party_row, divisions):
                    continue
                entry = self._fields(party, {"case_number": c.get("case_number"), "role": c.get("role"),
                                             "name_recorded": c.get("name_recorded"),
                                             "party_source": c.get("party_source")},
                                     mapping={"name_recorded": "name"})
                if case_ok and case is not None:
                    fields = self._fields(case, case_row)
                    fields.pop("case_number", None)
                    entry.update(fields)
                remember(entry)
                rows += 1
                sections["cases"].append(entry)
        for section, entity, keep in (("disputes", "dispute", ("role",)), ("programmes", "special_population", ()),
                                      ("organizations", "organization", ("role",))):
            share = g.share(entity)
            if share is None:
                continue
            kept = []
            for item in profile.get(section) or []:
                if not row_allowed(share, item):
                    continue
                entry = self._fields(share, item, keep=keep)
                remember(entry)
                kept.append(entry)
            rows += len(kept)
            sections[section] = kept
        out.update(sections)
        out["records"] = [r for r in profile.get("records") or [] if self._record_visible(r, kept_sources)]
        out["agencies"] = sorted({r["agency"] for r in out["records"]})
        return Served(out, rows)

    def _record_visible(self, record: dict[str, Any], kept: set[tuple[str, str]]) -> bool:
        share = self.grant.share(str(record.get("entity")))
        if share is None:
            return False
        if record.get("entity") == "person" or share.rows.unrestricted:
            return True
        return (str(record.get("agency")), str(record.get("record"))) in kept
