"""Person names of a Chinese register. A name is text as the agency wrote it (汉字, a minority name with
``·``, a foreign name in Latin letters); what no register holds is **mojibake**: UTF-8 bytes read as
Windows-1252 or Latin-1 (张三 exported as UTF-8, opened as "ANSI" and saved again: ``å¼ ä¸‰``). Such a
value is refused with a reason that names the cause, instead of loading as a name nobody has.

Detection: a value holding characters of the Latin-1 range (U+0080-U+00FF, and the cp1252 punctuation
those bytes map to) that, encoded back to those bytes, decodes as UTF-8 into text with CJK characters.
A non-breaking space the export turned into a space (after :func:`~exchange.formats.text.normalize_text`)
is tried both ways. ``Müller`` or ``José`` stay names: their bytes are no UTF-8.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import as_string_array, bool_np, codes_to_array, normalize_text

__all__ = ["PERSON_NAME_REASONS", "check_person_name", "is_mojibake", "normalize_person_name"]

PERSON_NAME_REASONS = ("person_name.mojibake",)
_REASON_CODES: tuple[str | None, ...] = (None, *PERSON_NAME_REASONS)
_SUSPECT = "[\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e" \
           "\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
"""Characters a UTF-8 byte 0x80-0xFF becomes when read as Windows-1252 or Latin-1 (RE2 and Python re)."""
_CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")


def normalize_person_name(values: Any) -> pa.StringArray:
    return normalize_text(values)


def _redecoded(text: str) -> str | None:
    """The text the bytes behind a mojibake value spelled, or None if they spell none."""
    for candidate in dict.fromkeys((text, text.replace(" ", "\u00a0"))):
        raw = bytearray()
        try:
            for ch in candidate:
                try:
                    raw += ch.encode("cp1252")
                except UnicodeEncodeError:
                    raw += ch.encode("latin-1")  # the five bytes cp1252 leaves undefined read as Latin-1
            decoded = raw.decode("utf-8")
        except UnicodeError:
            continue
        if decoded != candidate:
            return decoded
    return None


def is_mojibake(text: str) -> bool:
    decoded = _redecoded(text)
    return decoded is not None and bool(_CJK.search(decoded))


def check_person_name(values: Any) -> pa.StringArray:
    """Reason codes: ``person_name.mojibake``; null where the name is plausible (or null)."""
    arr = as_string_array(values)
    reason = np.zeros(len(arr), dtype=np.int8)
    suspect = np.flatnonzero(bool_np(pc.match_substring_regex(arr, _SUSPECT)))  # rare: looked at one by one
    for i, text in zip(suspect, arr.take(pa.array(suspect, pa.int64())).to_pylist(), strict=True):
        if text is not None and is_mojibake(text):
            reason[i] = 1
    return codes_to_array(reason, _REASON_CODES)
