"""Moving tables between the warehouse (SQLAlchemy engine: SQLite or PostgreSQL) and Arrow.

Reads stream in bounded batches (PostgreSQL: ``COPY ... TO STDOUT`` parsed by Arrow; SQLite:
``fetchmany``). Writes go through a temporary stage table (PostgreSQL: ``COPY FROM STDIN``;
SQLite: ``executemany``) and then replace the target's rows with the same key, so a write is
one set-based statement whatever its size.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import Column, Connection, Date, DateTime, Engine, MetaData, Table

log = logging.getLogger(__name__)

WRITE_CHUNK = 50_000


def _rows_to_table(names: list[str], rows: list[Any]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table({n: pa.array([None if v is None else str(v) for v in c], pa.string())
                     for n, c in zip(names, columns, strict=True)})


def stream_query(engine: Engine, sql: str, batch_rows: int = 100_000) -> Iterator[pa.Table]:
    """Rows of ``sql`` as Arrow tables of string columns, ``batch_rows`` at a time (about)."""
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            yield from _pg_copy_out(raw, sql)
            return
        cur = raw.cursor()
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(batch_rows):
            yield _rows_to_table(names, rows)
        cur.close()
    finally:
        raw.close()


def _pg_copy_out(raw: Any, sql: str) -> Iterator[pa.Table]:
    """COPY the query out as CSV into a temporary file (libpq's copy loop: psycopg's row iterator
    costs microseconds per row), then stream the file back through Arrow's CSV reader."""
    from psycopg import pq

    driver = raw.driver_connection
    with driver.cursor() as cur:
        cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
        names = [d.name for d in cur.description]
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
            tmp, read_options=pacsv.ReadOptions(column_names=names, block_size=32 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=True, quoted_strings_can_be_null=False))
        for batch in reader:
            yield pa.Table.from_batches([batch])


def _stage_table(target: Table) -> Table:
    cols = [Column(c.name, c.type) for c in target.columns]
    return Table(f"_stage_{target.name}", MetaData(), *cols, prefixes=["TEMPORARY"])


def _insert(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    names = [c.name for c in table.columns]
    n = 0
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection
        quote = conn.dialect.identifier_preparer.quote
        target = f"{quote(table.schema) + '.' if table.schema else ''}{quote(table.name)}"
        columns = ", ".join(quote(n) for n in names)
        options = pacsv.WriteOptions(include_header=False)
        with driver.cursor() as cur, cur.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in batches:
                if not batch.num_rows:
                    continue
                buf = io.BytesIO()
                pacsv.write_csv(batch.select(names), buf, write_options=options)
                copy.write(buf.getvalue())
                n += batch.num_rows
        return n
    stmt = table.insert()
    dates = [c.name for c in table.columns if isinstance(c.type, Date) and not isinstance(c.type, DateTime)]
    for batch in batches:
        if isinstance(batch, pa.RecordBatch):
            batch = pa.Table.from_batches([batch])
        batch = batch.select(names)
        for name in dates:
            i = names.index(name)
            if pa.types.is_string(batch.schema.field(i).type) or pa.types.is_large_string(batch.schema.field(i).type):
                batch = batch.set_column(i, name, pc.cast(batch.column(i), pa.date32()))
        for start in range(0, batch.num_rows, WRITE_CHUNK):
            part = batch.slice(start, WRITE_CHUNK).to_pylist()
            if part:
                conn.execute(stmt, part)
                n += len(part)
    return n


def replace_rows(conn: Connection, target: Table, key: list[str], batches: Iterable[pa.RecordBatch | pa.Table],
                 *, target_empty: bool = False) -> int:
    """Insert ``batches`` into ``target``, replacing rows with the same ``key``; return rows written."""
    if target_empty:
        if conn.dialect.name == "postgresql":
            return _bulk_into_empty(conn, target, batches)
        return _insert(conn, target, batches)
    stage = _stage_table(target)
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    try:
        n = _insert(conn, stage, batches)
        if n:
            keys = ", ".join(key)
            conn.exec_driver_sql(f"DELETE FROM {_qualified(target)} WHERE ({keys}) IN "
                                 f"(SELECT {keys} FROM {stage.name})")
            cols = ", ".join(c.name for c in target.columns)
            conn.exec_driver_sql(f"INSERT INTO {_qualified(target)} ({cols}) SELECT {cols} FROM {stage.name}")
    finally:
        stage.drop(conn, checkfirst=True)
    return n


def _bulk_into_empty(conn: Connection, target: Table, batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    """PostgreSQL, empty table: COPY without the indexes, then build them (several times faster
    than maintaining them row by row); all in the caller's transaction."""
    from sqlalchemy.schema import AddConstraint, DropConstraint

    pk = target.primary_key if target.primary_key.columns else None
    for index in target.indexes:
        index.drop(conn, checkfirst=True)
    if pk is not None and pk.name:
        conn.execute(DropConstraint(pk))
    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    n = _insert(conn, target, batches)
    if pk is not None and pk.name:
        conn.execute(AddConstraint(pk))
    for index in target.indexes:
        index.create(conn)
    return n


def delete_keys(conn: Connection, target: Table, key: list[str], batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    """Delete the rows of ``target`` whose ``key`` is in ``batches``."""
    stage = Table(f"_stage_del_{target.name}", MetaData(), *[Column(k, target.c[k].type) for k in key],
                  prefixes=["TEMPORARY"])
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    try:
        n = _insert(conn, stage, batches)
        if n:
            keys = ", ".join(key)
            conn.exec_driver_sql(f"DELETE FROM {_qualified(target)} WHERE ({keys}) IN "
                                 f"(SELECT {keys} FROM {stage.name})")
    finally:
        stage.drop(conn, checkfirst=True)
    return n


def _qualified(table: Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name
