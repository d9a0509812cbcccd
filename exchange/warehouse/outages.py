"""Warehouse outages as ``TransientError``.

A connection refused, reset or closed by a server restart, an administrator's shutdown, too
many connections, a deadlock or serialisation failure, SQLite's "database is locked": none is
a fault of the batch, and a retry may succeed. The runner turns them into a ``TransientError``
(Airflow retries the task; the CLI says a retry may succeed) naming the warehouse and the step,
instead of a driver traceback. A connection refused for a reason of setup — no such database
or role, a password refused — becomes a ``ConfigError`` naming ``EXCHANGE_WAREHOUSE_URL``.
Everything else (a constraint violated, a column missing) is left as it is.

Errors come either wrapped by SQLAlchemy (``sqlalchemy.exc.DBAPIError`` with ``.orig``) or raw
from the driver (COPY runs on psycopg's own cursor); both are recognised without importing a
driver.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from exchange.errors import ConfigError, ExchangeError, TransientError

# SQLSTATE classes / codes of passing conditions (PostgreSQL): connection exception, insufficient
# resources, serialisation failure / deadlock, lock not available, admin / crash shutdown,
# cannot connect now, idle-session timeout
_TRANSIENT_CLASSES = ("08", "53")
_TRANSIENT_CODES = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "57P05"}
_SQLITE_BUSY = ("database is locked", "database is busy", "database table is locked")
# a connection refused for a reason of setup: the client sees no SQLSTATE, only the server's message
_SETUP = re.compile(r"does not exist|authentication failed|no pg_hba\.conf entry|no password supplied|"
                    r"permission denied|access denied", re.IGNORECASE)


def _driver_error(exc: BaseException) -> tuple[BaseException, bool]:
    if isinstance(exc, sa_exc.DBAPIError):
        return (exc.orig or exc), bool(exc.connection_invalidated)
    return exc, False


def _connection_error(exc: BaseException) -> tuple[BaseException, str | None] | None:
    """The driver's error and its SQLSTATE when ``exc`` is a DB-API error of the kinds an outage
    raises (OperationalError, InterfaceError); None for anything else."""
    if isinstance(exc, ExchangeError):
        return None
    orig, _ = _driver_error(exc)
    kinds = {cls.__name__ for cls in type(orig).__mro__}
    if not kinds & {"OperationalError", "InterfaceError"} or isinstance(orig, sa_exc.SQLAlchemyError):
        return None
    return orig, getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` is a warehouse outage a retry may get past (see the module docstring)."""
    if isinstance(exc, ExchangeError):
        return False
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # the pool could not get a live connection, or timed out waiting for one
    if _driver_error(exc)[1]:
        return True  # SQLAlchemy saw the connection die
    found = _connection_error(exc)
    if found is None:
        return False
    orig, sqlstate = found
    if sqlstate:
        return sqlstate[:2] in _TRANSIENT_CLASSES or sqlstate in _TRANSIENT_CODES
    if type(orig).__module__.startswith("sqlite3"):
        return any(m in str(orig).lower() for m in _SQLITE_BUSY)
    return not _SETUP.search(str(orig))  # the client lost (or never got) its connection


def is_setup_error(exc: BaseException) -> bool:
    """True when the warehouse refused the connection for a reason of setup (no such database or
    role, a password refused): retrying will not help, the URL or the server's setup must change."""
    found = _connection_error(exc)
    if found is None or found[1] or type(found[0]).__module__.startswith("sqlite3"):
        return False
    return bool(_SETUP.search(str(found[0])))


def describe_error(exc: BaseException) -> str:
    orig, _ = _driver_error(exc)
    text = " ".join(str(orig).split()) or type(orig).__name__
    return text[:300]


def as_transient(exc: BaseException, warehouse: Engine | str, doing: str) -> TransientError | None:
    """The ``TransientError`` to raise for ``exc`` while ``doing`` something, or None if it is no outage."""
    if not is_outage(exc):
        return None
    url = warehouse.url if isinstance(warehouse, Engine) else make_url(warehouse)
    return TransientError(
        f"warehouse {url.render_as_string(hide_password=True)}: {doing}: the database is unavailable "
        f"({describe_error(exc)}). What the step had not committed was rolled back; retry when the warehouse "
        f"is reachable — a rerun takes the batch up again under the same id and no row is loaded twice.")


@contextlib.contextmanager
def outages_as_transient(warehouse: Engine | str, doing: str) -> Iterator[None]:
    """Re-raise a warehouse outage inside the block as ``TransientError``, a connection refused for a
    reason of setup as ``ConfigError`` (the original chained)."""
    try:
        yield
    except Exception as exc:
        mapped: ExchangeError | None = as_transient(exc, warehouse, doing)
        if mapped is None and is_setup_error(exc):
            url = warehouse.url if isinstance(warehouse, Engine) else make_url(warehouse)
            mapped = ConfigError(f"EXCHANGE_WAREHOUSE_URL: {doing}: cannot connect to "
                                 f"{url.render_as_string(hide_password=True)} ({describe_error(exc)}); check the "
                                 f"database, user and password in the URL and that the server lets them in")
        if mapped is None:
            raise
        raise mapped from exc
