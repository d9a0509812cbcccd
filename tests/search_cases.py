"""Hard search cases, generated from what a warehouse holds — independently of the demo city's code and
of the exchange's own name functions (OpenCC's s2t and pypinyin directly, the homophone confusions
written out here): each case is a query a person would type for a known person, with that person as
the truth. Used by tests/e2e/test_investigate.py and bench/search_quality.

Cases: ``id_full``, ``id_last6``, ``phone_full``, ``phone_last4``, ``name_exact``, ``name_traditional``,
``name_pinyin``, ``name_fuzzy`` (zh→z, ch→c, sh→s, l→n, -ng→-n as someone mishearing would type),
``name_roman`` (``Zhang San``), ``plate_exact``, ``plate_one_unreadable`` (one character read as ?),
``address_part`` (a stretch of the address inside it).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, text

CASES = ("id_full", "id_last6", "phone_full", "phone_last4", "name_exact", "name_traditional", "name_pinyin",
         "name_fuzzy", "name_roman", "plate_exact", "plate_one_unreadable", "address_part")


@dataclass(frozen=True)
class Case:
    case: str
    query: str
    person_uid: str
    kind: str | None = None


def _confuse(syllable: str) -> str:
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if syllable.startswith(a):
            return b + syllable[len(a):]
    if syllable.startswith("n"):
        syllable = "l" + syllable[1:]
    elif syllable.startswith("l"):
        syllable = "n" + syllable[1:]
    return syllable[:-1] if syllable.endswith("ng") else syllable


def generate(conn: Connection, *, per_case: int = 40, seed: int = 5) -> Iterator[Case]:
    import opencc
    from pypinyin import lazy_pinyin

    rng = random.Random(seed)
    t = opencc.OpenCC("s2t")
    persons = conn.execute(text(
        "SELECT l.person_uid, c.name, c.id_number, c.phone, c.address FROM core.person c JOIN mdm.person_link l "
        "ON l.source_agency = c.source_agency AND l.entity = 'person' AND l.source_record_id = c.source_record_id "
        "JOIN mdm.person p ON p.person_uid = l.person_uid AND p.status = 'active' "
        "WHERE c.name IS NOT NULL ORDER BY c.source_agency, c.source_record_id")).all()
    rng.shuffle(persons)
    sample = persons[:per_case]
    for uid, name, id_number, phone, address in sample:
        if id_number:
            yield Case("id_full", id_number, uid)
            yield Case("id_last6", id_number[-6:], uid, "id")
        if phone and phone.startswith("1") and len(phone) == 11:
            yield Case("phone_full", phone, uid)
            yield Case("phone_last4", phone[-4:], uid, "phone")
        yield Case("name_exact", name, uid)
        traditional = t.convert(name)
        if traditional != name:
            yield Case("name_traditional", traditional, uid)
        syllables = lazy_pinyin(name)
        yield Case("name_pinyin", "".join(syllables), uid)
        confused = "".join(_confuse(s) for s in syllables)
        if confused != "".join(syllables):
            yield Case("name_fuzzy", confused, uid)
        yield Case("name_roman", f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}", uid)
        if address and len(address) > 12:
            start = rng.randrange(6, len(address) - 6)
            yield Case("address_part", address[start:start + rng.randint(4, 6)], uid, "address")
    plates = conn.execute(text(
        "SELECT l.person_uid, v.plate FROM core.vehicle v JOIN mdm.person_link l ON l.source_agency = v.source_agency "
        "AND l.entity = 'vehicle' AND l.source_record_id = v.source_record_id "
        "ORDER BY v.source_agency, v.source_record_id")).all()
    rng.shuffle(plates)
    for uid, plate in plates[:per_case]:
        yield Case("plate_exact", plate, uid)
        i = rng.randrange(2, len(plate))
        yield Case("plate_one_unreadable", plate[:i] + "?" + plate[i + 1:], uid, "plate")


@dataclass
class Score:
    case: str
    n: int = 0
    found: int = 0
    first: int = 0
    groups: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.n if self.n else 1.0

    def line(self) -> str:
        first = self.first / max(1, self.n)
        return (f"{self.case:22s} n={self.n:3d}  found {self.recall:6.1%}  ranked first {first:6.1%}"
                f"  groups/query {self.groups / max(1, self.n):5.1f}")


def score(cases: list[Case], run: object) -> dict[str, Score]:
    """Run every case (``run(query, kind) -> result dict``) and score it against its truth."""
    scores: dict[str, Score] = {}
    for c in cases:
        result = run(c.query, c.kind)  # type: ignore[operator]
        uids = [g.get("person_uid") for g in result["groups"]]
        s = scores.setdefault(c.case, Score(c.case))
        s.n += 1
        s.groups += len(uids)
        if c.person_uid in uids:
            s.found += 1
            s.first += uids[0] == c.person_uid
    return scores
