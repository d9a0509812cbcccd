"""Dates: normalisation of common Chinese/ISO spellings to ``YYYY-MM-DD`` and validation."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import as_string_array, bool_np, codes_to_array, fixed_width_bytes, normalize_text

__all__ = [
    "DATE_REASONS",
    "check_date",
    "civil_days",
    "normalize_dates",
]

DATE_REASONS = ("date.format", "date.invalid", "date.future")
_DATE_CODES: tuple[str | None, ...] = (None, *DATE_REASONS)
_EPOCH = datetime.date(1970, 1, 1)
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)

# An optional time part after the date: " 08:00", "T08:00:00", "T08:00:00.123+08:00", "08:00:00Z".
_TIME = r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_YMD = r"(?P<y>[0-9]{4})"
_DATE_PATTERNS = (
    rf"^{_YMD}-(?P<m>[0-9]{{1,2}})-(?P<d>[0-9]{{1,2}}){_TIME}$",
    rf"^{_YMD}/(?P<m>[0-9]{{1,2}})/(?P<d>[0-9]{{1,2}}){_TIME}$",
    rf"^{_YMD}\.(?P<m>[0-9]{{1,2}})\.(?P<d>[0-9]{{1,2}}){_TIME}$",
    rf"^{_YMD}(?P<m>[0-9]{{2}})(?P<d>[0-9]{{2}}){_TIME}$",
    rf"^{_YMD} *年 *(?P<m>[0-9]{{1,2}}) *月 *(?P<d>[0-9]{{1,2}}) *[日号]{_TIME}$",
)
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def civil_days(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised proleptic-Gregorian check: returns (is a real date, days since 1970-01-01).

    Year 0 is rejected (``datetime.date`` starts at year 1). Days are meaningless where
    the date is not real.
    """
    y = np.asarray(year, dtype=np.int64)
    m = np.asarray(month, dtype=np.int64)
    d = np.asarray(day, dtype=np.int64)
    if y.size and (y.min() < 0 or y.max() >= _TABLE_YEARS):
        return _civil_days_arithmetic(y, m, d)
    leap = _LEAP[y]  # years 0..9999 (every 4-digit year): tables instead of integer divisions
    month_ok = (m >= 1) & (m <= 12)
    month_index = np.where(month_ok, m, 0)
    dim = _DAYS_IN_MONTH[month_index] + (leap & (m == 2))
    real = (y >= 1) & month_ok & (d >= 1) & (d <= dim)
    return real, _DAYS_BEFORE_YEAR[y] + _DAYS_BEFORE_MONTH[leap.astype(np.int8), month_index] + d - 1


def _civil_days_arithmetic(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    month_ok = (m >= 1) & (m <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, m, 0)] + (leap & (m == 2))
    real = (y >= 1) & month_ok & (d >= 1) & (d <= dim)
    # days_from_civil (H. Hinnant)
    yy = y - (m <= 2)
    era = np.floor_divide(yy, 400)
    yoe = yy - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return real, era * 146097 + doe - 719468


_TABLE_YEARS = 10_000
_YEARS = np.arange(_TABLE_YEARS, dtype=np.int64)
_LEAP = (_YEARS % 4 == 0) & ((_YEARS % 100 != 0) | (_YEARS % 400 == 0))
_DAYS_BEFORE_YEAR = _civil_days_arithmetic(_YEARS, np.ones(_TABLE_YEARS, np.int64), np.ones(_TABLE_YEARS, np.int64))[1]
_DAYS_BEFORE_MONTH = np.array([np.concatenate(([0, 0], np.cumsum(_DAYS_IN_MONTH[1:12]) + (i & (np.arange(1, 12) >= 2))))
                               for i in (0, 1)], dtype=np.int64)  # [leap, month] (month 0: unused)


def _days(value: datetime.date) -> int:
    return (value - _EPOCH).days


def normalize_dates(values: Any) -> pa.StringArray:
    """Recognised date spellings → ``YYYY-MM-DD``; anything else is returned unchanged.

    Recognised (after :func:`normalize_text`, so full-width digits work too):
    ``1990-01-02``, ``1990-1-2``, ``1990/1/2``, ``1990.1.2``, ``19900102``,
    ``1990年1月2日`` (also ``号``), each optionally followed by a time
    (``1990-01-02 08:00:00``, ``1990-01-02T08:00:00``; the time is dropped).
    Calendar correctness is not checked here (``19800230`` → ``1980-02-30``).
    """
    arr = normalize_text(values)
    result = arr
    pending = pc.fill_null(pc.invert(pc.match_substring_regex(arr, _ISO_DATE)), False)
    for pattern in _DATE_PATTERNS:
        if not pc.any(pending).as_py():
            break
        hit = pc.and_(pending, pc.fill_null(pc.match_substring_regex(arr, pattern), False))
        if not pc.any(hit).as_py():
            continue
        parts = pc.extract_regex(pc.if_else(hit, arr, "0000-0-0"), pattern)
        iso = pc.binary_join_element_wise(
            pc.struct_field(parts, "y"),
            pc.utf8_lpad(pc.struct_field(parts, "m"), 2, "0"),
            pc.utf8_lpad(pc.struct_field(parts, "d"), 2, "0"),
            "-")
        result = pc.if_else(hit, iso, result)
        pending = pc.and_(pending, pc.invert(hit))
    return result


def check_date(values: Any, *, not_future: bool = False,
               today: datetime.date | None = None) -> pa.StringArray:
    """Reason codes: ``date.format`` (not ``YYYY-MM-DD``), ``date.invalid`` (not a real
    calendar date), ``date.future`` (after ``today``, only when ``not_future``)."""
    arr = as_string_array(values)
    n = len(arr)
    shaped = bool_np(pc.match_substring_regex(arr, _ISO_DATE))
    reason = np.zeros(n, dtype=np.int8)
    reason[bool_np(arr.is_valid()) & ~shaped] = 1
    idx = np.flatnonzero(shaped)
    if idx.size:
        mat = fixed_width_bytes(arr.take(pa.array(idx)), 10).astype(np.int64) - 48
        y = mat[:, 0] * 1000 + mat[:, 1] * 100 + mat[:, 2] * 10 + mat[:, 3]
        m = mat[:, 5] * 10 + mat[:, 6]
        d = mat[:, 8] * 10 + mat[:, 9]
        real, days = civil_days(y, m, d)
        sub = np.where(real, 0, 2).astype(np.int8)
        if not_future:
            limit = _days(today or datetime.date.today())
            sub[real & (days > limit)] = 3
        reason[idx] = sub
    return codes_to_array(reason, _DATE_CODES)
