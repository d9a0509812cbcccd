"""``format: resident_id`` — 18-character resident identity numbers (GB 11643)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.fields.base import Expectation, FieldFormat
from exchange.formats.resident_id import check_resident_id, normalize_resident_id, upgrade_legacy_resident_id


class ResidentId(FieldFormat):
    name = "resident_id"
    rule_family = "resident_id"
    partial = "id"
    sample_mask = "resident_id"

    def normalize(self, values: Any) -> pa.Array:
        return normalize_resident_id(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_resident_id(values, today=today)

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("resident_id", {})

    def unverified(self, values: pa.Array) -> pa.Array:
        """A legacy 15-digit number upgraded to 18 characters by the standard rule; others as received."""
        return upgrade_legacy_resident_id(values)
