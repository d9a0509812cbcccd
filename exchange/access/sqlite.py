"""SQLite: the masks of the shared views as functions registered on every connection.

``exchange_mask(kind, value)`` and ``exchange_pseudonym(consumer, value)`` compute exactly what the
PostgreSQL functions compute (the same Python code serves the profile API). They exist only on
connections the exchange opens; a plain ``sqlite3`` shell can read the unmasked core tables
anyway — SQLite enforces nothing, it is the embedded default for trying the exchange out.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, event

from exchange.access import masks
from exchange.warehouse.dialects import dialect_of


def _mask(kind: str, value: Any) -> str | None:
    if kind not in masks.PARTIAL:
        raise ValueError(f"unknown mask kind {kind!r}")
    return masks.partial(kind, value)


def _pseudonym(consumer: str, value: Any) -> str | None:
    if value is None:
        return None
    key = masks.consumer_key(masks.master_key(dict(os.environ)), consumer)
    return masks.pseudonym(key, value)


def register_functions(dbapi_conn: Any) -> None:
    dbapi_conn.create_function("exchange_mask", 2, _mask, deterministic=True)
    dbapi_conn.create_function("exchange_pseudonym", 2, _pseudonym, deterministic=True)


def install(engine: Engine) -> Engine:
    """Register the mask functions on every new connection of a SQLite engine (others: unchanged)."""
    if dialect_of(engine).embedded and not getattr(engine, "_exchange_masks", False):
        event.listen(engine, "connect", lambda dbapi_conn, _record: register_functions(dbapi_conn))
        engine._exchange_masks = True  # type: ignore[attr-defined]
        engine.dispose()  # connections the pool already holds were opened without them
    return engine
