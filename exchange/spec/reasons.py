"""The shape of a quarantine reason, shared by every stage that can reject a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Rules that are not format rules (those have their messages in exchange.formats).
GENERIC_MESSAGES = {
    "required": "required field is empty",
    "allowed_values": "value is not one of the allowed codes",
    "max_length": "value is longer than the schema allows",
    "type": "value is not of the field's type",
    "range": "number outside the range the schema allows (its minimum / maximum)",
    "mapping.value": "value has no entry in the feed's value mapping",
    "key.duplicate": "natural key already seen earlier in this batch",
    "parse.error": "the row could not be read cleanly from the source",
}


@dataclass(frozen=True)
class Reason:
    """Why one row is quarantined: the canonical field, the rule, the value checked."""

    field: str | None
    rule: str
    value: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "value": self.value, "message": self.message}
