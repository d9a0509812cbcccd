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
from exchange.errors import TransientError

log = logging.getLogger(__name__)

APPLICATION_NAME = "exchange-profile-api"
WAIT_SECONDS = 10.0
"""How long a request waits for a pooled connection before it is answered 503."""

AsyncProfileFn = Callable[[Any, str, bool], Awaitable[Any]]
"""(psycopg AsyncConnection, id, evidence) → the profile (see ``gate.ProfileFn``)."""

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
                                        timeout=WAIT_SECONDS, name=APPLICATION_NAME,
                                        kwargs={"autocommit": True, "options": options,
                                                "application_name": APPLICATION_NAME})
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
        async def read(conn: Any) -> Any:
            cur = await conn.execute(_KEY_SQL, {"key_id": key_id})
            return await cur.fetchone()
        return await self._on_pool(read, "the warehouse is unavailable")

    async def profile(self, ident: str, evidence: bool) -> Any:
        return await self._on_pool(lambda conn: self._profile(conn, ident, evidence), "the warehouse is unavailable")

    async def record(self, rec: AccessRecord) -> None:
        row = access_values(rec)
        await self._on_pool(lambda conn: conn.execute(_ACCESS_SQL, row), "the access log could not be written")

    async def _on_pool(self, work: Callable[[Any], Awaitable[Any]], failure: str) -> Any:
        """``work(connection)`` on a pooled connection. When the connection turns out to be lost (a
        server restart breaks every idle connection of the pool), the pool's idle connections are
        checked — broken ones dropped — and the work is done once more on a sound one. (An access-log
        row whose connection died just after its commit could so be written twice: an extra record,
        never a missing one.) Still failing → :class:`TransientError` (the API answers 503)."""
        from psycopg import OperationalError
        from psycopg_pool import PoolTimeout

        for attempt in (1, 2):
            try:
                async with self.pool.connection() as conn:
                    return await work(conn)
            except OperationalError as exc:
                if attempt == 2:
                    raise TransientError(f"{failure}: {_reason(exc)}") from exc
                log.warning("profile API: a pooled connection was lost (%s); checking the pool", _reason(exc))
                await self.pool.check()
            except PoolTimeout as exc:
                raise TransientError(f"{failure}: no connection within {WAIT_SECONDS:g} s ({_reason(exc)})") from exc
        raise AssertionError("unreachable")


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
