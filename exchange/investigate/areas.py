"""The five levels a record is counted at — city, district/county, town/street, community/village,
compound — and how a record is placed in them.

A division code says the first four: ``6109`` + ``00`` the city, 6 digits the district, 9 the town, 12
the community. A record whose code stops higher up (a town's 9 digits) is counted in the town and, one
level down, under "not placed further" (``<town>/-``), so that every level's areas add up to the level
above. The fifth level comes from the address: a compound of the record's community (``core.compound``:
its code, name and community) whose name the address holds, as a standard-address service would place
it; a record without an address, or one naming no compound, is "not placed further" in its community.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

LEVELS = ("city", "district", "town", "community", "compound")
DIGITS = {"city": 4, "district": 6, "town": 9, "community": 12}
REST = "/-"
"""Suffix of an area's "not placed further" child: records whose place stops at that area."""


def parent_level(level: str) -> str | None:
    i = LEVELS.index(level)
    return LEVELS[i - 1] if i else None


def city_code(prefix: str) -> str:
    return prefix[:4] + "00"


@dataclass(frozen=True)
class Place:
    """A record's area at each level (None below where its place is known)."""

    codes: tuple[str | None, ...]

    def at(self, level: str) -> str | None:
        return self.codes[LEVELS.index(level)]


@dataclass
class Compounds:
    """The compounds of ``core.compound`` by community: (code, name), longest name first."""

    by_community: dict[str, list[tuple[str, str]]]
    names: dict[str, str]

    def find(self, community: str | None, address: Any) -> str | None:
        if not community or not address:
            return None
        text_ = str(address)
        for code, name in self.by_community.get(community, ()):
            if name in text_:
                return code
        return None


def load_compounds(conn: Connection) -> Compounds:
    by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    names: dict[str, str] = {}
    rows = conn.execute(text("SELECT source_record_id, name, division_code FROM core.compound "
                             "WHERE name IS NOT NULL AND division_code IS NOT NULL"))
    for code, name, division in rows:
        if len(str(name)) >= 2 and code not in names:
            by[str(division)].append((str(code), str(name)))
            names[str(code)] = str(name)
    for items in by.values():
        items.sort(key=lambda cn: (-len(cn[1]), cn[0]))
    return Compounds(dict(by), names)


def place(division: Any, address: Any, compounds: Compounds, city: str) -> Place | None:
    """A record's areas, from its division code (and its address for the compound); None when it is not
    in ``city`` (a 4-digit prefix) or has no division code."""
    code = str(division or "")
    if not code.isdigit() or not code.startswith(city):
        return None
    out = [city_code(city)]
    for level in ("district", "town", "community"):
        above, n = out[-1], DIGITS[level]
        part = code[DIGITS[parent_level(level) or "city"]:n]
        known = not above.endswith(REST) and len(code) >= n and part.strip("0") != ""
        out.append(code[:n] if known else above if above.endswith(REST) else above + REST)
    community = out[-1]
    out.append(community if community.endswith(REST) else compounds.find(community, address) or community + REST)
    return Place(tuple(out))


def area_name(code: str, level: str, divisions: Any, compounds: Compounds) -> str:
    """A name for people: GB/T 2260's for the city and districts, ``core.compound``'s for compounds; towns and
    communities by their code (the reference table stops at the county)."""
    if code.endswith(REST):
        return f"{code.removesuffix(REST)} 未细分到下级"
    if level in ("city", "district"):
        return divisions.name(code) or code
    if level == "compound":
        return compounds.names.get(code, code)
    return code


def within(code: str, regions: Any) -> bool:
    """Is the area inside the jurisdiction (``regions``: the grant's division prefixes; None: all)?"""
    if regions is None:
        return True
    digits = code.removesuffix(REST)
    return any(digits.startswith(r) for r in regions)


def covers(code: str, regions: Any) -> bool:
    """Does the area hold some of the jurisdiction (it, or a region inside it)?"""
    if regions is None:
        return True
    if code.endswith(REST):  # what is left of an area once its parts are counted: only if all of it is inside
        return within(code, regions)
    digits = code
    if digits.endswith("00") and len(digits) == 6 and digits[4:] == "00":  # the city: 610900 holds 6109…
        digits = digits[:4]
    return any(r.startswith(digits) or digits.startswith(r) for r in regions)
