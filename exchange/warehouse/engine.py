"""Create the warehouse engine from ``EXCHANGE_WAREHOUSE_URL``."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import make_url

from exchange.errors import ConfigError
from exchange.spec.connections import mask_text

log = logging.getLogger(__name__)

NAMESPACES = ("core", "quarantine", "mdm", "audit")


def namespace_file(main: Path, namespace: str) -> Path:
    """SQLite: the file holding one namespace, beside the main database file."""
    return main.with_name(f"{main.stem}.{namespace}{main.suffix or '.db'}")


def make_engine(url: str, *, root: Path | None = None, echo: bool = False) -> Engine:
    """An engine for ``url``; relative SQLite paths resolve against ``root``.

    Statement parameters (row values) are hidden from SQLAlchemy's error messages and logs
    (``hide_parameters``): a failed statement names the SQL, never the data it carried."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a config problem
        raise ConfigError(f"EXCHANGE_WAREHOUSE_URL: cannot parse {mask_text(url)!r}: {exc}") from None
    from exchange.warehouse.dialects import dialect_of

    return dialect_of(parsed).make_engine(parsed, root=root, echo=echo)


def describe(engine: Engine) -> str:
    """Where the warehouse is, for humans (no password)."""
    from exchange.warehouse.dialects import dialect_of

    return dialect_of(engine).describe(engine)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for a request that only reads (a search, a graph, a map), its transaction ended with a
    commit: the pooled connection keeps the statements the driver prepared on it for the next request.
    Closing a connection with its transaction open rolls it back, and on a rollback psycopg drops every
    statement it prepared — each request then planned its lookups anew. An error inside rolls back.

    SQLAlchemy's ``Engine.begin``: the transaction is begun before the first statement. Reads that go through
    the driver's own cursor (``Dialect.select_rows``) start the driver's transaction without SQLAlchemy's,
    and ``Connection.commit`` alone would then leave it open."""
    with engine.begin() as conn:
        yield conn
