"""The element index (``mdm.search_element``): every searchable value of every entity table, in the
forms people search it by — kept current batch by batch behind the publish stage, never rebuilt on a
normal run.

The index follows the batches the way the person index does: as their consumer, not inside their
load. ``catch_up`` indexes every batch whose rows are in core (loaded or published) that
``mdm.search_indexed`` (the index's watermark) does not hold yet, several batches of a table at once;
``exchange run`` calls it once its batch is published, Airflow's ``exchange.index_elements`` DAG on the
core tables' assets, ``exchange search-index`` by hand. A search tells how many batches the index has
yet to take (``lag``). Indexing inside the publish stage had cost ten times the load of the table itself (35 of
48 s for a million persons), on the path of every batch.

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
import time
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Engine,
    Float,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.schema import CreateIndex

from exchange.formats.pinyin import name_pinyin, simplified
from exchange.investigate.query import SUBSTRING_KINDS
from exchange.spec.clock import now
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.locks import feed_lock

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


indexed_batch = Table(
    "search_indexed", metadata,
    Column("batch_id", Text(), nullable=False, comment="a batch (loaded or published) whose records the index holds"),
    Column("entity", Text(), nullable=False),
    Column("elements", BigInteger(), nullable=False, comment="elements written for the batch's records"),
    Column("seconds", Float(), comment="time of the indexing run that took it (shared by the batches it took)"),
    Column("indexed_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("batch_id", name="pk_mdm_search_indexed"),
    schema="mdm", comment="The element index's watermark: the batches it holds.",
)
IN_CORE = ("loaded", "published")
"""Ledger states of a batch whose rows are in core (``exchange.pipeline.order.DONE``): what the index takes —
Airflow's feed DAG tells the core table's asset when its load commits, before the batch is marked published."""
_IN_CORE_SQL = "(" + ", ".join(f"'{s}'" for s in IN_CORE) + ")"
LOCK = "mdm.search_element"
"""The lock (a feed lock's kind) one indexing run holds at a time."""
WAIT = 600.0
"""Seconds an indexing run waits for another (which may not have seen the batches this one was asked for)."""
GROUP = 500
"""Batches of one table indexed together, at most."""

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
    """The element index's tables and the lookups' indexes on the core tables, created where missing; returns
    the lookups made. (Creating an index on a core table waits for any load into it to commit: what indexes
    a batch behind its load calls ``ensure_tables`` only.)"""
    from exchange.linking import ensure_profile_indexes

    ensure_tables(engine)
    return [made for schema, indexes in LOOKUPS.items()
            for made in ensure_profile_indexes(engine, schema, indexes)]


def ensure_tables(engine: Engine) -> None:
    """The element index (``mdm.search_element``, its indexes) and its watermark, created where missing; a
    warehouse indexed by the publish stage (before 2026-12-06) has every batch in core put in the watermark."""
    from exchange.linking import ensure_mdm_tables

    ensure_mdm_tables(engine)
    with engine.connect() as conn:
        had_index = inspect(conn).has_table("search_element", schema="mdm")
        had_watermark = inspect(conn).has_table("search_indexed", schema="mdm")
    metadata.create_all(engine, checkfirst=True)
    if had_index and not had_watermark:  # before 2026-12-06 the publish stage indexed every published batch
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO mdm.search_indexed (batch_id, entity, elements, indexed_at) SELECT batch_id, entity, 0, "
                f":at FROM audit.batch WHERE state IN {_IN_CORE_SQL}"), {"at": now()})
    _partial_indexes(engine)
    if not dialect_of(engine).embedded:
        with engine.begin() as conn:  # before 2026-12-06 every kind was in the trigram index: the text kinds now
            conn.exec_driver_sql("DROP INDEX IF EXISTS mdm.ix_search_element_trgm")
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_search_element_text_trgm ON mdm.search_element "
                                 f"USING gin (key gin_trgm_ops) WHERE {TRGM_WHERE}")


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


def _index(engine: Engine, schema: EntitySchema, batch_ids: list[str] | None, chunk: int = 200_000) -> int:
    """(Re-)index the records ``batch_ids`` loaded (None: every record of the table): the elements are built
    from the batches' rows into a temporary Parquet file (memory stays flat), then swapped in — the old
    elements of those records deleted, the new ones copied in — with the batches put in the watermark
    (None: every batch of the table in core).

    Reading and swapping are one transaction, on PostgreSQL at REPEATABLE READ: one snapshot. A batch
    loaded meanwhile may take records from these batches (a newer version); the swap still sees them
    where the read did, so their elements are replaced, never doubled, and the newer batch, not yet in
    the watermark, replaces them again when it is taken."""
    import tempfile
    from pathlib import Path

    import pyarrow.parquet as pq

    fields = indexed(schema)
    for batch_id in batch_ids or ():
        if not _SAFE_BATCH.match(batch_id):
            raise ValueError(f"not a batch id: {batch_id!r}")
    among = ", ".join(f"'{b}'" for b in batch_ids or ())
    where = f"WHERE _batch_id IN ({among})" if batch_ids is not None else ""
    cols = ", ".join(f'"{f}"' for f in fields)
    sql = f'SELECT source_agency, source_record_id, _batch_id, {cols} FROM core."{schema.name}" {where}'
    dialect = dialect_of(engine)
    started = time.perf_counter()
    per_batch: dict[str, int] = dict.fromkeys(batch_ids or (), 0)
    with tempfile.TemporaryDirectory(prefix="exchange-elements-") as tmp, engine.connect() as plain:
        path = Path(tmp) / "elements.parquet"
        written = 0
        conn = plain if dialect.embedded else plain.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            with pq.ParquetWriter(path, SCHEMA) as out:
                for rows in dialect.stream_query_in(conn, sql, chunk):
                    # in index order: the key index's B-tree takes sorted inserts faster than random ones
                    table = element_table(schema.name, fields, rows).sort_by([("kind", "ascending"),
                                                                              ("key", "ascending")])
                    written += table.num_rows
                    for counted in pc.value_counts(table.column("batch_id")).to_pylist():
                        per_batch[counted["values"]] = per_batch.get(counted["values"], 0) + counted["counts"]
                    out.write_table(table)
            if batch_ids is None:
                conn.execute(text("DELETE FROM mdm.search_element WHERE entity = :e"), {"e": schema.name})
            else:
                conn.execute(text(
                    f'DELETE FROM mdm.search_element WHERE entity = :e AND source_record_id IN ('
                    f'SELECT source_record_id FROM core."{schema.name}" AS c WHERE c._batch_id IN ({among}) '
                    f'AND c.source_agency = mdm.search_element.source_agency)'), {"e": schema.name})
            if written:
                rebuilt = _drop_indexes_for_bulk(conn, written) if not dialect.embedded else []
                dialect.bulk_insert(conn, element, pq.ParquetFile(path).iter_batches(chunk), {})
                for ix in rebuilt:
                    conn.execute(CreateIndex(ix))
            _mark(conn, schema.name, per_batch, batch_ids is None, time.perf_counter() - started)
    return written


def _mark(conn: Connection, entity: str, per_batch: dict[str, int], every: bool, seconds: float) -> None:
    """Put the batches in the watermark (``every``: every batch of the table in core, as a rebuild holds)."""
    if every:
        conn.execute(text("DELETE FROM mdm.search_indexed WHERE entity = :e"), {"e": entity})
        in_core = conn.execute(text(f"SELECT batch_id FROM audit.batch WHERE entity = :e AND state IN {_IN_CORE_SQL}"),
                               {"e": entity}).scalars().all()
        per_batch = {b: per_batch.get(b, 0) for b in in_core}
    else:
        conn.execute(indexed_batch.delete().where(indexed_batch.c.batch_id.in_(list(per_batch))))
    if per_batch:
        at = now()
        conn.execute(indexed_batch.insert(), [
            {"batch_id": b, "entity": entity, "elements": n, "seconds": round(seconds, 3), "indexed_at": at}
            for b, n in per_batch.items()])


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
    """Re-index the records one batch loaded (their earlier versions' elements replaced) and put it in the
    watermark. Returns the elements written."""
    return _index(engine, schema, [batch_id]) if indexed(schema) else 0


def pending(conn: Connection, schemas: Iterable[EntitySchema]) -> dict[str, list[str]]:
    """entity → the batches of its table (rows in core) the index does not hold yet, oldest first."""
    names = sorted(s.name for s in schemas if indexed(s))
    if not names:
        return {}
    rows = conn.execute(text(
        f"SELECT b.entity, b.batch_id FROM audit.batch AS b WHERE b.state IN {_IN_CORE_SQL} AND b.entity IN ("
        + ", ".join(f":e{i}" for i in range(len(names))) + ") AND NOT EXISTS (SELECT 1 FROM mdm.search_indexed "
        "AS i WHERE i.batch_id = b.batch_id) ORDER BY b.finished_at, b.batch_id"),
        {f"e{i}": n for i, n in enumerate(names)}).all()
    found: dict[str, list[str]] = {}
    for entity, batch_id in rows:
        found.setdefault(entity, []).append(batch_id)
    return found


def lag(conn: Connection, schemas: Iterable[EntitySchema]) -> int:
    """Batches (rows in core) the index has yet to take (0: it holds every record in core)."""
    return sum(len(b) for b in pending(conn, schemas).values())


def catch_up(engine: Engine, schemas: Iterable[EntitySchema], *, wait_seconds: float = WAIT,
             say: Any = log.info) -> dict[str, int]:
    """Index every batch with rows in core that the watermark does not hold, ``GROUP`` batches of a table at a time
    (one read of their rows, one swap); one indexing run at a time (a lock: a second waits for the first,
    then finds what is left). Returns entity → elements written."""
    by_name = {s.name: s for s in schemas if indexed(s)}
    counts: dict[str, int] = {}
    if not by_name:
        return counts
    with feed_lock(engine, LOCK, wait_seconds=wait_seconds):
        with engine.connect() as conn:
            todo = pending(conn, by_name.values())
        for entity, batches in todo.items():
            for i in range(0, len(batches), GROUP):
                group = batches[i:i + GROUP]
                t = time.perf_counter()
                counts[entity] = counts.get(entity, 0) + _index(engine, by_name[entity], group)
                say(f"element index: {counts[entity]:,} elements of core.{entity} from {len(group)} batch(es) in "
                    f"{time.perf_counter() - t:.1f} s")
    return counts


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
        with feed_lock(engine, LOCK, wait_seconds=WAIT):
            counts[schema.name] = _index(engine, schema, None)
        say(f"indexed {counts[schema.name]:,} elements of core.{schema.name}")
    return counts


def _has_table(conn: Connection, entity: str) -> bool:
    return inspect(conn).has_table(entity, schema="core")
