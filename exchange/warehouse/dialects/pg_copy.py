"""PostgreSQL's COPY, both ways, with Arrow: rows in as the binary COPY format (built with Arrow kernels,
no Python loop over rows) or CSV; a query's rows out as CSV streamed back through Arrow's reader."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import BigInteger, Boolean, Connection, Date, DateTime, Table, Text

from exchange.spec import faults


def _with_constants(batch: pa.RecordBatch | pa.Table, extra: dict[str, object], columns: list[str]) -> pa.Table:
    """The batch plus constant columns, in the table's column order (for COPY)."""
    table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    n = table.num_rows
    for name, value in extra.items():
        arr = pa.repeat(pa.scalar(value, pa.timestamp("us") if isinstance(value, dt.datetime) else pa.string()), n)
        table = table.append_column(name, arr)
    for name in columns:  # columns the rows do not carry (e.g. set later by reprocessing) stay NULL
        if name not in table.column_names:
            table = table.append_column(name, pa.nulls(n, pa.string()))
    return table.select(columns)


def copy_in(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table],
            extra: dict[str, object]) -> int:
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



def copy_out(raw: Any, sql: str, *, in_transaction: bool = False) -> Iterator[pa.Table]:
    """COPY the query out as CSV into a temporary file (libpq's copy loop: psycopg's row iterator
    costs microseconds per row), then stream the file back through Arrow's CSV reader. With
    ``in_transaction`` the query runs in the connection's open transaction (its snapshot), which is
    left open."""
    from psycopg import pq

    driver = raw.driver_connection
    with driver.cursor() as cur:
        cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
        names = [d.name for d in cur.description]
    if not in_transaction:
        driver.rollback()
    pgconn = driver.pgconn
    with tempfile.TemporaryFile() as tmp:
        res = pgconn.exec_(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)".encode())
        if res.status != pq.ExecStatus.COPY_OUT:
            raise RuntimeError(f"COPY out failed: {(res.error_message or b'').decode(errors='replace')}")
        chunks: list[bytes] = []
        held = 0
        while True:
            n, data = pgconn.get_copy_data(0)
            if n < 0:
                break
            chunks.append(bytes(data))
            held += n
            if held >= 1 << 22:
                tmp.write(b"".join(chunks))
                chunks, held = [], 0
        tmp.write(b"".join(chunks))
        res = pgconn.get_result()
        while pgconn.get_result() is not None:
            pass
        if res is None or res.status != pq.ExecStatus.COMMAND_OK:
            message = (res.error_message or b"").decode(errors="replace") if res is not None else "no result"
            raise RuntimeError(f"COPY out failed: {message}")
        if not tmp.tell():
            return
        tmp.seek(0)
        reader = pacsv.open_csv(
            tmp, read_options=pacsv.ReadOptions(column_names=names, block_size=8 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))
        for batch in reader:
            yield pa.Table.from_batches([batch])
