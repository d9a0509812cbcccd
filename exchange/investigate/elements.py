"""The element index (``mdm.search_element``): every searchable value of every entity table, in the
forms people search it by — kept current batch by batch by the publish stage, never rebuilt on a
normal run.

One row per (record, field) whose schema field is marked ``search: <kind>`` (``schemas/*.yaml``):

- ``key`` — the value as matched exactly or by substring: ID numbers, phones and plates as validated
  (already normalised), names, addresses, organisation names and case numbers in simplified
  characters (張三 → 张三);
- ``key_rev`` — ID numbers, phones and plates reversed, so "the last digits" is a prefix scan;
- ``py`` / ``fpy`` — a name's toneless and fuzzy pinyin (``zhangsan`` / ``zansan``).

PostgreSQL indexes ``key`` with a pg_trgm GIN index (substrings of Chinese addresses: the database's
ctype classifies Han characters as letters, so they make trigrams) and B-trees for the exact, prefix
and pinyin probes; SQLite (the embedded default for trying the exchange out) uses the B-trees and
scans for substrings. Event tables are not copied here: their ID and plate columns have their own
indexes (``exchange.warehouse.tables.event_indexes``), probed with the full values a search resolves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
from sqlalchemy import Column, Connection, Engine, Index, MetaData, PrimaryKeyConstraint, Table, Text, text

from exchange.formats.pinyin import name_pinyin, simplified
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)

metadata = MetaData()
TEXT_KINDS = ("name", "address", "org", "case")
REVERSED_KINDS = ("id", "phone", "plate")

element = Table(
    "search_element", metadata,
    Column("entity", Text(), nullable=False, comment="core table of the record"),
    Column("source_agency", Text(), nullable=False),
    Column("source_record_id", Text(), nullable=False),
    Column("field", Text(), nullable=False, comment="the schema field holding the value"),
    Column("kind", Text(), nullable=False, comment="id, phone, name, address, plate, org or case"),
    Column("key", Text(), nullable=False, comment="the value as matched (names etc. in simplified characters)"),
    Column("key_rev", Text(), comment="ID numbers, phones, plates reversed: last-digits search"),
    Column("py", Text(), comment="a name's toneless pinyin"),
    Column("fpy", Text(), comment="a name's fuzzy pinyin (zh/z, ch/c, sh/s, l/n, -ng/-n merged)"),
    Column("batch_id", Text(), nullable=False, comment="batch of the record version indexed"),
    PrimaryKeyConstraint("entity", "source_agency", "source_record_id", "field", name="pk_mdm_search_element"),
    Index("ix_search_element_key", "kind", "key"),
    Index("ix_search_element_rev", "kind", "key_rev"),
    Index("ix_search_element_py", "py"),
    Index("ix_search_element_fpy", "fpy"),
    Index("ix_search_element_trgm", "key", postgresql_using="gin", postgresql_ops={"key": "gin_trgm_ops"}),
    schema="mdm", comment="Every searchable value of the entity tables (element search), kept current per batch.",
)

SCHEMA = pa.schema([(c.name, pa.string()) for c in element.columns])

LOOKUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "core": (("case_party", "ix_case_party_case_number", "case_number"), ("person", "ix_person_phone", "phone"),
             ("case_party", "ix_case_party_phone", "phone"),
             ("dispute", "ix_dispute_applicant_phone", "applicant_phone"),
             ("vehicle", "ix_vehicle_owner_phone", "owner_phone"), ("vehicle", "ix_vehicle_plate", "plate"),
             ("person", "ix_person_address", "address")),
    "mdm": (("person_link", "ix_mdm_person_link_id_number", "id_number"),),
}
"""(table, index, column) per namespace: what the timeline and the graph look up besides primary keys (a
person's records by ID number, the other parties of a case, the holders of a phone, an address, a plate)."""


def ensure(engine: Engine) -> list[str]:
    """The element index table and the lookups' indexes, created where missing; returns what was made."""
    from exchange.linking import ensure_mdm_tables, ensure_profile_indexes

    ensure_mdm_tables(engine)
    metadata.create_all(engine, checkfirst=True)
    return [made for schema, indexes in LOOKUPS.items()
            for made in ensure_profile_indexes(engine, schema, indexes)]


def indexed(schema: EntitySchema) -> dict[str, str]:
    """field → kind of the schema's searchable fields (events are searched on their own indexes)."""
    return {} if schema.event is not None else schema.search_fields()


def element_rows(entity: str, fields: dict[str, str], rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for row in rows:
        for field, kind in fields.items():
            value = row.get(field)
            if value is None or str(value).strip() == "":
                continue
            value = str(value)
            out = {"entity": entity, "source_agency": row["source_agency"], "source_record_id": row["source_record_id"],
                   "field": field, "kind": kind, "key": value, "key_rev": None, "py": None, "fpy": None,
                   "batch_id": row["_batch_id"]}
            if kind == "phone":  # landlines are stored as 0915-2345678; people type the digits
                out["key"] = "".join(c for c in value if c.isdigit()) or value
            if kind in REVERSED_KINDS:
                out["key_rev"] = out["key"][::-1]
            else:
                out["key"] = simplified(value)
            if kind == "name":
                out["py"], out["fpy"] = name_pinyin(value)
            yield out


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    batch = pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
    return dialect_of(conn).bulk_insert(conn, element, [batch], {})


def _index_select(conn: Connection, schema: EntitySchema, where: str, params: dict[str, Any],
                  chunk: int = 50_000) -> int:
    fields = indexed(schema)
    cols = ", ".join(f'"{f}"' for f in fields)
    result = conn.execute(text(f'SELECT source_agency, source_record_id, _batch_id, {cols} '
                               f'FROM core."{schema.name}" WHERE {where}'), params)
    written = 0
    while True:
        part = result.fetchmany(chunk)
        if not part:
            break
        written += _insert(conn, list(element_rows(schema.name, fields, (dict(r._mapping) for r in part))))
    return written


def refresh_batch(conn: Connection, schema: EntitySchema, batch_id: str) -> int:
    """Re-index the records the batch loaded (their earlier versions' elements replaced): what the
    publish stage runs. Returns the elements written."""
    if not indexed(schema):
        return 0
    conn.execute(text(f'DELETE FROM mdm.search_element WHERE entity = :e AND source_record_id IN ('
                      f'SELECT source_record_id FROM core."{schema.name}" AS c WHERE c._batch_id = :b '
                      f'AND c.source_agency = mdm.search_element.source_agency)'),
                 {"e": schema.name, "b": batch_id})
    return _index_select(conn, schema, "_batch_id = :b", {"b": batch_id})


def rebuild(engine: Engine, schemas: Iterable[EntitySchema], say: Any = log.info) -> dict[str, int]:
    """Index every searchable value from scratch (``exchange search reindex``: a new warehouse's first
    index or after a schema gains ``search`` fields), one transaction per entity."""
    counts: dict[str, int] = {}
    for schema in schemas:
        if not indexed(schema):
            continue
        with engine.begin() as conn:
            if not _has_table(conn, schema.name):
                continue
            conn.execute(text("DELETE FROM mdm.search_element WHERE entity = :e"), {"e": schema.name})
            counts[schema.name] = _index_select(conn, schema, "1 = 1", {})
        say(f"indexed {counts[schema.name]:,} elements of core.{schema.name}")
    return counts


def _has_table(conn: Connection, entity: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(entity, schema="core")
