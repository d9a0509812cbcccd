"""Resident identity numbers (GB 11643-1999, 18 characters; legacy 15-digit numbers).

Layout of the 18-character number: 6-digit GB/T 2260 region code, 8-digit birth date
``YYYYMMDD``, 3-digit sequence (odd = male, even = female), ISO 7064 MOD 11-2 check
character (``0``-``9`` or ``X``). A legacy first-generation number has 15 digits:
region, ``YYMMDD`` (19YY), 3-digit sequence, no check character.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.dates import check_date, civil_days
from exchange.formats.division import DivisionCodes, load_division_codes
from exchange.formats.text import (
    as_string_array,
    bool_np,
    codes_to_array,
    fixed_width_bytes,
    normalize_text,
    remove_separators,
    rowwise_except,
)

__all__ = [
    "RESIDENT_ID_REASONS",
    "check_resident_id",
    "normalize_resident_id",
    "resident_id_birth_date",
    "resident_id_birth_mismatch",
    "resident_id_check_char",
    "resident_id_gender",
    "upgrade_legacy_resident_id",
]

RESIDENT_ID_REASONS = (
    "resident_id.legacy_15",
    "resident_id.format",
    "resident_id.checksum",
    "resident_id.birth_date",
    "resident_id.birth_future",
    "resident_id.region",
    "resident_id.gender",
    "resident_id.birth_mismatch",
    "resident_id.sequence_000",
    "resident_id.region_expired",
)
_REASON_CODES: tuple[str | None, ...] = (None, *RESIDENT_ID_REASONS)
(_OK, _LEGACY, _FORMAT, _CHECKSUM, _BIRTH, _FUTURE, _REGION, _GENDER) = range(8)
_SEQUENCE_000, _REGION_EXPIRED = 9, 10

ID18_PATTERN = r"^[0-9]{17}[0-9X]$"
ID15_PATTERN = r"^[0-9]{15}$"
MIN_BIRTH_YEAR = 1850
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"
_WEIGHT_TUPLE = tuple(_WEIGHTS.tolist())
# value of the check character for (weighted sum mod 11); X = 10
_CHECK_VALUES = np.array([1, 0, 10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)
_EPOCH = datetime.date(1970, 1, 1)
_REGION_PLACES = np.array([100000, 10000, 1000, 100, 10, 1], dtype=np.int32)


def normalize_resident_id(values: Any) -> pa.StringArray:
    """normalize_text, remove the separators people type between digit groups (spaces, tabs, NBSP,
    hyphens and dashes: ``text.SEPARATORS``), trailing lower-case ``x`` → ``X``."""
    arr = normalize_text(values)
    canonical = pc.fill_null(pc.match_substring_regex(arr, ID18_PATTERN), False)  # nothing to remove or fold
    return rowwise_except(arr, canonical, lambda v: pc.replace_substring_regex(remove_separators(v), r"x$", "X"))


def _weighted_sum(digits17: np.ndarray) -> np.ndarray:
    total = np.zeros(len(digits17), dtype=np.int32)
    for i, weight in enumerate(_WEIGHTS.tolist()):  # column by column: faster than an int matmul here
        total += digits17[:, i].astype(np.int32) * weight
    return total


def resident_id_check_char(first17: Any) -> pa.StringArray:
    """ISO 7064 MOD 11-2 check character for 17-digit strings (null for other input)."""
    arr = as_string_array(first17)
    ok = bool_np(pc.match_substring_regex(arr, r"^[0-9]{17}$"))
    idx = np.flatnonzero(ok)
    index = np.zeros(len(arr), dtype=np.int8)
    if idx.size:
        digits = fixed_width_bytes(arr.take(pa.array(idx)), 17).astype(np.int64) - 48
        index[idx] = _weighted_sum(digits) % 11 + 1
    return codes_to_array(index, (None, *_CHECK_CHARS))


def check_char_of(first17: str) -> str:
    """The check character of one 17-digit string: the scalar twin of :func:`resident_id_check_char`
    (no Arrow set-up, for a single value on a request's path)."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 digits, got {len(first17)} characters")
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHT_TUPLE, strict=True)) % 11]


def _matrix18(arr: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of well-formed 18-character numbers (``ID18_PATTERN``) and their (m, 18) int16 digit
    matrix (X = 10). Decided on the bytes: 18 bytes, 17 ASCII digits then a digit or X."""
    lengths = np.asarray(pc.fill_null(pc.binary_length(arr), 0), dtype=np.int64)
    idx = np.flatnonzero(lengths == 18)
    if not idx.size:
        return idx, np.zeros((0, 18), np.int16)
    # every value 18 bytes long (the usual case): the data buffer is the matrix already, no copy
    raw = fixed_width_bytes(arr if idx.size == len(arr) else arr.take(pa.array(idx)), 18)
    digits = raw.astype(np.int16) - 48
    is_x = raw[:, 17] == ord("X")
    ok = ((digits[:, :17] >= 0) & (digits[:, :17] <= 9)).all(axis=1) & (
        ((digits[:, 17] >= 0) & (digits[:, 17] <= 9)) | is_x)
    if not ok.all():
        idx, digits, is_x = idx[ok], digits[ok], is_x[ok]
    digits[:, 17] = np.where(is_x, 10, digits[:, 17])
    return idx, digits


def _birth(digits: np.ndarray, century: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(plausible birth date, days since epoch) from an 18- (or 15-, with ``century``) digit matrix."""
    if century is None:
        year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
        pos = 10
    else:
        year = century * 100 + digits[:, 6] * 10 + digits[:, 7]
        pos = 8
    month = digits[:, pos] * 10 + digits[:, pos + 1]
    day = digits[:, pos + 2] * 10 + digits[:, pos + 3]
    real, days = civil_days(year, month, day)
    return real & (year >= MIN_BIRTH_YEAR), days


def check_resident_id(ids: Any, genders: Any = None, *, today: datetime.date | None = None,
                      divisions: DivisionCodes | None = None) -> pa.StringArray:
    """Reason codes (null = valid or null) in priority order:

    ``resident_id.legacy_15``, ``resident_id.format``, ``resident_id.checksum``,
    ``resident_id.birth_date``, ``resident_id.birth_future``, ``resident_id.region``,
    ``resident_id.gender`` (only where ``genders`` holds 'M' or 'F'), ``resident_id.sequence_000`` (a
    sequence code never issued: the mark of a number a spreadsheet rounded to 15 digits and padded with
    zeros), ``resident_id.region_expired`` (the county was abolished before the birth date: no number
    can have been issued there).
    """
    arr = as_string_array(ids)
    n = len(arr)
    gender_arr = None
    if genders is not None:
        gender_arr = as_string_array(genders)
        if len(gender_arr) != n:
            raise ValueError(f"check_resident_id: {n} ids but {len(gender_arr)} genders")
    reason = np.zeros(n, dtype=np.int8)
    idx, digits = _matrix18(arr)
    if idx.size < n:
        bad = bool_np(arr.is_valid())
        bad[idx] = False
        reason[bad] = _FORMAT
        legacy = bool_np(pc.match_substring_regex(arr, ID15_PATTERN))
        reason[legacy] = _LEGACY
    if not idx.size:
        return codes_to_array(reason, _REASON_CODES)

    sub = np.zeros(idx.size, dtype=np.int8)
    expected = _CHECK_VALUES[_weighted_sum(digits[:, :17]) % 11]
    birth_ok, days = _birth(digits)
    limit = ((today or datetime.date.today()) - _EPOCH).days
    region = digits[:, :6].astype(np.int32) @ _REGION_PLACES
    codes = divisions or load_division_codes()
    known = codes.known_lookup(region)
    # assign from the lowest priority up so the first failing rule wins
    if gender_arr is not None:
        g = gender_arr.take(pa.array(idx))
        is_m = bool_np(pc.equal(g, "M"))
        is_f = bool_np(pc.equal(g, "F"))
        odd = digits[:, 16] % 2 == 1
        sub[(is_m & ~odd) | (is_f & odd)] = _GENDER
    sub[(digits[:, 14] == 0) & (digits[:, 15] == 0) & (digits[:, 16] == 0)] = _SEQUENCE_000
    year = digits[:, 6] * 1000 + digits[:, 7] * 100 + digits[:, 8] * 10 + digits[:, 9]
    sub[known & birth_ok & (codes.last_year_lookup(region) < year)] = _REGION_EXPIRED
    sub[~known] = _REGION
    sub[birth_ok & (days > limit)] = _FUTURE
    sub[~birth_ok] = _BIRTH
    sub[digits[:, 17] != expected] = _CHECKSUM
    reason[idx] = sub
    return codes_to_array(reason, _REASON_CODES)


def _date_array(days: np.ndarray, valid: np.ndarray) -> pa.Date32Array:
    return pa.array(days.astype(np.int32), mask=~valid).cast(pa.date32())


def resident_id_birth_date(ids: Any) -> pa.Date32Array:
    """Birth date embedded in 18-digit (``YYYYMMDD``) or legacy 15-digit (``YYMMDD``, 19YY)
    numbers; null where the value is malformed or the date not real / before 1850.
    The check character is not verified (use :func:`check_resident_id` for that)."""
    arr = as_string_array(ids)
    n = len(arr)
    days_all = np.zeros(n, dtype=np.int64)
    valid_all = np.zeros(n, dtype=bool)
    idx, digits = _matrix18(arr)
    if idx.size:
        ok, days = _birth(digits)
        days_all[idx], valid_all[idx] = days, ok
    idx15 = np.flatnonzero(bool_np(pc.match_substring_regex(arr, ID15_PATTERN)))
    if idx15.size:
        digits15 = fixed_width_bytes(arr.take(pa.array(idx15)), 15).astype(np.int64) - 48
        ok, days = _birth(digits15, century=19)
        days_all[idx15], valid_all[idx15] = days, ok
    return _date_array(days_all, valid_all)


def resident_id_gender(ids: Any) -> pa.StringArray:
    """'M' (odd sequence digit) / 'F' (even) from 18-digit or legacy 15-digit numbers; else null."""
    arr = as_string_array(ids)
    index = np.zeros(len(arr), dtype=np.int8)
    idx, digits = _matrix18(arr)
    if idx.size:
        index[idx] = np.where(digits[:, 16] % 2 == 1, 1, 2)
    idx15 = np.flatnonzero(bool_np(pc.match_substring_regex(arr, ID15_PATTERN)))
    if idx15.size:
        last = fixed_width_bytes(arr.take(pa.array(idx15)), 15)[:, 14].astype(np.int64) - 48
        index[idx15] = np.where(last % 2 == 1, 1, 2)
    return codes_to_array(index, (None, "M", "F"))


def upgrade_legacy_resident_id(ids: Any) -> pa.StringArray:
    """Legacy 15-digit numbers upgraded to 18 characters by the standard rule (``19`` inserted before
    the two-digit year, the MOD 11-2 check character appended); every other value unchanged."""
    arr = as_string_array(ids)
    legacy = pc.fill_null(pc.match_substring_regex(arr, ID15_PATTERN), False)
    if not pc.any(legacy).as_py():
        return arr
    first17 = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, 6), "19",
                                          pc.utf8_slice_codeunits(arr, 6, 15), "")
    return pc.if_else(legacy, pc.binary_join_element_wise(first17, resident_id_check_char(first17), ""), arr)


def resident_id_birth_mismatch(ids: Any, births: Any) -> pa.BooleanArray:
    """True where the birth date embedded in an 18- or 15-digit number is a real date that differs from
    the record's own birth date (``YYYY-MM-DD``); false where either is missing or not a real date (those
    are the format rules' business)."""
    arr = as_string_array(ids)
    dates = as_string_array(births)
    if len(dates) != len(arr):
        raise ValueError(f"resident_id_birth_mismatch: {len(arr)} ids but {len(dates)} birth dates")
    own = pc.utf8_slice_codeunits(dates, 0, 10)
    real = pc.and_(pc.is_null(check_date(own)), pc.is_valid(own))
    embedded = resident_id_birth_date(arr).cast(pa.string())
    return pc.fill_null(pc.and_(real, pc.not_equal(embedded, own)), False)
