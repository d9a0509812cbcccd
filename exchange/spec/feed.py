"""Feed specs: ``feeds/<agency>/<feed>.yaml``.

A feed says where an agency's data comes from (``source``), which shared schema it
lands in (``target: person@1``), how the agency's columns map to canonical fields,
the natural key, the schedule and the quality threshold. Unknown keys are rejected.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_RE = r"^[a-z][a-z0-9_]{0,62}$"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FileFormat = Literal["csv", "tsv", "xlsx", "json", "ndjson", "parquet"]
Encoding = Literal["auto", "utf-8", "utf-8-sig", "gb18030", "gbk", "utf-16"]


class FileSourceSpec(StrictModel):
    """Files on disk: a path or a glob, relative to the project folder."""

    kind: Literal["file"]
    path: str = Field(min_length=1, description="file path or glob, relative to the project root")
    format: FileFormat | None = Field(default=None, description="inferred from the extension if omitted")
    encoding: Encoding = "auto"
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    sheet: str | None = Field(default=None, description="xlsx: sheet name (default: the first)")
    records_path: str | None = Field(default=None, description="json: dotted path to the record list")


SourceSpec = Annotated[FileSourceSpec, Field(discriminator="kind")]


class ColumnMapping(StrictModel):
    """One agency column → one canonical field, with optional value translation."""

    field: str
    values: dict[str, str] | None = Field(
        default=None, description="agency value → canonical value (e.g. 男: M)")
    strict_values: bool = Field(
        default=False,
        description="if true, a value missing from `values` is rejected instead of passed on")


class QualitySpec(StrictModel):
    max_reject_ratio: float = Field(default=0.05, ge=0.0, le=1.0)


class FeedSpec(StrictModel):
    agency: str = Field(pattern=NAME_RE)
    feed: str = Field(pattern=NAME_RE)
    description: str = Field(min_length=1)
    owner: str = "data-engineering"
    tags: list[str] = Field(default_factory=list)
    schedule: str | None = "@daily"
    source: SourceSpec
    target: str = Field(description="schema name and major version, e.g. person@1")
    mapping: dict[str, str | ColumnMapping] = Field(min_length=1)
    constants: dict[str, str] = Field(
        default_factory=dict, description="canonical fields set to a fixed value for every row")
    key: list[str] = Field(default_factory=lambda: ["source_record_id"])
    quality: QualitySpec = Field(default_factory=QualitySpec)

    @property
    def feed_id(self) -> str:
        return f"{self.agency}.{self.feed}"

    @property
    def target_schema(self) -> str:
        return self.target.split("@", 1)[0]

    @property
    def target_major(self) -> int:
        return int(self.target.split("@", 1)[1])

    @field_validator("target")
    @classmethod
    def _target_form(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*@[0-9]+", v):
            raise ValueError(f"{v!r} is not of the form <schema>@<major>, e.g. person@1")
        return v

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping_keys(cls, v: object) -> object:
        if isinstance(v, dict):
            return {str(k): val for k, val in v.items()}
        return v

    @model_validator(mode="after")
    def _no_field_twice(self) -> FeedSpec:
        seen: dict[str, str] = {}
        for column, target in self.mapping.items():
            name = target if isinstance(target, str) else target.field
            if name in seen:
                raise ValueError(f"mapping: field {name!r} is mapped from both "
                                 f"{seen[name]!r} and {column!r}")
            seen[name] = column
        for name in self.constants:
            if name in seen:
                raise ValueError(f"constants.{name}: field is also mapped from column {seen[name]!r}")
        return self

    def field_for_column(self) -> dict[str, ColumnMapping]:
        """Agency column → mapping, with plain strings expanded."""
        return {col: (ColumnMapping(field=t) if isinstance(t, str) else t)
                for col, t in self.mapping.items()}
