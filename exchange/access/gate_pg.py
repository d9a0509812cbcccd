"""The gate's I/O on PostgreSQL for the asyncio server: psycopg's asynchronous connections.

The profile API on PostgreSQL serves each request on the worker's event loop: the key lookup, the
profile statement and the ``audit.access`` row are awaited on pooled psycopg connections
(autocommit: one statement, one round trip each; psycopg prepares them server-side after a few
uses). No thread pool sits between the loop and the database, so requests do not queue for a
worker thread or contend for the GIL with the loop — what made the tail of the threaded route.

The statements are the SQLAlchemy ones (``keys.KEY_LOOKUP``, ``tables.access``) compiled once for
psycopg, so there is one definition of each.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect
from sqlalchemy.engine import make_url

from exchange.access.gate import GateIO
from exchange.access.keys import KEY_LOOKUP, AccessRecord, access_values
from exchange.access.tables import access

log = logging.getLogger(__name__)

AsyncProfileFn = Callable[[Any, str], Awaitable[Any]]
"""(psycopg AsyncConnection, id) → the profile (see ``gate.ProfileFn``)."""

_DIALECT = pg_dialect.dialect()
_KEY_SQL = str(KEY_LOOKUP.compile(dialect=_DIALECT))
_ACCESS_COLUMNS = [c.name for c in access.c if c.name != "id"]
_ACCESS_SQL = str(insert(access).inline().compile(dialect=_DIALECT, column_keys=_ACCESS_COLUMNS))


def libpq_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://…``) as libpq's connection URI."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncPgGateIO:
    """A pool of asynchronous connections and the gate's three operations on it.

    ``open()`` / ``close()`` belong to the server's lifespan (the pool lives on its event loop);
    ``sync_commit=False`` lets PostgreSQL acknowledge the access-log row before it reaches disk
    (``EXCHANGE_ACCESS_LOG_SYNC=off``)."""

    def __init__(self, url: str, profile: AsyncProfileFn, *, sync_commit: bool = True, min_size: int = 2,
                 max_size: int = 16) -> None:
        from psycopg_pool import AsyncConnectionPool

        options = f"-c jit=off -c synchronous_commit={'on' if sync_commit else 'off'}"
        self.pool = AsyncConnectionPool(libpq_url(url), min_size=min_size, max_size=max_size, open=False,
                                        kwargs={"autocommit": True, "options": options},
                                        name="exchange-profile-api")
        self._profile = profile
        self.io = GateIO(key_row=self.key_row, profile=self.profile, record=self.record)

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def lifespan(self, _app: Any) -> AsyncIterator[None]:
        """The server's lifespan: the pool is opened on its event loop and closed at shutdown."""
        await self.open()
        try:
            yield
        finally:
            await self.close()

    async def key_row(self, key_id: str) -> Any:
        async with self.pool.connection() as conn:
            cur = await conn.execute(_KEY_SQL, {"key_id": key_id})
            return await cur.fetchone()

    async def profile(self, ident: str) -> Any:
        async with self.pool.connection() as conn:
            return await self._profile(conn, ident)

    async def record(self, rec: AccessRecord) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(_ACCESS_SQL, access_values(rec))
