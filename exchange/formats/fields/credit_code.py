"""``format: credit_code`` — unified social credit codes (GB 32100)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from exchange.formats.credit_code import check_credit_code, normalize_credit_code
from exchange.formats.fields.base import Expectation, FieldFormat


class CreditCode(FieldFormat):
    name = "credit_code"
    rule_family = "credit_code"
    partial = "credit_code"
    sample_mask = "credit_code"

    def normalize(self, values: Any) -> pa.Array:
        return normalize_credit_code(values)

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        return check_credit_code(values)

    def expectation(self, spec: Any) -> Expectation:
        return Expectation("credit_code", {})
