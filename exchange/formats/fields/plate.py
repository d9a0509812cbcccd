"""``format: plate`` — motor-vehicle plate numbers (GA 36: ordinary and new-energy, province abbreviations)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.fields.base import Expectation, FieldFormat
from exchange.formats.plate import check_plate, normalize_plate


class Plate(FieldFormat):
    name = "plate"
    rule_family = "plate"
    partial = "name"
    """A grant's partial plate keeps its first character, the province: ``陕******``."""
    sample_mask = "generic"

    def normalize(self, values: Any) -> pa.Array:
        return normalize_plate(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_plate(values)

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("plate", {})
