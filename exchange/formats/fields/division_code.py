"""``format: division_code`` — administrative division codes (GB/T 2260 prefix, 6, 9 or 12 digits)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.division import check_division_code, normalize_division_code
from exchange.formats.fields.base import Expectation, FieldFormat


class DivisionCode(FieldFormat):
    name = "division_code"
    rule_family = "division_code"
    partial = "division"
    sample_mask = "by_pii"

    def normalize(self, values: Any) -> pa.Array:
        return normalize_division_code(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_division_code(values, allow_historical=bool(getattr(spec, "historical_ok", False)))

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("division_code", {"allow_historical": bool(spec.historical_ok)})
