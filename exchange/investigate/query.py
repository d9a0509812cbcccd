"""What a search text means: the probes to run against the element index.

``exchange search 张三`` guesses the kinds from the text's shape; ``--kind`` names one. Each
:class:`Probe` is one indexed lookup, with a rank (0 best) that orders results:

=============  ===========================================================================
text           probes
=============  ===========================================================================
ID number      ``id`` exact (15-digit numbers upgraded to 18)
digits, 4-17   ``id`` and ``phone`` by the last digits; an 11-digit mobile also exact
plate          ``plate`` exact; one unreadable character (``陕G1?345``) as a one-character wildcard
letters        ``name`` by pinyin (``zhangsan``), then by fuzzy pinyin (``zangsan`` finds 张三)
Han, ≤ 6       ``name`` exact (simplified: 張三 finds 张三), then by pinyin (同音), then (3 characters
               or more) ``address``, ``org`` and ``case`` by substring
Han, longer    ``address``, ``org`` and ``case`` by substring; ``name`` exact
codes          ``case`` and ``org`` exact (case numbers, credit codes), ``case`` by prefix
=============  ===========================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from exchange.errors import ConfigError
from exchange.formats import normalize_resident_id, upgrade_legacy_resident_id
from exchange.formats.pinyin import is_han, name_pinyin, simplified
from exchange.formats.plate import PROVINCES
from exchange.spec.schema import SearchKind

KINDS: tuple[SearchKind, ...] = ("id", "phone", "name", "address", "plate", "org", "case")
SUBSTRING_KINDS: tuple[SearchKind, ...] = ("address", "org", "case")
"""The kinds searched by substring: the only ones the trigram index holds."""
WILDCARDS = "?？*＊_"
MIN_SUFFIX = 4
MIN_SUBSTRING = 3
"""Fewer characters make no trigram: a substring search would read the whole index."""
MIN_PINYIN = 3
MAX_QUERY = 100

_ID = re.compile(r"^[0-9]{17}[0-9X]$|^[0-9]{15}$")
_PLATE = re.compile(rf"^[{PROVINCES}][A-Z?](?:[A-Z0-9?]{{5}}|[A-Z0-9?]{{4}}[挂学警港澳领?]|[A-Z0-9?]{{6}})$")
_CODE = re.compile(r"^[A-Z0-9]{6,}$")


@dataclass(frozen=True)
class Probe:
    kind: str
    mode: str
    """exact (key =), suffix (key_rev prefix), prefix (key prefix), pattern (one wildcard character),
    pinyin (py =), fuzzy (fpy =), substring (key contains)"""
    value: str
    rank: int


def clean(text: str) -> str:
    text = re.sub(r"[\s\u00a0\u200b\u3000·•\-]", "", text or "")
    return text[:MAX_QUERY]


def plan(text: str, kind: str | None = None) -> list[Probe]:
    """The probes for ``text`` (``kind``: only that kind). Raises ConfigError for a text that can find
    nothing (too short, or a kind its shape cannot be)."""
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"--kind {kind!r}: not a search kind (known: {', '.join(KINDS)})")
    q = clean(text)
    if not q:
        raise ConfigError("search: nothing to search for (give a name, an ID number, a phone, a plate...)")
    upper = q.upper().translate(str.maketrans("？＊＿", "???"))
    upper = upper.replace("*", "?").replace("_", "?")
    probes: list[Probe] = []
    han = sum(1 for c in q if is_han(c))
    if kind in (None, "id") and _ID.match(upper):
        number = normalize_resident_id([upper])[0].as_py() or upper
        if len(number) == 15:
            number = upgrade_legacy_resident_id([number])[0].as_py() or number
        probes.append(Probe("id", "exact", number, 0))
    digits = re.sub(r"^(?:\+?86|0086)(?=1[0-9]{10}$)", "", q)
    if digits.isdigit() and kind in (None, "phone"):
        if len(digits) >= 7:  # a mobile (11 digits) or a landline as the agencies write it
            probes.append(Probe("phone", "exact", digits, 0))
        if len(digits) >= MIN_SUFFIX and len(digits) < 11:
            probes.append(Probe("phone", "suffix", digits[::-1], 2))
    if kind in (None, "id") and (digits.isdigit() or re.match(r"^[0-9]+X$", upper)) and \
            MIN_SUFFIX <= len(upper) < 18:
        probes.append(Probe("id", "suffix", upper[::-1], 2))
    if kind in (None, "plate") and _PLATE.match(upper):
        if upper.count("?") == 0:
            probes.append(Probe("plate", "exact", upper, 0))
        elif upper.count("?") == 1:
            probes.append(Probe("plate", "pattern", upper, 1))
        elif kind == "plate":
            raise ConfigError(f"search {text!r}: a plate may have one unreadable character (?), not "
                              f"{upper.count('?')}")
    if kind in (None, "name") and q.isascii() and q.isalpha() and len(q) >= MIN_PINYIN:
        py, fpy = name_pinyin(q)
        probes += [Probe("name", "pinyin", py, 1), Probe("name", "fuzzy", fpy, 3)]
    if han:
        s = simplified(q)
        if kind in (None, "name") and len(q) <= 6:
            py, fpy = name_pinyin(s)
            probes += [Probe("name", "exact", s, 0), Probe("name", "pinyin", py, 2), Probe("name", "fuzzy", fpy, 3)]
        for k in SUBSTRING_KINDS:
            if kind in (None, k) and len(s) >= MIN_SUBSTRING:
                probes.append(Probe(k, "substring", s, 2 if len(s) > 4 else 3))
    if kind in (None, "case", "org") and _CODE.match(upper) and not _ID.match(upper):
        for k in ("case", "org"):
            if kind in (None, k):
                probes.append(Probe(k, "exact", upper, 0))
        if kind in (None, "case"):
            probes.append(Probe("case", "prefix", upper, 2))
    if not probes:
        what = f"as {kind}" if kind else "as any kind"
        raise ConfigError(f"search {text!r}: cannot be searched {what} — give a full ID number or its last "
                          f"{MIN_SUFFIX}+ digits, a phone, a plate (陕G12345, one ? for an unreadable character), "
                          f"a name in characters or pinyin, or {MIN_SUBSTRING}+ characters of an address")
    return probes


def recorded(text: str) -> str:
    """The query as it goes on record (audit.access): identifiers masked — ID numbers and phones as the
    partial masks show them, last digits and plates but their first characters, names to the surname."""
    from exchange.access import masks

    q = clean(text)
    upper = q.upper()
    if _ID.match(upper):
        return masks.partial("id", upper) or "*"
    if q.isdigit():
        return (masks.partial("phone", q) if len(q) >= 7 else None) or q[:1] + "*" * (len(q) - 1)
    if _PLATE.match(upper):
        return upper[:2] + "*" * (len(upper) - 2)
    if q.isascii() and q.isalpha():
        return q[:2] + "*" * (len(q) - 2)
    if len(q) <= 4 and any(is_han(c) for c in q):
        return masks.partial("name", q) or "*"
    return q
