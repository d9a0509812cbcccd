"""``format: phone | mobile | landline`` — mainland phone numbers, of any kind or one."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.fields.base import Expectation, FieldFormat
from exchange.formats.phone import check_phone, normalize_phone


class Phone(FieldFormat):
    rule_family = "phone"
    partial = "phone"
    sample_mask = "phone"

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind

    def normalize(self, values: Any) -> pa.Array:
        return normalize_phone(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_phone(values, kind=self.kind)

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("phone", {"kind": self.kind})
