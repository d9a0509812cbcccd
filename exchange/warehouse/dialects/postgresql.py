"""PostgreSQL, the production warehouse: namespaces are schemas, a session advisory lock per feed,
transaction advisory locks for serialised writers, COPY both ways (:mod:`.pg_copy`), materialized
shares, profiles built as JSON by the database, ANALYZE after bulk rewrites."""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql

from exchange.warehouse.dialects.base import Dialect, OverBudget, expand_in

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy.engine import URL

    from exchange.warehouse.locks import HeldLock

log = logging.getLogger(__name__)


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@contextlib.contextmanager
def _set_locally(conn: Connection, name: str, value: str) -> Iterator[None]:
    """The setting ``name`` = ``value`` for the block, in a savepoint; afterwards the setting is what it was
    (a role's own timeout, say). Leaving with the transaction in error (a cancelled read) rolls back to the
    savepoint, which recovers it; otherwise the old value is set again and the savepoint released — not
    rolled back to, since a ``ROLLBACK`` makes psycopg forget every statement it has prepared on the
    connection. Nothing is done on a connection that is gone (an outage stays one). Only reads belong
    inside. On a connection in autocommit there is no transaction to scope it to: nothing is set."""
    raw = conn.connection.driver_connection
    if raw.autocommit:
        yield
        return
    from psycopg.pq import TransactionStatus

    # one round trip: the statements' results in turn (the savepoint's, then the old value)
    cur = raw.execute(f"SAVEPOINT exchange_local; SELECT current_setting({_quoted(name)}); "
                      f"SET LOCAL {name} = {_quoted(value)}", prepare=False)
    cur.nextset()
    was = cur.fetchone()[0]
    try:
        yield
    finally:
        status = raw.info.transaction_status
        if status == TransactionStatus.INERROR:
            raw.execute("ROLLBACK TO SAVEPOINT exchange_local; RELEASE SAVEPOINT exchange_local", prepare=False)
        elif status == TransactionStatus.INTRANS:
            raw.execute(f"SET LOCAL {name} = {_quoted(was)}; RELEASE SAVEPOINT exchange_local", prepare=False)


def _quoted(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@functools.lru_cache(maxsize=1024)
def _pyformat(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (a literal ``%`` doubled; ``::`` casts untouched)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgreSQL(Dialect):
    name = "postgresql"
    embedded = False
    namespaces_are_schemas = True
    materialized_shares = True
    deferred_indexes = True
    json_profiles = True

    def one_of(self, column: str, param: str) -> str:
        return f"{column} = ANY(CAST(:{param} AS text[]))"

    def values(self, items: Iterable[Any]) -> Any:
        return [str(v) for v in items]  # psycopg sends a list as one array
    insert = staticmethod(postgresql.insert)

    def select_rows(self, conn: Connection, sql: str, params: dict[str, Any], *,
                    as_dicts: bool = False) -> list[Any]:
        """Through psycopg's own cursor on ``conn``'s connection (its transaction): no SQLAlchemy result
        objects. A driver error is raised as SQLAlchemy's (its parameters hidden), as ``conn.execute``
        would raise it, so outage handling sees the same exceptions."""
        import psycopg
        from psycopg.rows import dict_row, tuple_row

        sql, params = expand_in(sql, params)
        try:
            with conn.connection.driver_connection.cursor(row_factory=dict_row if as_dicts else tuple_row) as cur:
                cur.execute(_pyformat(sql), params)
                return cur.fetchall()
        except psycopg.Error as exc:
            raise sa_exc.DBAPIError.instance(sql, params, exc, psycopg.Error, hide_parameters=True,
                                             dialect=conn.dialect) from exc

    @contextlib.contextmanager
    def time_budget(self, conn: Connection, milliseconds: int) -> Iterator[None]:
        """The statement timeout set for the block (``_set_locally``), which also recovers the transaction
        when a read was cancelled. On a connection in autocommit: no budget."""
        try:
            with _set_locally(conn, "statement_timeout", str(int(milliseconds))):
                yield
        except sa_exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "57014":  # query_canceled: the budget ran out
                raise OverBudget(f"over its budget of {int(milliseconds)} ms") from exc
            raise

    @contextlib.contextmanager
    def generic_plans(self, conn: Connection) -> Iterator[None]:
        """``plan_cache_mode = force_generic_plan`` for the block (``_set_locally``). psycopg prepares a
        statement once its text has run a few times on a connection; the server would still plan it again
        at each execution (a custom plan) when it expects ``= ANY($1)`` of a few values to cost less so.
        On an event table that planning is what the lookup costs: 0.9 ms over 41 monthly partitions, against
        0.2 ms of execution (measured at a million persons)."""
        with _set_locally(conn, "plan_cache_mode", "force_generic_plan"):
            yield

    def rows_of(self, alias: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[str, dict[str, Any]]:
        rows = list(rows)  # an array per column, unnested side by side
        params = {f"{alias}_{c}": [str(r[i]) for r in rows] for i, c in enumerate(columns)}
        arrays = ", ".join(f"CAST(:{name} AS text[])" for name in params)
        return f"unnest({arrays}) AS {alias}({', '.join(columns)})", params

    def make_engine(self, url: URL, *, root: Path | None, echo: bool) -> Engine:
        return create_engine(url, echo=echo, pool_pre_ping=True, hide_parameters=True)

    @contextlib.contextmanager
    def feed_lock(self, engine: Engine, feed_id: str, wait_seconds: float) -> Iterator[HeldLock]:
        """A session advisory lock on the feed's key, held on a connection of its own."""
        from exchange.warehouse.locks import HELD, POLL_SECONDS, HeldLock, busy, lock_key
        from exchange.warehouse.outages import is_outage

        key = lock_key(feed_id)
        deadline = time.monotonic() + wait_seconds
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
                if time.monotonic() >= deadline:
                    holder = conn.execute(text(
                        "SELECT string_agg(a.pid::text || ' since ' || a.backend_start::text, ', ') "
                        f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {HELD}"), {"k": key}).scalar()
                    raise busy(feed_id, wait_seconds, f"PostgreSQL backend {holder or 'unknown'}")
                time.sleep(POLL_SECONDS)
            held = HeldLock(feed_id, key, conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
            try:
                yield held
            finally:
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                except sa_exc.DBAPIError as exc:
                    if not is_outage(exc):
                        raise
                    # the session is gone, and its advisory lock with it; do not hide why the run ended
                    log.warning("feed %s: the connection holding its lock was lost (%s); the server released the "
                                "lock", feed_id, " ".join(str(exc.orig).split())[:200])
        finally:
            conn.close()

    def xact_lock(self, conn: Connection, key: int) -> None:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    def create_schemas(self, conn: Connection, names: Iterable[str]) -> None:
        for name in names:
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {name}")
        # trigram indexes (substring search of Chinese text in mdm.search_element); a trusted extension
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")

    def bulk_insert(self, conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table],
                    extra: dict[str, object] | None = None) -> int:
        from exchange.warehouse.dialects.pg_copy import copy_in

        return copy_in(conn, table, batches, extra or {})

    def stream_query(self, engine: Engine, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        from exchange.warehouse.dialects.pg_copy import copy_out

        raw = engine.raw_connection()
        try:
            yield from copy_out(raw, sql)
        finally:
            raw.close()

    def stream_query_in(self, conn: Connection, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        from exchange.warehouse.dialects.pg_copy import copy_out

        yield from copy_out(conn.connection, sql, in_transaction=True)

    def analyze(self, engine: Engine, tables: Iterable[str]) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
