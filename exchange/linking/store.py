"""Moving tables between the warehouse (SQLAlchemy engine: SQLite or PostgreSQL) and Arrow.

Reads stream in bounded batches (PostgreSQL: ``COPY ... TO STDOUT`` parsed by Arrow; SQLite:
``fetchmany``). Writes go through a temporary stage table (PostgreSQL: ``COPY FROM STDIN``;
SQLite: ``executemany``) and then replace the target's rows with the same key, so a write is
one set-based statement whatever its size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import pyarrow as pa
from sqlalchemy import Column, Connection, Engine, MetaData, Table

from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)



def stream_query(engine: Engine, sql: str, batch_rows: int = 100_000) -> Iterator[pa.Table]:
    """Rows of ``sql`` as Arrow tables of string columns, ``batch_rows`` at a time (about)."""
    return dialect_of(engine).stream_query(engine, sql, batch_rows)


def _stage_table(target: Table) -> Table:
    cols = [Column(c.name, c.type) for c in target.columns]
    return Table(f"_stage_{target.name}", MetaData(), *cols, prefixes=["TEMPORARY"])


def _insert(conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table]) -> int:
    return dialect_of(conn).bulk_insert(conn, table, batches)


def replace_rows(conn: Connection, target: Table, key: list[str], batches: Iterable[pa.RecordBatch | pa.Table],
                 *, target_empty: bool = False) -> int:
    """Insert ``batches`` into ``target``, replacing rows with the same ``key``; return rows written."""
    if target_empty:
        if dialect_of(conn).deferred_indexes:
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
        # isolate_from_table (the default) marks the shared Table: its next CREATE TABLE, in any database this
        # process creates, would lack the key
        conn.execute(AddConstraint(pk, isolate_from_table=False))
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
