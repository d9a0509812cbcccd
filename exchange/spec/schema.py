"""Shared canonical schemas: ``schemas/<entity>.yaml``.

Each schema has a semantic version, a description, a natural key and typed fields
with a format, ``required``, a PII class and a description. Enumerations draw their
allowed values from a code list in ``schemas/reference/codes.yaml`` or list them inline.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_SCALE = 4
DECIMAL_DIGITS = 15
"""Digits a decimal field accepts before its point (its precision is this plus its scale)."""
FieldType = Literal["string", "integer", "decimal", "date", "datetime", "boolean"]
FieldFormat = Literal["resident_id", "credit_code", "division_code", "mobile", "landline", "phone", "plate",
                      "person_name"]
PiiClass = Literal["direct_identifier", "quasi_identifier", "sensitive", "none"]
Severity = Literal["quarantine", "flag"]
SearchKind = Literal["id", "phone", "name", "address", "plate", "org", "case"]
"""What an element search looks for in a field (``exchange search --kind``)."""

SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
FIELD_RE = r"^[a-z][a-z0-9_]{0,62}$"

# Columns every core table carries besides the schema's own fields.
SOURCE_AGENCY = "source_agency"
SOURCE_RECORD_ID = "source_record_id"
FLAGS = "_flags"  # JSON list of the reasons a loaded row's flagged fields failed (null: none)
UNVERIFIED_SUFFIX = "_unverified"
FLAGGABLE_FORMATS = get_args(FieldFormat)  # every format: what each means is in exchange.formats.fields


def unverified_column(field: str) -> str:
    """Where a flagged field's value is kept when it fails its format rule (``id_number_unverified``)."""
    return field + UNVERIFIED_SUFFIX


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(StrictModel):
    type: FieldType = "string"
    format: FieldFormat | None = None
    required: bool = False
    pii: PiiClass
    description: str = Field(min_length=1)
    values: list[str] | None = Field(default=None, description="allowed values, inline")
    code_list: str | None = Field(default=None, description="allowed values from reference/codes.yaml")
    max_length: int | None = Field(default=None, gt=0)
    not_future: bool = Field(default=False, description="date/datetime may not lie in the future")
    minimum: float | None = Field(default=None, description="integer/decimal: the smallest value allowed")
    maximum: float | None = Field(default=None, description="integer/decimal: the largest value allowed")
    search: SearchKind | None = Field(default=None, description=(
        "element search: the kind of element this field holds (a name, an ID number...); absent: not searched"))
    scale: int | None = Field(default=None, ge=0, le=9, description=(
        "decimal: digits after the point kept and accepted (default 4; coordinates: 6)"))
    historical_ok: bool = Field(default=False, description="division_code: abolished codes accepted")
    gender_field: str | None = Field(
        default=None, description="resident_id: the field whose M/F must match the sequence digit parity")
    birth_date_field: str | None = Field(
        default=None, description="resident_id: the date field that must equal the number's embedded birth date")
    on_invalid: Severity = Field(default="quarantine", description=(
        "a value failing the field's format rule: quarantine the row, or flag the field (keep the row, "
        "move the value to <field>_unverified with the reason, leave the field empty). On a required field "
        "the source must still supply a value; only its checks are flagged"))

    @property
    def decimal_scale(self) -> int:
        """Digits after the point of a decimal field."""
        return DEFAULT_SCALE if self.scale is None else self.scale

    @property
    def nullable(self) -> bool:
        """May the stored column be empty: an optional field, or a required one whose failures are flagged."""
        return not self.required or self.on_invalid == "flag"

    @model_validator(mode="after")
    def _consistent(self) -> FieldSpec:
        if self.values is not None and self.code_list is not None:
            raise ValueError("give either 'values' or 'code_list', not both")
        for option in ("gender_field", "birth_date_field"):
            if getattr(self, option) and self.format != "resident_id":
                raise ValueError(f"'{option}' applies to format resident_id only")
        if self.on_invalid == "flag" and self.format not in FLAGGABLE_FORMATS:
            raise ValueError(f"on_invalid: flag applies to fields with a format ({', '.join(FLAGGABLE_FORMATS)})")
        if (self.minimum is not None or self.maximum is not None) and self.type not in ("integer", "decimal"):
            raise ValueError("'minimum' and 'maximum' apply to integer and decimal fields")
        if self.scale is not None and self.type != "decimal":
            raise ValueError("'scale' applies to decimal fields")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        if self.historical_ok and self.format != "division_code":
            raise ValueError("'historical_ok' applies to format division_code only")
        if self.not_future and self.type not in ("date", "datetime"):
            raise ValueError("'not_future' applies to date and datetime fields only")
        if self.format and self.type != "string":
            raise ValueError(f"format {self.format!r} needs type string")
        return self


class EventSpec(StrictModel):
    """An activity event (POLE: person, object, location, event): when and where it happened. Its
    table gets the indexes that serve "this person's (or vehicle's) events in a window" — one per field
    the schema marks ``search: id`` or ``search: plate`` — and "who was at this place in a window"."""

    start: str = Field(description="datetime field: when the event began (or happened)")
    end: str | None = Field(default=None, description="datetime field: when it ended, if it lasts")
    place: str = Field(description="field: the code of the place (hotel, venue, checkpoint, compound)")
    place_name: str | None = Field(default=None, description="field: the place's name, if the record has it")
    division: str = Field(default="division_code", description="field: the division code of the place")
    longitude: str | None = "longitude"
    latitude: str | None = "latitude"
    detail: list[str] = Field(default_factory=list, description="fields shown with the event (room, seat...)")
    label: str = Field(min_length=1, description="what the event is called, for people (旅馆住宿)")

    def fields(self) -> list[str]:
        named = [self.start, self.end, self.place, self.place_name, self.division, self.longitude, self.latitude]
        return [f for f in named if f] + list(self.detail)


class EntitySchema(StrictModel):
    name: str = Field(pattern=FIELD_RE)
    version: str
    description: str = Field(min_length=1)
    natural_key: list[str] = Field(min_length=1)
    fields: dict[str, FieldSpec] = Field(min_length=1)
    event: EventSpec | None = Field(default=None, description="an activity event: its time and place fields")
    label: str | None = Field(default=None, min_length=1, description="what a record is called, for people (案件)")
    when: str | None = Field(default=None, description=(
        "date or datetime field that places a record on a person's timeline (a case's occurred_at)"))

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @model_validator(mode="after")
    def _check(self) -> EntitySchema:
        if not SEMVER_RE.match(self.version):
            raise ValueError(f"version {self.version!r} is not semantic (MAJOR.MINOR.PATCH)")
        for name in self.fields:
            if not re.match(FIELD_RE, name):
                raise ValueError(f"fields.{name}: not a valid field name (lower-case, digits, _)")
        if SOURCE_RECORD_ID not in self.fields:
            raise ValueError(f"fields: every schema needs a '{SOURCE_RECORD_ID}' field")
        if SOURCE_AGENCY in self.fields:
            raise ValueError(f"fields.{SOURCE_AGENCY}: reserved, set by the exchange from the feed")
        for key in self.natural_key:
            if key not in self.fields:
                raise ValueError(f"natural_key: unknown field {key!r}")
            if not self.fields[key].required:
                raise ValueError(f"natural_key: field {key!r} must be required")
        for name, spec in self.fields.items():
            if spec.gender_field and spec.gender_field not in self.fields:
                raise ValueError(f"fields.{name}.gender_field: unknown field {spec.gender_field!r}")
            if spec.birth_date_field:
                other = self.fields.get(spec.birth_date_field)
                if other is None or other.type != "date":
                    raise ValueError(f"fields.{name}.birth_date_field: {spec.birth_date_field!r} is not a date "
                                     f"field of this schema")
            if (spec.search == "plate" and spec.format != "plate") or (spec.search == "id" and spec.format not in (
                    "resident_id", None)):
                raise ValueError(f"fields.{name}.search: {spec.search} needs a field of that format")
            if spec.on_invalid == "flag" and unverified_column(name) in self.fields:
                raise ValueError(f"fields.{name}: on_invalid flag needs the column {unverified_column(name)!r}, "
                                 f"which the schema already uses")
        if self.when is not None and (self.when not in self.fields
                                      or self.fields[self.when].type not in ("date", "datetime")):
            raise ValueError(f"when: {self.when!r} is not a date or datetime field of this schema")
        if self.event is not None:
            for name in self.event.fields():
                if name not in self.fields:
                    raise ValueError(f"event: unknown field {name!r}")
            for name in (self.event.start, self.event.end):
                if name and self.fields[name].type != "datetime":
                    raise ValueError(f"event: {name!r} is not a datetime field")
        return self

    def search_fields(self, *kinds: str) -> dict[str, str]:
        """field → search kind, for the fields marked ``search`` (of ``kinds``, if given)."""
        return {n: f.search for n, f in self.fields.items() if f.search and (not kinds or f.search in kinds)}

    @property
    def flagged_fields(self) -> list[str]:
        """Fields whose format failures are flagged, not quarantined (each has an ``_unverified`` column)."""
        return [name for name, f in self.fields.items() if f.on_invalid == "flag"]

    def allowed_values(self, field: str, codes: dict[str, CodeList]) -> list[str] | None:
        spec = self.fields[field]
        if spec.values is not None:
            return spec.values
        if spec.code_list is not None:
            return list(codes[spec.code_list].values)
        return None


class CodeList(StrictModel):
    description: str
    values: dict[str, str] = Field(min_length=1, description="code → label")
