"""Create the warehouse engine from ``EXCHANGE_WAREHOUSE_URL``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
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
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed, root=root, echo=echo)
    if backend == "postgresql":
        return create_engine(parsed, echo=echo, pool_pre_ping=True, hide_parameters=True)
    raise ConfigError(f"EXCHANGE_WAREHOUSE_URL: backend {backend!r} is not supported; "
                      f"use sqlite:///path.db or postgresql+psycopg://user@host/db")


def _sqlite_engine(parsed: Any, *, root: Path | None, echo: bool) -> Engine:
    database = parsed.database
    if not database or database == ":memory:":
        raise ConfigError("EXCHANGE_WAREHOUSE_URL: an in-memory SQLite warehouse cannot hold the "
                          "core/quarantine/mdm/audit namespaces; give a file path")
    main = Path(database)
    if not main.is_absolute() and root is not None:
        main = root / main
    main.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed.set(database=str(main)), echo=echo, hide_parameters=True,
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


def describe(engine: Engine) -> str:
    """Where the warehouse is, for humans (no password)."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"sqlite: {url.database} (+ {', '.join(NAMESPACES)} attached beside it)"
    return url.render_as_string(hide_password=True)
