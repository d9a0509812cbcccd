"""Feed specs: ``feeds/<agency>/<feed>.yaml``.

A feed says where an agency's data comes from (``source``), which shared schema it
lands in (``target: person@2``), how the agency's columns map to canonical fields,
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
# a table name, optionally schema-qualified; letters of any script, digits, _ and $
TABLE_RE = r"^[^\W\d][\w$]*(\.[^\W\d][\w$]*)?$"
COLUMN_RE = r"^[^\W\d][\w$]*$"


class FileSourceSpec(StrictModel):
    """Files on disk: a path or a glob, relative to the landing folder.

    ``mode: snapshot`` (the default) reads every matching file on every run. ``mode:
    drop_folder`` takes each new file exactly once (tracked by name and SHA-256 in the feed's
    state); a file still being written (``*.part``/``*.tmp``/dot-files, modified less than
    ``settle_seconds`` ago, or growing while it is hashed) is left for a later run.
    """

    kind: Literal["file"]
    path: str = Field(min_length=1, description="file path or glob, relative to the landing folder")
    format: FileFormat | None = Field(default=None, description="inferred from the extension if omitted")
    encoding: Encoding = "auto"
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    sheet: str | None = Field(default=None, description="xlsx: sheet name (default: the first)")
    header_row: int | None = Field(default=None, ge=1, le=1000, description=(
        "csv/tsv/xlsx: the line (sheet row) that holds the column names; the lines above it (a title, "
        "notes) are skipped. Default: the first non-blank line"))
    records_path: str | None = Field(default=None, description="json: dotted path to the record list")
    mode: Literal["snapshot", "drop_folder"] = Field(
        default="snapshot", description="snapshot: every matching file each run; drop_folder: new files once")
    settle_seconds: float = Field(
        default=30.0, ge=0, description="drop_folder: a file modified less than this long ago is not taken yet")

    def summary(self) -> str:
        return f"file: {self.path}" + (" (drop folder)" if self.mode == "drop_folder" else "")


class SqlSourceSpec(StrictModel):
    """A table or a query of an agency database: any SQLAlchemy URL, from a named connection.

    Incremental by ``cursor`` (an ``updated_at`` timestamp or an increasing id): each run
    reads the rows with ``cursor >= watermark - overlap`` and drops those it already delivered
    (recognised by a digest of their values), so late rows inside the overlap window and rows
    tied at the watermark are taken exactly once. ``full_refresh: true`` reads everything.
    """

    kind: Literal["sql"]
    conn: str = Field(pattern=NAME_RE, description="connection name: EXCHANGE_CONN_<NAME> or an Airflow connection")
    table: str | None = Field(default=None, pattern=TABLE_RE, description="table (or schema.table) to read")
    query: str | None = Field(default=None, min_length=1, description="a SELECT to read instead of a table")
    cursor: str | None = Field(default=None, pattern=COLUMN_RE,
                               description="column that grows with every insert/update (updated_at, id)")
    cursor_type: Literal["timestamp", "integer"] = "timestamp"
    overlap: float = Field(default=0, ge=0, description="re-read window below the watermark: seconds "
                                                         "(timestamp cursor) or ids (integer cursor)")
    key: list[Annotated[str, Field(pattern=COLUMN_RE)]] = Field(
        default_factory=list, description="columns identifying a row; order rows after the cursor")
    full_refresh: bool = Field(default=False, description="read every row on every run")
    batch_rows: int | None = Field(default=None, ge=1, description="rows per batch (default EXCHANGE_BATCH_ROWS)")

    @model_validator(mode="after")
    def _consistent(self) -> SqlSourceSpec:
        if (self.table is None) == (self.query is None):
            raise ValueError("declare exactly one of `table` and `query`")
        if self.cursor is None and not self.full_refresh:
            raise ValueError("cursor: required for incremental reads (name the updated_at or increasing id "
                             "column), or set full_refresh: true")
        if self.cursor_type == "integer" and self.overlap != int(self.overlap):
            raise ValueError(f"overlap: an integer cursor's overlap is a whole number of ids, got {self.overlap}")
        return self

    def summary(self) -> str:
        return f"sql: {self.conn}/{self.table or 'query'}"


class PagePagination(StrictModel):
    """Page numbers: ``?page=1&page_size=50``, ``?page=2&...``; stops at a short or empty page."""

    style: Literal["page"]
    page_param: str = "page"
    start: int = Field(default=1, ge=0, description="number of the first page")
    size_param: str | None = Field(default="page_size", description="parameter the page size is sent as")
    size: int | None = Field(default=None, ge=1, description="page size; a shorter page is the last")
    max_pages: int = Field(default=100_000, ge=1)


class OffsetPagination(StrictModel):
    """Offset and limit: ``?offset=0&limit=100``, ``?offset=100&...``; stops at a short page."""

    style: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(ge=1)
    max_pages: int = Field(default=100_000, ge=1)


class CursorPagination(StrictModel):
    """An opaque cursor from each response (at ``cursor_path``) sent back as ``cursor_param``."""

    style: Literal["cursor"]
    cursor_param: str = "cursor"
    cursor_path: str = Field(min_length=1, description="dotted path of the next cursor in the response")
    max_pages: int = Field(default=100_000, ge=1)


class NextLinkPagination(StrictModel):
    """A next-page URL in the response body (``next_path``) or in the ``Link: <…>; rel="next"`` header."""

    style: Literal["next_link"]
    next_path: str | None = Field(default=None, description="dotted path of the next URL; none: Link header")
    max_pages: int = Field(default=100_000, ge=1)


Pagination = Annotated[PagePagination | OffsetPagination | CursorPagination | NextLinkPagination,
                       Field(discriminator="style")]


class HttpIncrementalSpec(StrictModel):
    """Ask the API only for records changed since the last run, and drop those already delivered."""

    field: str = Field(min_length=1, description="record field holding the cursor (updated_at, id)")
    param: str | None = Field(default=None, description="query parameter the watermark is sent as "
                                                         "(the API must filter inclusively: >=)")
    cursor_type: Literal["timestamp", "integer"] = "timestamp"


class HttpSourceSpec(StrictModel):
    """A JSON REST API: base URL and credentials from a named connection; paginated; retried."""

    kind: Literal["http"]
    conn: str = Field(pattern=NAME_RE, description="connection name: EXCHANGE_CONN_<NAME> or an Airflow connection")
    path: str = Field(default="", description="endpoint path, relative to the connection's base URL")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, description="query parameters")
    records_path: str | None = Field(default=None, description="dotted path to the record list in each response")
    pagination: Pagination | None = None
    incremental: HttpIncrementalSpec | None = None
    timeout: float = Field(default=30.0, gt=0, description="seconds per request (connect, read, write)")
    max_retries: int = Field(default=5, ge=0, le=20, description="retries on 429, 5xx, time-outs, network errors")
    backoff: float = Field(default=1.0, ge=0, description="first retry delay in seconds, doubled each retry")

    @field_validator("path")
    @classmethod
    def _relative(cls, v: str) -> str:
        if "://" in v:
            raise ValueError("must be relative to the connection's base URL (the host lives in the connection)")
        return v

    def summary(self) -> str:
        return f"http: {self.conn}/{self.path.lstrip('/')}"


SourceSpec = Annotated[FileSourceSpec | SqlSourceSpec | HttpSourceSpec, Field(discriminator="kind")]


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


DURATION_RE = r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_seconds(text: str) -> float:
    """``90s``, ``30m``, ``2h``, ``1d``, ``1w`` → seconds."""
    found = re.fullmatch(DURATION_RE, text)
    if not found:
        raise ValueError(f"{text!r} is not a duration like 30m, 2h, 1d or 1w")
    return float(found.group(1)) * _UNITS[found.group(2)]


class FreshnessSpec(StrictModel):
    """How often new data must arrive: a feed with no new batch within ``expect_every`` + ``grace``
    of its last one is *late*, even when every run succeeded (a source that stopped changing)."""

    expect_every: str = Field(description="e.g. 1d, 12h, 1w")
    grace: str = Field(default="0s", description="slack before the feed counts as late, e.g. 2h")

    @field_validator("expect_every", "grace")
    @classmethod
    def _duration(cls, v: str) -> str:
        duration_seconds(v)
        return v.strip()

    @property
    def every_seconds(self) -> float:
        return duration_seconds(self.expect_every)

    @property
    def grace_seconds(self) -> float:
        return duration_seconds(self.grace)


class UsualSpec(StrictModel):
    """What a normal batch of the feed looks like. Unset values are learned from the feed's last
    ``learn_from`` loaded batches (the median; at least 3 needed). A batch is *far* from usual when its
    rows are more than ``tolerance`` times fewer or more than the usual rows, or its reject ratio is
    above both ``tolerance`` × the usual ratio and the usual ratio + 5 points."""

    rows: int | None = Field(default=None, ge=1)
    reject_ratio: float | None = Field(default=None, ge=0.0, le=1.0)
    tolerance: float = Field(default=3.0, ge=1.5, le=100)
    learn_from: int = Field(default=10, ge=3, le=1000)


OPERATIONS_KEYS = ("freshness", "usual", "contact", "alerts")
"""Feed keys about operating the feed, not about its data: left out of the batch id."""


class FeedSpec(StrictModel):
    agency: str = Field(pattern=NAME_RE)
    feed: str = Field(pattern=NAME_RE)
    description: str = Field(min_length=1)
    owner: str = "data-engineering"
    tags: list[str] = Field(default_factory=list)
    schedule: str | None = "@daily"
    source: SourceSpec
    target: str = Field(description="schema name and major version, e.g. person@2")
    mapping: dict[str, str | ColumnMapping] = Field(min_length=1)
    constants: dict[str, str] = Field(
        default_factory=dict, description="canonical fields set to a fixed value for every row")
    key: list[str] = Field(default_factory=lambda: ["source_record_id"])
    quality: QualitySpec = Field(default_factory=QualitySpec)
    freshness: FreshnessSpec | None = None
    usual: UsualSpec = Field(default_factory=UsualSpec)
    contact: str | None = Field(default=None, max_length=300,
                                description="who answers for the feed at the agency (shown in health and alerts)")
    alerts: list[Annotated[str, Field(pattern=NAME_RE)]] = Field(
        default_factory=list, description="alert routes: connection names (EXCHANGE_CONN_<NAME>: smtp://… or "
                                          "https://… for a webhook); none: EXCHANGE_ALERT_ROUTES")

    def data_spec(self) -> dict[str, object]:
        """The spec without its operations keys: what decides the batch id."""
        return self.model_dump(mode="json", exclude=set(OPERATIONS_KEYS))

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
            raise ValueError(f"{v!r} is not of the form <schema>@<major>, e.g. person@2")
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
