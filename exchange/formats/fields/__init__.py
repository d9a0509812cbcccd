"""Field formats (``format:`` of a schema field), one small class per format in its own module.

A field format says everything the exchange does with such a field: how a value is normalised
(mapping), how it is checked and why it fails (validation and its explanations), the prefix of
its rule codes (severities), the expectation that checks it in a GX suite (by name: the GX class
lives in ``exchange.validation``), how a sample is masked in reports and what ``partial`` means in a
grant. The mapping, the suite compiler, the validation engine and the sharing spec look the format
up here instead of each switching on its name.
"""

from __future__ import annotations

from typing import Any

from exchange.formats.fields.base import FieldFormat
from exchange.formats.fields.credit_code import CreditCode
from exchange.formats.fields.division_code import DivisionCode
from exchange.formats.fields.person_name import PersonName
from exchange.formats.fields.phone import Phone
from exchange.formats.fields.plate import Plate
from exchange.formats.fields.resident_id import ResidentId

FIELD_FORMATS: dict[str, FieldFormat] = {f.name: f for f in (
    ResidentId(), CreditCode(), DivisionCode(), Phone("phone", "any"), Phone("mobile", "mobile"),
    Phone("landline", "landline"), Plate(), PersonName())}


def field_format(name: str) -> FieldFormat:
    """The format called ``name`` (a schema's ``format:``)."""
    try:
        return FIELD_FORMATS[name]
    except KeyError:
        raise KeyError(f"unknown field format {name!r} (known: {', '.join(FIELD_FORMATS)})") from None


def severity(schema: Any, field: str | None, rule: str) -> str:
    """What a failure of ``rule`` on ``field`` of ``schema`` costs: ``quarantine`` (the row) or ``flag`` (only
    the field: its format's rules and cross-checks on a field declared ``on_invalid: flag``)."""
    spec = schema.fields.get(field or "")
    if spec and spec.on_invalid == "flag" and spec.format and \
            rule.startswith(field_format(spec.format).rule_family + "."):
        return "flag"
    return "quarantine"


__all__ = ["FIELD_FORMATS", "FieldFormat", "field_format", "severity"]
