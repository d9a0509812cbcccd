"""Warehouse dialects, one module each (:mod:`.sqlite`, :mod:`.postgresql`): the capabilities and
statements in which they differ, looked up by ``dialect_of`` — never an ``if`` on the dialect's name."""

from __future__ import annotations

from typing import Any

from exchange.errors import ConfigError
from exchange.warehouse.dialects.base import Dialect
from exchange.warehouse.dialects.postgresql import PostgreSQL
from exchange.warehouse.dialects.sqlite import SQLite

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLite(), PostgreSQL())}

__all__ = ["DIALECTS", "Dialect", "dialect_of"]


def dialect_of(where: Any) -> Dialect:
    """The dialect of an engine, a connection, a URL or a backend name."""
    if isinstance(where, str):
        name = where
    elif hasattr(where, "get_backend_name"):
        name = where.get_backend_name()
    else:
        name = where.dialect.name
    try:
        return DIALECTS[name]
    except KeyError:
        raise ConfigError(f"EXCHANGE_WAREHOUSE_URL: backend {name!r} is not supported; "
                          f"use sqlite:///path.db or postgresql+psycopg://user@host/db") from None
