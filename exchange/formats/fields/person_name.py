"""``format: person_name`` — names of persons in a Chinese register (mojibake refused)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.fields.base import Expectation, FieldFormat
from exchange.formats.person_name import check_person_name, normalize_person_name


class PersonName(FieldFormat):
    name = "person_name"
    rule_family = "person_name"
    partial = "name"
    sample_mask = "name"

    def normalize(self, values: Any) -> pa.Array:
        return normalize_person_name(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_person_name(values)

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("person_name", {})
