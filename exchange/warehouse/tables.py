"""Schema compiler, SQL side: a canonical schema → its SQLAlchemy tables.

- ``core.<entity>``: the current version of every record, keyed by
  (source_agency, source_record_id), with lineage columns;
- ``core.<entity>_history``: every superseded version, with when and by which batch;
- ``quarantine.<entity>``: rejected rows with their original values and every reason.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from exchange.spec.schema import (
    DECIMAL_DIGITS,
    FLAGS,
    SOURCE_AGENCY,
    SOURCE_RECORD_ID,
    EntitySchema,
    FieldType,
    unverified_column,
)

SQL_TYPES: dict[FieldType, type[TypeEngine] | TypeEngine] = {
    "string": Text(),
    "integer": BigInteger(),
    "date": Date(),
    "datetime": DateTime(),
    "boolean": Boolean(),
}


def _data_columns(schema: EntitySchema) -> list[Column]:
    cols = [Column(SOURCE_AGENCY, Text(), nullable=False, comment="agency that supplied the record")]
    for name, f in schema.fields.items():
        sql_type = Numeric(DECIMAL_DIGITS + f.decimal_scale, f.decimal_scale) if f.type == "decimal" \
            else SQL_TYPES[f.type]
        cols.append(Column(name, sql_type, nullable=f.nullable,
                           comment=f"{f.description} [pii: {f.pii}]"))
    for name in schema.flagged_fields:
        cols.append(Column(unverified_column(name), Text(), comment=(
            f"{name} as received where it failed its checks (reason in {FLAGS}); {name} is then empty "
            f"[pii: {schema.fields[name].pii}]")))
    return cols


def _lineage_columns() -> list[Column]:
    return [
        Column("_batch_id", Text(), nullable=False, comment="batch that loaded this version"),
        Column("_source_file", Text(), comment="source file (or table/endpoint) of the row"),
        Column("_source_row", BigInteger(), comment="record number in the source"),
        Column("_row_hash", Text(), nullable=False, comment="hash of the canonical values"),
        Column(FLAGS, Text(), comment="why flagged fields were kept as unverified (JSON list of reasons)"),
        Column("_loaded_at", DateTime(), nullable=False, comment="when this version was loaded"),
    ]


def event_indexes(schema: EntitySchema) -> list[Index]:
    """An event table's indexes: by each person or vehicle it names (``search: id`` / ``plate`` fields)
    and by its place and its division, each followed by the event's time — "this person's events in a
    window", "who was at this place in a window"."""
    event = schema.event
    if event is None:
        return []
    name = schema.name
    by = [*schema.search_fields("id", "plate"), event.place, event.division]
    return [Index(f"ix_{name}_{column}_t", column, event.start) for column in dict.fromkeys(by)]


def core_table(schema: EntitySchema, metadata: MetaData) -> Table:
    """``core.<entity>``. An event table is partitioned by month of the event's start on PostgreSQL
    (``exchange.warehouse.partitions``); a partition key must be part of every unique index there, so its
    primary key carries the start and the loader keeps (agency, record id) unique itself."""
    key = [SOURCE_AGENCY, SOURCE_RECORD_ID] + ([schema.event.start] if schema.event is not None else [])
    partitioned = {"postgresql_partition_by": f'RANGE ("{schema.event.start}")'} if schema.event is not None else {}
    return Table(schema.name, metadata,
                 *_data_columns(schema), *_lineage_columns(),
                 PrimaryKeyConstraint(*key, name=f"pk_{schema.name}"),
                 *event_indexes(schema),
                 schema="core", comment=schema.description, **partitioned)


def history_table(schema: EntitySchema, metadata: MetaData) -> Table:
    return Table(f"{schema.name}_history", metadata,
                 *_data_columns(schema), *_lineage_columns(),
                 Column("_superseded_at", DateTime(), nullable=False),
                 Column("_superseded_by", Text(), nullable=False, comment="batch that replaced it"),
                 PrimaryKeyConstraint(SOURCE_AGENCY, SOURCE_RECORD_ID, "_batch_id",
                                      name=f"pk_{schema.name}_history"),
                 schema="core", comment=f"Superseded versions of core.{schema.name}")


RESOLUTION_COLUMNS = (
    ("resolved_at", DateTime(), "when a reprocessing batch loaded the row"),
    ("resolved_by", Text(), "the reprocessing batch that loaded it"),
    ("rechecked_at", DateTime(), "when it was last re-validated and still failed"),
    ("rechecked_by", Text(), "the reprocessing batch of that check"),
    ("recheck_reasons", Text(), "every reason of that check (JSON list)"),
)


def quarantine_table(schema: EntitySchema, metadata: MetaData) -> Table:
    name = schema.name
    return Table(name, metadata,
                 Column("_batch_id", Text(), nullable=False),
                 Column("_source_file", Text(), nullable=False),
                 Column("_source_row", BigInteger(), nullable=False),
                 Column(SOURCE_AGENCY, Text(), nullable=False),
                 Column(SOURCE_RECORD_ID, Text()),
                 Column("original", Text(), nullable=False, comment="the row as the agency sent it (JSON)"),
                 Column("reasons", Text(), nullable=False, comment="every reason (JSON list)"),
                 Column("rules", Text(), nullable=False, comment="rule codes, comma-separated"),
                 Column("status", Text(), nullable=False, server_default="open", comment="open or resolved"),
                 Column("_quarantined_at", DateTime(), nullable=False),
                 # Reprocessing (``exchange quarantine reprocess``): rows are never deleted; a row that
                 # passes is resolved by the batch that loaded it, one that still fails keeps its
                 # original reasons and gets the latest ones beside them.
                 *[Column(name, type_, comment=comment) for name, type_, comment in RESOLUTION_COLUMNS],
                 PrimaryKeyConstraint("_batch_id", "_source_file", "_source_row", name=f"pk_q_{name}"),
                 Index(f"ix_q_{name}_record", SOURCE_AGENCY, SOURCE_RECORD_ID),
                 schema="quarantine", comment=f"Rejected rows for core.{name}")


class EntityTables:
    """The three tables of one entity, on one MetaData."""

    def __init__(self, schema: EntitySchema, metadata: MetaData | None = None) -> None:
        self.schema = schema
        self.metadata = metadata or MetaData()
        self.core = core_table(schema, self.metadata)
        self.history = history_table(schema, self.metadata)
        self.quarantine = quarantine_table(schema, self.metadata)

    @property
    def data_columns(self) -> list[str]:
        return [c.name for c in self.core.columns]
