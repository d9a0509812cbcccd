"""SQLite, the embedded default: one file per namespace attached beside the main one, every
transaction begun with ``BEGIN IMMEDIATE``, a lock file per feed, inserts by ``executemany``."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Date, DateTime, Engine, Table, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import sqlite

from exchange.errors import ConfigError
from exchange.warehouse.dialects.base import Dialect, OverBudget

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy.engine import URL

    from exchange.warehouse.locks import HeldLock

log = logging.getLogger(__name__)

INSERT_CHUNK = 5_000


@contextlib.contextmanager
def interrupted_after(dbapi: Any, seconds: float) -> Iterator[None]:
    """Statements of the sqlite3 connection ``dbapi`` run inside are interrupted (``OperationalError:
    interrupted``) once ``seconds`` have passed: a progress handler checks the clock every 10,000 steps."""
    deadline = time.monotonic() + seconds
    dbapi.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    try:
        yield
    finally:
        dbapi.set_progress_handler(None, 0)


class SQLite(Dialect):
    name = "sqlite"
    embedded = True
    namespaces_are_schemas = False
    materialized_shares = False
    deferred_indexes = False
    json_profiles = False

    def one_of(self, column: str, param: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(:{param}))"

    def values(self, items: Iterable[Any]) -> Any:
        import json

        return json.dumps([str(v) for v in items], ensure_ascii=False)  # one text: json_each reads it
    insert = staticmethod(sqlite.insert)

    @contextlib.contextmanager
    def time_budget(self, conn: Connection, milliseconds: int) -> Iterator[None]:
        """A progress handler that interrupts the statement running past the deadline (SQLite then keeps
        the transaction: an interrupted read changes nothing)."""
        try:
            with interrupted_after(conn.connection.driver_connection, milliseconds / 1000):
                yield
        except sa_exc.OperationalError as exc:
            if "interrupted" not in str(exc.orig):
                raise
            raise OverBudget(f"over its budget of {int(milliseconds)} ms") from exc

    def rows_of(self, alias: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[str, dict[str, Any]]:
        import json

        picked = ", ".join(f"json_extract(value, '$[{i}]') AS {c}" for i, c in enumerate(columns))
        return (f"(SELECT {picked} FROM json_each(:{alias})) AS {alias}",
                {alias: json.dumps([[str(v) for v in r] for r in rows], ensure_ascii=False)})

    def make_engine(self, url: URL, *, root: Path | None, echo: bool) -> Engine:
        from exchange.warehouse.engine import NAMESPACES, namespace_file

        database = url.database
        if not database or database == ":memory:":
            raise ConfigError("EXCHANGE_WAREHOUSE_URL: an in-memory SQLite warehouse cannot hold the "
                              "core/quarantine/mdm/audit namespaces; give a file path")
        main = Path(database)
        if not main.is_absolute() and root is not None:
            main = root / main
        main.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url.set(database=str(main)), echo=echo, hide_parameters=True,
                               connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _attach(dbapi_conn: Any, _record: Any) -> None:
            # Rollback-journal mode (not WAL) keeps a commit that spans attached files atomic.
            # The driver's own implicit BEGIN is switched off; ``_begin`` below starts every
            # transaction explicitly (SQLAlchemy's recipe for pysqlite).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            for ns in NAMESPACES:
                cur.execute("ATTACH DATABASE ? AS " + ns, (str(namespace_file(main, ns)),))
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # pysqlite's implicit transactions skip DDL and SELECT; take the write lock up front so a
            # batch's load is one atomic, serialised unit.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        log.debug("sqlite warehouse at %s", main)
        return engine

    def describe(self, engine: Engine) -> str:
        from exchange.warehouse.engine import NAMESPACES

        return f"sqlite: {engine.url.database} (+ {', '.join(NAMESPACES)} attached beside it)"

    @contextlib.contextmanager
    def feed_lock(self, engine: Engine, feed_id: str, wait_seconds: float) -> Iterator[HeldLock]:
        """A lock file beside the database (``flock``): released by the kernel if the process dies."""
        from exchange.warehouse.locks import POLL_SECONDS, HeldLock, busy

        path = Path(engine.url.database).parent / "locks" / f"{feed_id}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + wait_seconds
        with path.open("a+") as fh:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        fh.seek(0)
                        raise busy(feed_id, wait_seconds, f"process {fh.read().strip() or 'unknown'}") from None
                    time.sleep(POLL_SECONDS)
            try:
                fh.seek(0)
                fh.truncate()
                fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
                fh.flush()
                yield HeldLock(feed_id)
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # xact_lock: the exchange's engines open every transaction with BEGIN IMMEDIATE, which already
    # holds the database's write lock until commit.

    def bulk_insert(self, conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table],
                    extra: dict[str, object] | None = None) -> int:
        import pyarrow as pa
        import pyarrow.compute as pc

        from exchange.spec import faults

        names = [c.name for c in table.columns]
        dates = {c.name for c in table.columns if isinstance(c.type, Date) and not isinstance(c.type, DateTime)}
        stmt, n = table.insert(), 0
        for batch in batches:
            data = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
            data = data.select([c for c in data.column_names if c in names])
            for i, name in enumerate(data.column_names):
                if name in dates and pa.types.is_string(data.schema.field(i).type):
                    data = data.set_column(i, name, pc.cast(data.column(i), pa.date32()))
            for start in range(0, data.num_rows, INSERT_CHUNK):
                rows = data.slice(start, INSERT_CHUNK).to_pylist()
                for r in rows:
                    r.update(extra or {})
                conn.execute(stmt, rows)
                n += len(rows)
            faults.point("load.copy")  # the bulk insert under way, as COPY on PostgreSQL
        return n

    def stream_query(self, engine: Engine, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        raw = engine.raw_connection()
        try:
            yield from _fetched(raw, sql, batch_rows)
        finally:
            raw.close()

    def stream_query_in(self, conn: Connection, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        yield from _fetched(conn.connection, sql, batch_rows)


def _fetched(raw: Any, sql: str, batch_rows: int) -> Iterator[pa.Table]:
    """The rows of ``sql`` on a DB-API connection as Arrow tables of strings."""
    import pyarrow as pa

    cur = raw.cursor()
    try:
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        while rows := cur.fetchmany(batch_rows):
            columns = list(zip(*rows, strict=True))
            yield pa.table({n: pa.array([None if v is None else str(v) for v in c], pa.string())
                            for n, c in zip(names, columns, strict=True)})
    finally:
        cur.close()
