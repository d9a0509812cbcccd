"""What every field format provides (see the package's docstring)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Expectation:
    """A GX expectation by name (``exchange.validation.expectations`` holds the classes) and its options."""

    name: str
    options: dict[str, Any]


class FieldFormat:
    name: str
    rule_family: str
    """The rule code its expectation is reported under; its precise reasons start with this and a dot."""
    partial: str
    """What ``partial`` masks to in a grant (a key of ``exchange.access.spec.PARTIAL_DOC``)."""
    sample_mask: str
    """How sample values of a failing field are masked in reports (``exchange.validation.engine``)."""

    def normalize(self, values: Any) -> pa.Array:
        raise NotImplementedError

    def check(self, values: Any, spec: Any, *, today: dt.date | None = None) -> pa.StringArray:
        """Reason codes (null: valid or null) of ``values`` under the field's ``spec`` (its options)."""
        raise NotImplementedError

    def expectation(self, spec: Any) -> Expectation:
        raise NotImplementedError

    def unverified(self, values: pa.Array) -> pa.Array:
        """What a flagged field keeps of a failing value (``<field>_unverified``): the value as received."""
        return values
