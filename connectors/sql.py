"""The ``sql`` source kind: a table or a query of an agency database, read incrementally.

The database is any SQLAlchemy URL, resolved at run time from the spec's connection
(``conn: police_db`` → ``EXCHANGE_CONN_POLICE_DB`` or the Airflow connection ``police_db``):
PostgreSQL (psycopg), MySQL/MariaDB (PyMySQL), SQLite, and any other database whose
SQLAlchemy dialect is installed. Rows are streamed with a server-side cursor
(``yield_per``), ``batch_rows`` at a time, so memory stays bounded whatever the table size.

Every value is delivered as text, exactly as the database returned it: integers and
``Decimal`` in plain notation (``Decimal('100.50')`` → ``100.50``), datetimes ISO
``YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]``, dates ``YYYY-MM-DD``, booleans ``true``/``false``,
binary as hex, JSON values compact, NULL → null. Meta columns: ``_source_file`` is
``sql:<conn>/<table>`` (``sql:<conn>/query`` for a query), ``_source_row`` the 1-based
number of the row in this run's delivery order (``ORDER BY cursor, key…``).

Incremental reads (``cursor`` set, ``full_refresh`` false) keep this state per feed::

    {"cursor": "2026-03-01 08:00:00",      # the watermark: max cursor delivered so far (as text)
     "delivered": ["9f2c…", …],            # digests of the rows with cursor >= watermark - overlap
     "columns": [...], "fingerprint": "…"} # the batch that produced this state

A run reads ``cursor >= watermark - overlap`` (everything on the first run) and drops each
row whose digest — a SHA-256 of all its values — is in ``delivered``. So a row tied with the
watermark, or arriving late inside the overlap window, is delivered exactly once, and a row
updated without moving its cursor still arrives while it is inside the window. Rows whose
cursor is NULL are only read by a first or full-refresh run.

Fingerprint: SHA-256 of (spec, starting state, interval, probe), the probe being
``count(*)`` and ``max(cursor)`` of the window (of the whole source for a full refresh; with
no cursor at all, a digest of every row, read once more). When the window holds exactly the
rows of ``delivered`` and no larger cursor, the fingerprint is ``state["fingerprint"]``: the
run is the batch that produced the state, already loaded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from connectors.base import DEFAULT_BATCH_ROWS, Connector, batch_schema, string_batch
from connectors.readers import check_header
from exchange.errors import ConfigError, SourceError, TransientError, listed
from exchange.formats.masking import scrub_identifiers
from exchange.spec.connections import ConnectionInfo, resolve_connection

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from exchange.spec.feed import SqlSourceSpec

log = logging.getLogger(__name__)

DIGEST_CHARS = 32
MAX_EXACT_FLOAT_INT = 2**53
# OperationalErrors that are mistakes in the spec or schema, not outages
_TERMINAL_MESSAGES = re.compile(
    r"no such (table|column)|syntax error|doesn't exist|does not exist|unknown column|unknown table|"
    r"permission denied|access denied for user|authentication failed|ambiguous column", re.IGNORECASE)


def to_text(value: Any) -> str | None:
    """A database value as the exact text the exchange delivers (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= MAX_EXACT_FLOAT_INT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if isinstance(value, uuid.UUID | dt.timedelta):
        return str(value)
    return str(value)


def row_digest(values: Sequence[str | None]) -> str:
    """Digest of a row's delivered values: how a row already delivered is recognised."""
    return hashlib.sha256(json.dumps(list(values), ensure_ascii=False).encode()).hexdigest()[:DIGEST_CHARS]


def parse_cursor(text: str, cursor_type: str) -> dt.datetime | int:
    """A cursor value (as delivered) → comparable: naive UTC datetime or int. ValueError if it is neither."""
    if cursor_type == "integer":
        return int(Decimal(text)) if "." in text else int(text)
    value = dt.datetime.fromisoformat(text.strip())
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def step_back(value: dt.datetime | int, overlap: float, cursor_type: str) -> dt.datetime | int:
    if cursor_type == "integer":
        return int(value) - int(overlap)
    assert isinstance(value, dt.datetime)
    return value - dt.timedelta(seconds=overlap)


class SqlConnector(Connector):
    """Streams a table or query of an agency database as string record batches."""

    kind = "sql"
    spec: SqlSourceSpec

    def __init__(self, spec: SqlSourceSpec, *, base_dir: Path, feed_id: str,
                 batch_rows: int = DEFAULT_BATCH_ROWS, **kwargs: Any) -> None:
        super().__init__(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows, **kwargs)
        if spec.batch_rows:
            self.batch_rows = spec.batch_rows
        self.display = f"sql:{spec.conn}/{spec.table or 'query'}"
        self._info: ConnectionInfo | None = None
        self._engine: Engine | None = None
        self._columns: list[str] | None = None
        self._fingerprint: str | None = None
        self._new_state: dict[str, Any] | None = None
        self._delivered = 0
        self._skipped = 0
        self._done = False
        start = self.state if (self.state and self.incremental) else {}
        self._watermark: str | None = start.get("cursor")
        self._already: set[str] = set(start.get("delivered") or [])

    # ------------------------------------------------------------ public surface

    @property
    def incremental(self) -> bool:
        return self.spec.cursor is not None and not self.spec.full_refresh

    def columns(self) -> list[str]:
        if self._columns is None:
            from sqlalchemy import text

            with self._connect() as conn:
                result = self._run(lambda: conn.execute(text(f"SELECT * FROM ({self._base_sql()}) src WHERE 1 = 0")))
                names = list(result.keys())
                result.close()
            self._set_columns(names)
        assert self._columns is not None
        return self._columns

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "conn": self.spec.conn, "source": self.display,
                                  "cursor": self.spec.cursor, "since": self._watermark if self.incremental else None,
                                  "overlap": self.spec.overlap, "full_refresh": not self.incremental}
        if self._done:
            out.update(rows=self._delivered, rows_already_delivered=self._skipped,
                       until=(self._new_state or {}).get("cursor"))
        return out

    def new_state(self) -> dict[str, Any] | None:
        return self._new_state

    def batches(self) -> Iterator[pa.RecordBatch]:
        spec = self.spec
        lower = self._lower() if self.incremental else None
        track = spec.cursor is not None
        high: dt.datetime | int | None = None
        high_text: str | None = self._watermark if self.incremental else None
        if high_text is not None:
            high = self._parse(high_text)
        window: deque[tuple[dt.datetime | int, str]] = deque()
        null_cursors = 0
        done = 0
        self._delivered = self._skipped = 0
        with self._connect() as conn:
            result = self._execute(conn, lower)
            names = list(result.keys())
            self._set_columns(names)
            schema = batch_schema(self._columns or [])
            position = names.index(spec.cursor) if track else -1
            lost = False
            try:
                for part in self._partitions(result):
                    rows: list[list[str | None]] = []
                    for raw in part:
                        values = [to_text(v) for v in raw]
                        if track:
                            text = values[position]
                            if text is None:
                                null_cursors += 1
                            else:
                                digest = row_digest(values)
                                c = self._parse(text)
                                if lower is not None and c < lower:
                                    continue  # below the window (a spelling the database sorts differently)
                                if high is None or c > high:
                                    high, high_text = c, text
                                window.append((c, digest))
                                floor = self._floor(high, high_text or text)
                                while window and window[0][0] < floor:
                                    window.popleft()
                                if lower is not None and digest in self._already:
                                    self._skipped += 1
                                    continue
                        rows.append(values)
                    if rows:
                        yield string_batch(schema, rows, self.display, done + 1)
                        done += len(rows)
            except TransientError:
                lost = True
                raise
            finally:
                self._close(result, lost)
        self._delivered = done
        self._done = True
        if null_cursors:
            log.warning("%s: %s rows have a NULL %s; an incremental run never reads them again",
                        self.display, null_cursors, spec.cursor)
        if track:
            floor = self._floor(high, high_text or "") if high is not None else None
            delivered = sorted({d for c, d in window if floor is not None and c >= floor})
            self._new_state = {"cursor": high_text, "cursor_type": spec.cursor_type, "delivered": delivered,
                               "columns": self._columns, "fingerprint": self.fingerprint()}
        log.info("%s: %s rows delivered, %s already delivered skipped (since %s)", self.display, done,
                 self._skipped, self._watermark if self.incremental else "the beginning")

    # ------------------------------------------------------------ fingerprint

    def _compute_fingerprint(self) -> str:
        from sqlalchemy import text

        spec = self.spec
        self.columns()  # the cursor and key columns exist
        lower = self._lower() if self.incremental else None
        if spec.cursor is not None:
            with self._connect() as conn:
                where, params = self._where(conn, lower)
                cursor = self._quote(conn, spec.cursor)
                probe_sql = text(f"SELECT count(*), max(src.{cursor}) FROM ({self._base_sql()}) src{where}")
                row = self._run(lambda: conn.execute(probe_sql, params).one())
            probe: dict[str, Any] = {"rows": int(row[0]), "max": to_text(row[1])}
            state = self.state or {}
            if (self.incremental and state.get("fingerprint") and probe["rows"] == len(self._already)
                    and probe["max"] == self._watermark):
                log.info("%s: nothing new since %s", self.display, self._watermark)
                return str(state["fingerprint"])
        else:
            probe = {"digest": self._content_digest()}
        document = {"kind": self.kind, "spec": spec.model_dump(mode="json"),
                    "state": self.state if self.incremental else None,
                    "interval": [str(x) for x in self.interval] if self.interval else None, "probe": probe}
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    def _content_digest(self) -> str:
        h = hashlib.sha256()
        with self._connect() as conn:
            result = self._execute(conn, None)
            h.update(json.dumps(list(result.keys()), ensure_ascii=False).encode())
            lost = False
            try:
                for part in self._partitions(result):
                    for raw in part:
                        h.update(row_digest([to_text(v) for v in raw]).encode())
            except TransientError:
                lost = True
                raise
            finally:
                self._close(result, lost)
        return h.hexdigest()

    # ------------------------------------------------------------ SQL

    def _base_sql(self) -> str:
        if self.spec.query is not None:
            return self.spec.query.strip().rstrip(";").strip()
        engine = self._get_engine()
        quoted = ".".join(engine.dialect.identifier_preparer.quote(p) for p in (self.spec.table or "").split("."))
        return f"SELECT * FROM {quoted}"

    def _quote(self, conn: Any, name: str) -> str:
        return conn.dialect.identifier_preparer.quote(name)

    def _where(self, conn: Any, lower: dt.datetime | int | None) -> tuple[str, dict[str, Any]]:
        if lower is None:
            return "", {}
        return f" WHERE src.{self._quote(conn, self.spec.cursor or '')} >= :lower", {"lower": self._bind(conn, lower)}

    def _execute(self, conn: Any, lower: dt.datetime | int | None) -> Any:
        from sqlalchemy import text

        where, params = self._where(conn, lower)
        order = [c for c in ([self.spec.cursor] if self.spec.cursor else []) + list(self.spec.key)]
        order_sql = (" ORDER BY " + ", ".join(f"src.{self._quote(conn, c)}" for c in dict.fromkeys(order))
                     if order else "")
        sql = f"SELECT * FROM ({self._base_sql()}) src{where}{order_sql}"
        streaming = conn.execution_options(stream_results=True, max_row_buffer=self.batch_rows)
        log.debug("%s: %s %s", self.display, sql, params)
        return self._run(lambda: streaming.execute(text(sql), params))

    @staticmethod
    def _close(result: Any, lost: bool) -> None:
        """Close a streamed result. When the connection dropped in the middle (``lost``) there is
        nothing left to drain, and nothing may hide the TransientError on its way out: PyMySQL's
        unbuffered result would try to drain the dead socket and fail with AttributeError, from
        ``close()`` and again at garbage collection (PyMySQL PR #810), so it is marked finished first."""
        if not lost:
            result.close()
            return
        unbuffered = getattr(getattr(result, "cursor", None), "_result", None)
        if getattr(unbuffered, "unbuffered_active", False):
            unbuffered.unbuffered_active = False
        with contextlib.suppress(Exception):
            result.close()

    def _partitions(self, result: Any) -> Iterator[Sequence[Any]]:
        while True:
            part = self._run(lambda: result.fetchmany(self.batch_rows))
            if not part:
                return
            yield part

    def _bind(self, conn: Any, lower: dt.datetime | int) -> Any:
        """The lower bound as the database compares it: SQLite stores timestamps as text, so the
        bound is text in the same spelling as the watermark (floored to the day for dates)."""
        if isinstance(lower, int) or conn.dialect.name != "sqlite":
            return lower
        mark = self._watermark or ""
        if len(mark) <= 10:
            return lower.date().isoformat()
        sep = "T" if "T" in mark else " "
        return lower.isoformat(sep=sep, timespec="microseconds" if "." in mark[10:] else "seconds")

    def _lower(self) -> dt.datetime | int | None:
        if self._watermark is None:
            return None
        return self._floor(self._parse(self._watermark), self._watermark)

    def _floor(self, high: dt.datetime | int, text: str) -> dt.datetime | int:
        """The bottom of the window below ``high``: ``high - overlap``, whole days for date-only cursors."""
        lower = step_back(high, self.spec.overlap, self.spec.cursor_type)
        if isinstance(lower, dt.datetime) and len(text.strip()) <= 10:
            lower = dt.datetime.combine(lower.date(), dt.time())
        return lower

    def _parse(self, text: str) -> dt.datetime | int:
        try:
            return parse_cursor(text, self.spec.cursor_type)
        except ValueError:
            kind = "an integer" if self.spec.cursor_type == "integer" else "an ISO timestamp"
            shown = scrub_identifiers(text[:40])
            raise SourceError(f"{self.display}: cursor column {self.spec.cursor!r} holds {shown!r}, not {kind}; "
                              f"fix source.cursor / source.cursor_type", source=self.display) from None

    def _set_columns(self, names: list[str]) -> None:
        check_header(names, self.display)
        missing = [c for c in dict.fromkeys(([self.spec.cursor] if self.spec.cursor else []) + list(self.spec.key))
                   if c not in names]
        if missing:
            raise SourceError(f"{self.display}: column(s) {', '.join(repr(c) for c in missing)} named in "
                              f"source.cursor/source.key not found; its columns are: {listed(names)}",
                              source=self.display)
        if self._columns is not None and self._columns != names:
            raise SourceError(f"{self.display}: the columns changed during the run ({self._columns} → {names}); "
                              f"run the feed again", source=self.display)
        self._columns = names

    # ------------------------------------------------------------ connections and errors

    def _conn_info(self) -> ConnectionInfo:
        if self._info is None:
            self._info = resolve_connection(self.spec.conn)
        return self._info

    def _get_engine(self) -> Engine:
        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError, NoSuchModuleError
            from sqlalchemy.pool import NullPool

            info = self._conn_info()
            try:
                url = make_url(info.url)
                if info.username and not url.username:
                    url = url.set(username=info.username)
                if info.password and not url.password:
                    url = url.set(password=info.password)
                if url.get_backend_name() == "sqlite":
                    self._check_sqlite_file(url.database)
                self._engine = create_engine(url, poolclass=NullPool, hide_parameters=True)
            except NoSuchModuleError as exc:
                raise ConfigError(f"connection {self.spec.conn!r} ({info.origin}): no SQLAlchemy dialect for "
                                  f"{info.mask(str(exc))}; install the database's SQLAlchemy driver "
                                  f"(e.g. pip install oracledb)") from None
            except ImportError as exc:
                raise ConfigError(f"connection {self.spec.conn!r} ({info.origin}): its database driver is not "
                                  f"installed ({exc.name or exc}); pip install it") from None
            except ArgumentError as exc:
                raise ConfigError(f"connection {self.spec.conn!r} ({info.origin}): not a valid SQLAlchemy URL "
                                  f"({info.mask(str(exc))})") from None
        return self._engine

    def _check_sqlite_file(self, database: str | None) -> None:
        if not database or database == ":memory:" or database.startswith("file:"):
            return
        if not Path(database).is_file():
            info = self._conn_info()
            raise SourceError(f"{self.display}: the SQLite database {info.mask(database)} does not exist; check "
                              f"{info.origin}", source=self.display)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Any]:
        engine = self._get_engine()
        conn = self._run(engine.connect)
        try:
            yield conn
        finally:
            with contextlib.suppress(Exception):
                conn.close()

    def _run(self, fn: Any) -> Any:
        """Call ``fn`` turning database errors into TransientError (outage) or SourceError (mistake)."""
        from sqlalchemy import exc as sa_exc

        try:
            return fn()
        except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                sa_exc.TimeoutError) as exc:
            message = self._message(exc)
            if _TERMINAL_MESSAGES.search(message):
                raise SourceError(f"{self.display}: {message}; check the spec's table/query and the "
                                  f"connection's permissions", source=self.display) from None
            raise TransientError(f"{self.display}: cannot read from {self._conn_info().display_url}: {message}; "
                                 f"check that the database is reachable and {self._conn_info().origin} "
                                 f"(retrying may succeed)") from None
        except sa_exc.DBAPIError as exc:
            raise SourceError(f"{self.display}: the database refused the query: {self._message(exc)}; check "
                              f"source.table/source.query and the columns it names", source=self.display) from None

    def _message(self, exc: Exception) -> str:
        orig = getattr(exc, "orig", None) or exc
        text = scrub_identifiers(" ".join(str(orig).split())[:300])  # a database may quote a row's value
        return self._conn_info().mask(text) if self._info is not None else text
