"""Load a staged batch: quarantine rows always, valid rows by upsert with history.

Everything here runs on a connection inside the caller's transaction, so the runner can
commit the load and its ledger entry as one unit. Re-loading the same batch changes
nothing: quarantine rows already held are kept (never deleted), core rows are only touched
where the row hash differs, and a superseded version is copied to ``core.<entity>_history`` first.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    Table,
    Text,
    and_,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from exchange.spec import faults
from exchange.spec.schema import SOURCE_AGENCY, SOURCE_RECORD_ID, EntitySchema
from exchange.warehouse.tables import EntityTables

log = logging.getLogger(__name__)

INSERT_CHUNK = 5_000


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged


def ensure_tables(engine: Engine, schemas: Iterable[EntitySchema], *extra: MetaData) -> None:
    """Create or upgrade the warehouse for ``schemas`` (see ``exchange.warehouse.migrate``).

    ``extra`` MetaData (e.g. the ``audit`` tables, which the versioned migrations own) is
    accepted for callers that pass it; only tables it declares are compared.
    """
    from exchange.warehouse.migrate import migrate

    migrate(engine, schemas, *[md for md in extra if not _is_audit(md)])


def _is_audit(md: MetaData) -> bool:
    return all(t.schema == "audit" for t in md.tables.values())


def _rows(batch: pa.RecordBatch, extra: dict[str, object]) -> list[dict[str, object]]:
    rows = batch.to_pylist()
    for r in rows:
        r.update(extra)
    return rows


def _chunks(rows: list[dict[str, object]]) -> Iterable[list[dict[str, object]]]:
    for i in range(0, len(rows), INSERT_CHUNK):
        yield rows[i:i + INSERT_CHUNK]


def _with_constants(batch: pa.RecordBatch, extra: dict[str, object], columns: list[str]) -> pa.Table:
    """The batch plus constant columns, in the table's column order (for COPY)."""
    table = pa.Table.from_batches([batch])
    n = table.num_rows
    for name, value in extra.items():
        arr = pa.repeat(pa.scalar(value, pa.timestamp("us") if isinstance(value, dt.datetime) else pa.string()), n)
        table = table.append_column(name, arr)
    for name in columns:  # columns the rows do not carry (e.g. set later by reprocessing) stay NULL
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(n, pa.string()))
    return table.select(columns)


def _copy(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch], extra: dict[str, object]) -> int:
    """PostgreSQL COPY of Arrow batches: in PostgreSQL's binary format where every column's type has
    one here (``binary_copy_rows``: the server reads it about a quarter faster than CSV), else as CSV
    (unquoted empty = NULL, quoted "" = empty string), e.g. for a table with a decimal column."""
    columns = [c.name for c in table.columns]
    target = table.name if table.schema is None else f"{table.schema}.{table.name}"
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    sql_types = [c.type for c in table.columns]
    encoded = ((batch.num_rows, _with_constants(batch, extra, columns)) for batch in batches if batch.num_rows)
    first = next(encoded, None)
    binary = first is not None and binary_copy_rows(first[1].slice(0, 1), sql_types) is not None
    n = 0
    with cursor.copy(f"COPY {target} ({quoted}) FROM STDIN WITH (FORMAT {'binary' if binary else 'csv'})") as copy:
        if binary:
            copy.write(PGCOPY_HEADER)
        for rows, data in itertools.chain([first] if first else [], encoded):
            if binary:
                chunk = binary_copy_rows(data, sql_types)
                if chunk is None:
                    raise TypeError(f"COPY {target}: the batches changed types half-way: {data.schema}")
            else:
                buf = io.BytesIO()
                pacsv.write_csv(data, buf, pacsv.WriteOptions(include_header=False, batch_size=10_000))
                chunk = buf.getvalue()
            copy.write(chunk)
            n += rows
            faults.point("load.copy")
        if binary:
            copy.write(PGCOPY_TRAILER)
    return n


# --- PostgreSQL's binary COPY format, built with Arrow kernels (no Python loop over rows) ---------------

PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # signature, flags, extension
PGCOPY_TRAILER = b"\xff\xff"
PG_EPOCH_DAYS = 10_957               # 2000-01-01 in days since 1970-01-01
PG_EPOCH_MICROS = PG_EPOCH_DAYS * 86_400_000_000


def binary_copy_rows(table: pa.Table, sql_types: list[Any]) -> bytes | None:
    """The rows of ``table`` in PostgreSQL's binary COPY format (without header and trailer): per
    row the field count, then per field its length (-1: NULL) and value in network byte order.
    None when a column's Arrow type does not match its SQL type (the caller writes CSV instead)."""
    n = table.num_rows
    fields = [_repeat_bytes(len(sql_types).to_bytes(2, "big"), n)]
    for column, sql_type in zip(table.columns, sql_types, strict=True):
        field = _binary_field(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0), sql_type)
        if field is None:
            return None
        fields.append(field)
    rows = pc.binary_join_element_wise(*fields, pa.scalar(b"", pa.binary()))
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32)[rows.offset: rows.offset + n + 1]
    return rows.buffers()[2][int(offsets[0]):int(offsets[-1])].to_pybytes()


def _binary_field(arr: pa.Array, sql_type: Any) -> pa.Array | None:
    """One column as binary values: the 4-byte length (-1 for NULL) followed by the value."""
    t = arr.type
    valid = np.asarray(arr.is_valid(), dtype=bool)
    if pa.types.is_null(t):
        return _repeat_bytes(b"\xff\xff\xff\xff", len(arr))
    if isinstance(sql_type, Text) and (pa.types.is_string(t) or pa.types.is_large_string(t)):
        data = pc.fill_null(arr.cast(pa.string()), "").cast(pa.binary())
        lengths = np.where(valid, np.asarray(pc.binary_length(data), dtype=np.int32), -1)
        return pc.binary_join_element_wise(_be_bytes(lengths, ">i4"), data, pa.scalar(b"", pa.binary()))
    if isinstance(sql_type, BigInteger) and pa.types.is_integer(t):
        values = np.asarray(pc.fill_null(arr.cast(pa.int64()), 0), dtype=np.int64)
        return _fixed_field(values, ">i8", valid)
    if isinstance(sql_type, DateTime) and not sql_type.timezone and pa.types.is_timestamp(t) and t.tz is None:
        micros = np.asarray(pc.fill_null(arr.cast(pa.timestamp("us")).cast(pa.int64()), 0), dtype=np.int64)
        return _fixed_field(micros - PG_EPOCH_MICROS, ">i8", valid)
    if isinstance(sql_type, Date) and pa.types.is_date32(t):
        days = np.asarray(pc.fill_null(arr.cast(pa.int32()), 0), dtype=np.int32)
        return _fixed_field(days - PG_EPOCH_DAYS, ">i4", valid)
    if isinstance(sql_type, Boolean) and pa.types.is_boolean(t):
        return _fixed_field(np.asarray(pc.fill_null(arr, False), dtype=np.uint8), "u1", valid)
    return None


def _be_bytes(values: np.ndarray, dtype: str) -> pa.Array:
    """Each value's bytes in ``dtype`` (e.g. big-endian ``>i4``) as a binary array."""
    raw = np.ascontiguousarray(values.astype(dtype))
    width = raw.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(raw), [None, pa.py_buffer(raw.view(np.uint8))])
    return fixed.cast(pa.binary())


def _fixed_field(values: np.ndarray, dtype: str, valid: np.ndarray) -> pa.Array:
    width = np.dtype(dtype).itemsize
    lengths = _be_bytes(np.where(valid, width, -1).astype(np.int32), ">i4")
    payload = _be_bytes(values, dtype)
    if not valid.all():
        payload = pc.if_else(pa.array(valid), payload, pa.scalar(b"", pa.binary()))
    return pc.binary_join_element_wise(lengths, payload, pa.scalar(b"", pa.binary()))


def _repeat_bytes(value: bytes, n: int) -> pa.Array:
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(len(value)), n, [None, pa.py_buffer(value * n)]).cast(pa.binary())


def _insert(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch], extra: dict[str, object]) -> int:
    if conn.dialect.name == "postgresql":
        return _copy(conn, table, batches, extra)
    n = 0
    for batch in batches:
        rows = _rows(batch, extra)
        for part in _chunks(rows):
            conn.execute(table.insert(), part)
        n += len(rows)
        faults.point("load.copy")  # the bulk insert under way, as COPY on PostgreSQL
    return n


def load_quarantine(conn: Connection, tables: EntityTables, *, batch_id: str, agency: str,
                    batches: Iterable[pa.RecordBatch], now: dt.datetime) -> int:
    """Put the batch's staged rejects in quarantine; return how many were staged.

    Quarantined rows are never deleted: a new attempt of a batch that did not load (e.g. over its
    reject ratio) keeps the rows an earlier attempt quarantined, as they are, and adds the others.
    """
    q = tables.quarantine
    extra = {"_batch_id": batch_id, SOURCE_AGENCY: agency, "status": "open", "_quarantined_at": now}
    held = {(f, int(r)) for f, r in conn.execute(select(q.c._source_file, q.c._source_row)
                                                  .where(q.c._batch_id == batch_id))}
    if not held:
        return _insert(conn, q, batches, extra)
    staged = 0

    def not_held() -> Iterable[pa.RecordBatch]:
        nonlocal staged
        for b in batches:
            staged += b.num_rows
            keys = zip(b.column("_source_file").to_pylist(), b.column("_source_row").to_pylist(), strict=True)
            yield b.filter(pa.array([(f, r) not in held for f, r in keys], type=pa.bool_()))

    _insert(conn, q, not_held(), extra)
    return staged


def _stage_table(tables: EntityTables) -> Table:
    cols = [Column(c.name, c.type) for c in tables.core.columns]
    return Table(f"_stage_{tables.schema.name}", MetaData(), *cols, prefixes=["TEMPORARY"])


def _dialect_insert(conn: Connection):
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def upsert_core(conn: Connection, tables: EntityTables, *, batch_id: str, agency: str,
                batches: Iterable[pa.RecordBatch], now: dt.datetime, unique_keys: bool = False) -> UpsertCounts:
    """Upsert staged valid rows into ``core.<entity>``, keeping superseded versions.

    When the agency has no rows in the table yet (its first load) there is nothing to
    compare or supersede: rows go straight in (COPY on PostgreSQL). Keys are unique within
    a batch (duplicates were quarantined), so no conflict is possible.
    """
    core, hist = tables.core, tables.history
    first = None if not unique_keys else conn.execute(
        select(core.c[SOURCE_AGENCY]).where(core.c[SOURCE_AGENCY] == agency).limit(1)).first()
    if unique_keys and first is None:
        n = _insert(conn, core, batches, {SOURCE_AGENCY: agency, "_batch_id": batch_id, "_loaded_at": now})
        log.info("core.%s: first load of %s, %s rows inserted", tables.schema.name, agency, n)
        return UpsertCounts(inserted=n)
    stage = _stage_table(tables)
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    try:
        _insert(conn, stage, batches, {SOURCE_AGENCY: agency, "_batch_id": batch_id, "_loaded_at": now})
        on = and_(core.c[SOURCE_AGENCY] == stage.c[SOURCE_AGENCY],
                  core.c[SOURCE_RECORD_ID] == stage.c[SOURCE_RECORD_ID])
        total = conn.execute(select(func.count()).select_from(stage)).scalar_one()
        changed = conn.execute(select(func.count()).select_from(stage.join(core, on))
                               .where(core.c._row_hash != stage.c._row_hash)).scalar_one()
        matched = conn.execute(select(func.count()).select_from(stage.join(core, on))).scalar_one()
        counts = UpsertCounts(inserted=total - matched, updated=changed, unchanged=matched - changed)

        data_cols = [c.name for c in core.columns]
        superseded = (select(*[core.c[c] for c in data_cols],
                             # a typed literal, not CAST: SQLite's CAST(text AS DATETIME) keeps only the year
                             literal(now, hist.c._superseded_at.type).label("_superseded_at"),
                             func.cast(batch_id, hist.c._superseded_by.type).label("_superseded_by"))
                      .select_from(core.join(stage, on))
                      .where(core.c._row_hash != stage.c._row_hash))
        conn.execute(hist.insert().from_select([*data_cols, "_superseded_at", "_superseded_by"], superseded))

        faults.point("load.upsert")
        insert = _dialect_insert(conn)(core).from_select(data_cols, select(*[stage.c[c] for c in data_cols])
                                                         .where(True))
        update_cols = {c: insert.excluded[c] for c in data_cols if c not in (SOURCE_AGENCY, SOURCE_RECORD_ID)}
        conn.execute(insert.on_conflict_do_update(
            index_elements=[SOURCE_AGENCY, SOURCE_RECORD_ID], set_=update_cols,
            where=core.c._row_hash != insert.excluded._row_hash))
    finally:
        stage.drop(conn, checkfirst=True)
    log.info("core.%s: %s inserted, %s updated, %s unchanged", tables.schema.name,
             counts.inserted, counts.updated, counts.unchanged)
    return counts
