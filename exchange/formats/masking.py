"""Vectorised masking for validation reports and sharing views.

Lengths are counted in characters (code points). Nulls stay null. Where a rule keeps
a number of characters that varies per row, the work loops over the few distinct
lengths, never over the values.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.phone import MOBILE_PATTERN
from exchange.formats.text import as_string_array, bool_np

__all__ = [
    "mask_credit_code",
    "mask_generic",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "mask_value",
    "scrub_identifiers",
    "within_hex_token",
]

STAR = "*"


def _lengths(arr: pa.StringArray) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.utf8_length(arr), 0), dtype=np.int64)


def _slice_varying(arr: pa.StringArray, counts: np.ndarray, *, from_end: bool) -> pa.StringArray:
    """Per row, the first (or last) ``counts[i]`` characters."""
    result = pa.array([""] * len(arr), type=pa.string()) if len(arr) else arr
    for count in np.unique(counts):
        if count <= 0:
            continue
        part = pc.utf8_slice_codeunits(arr, -int(count)) if from_end else pc.utf8_slice_codeunits(arr, 0, int(count))
        result = pc.if_else(pa.array(counts == count), part, result)
    return result


def _mask(arr: pa.StringArray, keep_head: np.ndarray, keep_tail: np.ndarray) -> pa.StringArray:
    """head + '*' for every character not kept + tail."""
    lengths = _lengths(arr)
    keep_head, keep_tail = _clip(lengths, keep_head, keep_tail)
    head = _slice_varying(arr, keep_head, from_end=False)
    tail = _slice_varying(arr, keep_tail, from_end=True)
    star_run = pc.binary_repeat(pa.scalar(STAR), pa.array(np.maximum(lengths - keep_head - keep_tail, 0)))
    masked = pc.binary_join_element_wise(head, star_run, tail, "")
    return pc.if_else(arr.is_valid(), masked, pa.scalar(None, pa.string()))


def _clip(lengths: np.ndarray, head: np.ndarray, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    head = np.clip(head, 0, lengths)
    return head, np.clip(tail, 0, lengths - head)


# What each mask keeps, from the values' lengths (and whether each is a mobile number): one rule
# per kind, applied to whole arrays (``mask_*``) and to single values (``mask_value``).

def _keep_resident_id(lengths: np.ndarray, _mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    full = lengths == 18
    return np.where(full, 6, np.minimum(3, lengths // 2)), np.where(full, 2, 0)


def _keep_phone(lengths: np.ndarray, mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.where(mobile, 3, 0), np.where(mobile, 4, np.minimum(4, lengths // 2))


def _keep_name(lengths: np.ndarray, _mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.ones_like(lengths), np.zeros_like(lengths)


def _keep_credit_code(lengths: np.ndarray, _mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.minimum(8, lengths // 2), np.zeros_like(lengths)


def _keep_generic(lengths: np.ndarray, _mobile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.where(lengths > 2, 1, 0)
    return keep, keep


_KEEP = {"resident_id": _keep_resident_id, "phone": _keep_phone, "name": _keep_name,
         "credit_code": _keep_credit_code, "generic": _keep_generic}
_MOBILE = re.compile(MOBILE_PATTERN)


def _masked(kind: str, values: Any) -> pa.StringArray:
    arr = as_string_array(values)
    lengths = _lengths(arr)
    mobile = bool_np(pc.match_substring_regex(arr, MOBILE_PATTERN)) if kind == "phone" else lengths < 0
    return _mask(arr, *_KEEP[kind](lengths, mobile))


def mask_value(kind: str, value: Any) -> str | None:
    """One value masked as ``mask_<kind>`` masks an array (``resident_id``, ``phone``, ``name``,
    ``credit_code``, ``generic``) — without Arrow's per-call cost, for a profile's few values."""
    if value is None:
        return None
    text_ = str(value)
    n = len(text_)
    lengths = np.array([n])
    mobile = np.array([kind == "phone" and _MOBILE.match(text_) is not None])
    head, tail = _clip(lengths, *_KEEP[kind](lengths, mobile))
    h, t = int(head[0]), int(tail[0])
    return text_[:h] + STAR * (n - h - t) + text_[n - t:]


def mask_resident_id(values: Any) -> pa.StringArray:
    """18 characters: first 6 + ten '*' + last 2 (``610902**********1X``); other lengths:
    keep at most the first 3 characters (never more than half), the rest '*'."""
    return _masked("resident_id", values)


def mask_phone(values: Any) -> pa.StringArray:
    """Mobile ``138****5678`` (first 3, four '*', last 4); other values: keep the last 4
    characters (never more than half), the rest '*'."""
    return _masked("phone", values)


def mask_name(values: Any) -> pa.StringArray:
    """First character + one '*' per remaining character (``张*``, ``欧阳**``)."""
    return _masked("name", values)


def mask_credit_code(values: Any) -> pa.StringArray:
    """First 8 characters (never more than half) + '*' for the rest."""
    return _masked("credit_code", values)


def mask_generic(values: Any) -> pa.StringArray:
    """First and last character kept, '*' in between; values of 1-2 characters all '*'."""
    return _masked("generic", values)


# --- identifiers inside free text (messages, log lines, report texts) ---------------------------

# full-width digits and X read as ASCII; the translation keeps every position
FULLWIDTH_DIGITS = str.maketrans({**{chr(0xFF10 + i): str(i) for i in range(10)}, "\uff38": "X", "\uff58": "x"})
_ALNUM = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset("0123456789abcdefABCDEF")
_ID18_SHAPED = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
_ID15_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9]{15}(?![0-9A-Za-z])")
_MOBILE_SHAPED = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
_CREDIT_SHAPED = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Za-z])")


def within_hex_token(text: str, start: int, end: int) -> bool:
    """Is ``text[start:end]`` (a run of digits) part of a longer hexadecimal token — a SHA-256, a
    batch id's digest — rather than a number of its own? Letters around it that are not all
    hexadecimal (``ID610902…``) leave it a number."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before not in _ALNUM and after not in _ALNUM:
        return False
    i, j = start, end
    while i > 0 and text[i - 1] in _ALNUM:
        i -= 1
    while j < len(text) and text[j] in _ALNUM:
        j += 1
    return all(c in _HEX for c in text[i:j])


def scrub_identifiers(text: Any) -> str:
    """``text`` with everything shaped like a personal identifier masked the way the sharing views
    mask it: resident ID numbers (18 characters, or 15 digits standing alone; full-width digits
    too) ``610902**********1X``, mobile numbers ``138****5678``, unified social credit codes
    ``91110000**********``. Shape only — no check character is verified, so an invalid number a
    message quotes is masked as well. Digits inside a hexadecimal hash are left alone.

    For any text that may quote a value and leaves the warehouse: error messages, log lines,
    report texts, validation samples of fields that are not declared personal.
    """
    s = "" if text is None else str(text)
    if len(s) < 11:
        return s
    norm = s.translate(FULLWIDTH_DIGITS)
    spans = [(m.start(), m.end()) for m in _ID18_SHAPED.finditer(norm) if not within_hex_token(norm, *m.span())]
    spans += [m.span() for m in _ID15_SHAPED.finditer(norm)]
    if spans:
        masked = mask_resident_id([s[a:b] for a, b in spans]).to_pylist()
        for (a, b), m in sorted(zip(spans, masked, strict=True), reverse=True):
            s = s[:a] + m + s[b:]
    s = _CREDIT_SHAPED.sub(lambda m: mask_credit_code([m.group(0)])[0].as_py(), s)
    return _MOBILE_SHAPED.sub(lambda m: mask_phone([m.group(0)])[0].as_py(), s)


def redact(text: Any) -> str:
    """An error or log text fit to leave the warehouse (a terminal, a task log, the ledger's error
    column): URL passwords, secret query parameters and Authorization values masked
    (:func:`exchange.spec.connections.mask_text`), then every identifier-shaped value
    (:func:`scrub_identifiers`) — a library's message may quote a row's value."""
    from exchange.spec.connections import mask_text

    return scrub_identifiers(mask_text(str(text)))
