"""Date-times: normalisation to ``YYYY-MM-DD HH:MM:SS`` and validation.

The date part accepts every spelling :func:`normalize_dates` accepts; the time part is
``H:MM`` or ``H:MM:SS`` after a space or ``T``. A bare date means midnight.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.dates import civil_days, normalize_dates
from exchange.formats.text import as_string_array, bool_np, codes_to_array, fixed_width_bytes, normalize_text

__all__ = ["DATETIME_REASONS", "check_datetime", "normalize_datetimes"]

DATETIME_REASONS = ("datetime.format", "datetime.invalid", "datetime.future")
_CODES: tuple[str | None, ...] = (None, *DATETIME_REASONS)
_SPLIT = r"^(?P<d>.*?)(?:[ T](?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2}))?)?$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"


def normalize_datetimes(values: Any) -> pa.StringArray:
    """Recognised date-time spellings → ``YYYY-MM-DD HH:MM:SS``; anything else unchanged."""
    arr = normalize_text(values)
    parts = pc.extract_regex(arr, _SPLIT)
    date = normalize_dates(pc.struct_field(parts, "d"))
    hour = pc.utf8_lpad(pc.struct_field(parts, "h"), 2, "0")
    minute = pc.struct_field(parts, "mi")
    second = pc.struct_field(parts, "s")
    has_time = pc.fill_null(pc.not_equal(pc.struct_field(parts, "h"), ""), False)
    second = pc.if_else(pc.equal(second, ""), "00", second)
    time = pc.if_else(has_time, pc.binary_join_element_wise(hour, minute, second, ":"), "00:00:00")
    ok = pc.fill_null(pc.match_substring_regex(date, _ISO_DATE), False)
    joined = pc.binary_join_element_wise(date, time, " ")
    return pc.if_else(ok, joined, arr)


def check_datetime(values: Any, *, not_future: bool = False,
                   now: datetime.datetime | None = None, today: datetime.date | None = None) -> pa.StringArray:
    """Reason codes: ``datetime.format``, ``datetime.invalid`` (no such date or time),
    ``datetime.future`` (after ``now``, only when ``not_future``; ``today`` means its end)."""
    arr = as_string_array(values)
    n = len(arr)
    shaped = bool_np(pc.match_substring_regex(arr, _ISO_DATETIME))
    reason = np.zeros(n, dtype=np.int8)
    reason[bool_np(arr.is_valid()) & ~shaped] = 1
    idx = np.flatnonzero(shaped)
    if idx.size:
        mat = fixed_width_bytes(arr.take(pa.array(idx)), 19).astype(np.int64) - 48

        def num(a: int, b: int) -> np.ndarray:
            out = np.zeros(len(idx), dtype=np.int64)
            for k in range(a, b):
                out = out * 10 + mat[:, k]
            return out

        real, days = civil_days(num(0, 4), num(5, 7), num(8, 10))
        h, mi, s = num(11, 13), num(14, 16), num(17, 19)
        real &= (h <= 23) & (mi <= 59) & (s <= 59)
        sub = np.where(real, 0, 2).astype(np.int8)
        if not_future:
            if now is None:
                end = today or datetime.date.today()
                now = datetime.datetime.combine(end, datetime.time(23, 59, 59))
            epoch = datetime.datetime(1970, 1, 1)
            limit = int((now.replace(tzinfo=None) - epoch).total_seconds())
            seconds = days * 86400 + h * 3600 + mi * 60 + s
            sub[real & (seconds > limit)] = 3
        reason[idx] = sub
    return codes_to_array(reason, _CODES)
