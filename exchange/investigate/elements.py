"""The element index (``mdm.search_element``): every searchable value of every entity table, in the
forms people search it by — kept current batch by batch by the publish stage, never rebuilt on a
normal run.

One row per (record, field) whose schema field is marked ``search: <kind>`` (``schemas/*.yaml``):

- ``key`` — the value as matched exactly or by substring: ID numbers, phones and plates as validated
  (already normalised), names, addresses, organisation names and case numbers in simplified
  characters (張三 → 张三);
- ``key_rev`` — ID numbers, phones and plates reversed, so "the last digits" is a prefix scan;
- ``py`` / ``fpy`` — a name's toneless and fuzzy pinyin (``zhangsan`` / ``zansan``).

PostgreSQL indexes ``key`` of the text kinds (address, org, case: the only ones searched by substring)
with a partial pg_trgm GIN index (substrings of Chinese addresses: the database's ctype classifies Han
characters as letters, so they make trigrams) and B-trees for the exact, prefix
and pinyin probes; SQLite (the embedded default for trying the exchange out) uses the B-trees and
scans for substrings. Event tables are not copied here: their ID and plate columns have their own
indexes (``exchange.warehouse.tables.event_indexes``), probed with the full values a search resolves.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Column, Connection, Engine, Index, MetaData, PrimaryKeyConstraint, Table, Text, text
from sqlalchemy.schema import CreateIndex

from exchange.formats.pinyin import name_pinyin, simplified
from exchange.investigate.query import SUBSTRING_KINDS
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)

metadata = MetaData()
TEXT_KINDS = ("name", "address", "org", "case")
REVERSED_KINDS = ("id", "phone", "plate")
TRGM_WHERE = "kind IN (" + ", ".join(f"'{k}'" for k in SUBSTRING_KINDS) + ")"
"""The trigram index's predicate: the substring kinds only."""

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
    # partial: only the values that have one (a name's pinyin, a number's reversed key) — a B-tree entry for
    # every NULL cost a third of the index's load time and served no lookup (= and ranges imply NOT NULL)
    *(Index(name, *cols, postgresql_where=text(f"{cols[-1]} IS NOT NULL"), sqlite_where=text(f"{cols[-1]} IS NOT NULL"))
      for name, cols in (("ix_search_element_rev", ("kind", "key_rev")), ("ix_search_element_py", ("py",)),
                         ("ix_search_element_fpy", ("fpy",)))),
    Index("ix_search_element_text_trgm", "key", postgresql_using="gin", postgresql_ops={"key": "gin_trgm_ops"},
          postgresql_where=text(TRGM_WHERE)),
    schema="mdm", comment="Every searchable value of the entity tables (element search), kept current per batch.",
)

SCHEMA = pa.schema([(c.name, pa.string()) for c in element.columns])

LOOKUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "core": (("case_party", "ix_case_party_case_number", "case_number"), ("person", "ix_person_phone", "phone"),
             ("case_party", "ix_case_party_phone", "phone"),
             ("dispute", "ix_dispute_applicant_phone", "applicant_phone"),
             ("vehicle", "ix_vehicle_owner_phone", "owner_phone"), ("vehicle", "ix_vehicle_plate", "plate"),
             ("person", "ix_person_address", "address"),
             ("person", "ix_person_household_number", "household_number"),
             ("household", "ix_household_household_number", "household_number")),
    "mdm": (("person_link", "ix_mdm_person_link_id_number", "id_number"),),
}
"""(table, index, column) per namespace: what the timeline and the graph look up besides primary keys (a
person's records by ID number, the other parties of a case, the holders of a phone, an address, a plate)."""


def ensure(engine: Engine) -> list[str]:
    """The element index table and the lookups' indexes, created where missing; returns what was made."""
    from exchange.linking import ensure_mdm_tables, ensure_profile_indexes

    ensure_mdm_tables(engine)
    metadata.create_all(engine, checkfirst=True)
    _partial_indexes(engine)
    if not dialect_of(engine).embedded:
        with engine.begin() as conn:  # before 2026-12-06 every kind was in the trigram index: the text kinds now
            conn.exec_driver_sql("DROP INDEX IF EXISTS mdm.ix_search_element_trgm")
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_search_element_text_trgm ON mdm.search_element "
                                 f"USING gin (key gin_trgm_ops) WHERE {TRGM_WHERE}")
    return [made for schema, indexes in LOOKUPS.items()
            for made in ensure_profile_indexes(engine, schema, indexes)]


def _partial_indexes(engine: Engine) -> None:
    """Before 2026-12-06 the pinyin and reversed-key indexes held every row: replaced by their partial form."""
    partial = [ix for ix in element.indexes if ix.dialect_options["sqlite"]["where"] is not None]
    embedded = dialect_of(engine).embedded
    with engine.begin() as conn:
        for ix in partial:
            if embedded:
                sql = conn.exec_driver_sql("SELECT sql FROM mdm.sqlite_master WHERE type = 'index' AND name = ?",
                                           (ix.name,)).scalar()
            else:
                sql = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE schemaname = 'mdm' AND "
                                           "indexname = %s", (ix.name,)).scalar()
            if sql is not None and "WHERE" not in sql.upper():
                conn.exec_driver_sql(f"DROP INDEX mdm.{ix.name}")
            conn.execute(CreateIndex(ix, if_not_exists=True))


def indexed(schema: EntitySchema) -> dict[str, str]:
    """field → kind of the schema's searchable fields (events are searched on their own indexes)."""
    return {} if schema.event is not None else schema.search_fields()


def _each_distinct(values: pa.Array, fn: Any) -> pa.Array:
    """``fn`` of every value, computed once per distinct value (names and addresses repeat)."""
    encoded = pc.dictionary_encode(values)
    mapped = pa.array([fn(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.take(mapped, encoded.indices)


def element_table(entity: str, fields: dict[str, str], rows: pa.Table) -> pa.Table:
    """The elements of ``rows`` (the record identity, ``_batch_id`` and the searchable fields, as strings),
    built column by column."""
    parts = []
    for field, kind in fields.items():
        column = rows.column(field).combine_chunks()
        keep = pc.and_(pc.is_valid(column), pc.not_equal(pc.utf8_trim_whitespace(column), ""))
        sub = rows.filter(pc.fill_null(keep, False))
        n = sub.num_rows
        if not n:
            continue
        values = sub.column(field).combine_chunks()
        if kind == "phone":  # landlines are stored as 0915-2345678; people type the digits
            digits = pc.replace_substring_regex(values, r"[^0-9]", "")
            key = pc.if_else(pc.equal(digits, ""), values, digits)
        elif kind in REVERSED_KINDS:
            key = values
        else:
            key = _each_distinct(values, simplified)
        nothing = pa.nulls(n, pa.string())
        py = fpy = nothing
        if kind == "name":  # both pinyin forms from one conversion of each distinct name
            encoded = pc.dictionary_encode(values)
            pairs = [name_pinyin(v) for v in encoded.dictionary.to_pylist()]
            py = pc.take(pa.array([p[0] for p in pairs], pa.string()), encoded.indices)
            fpy = pc.take(pa.array([p[1] for p in pairs], pa.string()), encoded.indices)
        parts.append(pa.table({
            "entity": pa.array([entity] * n, pa.string()), "source_agency": sub.column("source_agency"),
            "source_record_id": sub.column("source_record_id"), "field": pa.array([field] * n, pa.string()),
            "kind": pa.array([kind] * n, pa.string()), "key": key,
            "key_rev": pc.utf8_reverse(key) if kind in REVERSED_KINDS else nothing, "py": py, "fpy": fpy,
            "batch_id": sub.column("_batch_id")}, schema=SCHEMA))
    return pa.concat_tables(parts) if parts else SCHEMA.empty_table()


_SAFE_BATCH = re.compile(r"^[A-Za-z0-9_.:-]+$")
BULK_MIN = 100_000
"""Below this many elements a batch is inserted into the indexes as they are."""


def _index(engine: Engine, schema: EntitySchema, batch_id: str | None, chunk: int = 200_000) -> int:
    """(Re-)index the records ``batch_id`` loaded (None: every record of the table): the elements are built
    from the committed rows into a temporary Parquet file (memory stays flat), then swapped in — the old
    elements of those records deleted, the new ones copied in — in one transaction."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    fields = indexed(schema)
    if batch_id is not None and not _SAFE_BATCH.match(batch_id):
        raise ValueError(f"not a batch id: {batch_id!r}")
    where = f"WHERE _batch_id = '{batch_id}'" if batch_id is not None else ""
    cols = ", ".join(f'"{f}"' for f in fields)
    sql = f'SELECT source_agency, source_record_id, _batch_id, {cols} FROM core."{schema.name}" {where}'
    dialect = dialect_of(engine)
    with tempfile.TemporaryDirectory(prefix="exchange-elements-") as tmp:
        path = Path(tmp) / "elements.parquet"
        written = 0
        with pq.ParquetWriter(path, SCHEMA) as out:
            for rows in dialect.stream_query(engine, sql, chunk):
                # in index order: the key index's B-tree takes sorted inserts faster than random ones
                table = element_table(schema.name, fields, rows).sort_by([("kind", "ascending"), ("key", "ascending")])
                written += table.num_rows
                out.write_table(table)
        with engine.begin() as conn:
            if batch_id is None:
                conn.execute(text("DELETE FROM mdm.search_element WHERE entity = :e"), {"e": schema.name})
            else:
                conn.execute(text(
                    f'DELETE FROM mdm.search_element WHERE entity = :e AND source_record_id IN ('
                    f'SELECT source_record_id FROM core."{schema.name}" AS c WHERE c._batch_id = :b '
                    f'AND c.source_agency = mdm.search_element.source_agency)'), {"e": schema.name, "b": batch_id})
            if written:
                rebuilt = _drop_indexes_for_bulk(conn, written) if not dialect.embedded else []
                dialect.bulk_insert(conn, element, pq.ParquetFile(path).iter_batches(chunk), {})
                for ix in rebuilt:
                    conn.execute(CreateIndex(ix))
    return written


def _drop_indexes_for_bulk(conn: Connection, adding: int) -> list[Index]:
    """When a batch brings at least as many elements as the index holds (a first load, a rebuild, a city's
    first registers), the secondary indexes are dropped for the insert and built again after it, inside
    the transaction: building a B-tree or a GIN index from sorted rows takes a fraction of inserting the
    same rows one by one (2.1 s against 4–5 s for 800,000 elements here). Searches wait for the commit
    meanwhile (the drop locks the table), which for a batch that size is the price of the speed."""
    held = conn.exec_driver_sql("SELECT reltuples FROM pg_class WHERE oid = 'mdm.search_element'::regclass").scalar()
    if held is None or held < 0:  # never analysed: count, but no further than the batch's size
        held = conn.exec_driver_sql(f"SELECT count(*) FROM (SELECT 1 FROM mdm.search_element LIMIT {int(adding)}) s"
                                    ).scalar()
    if adding < max(held or 0, BULK_MIN):
        return []
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
    secondary = list(element.indexes)
    for ix in secondary:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS mdm.{ix.name}")
    return secondary


def refresh_batch(engine: Engine, schema: EntitySchema, batch_id: str) -> int:
    """Re-index the records the batch loaded (their earlier versions' elements replaced): what the
    publish stage runs. Returns the elements written."""
    return _index(engine, schema, batch_id) if indexed(schema) else 0


def rebuild(engine: Engine, schemas: Iterable[EntitySchema], say: Any = log.info) -> dict[str, int]:
    """Index every searchable value from scratch (``exchange search-index``: a warehouse's first index, or
    after a schema gains ``search`` fields), one transaction per entity."""
    counts: dict[str, int] = {}
    for schema in schemas:
        if not indexed(schema):
            continue
        with engine.connect() as conn:
            if not _has_table(conn, schema.name):
                continue
        counts[schema.name] = _index(engine, schema, None)
        say(f"indexed {counts[schema.name]:,} elements of core.{schema.name}")
    return counts


def _has_table(conn: Connection, entity: str) -> bool:
    from sqlalchemy import inspect

    return inspect(conn).has_table(entity, schema="core")
