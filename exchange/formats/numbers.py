"""Numbers within a range (``minimum`` / ``maximum`` of an integer or decimal field): a longitude between
-180 and 180, a speed between 0 and 300. Values that are not numbers are left to the type rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import as_string_array, bool_np, codes_to_array

__all__ = ["NUMBER_PATTERN", "RANGE_REASONS", "check_range"]

NUMBER_PATTERN = r"^[+-]?[0-9]{1,18}(?:\.[0-9]+)?$"
RANGE_REASONS = ("range",)


def check_range(values: Any, minimum: float | None = None, maximum: float | None = None) -> pa.StringArray:
    """``range`` where a number lies below ``minimum`` or above ``maximum`` (both inclusive); null elsewhere."""
    arr = as_string_array(values)
    numeric = bool_np(pc.match_substring_regex(arr, NUMBER_PATTERN))
    number = np.full(len(arr), np.nan)
    if numeric.any():
        picked = pc.filter(arr, pa.array(numeric))
        number[numeric] = pc.cast(picked, pa.float64()).to_numpy(zero_copy_only=False)
    out = np.zeros(len(arr), dtype=bool)
    if minimum is not None:
        out |= numeric & (number < minimum)
    if maximum is not None:
        out |= numeric & (number > maximum)
    return codes_to_array(out.astype(np.int8), (None, "range"))
