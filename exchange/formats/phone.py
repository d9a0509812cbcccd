"""Mainland China phone numbers: 11-digit mobiles and ``0AA(A)-NNNNNNN(N)`` landlines."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import (
    SEPARATORS,
    as_string_array,
    bool_np,
    codes_to_array,
    normalize_text,
    rowwise_except,
)

__all__ = [
    "LANDLINE_PATTERN",
    "MOBILE_PATTERN",
    "PHONE_REASONS",
    "check_phone",
    "normalize_phone",
]

MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"
LANDLINE_PATTERN = r"^0[0-9]{2,3}-[0-9]{7,8}$"
PHONE_REASONS = ("phone.mobile", "phone.landline", "phone.format")
_REASON_CODES: tuple[str | None, ...] = (None, *PHONE_REASONS)
_KINDS = {"mobile": 1, "landline": 2, "any": 3}

_SEPARATORS = SEPARATORS[:-1] + "()]"  # the number separators, and brackets around an area code
# optional country prefix (+86, 0086, 86) then an 11-digit mobile
_MOBILE_IN = r"^(?:\+86|0086|86)?(1[3-9][0-9]{9})$"
# country prefix (+86 / 0086, trunk 0 optional) or trunk 0, then the area code and local number.
# 3-digit area codes are 010 and 02X; every other area code has 4 digits (0[3-9]XX).
_AREA3_IN = r"^(?:(?:\+86|0086)0?|0)(10|2[0-9])([0-9]{7,8})$"
_AREA4_IN = r"^(?:(?:\+86|0086)0?|0)([3-9][0-9]{2})([0-9]{7,8})$"


def normalize_phone(values: Any) -> pa.StringArray:
    """Mobiles → 11 digits (separators and a +86/0086/86 prefix dropped); landlines →
    ``0AA(A)-NNNNNNN(N)`` where the area code is unambiguous; anything else unchanged
    (after :func:`normalize_text`, which also turns full-width digits into ASCII)."""
    arr = normalize_text(values)
    # an 11-digit mobile is its own normal form (each step below is row-wise): only the others are worked on
    return rowwise_except(arr, pc.fill_null(pc.match_substring_regex(arr, MOBILE_PATTERN), False), _normalize)


def _normalize(arr: pa.StringArray) -> pa.StringArray:
    compact = pc.replace_substring_regex(arr, _SEPARATORS, "")
    result = arr
    for pattern, replacement in ((_AREA4_IN, r"0\1-\2"), (_AREA3_IN, r"0\1-\2"), (_MOBILE_IN, r"\1")):
        hit = pc.fill_null(pc.match_substring_regex(compact, pattern), False)
        result = pc.if_else(hit, pc.replace_substring_regex(compact, pattern, replacement), result)
    return result


def check_phone(values: Any, kind: str = "any") -> pa.StringArray:
    """Reason codes: kind ``mobile`` → ``phone.mobile``, ``landline`` → ``phone.landline``,
    ``any`` → ``phone.format`` (neither a mobile nor a landline)."""
    if kind not in _KINDS:
        raise ValueError(f"check_phone: kind must be one of {sorted(_KINDS)}, got {kind!r}")
    arr = as_string_array(values)
    ok = np.zeros(len(arr), dtype=bool)
    if kind in ("mobile", "any"):
        ok |= bool_np(pc.match_substring_regex(arr, MOBILE_PATTERN))
    if kind in ("landline", "any"):
        ok |= bool_np(pc.match_substring_regex(arr, LANDLINE_PATTERN))
    reason = np.where(bool_np(arr.is_valid()) & ~ok, _KINDS[kind], 0).astype(np.int8)
    return codes_to_array(reason, _REASON_CODES)
