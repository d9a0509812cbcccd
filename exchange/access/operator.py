"""Operator reads: ``exchange sql``, ``exchange export --query`` and ``exchange person`` — run so that a
query can read and nothing else, and put on record like every consumer's read.

PostgreSQL: every query runs on a connection of its own, logged in as a fresh login role that exists
for that one query (``<prefix>operator_read__<random>``, CONNECTION LIMIT 1, valid for minutes, dropped
afterwards). It is a member of ``<prefix>operator_read`` (NOLOGIN), which holds USAGE and SELECT on the
exchange's schemas and nothing else: not a superuser, it cannot turn its own transaction writable,
switch to another role, signal other sessions or read the pseudonym keys. The transaction is READ ONLY
(role default and explicit), has a statement timeout, and the query goes over the extended protocol,
which takes exactly one statement (``SELECT 1; COMMIT; DELETE …`` is refused by the server itself).

SQLite has no roles: the connection is switched to ``PRAGMA query_only`` for the query, the driver runs
one statement only, and a progress handler ends a query that runs past the timeout.

The query is recorded normalised (comments removed, white space folded, identifiers masked), so a long
comment cannot hide what was run.
"""

from __future__ import annotations

import getpass
import os
import pwd
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, text

from exchange.errors import ConfigError
from exchange.spec.settings import env_seconds
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.dialects.sqlite import interrupted_after

GROUP = "operator_read"
MARK = "exchange-operator read-only"
TIMEOUT_ENV = "EXCHANGE_OPERATOR_TIMEOUT"
DEFAULT_TIMEOUT_S = 120.0
READ_SCHEMAS = ("core", "quarantine", "mdm", "audit")
SQLITE_ROLE = "sqlite (no roles: PRAGMA query_only)"
_FIRST_WORD = re.compile(r"^\s*(\w+)", re.S)


@dataclass(frozen=True)
class Operator:
    """Who runs the read: the operating-system account (from the process's uid, not ``$USER``,
    which anyone can set) and the host."""

    user: str
    host: str

    @classmethod
    def current(cls) -> Operator:
        uid = os.getuid()
        try:
            name = pwd.getpwuid(uid).pw_name
        except KeyError:  # no name for this uid (a container)
            name = "?"
        claimed = _claimed_user()
        user = f"{name} (uid {uid})" + (f", $USER says {claimed}" if claimed and claimed != name else "")
        return cls(user=user, host=socket.gethostname())


def _claimed_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def timeout_seconds(env: dict[str, str] | None = None) -> float:
    return env_seconds(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S), positive=True, environ=env)


def normalise_query(query: str) -> str:
    """The query as recorded: comments removed (outside quotes), white space folded."""
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch in ("'", '"'):
            j = i + 1
            while j < n:
                if query[j] == ch:
                    if j + 1 < n and query[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            out.append(query[i:j + 1])
            i = j + 1
        elif query.startswith("--", i):
            j = query.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif query.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if query.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif query.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            i = j
            out.append(" ")
        else:
            out.append(ch)
            i += 1
    return " ".join("".join(out).split())


def check_select(query: str, what: str) -> None:
    """Only SELECT / WITH / VALUES / TABLE reach the database (the database enforces the rest)."""
    word = _FIRST_WORD.match(normalise_query(query))
    if not word or word.group(1).lower() not in ("select", "with", "values", "table"):
        raise ConfigError(f"{what}: only a read (SELECT / WITH) can run here")


@dataclass
class ReadResult:
    columns: list[str]
    rows: Iterator[tuple[Any, ...]]
    db_role: str


def group_role(prefix: str) -> str:
    return f"{prefix}{GROUP}"


@contextmanager
def read_only(engine: Engine, query: str, *, prefix: str, timeout_s: float | None = None,
              chunk: int = 2_000, on_role: Callable[[str], None] | None = None) -> Iterator[ReadResult]:
    """Run ``query`` (one read statement) read-only; yield its columns, a row iterator and the role.
    ``on_role(role)`` hears the role before the query runs (so a refused query is recorded with it)."""
    timeout_s = timeout_s or timeout_seconds()
    check_select(query, "query")
    on_role = on_role or (lambda _role: None)
    if not dialect_of(engine).embedded:
        with _pg_read(engine, query, prefix=prefix, timeout_s=timeout_s, chunk=chunk, on_role=on_role) as result:
            yield result
    else:
        on_role(SQLITE_ROLE)
        with _sqlite_read(engine, query, timeout_s=timeout_s, chunk=chunk) as result:
            yield result


# --- PostgreSQL -----------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ConfigError(f"not a safe role name: {name!r}")
    return f'"{name}"'


def ensure_group(conn: Any, prefix: str) -> str:
    """The read-only group role with exactly what it needs (idempotent; run as the warehouse owner)."""
    group = group_role(prefix)
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": group}).first()
    if not exists:
        conn.exec_driver_sql(f"CREATE ROLE {_q(group)} NOLOGIN NOINHERIT")
    conn.exec_driver_sql(f"COMMENT ON ROLE {_q(group)} IS '{MARK}'")
    conn.exec_driver_sql(f"ALTER ROLE {_q(group)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
    db = conn.execute(text("SELECT current_database()")).scalar_one()
    conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{db}" TO {_q(group)}')
    schemas = [r[0] for r in conn.execute(text(
        "SELECT nspname FROM pg_namespace WHERE nspname = ANY(:s) OR (nspname LIKE 'share\\_%' "
        "AND nspname <> 'share_fn') ORDER BY 1"), {"s": list(READ_SCHEMAS)})]
    for schema in schemas:
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {_q(group)}')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {_q(group)}')
    if conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = 'share_fn'")).first():
        conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA share_fn TO {_q(group)}")  # the views' mask functions
    return group


@contextmanager
def _pg_read(engine: Engine, query: str, *, prefix: str, timeout_s: float, chunk: int,
             on_role: Callable[[str], None]) -> Iterator[ReadResult]:
    import psycopg

    login = f"{group_role(prefix)}__{secrets.token_hex(4)}"
    on_role(login)
    password = secrets.token_urlsafe(24)
    with engine.begin() as conn:
        group = ensure_group(conn, prefix)
        until = conn.execute(text("SELECT (now() + interval '15 minutes')::text")).scalar_one()
        conn.exec_driver_sql(
            f"CREATE ROLE {_q(login)} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"NOBYPASSRLS CONNECTION LIMIT 1 VALID UNTIL '{until}' PASSWORD '{password}' IN ROLE {_q(group)}")
        conn.exec_driver_sql(f"COMMENT ON ROLE {_q(login)} IS '{MARK} (one query)'")
        conn.exec_driver_sql(f"ALTER ROLE {_q(login)} SET default_transaction_read_only = on")
        conn.exec_driver_sql(f"ALTER ROLE {_q(login)} SET statement_timeout = '{int(timeout_s * 1000)}ms'")
        conn.exec_driver_sql(f"ALTER ROLE {_q(login)} SET idle_in_transaction_session_timeout = "
                             f"'{int(timeout_s * 1000) + 5000}ms'")
    url = engine.url
    pg = None
    try:
        pg = psycopg.connect(host=url.host or "localhost", port=url.port or 5432, dbname=url.database, user=login,
                             password=password, application_name="exchange-operator-read", connect_timeout=10)
        pg.read_only = True
        with pg.cursor() as cur:
            stream = cur.stream(query, size=1)  # the extended protocol: exactly one statement
            first = next(stream, None)
            columns = [d.name for d in cur.description or []]

            def rows() -> Iterator[tuple[Any, ...]]:
                if first is not None:
                    yield first
                yield from stream

            yield ReadResult(columns, rows(), login)
    finally:
        if pg is not None:  # never committed: whatever a read-only transaction could still do (a large
            pg.rollback()   # object, a session setting) is rolled back with it
            pg.close()
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
                         {"r": login})
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {_q(login)}")


# --- SQLite ---------------------------------------------------------------------------------------------------


@contextmanager
def _sqlite_read(engine: Engine, query: str, *, timeout_s: float, chunk: int) -> Iterator[ReadResult]:
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    try:
        dbapi.execute("PRAGMA query_only = ON")
        with interrupted_after(dbapi, timeout_s):
            cur = dbapi.cursor()
            cur.execute(query)  # the driver runs one statement only
            columns = [d[0] for d in cur.description or []]

            def rows() -> Iterator[tuple[Any, ...]]:
                while batch := cur.fetchmany(chunk):
                    yield from batch

            yield ReadResult(columns, rows(), SQLITE_ROLE)
            cur.close()
    finally:
        dbapi.execute("PRAGMA query_only = OFF")
        raw.close()
