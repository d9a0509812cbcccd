"""One run of a feed at a time: a PostgreSQL advisory lock, or a lock file beside SQLite.

Runs of different feeds proceed in parallel. A second run of the same feed waits up to
``wait_seconds`` for the first, then gives up with a TransientError that says who holds it
(Airflow retries such a task; the CLI prints the message).

The lock yields a ``HeldLock``: ``check(conn)`` confirms, inside the transaction about to commit
a load, that this run still holds it. A PostgreSQL advisory lock lives in the session that took
it; when the server restarts mid-run that session is gone and with it the lock, while the run's
next statements reconnect. The load then stops with a TransientError instead of committing beside
a run that may have taken the lock meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, text

from exchange.errors import TransientError

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# pg_locks rows of the advisory lock on bigint :k (its high and low 32 bits are classid and objid)
HELD = "l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = (:k)::bigint"


class HeldLock:
    """A feed lock this process holds (see ``check``)."""

    def __init__(self, feed_id: str, key: int | None = None, backend_pid: int | None = None) -> None:
        self.feed_id, self.key, self.backend_pid = feed_id, key, backend_pid

    def check(self, conn: Connection) -> None:
        """Raise TransientError unless the lock is still held by the session that took it
        (PostgreSQL; a lock file cannot be lost while its process lives)."""
        if self.key is None:  # a lock file (SQLite)
            return
        holders = [r[0] for r in conn.execute(text(f"SELECT l.pid FROM pg_locks l WHERE {HELD}"), {"k": self.key})]
        if self.backend_pid not in holders:
            now = f"now held by PostgreSQL backend {holders[0]}" if holders else "no session holds it now"
            raise TransientError(f"feed {self.feed_id}: this run lost its lock (the session that took it, backend "
                                 f"{self.backend_pid}, is gone — the warehouse restarted or dropped the connection; "
                                 f"{now}); nothing of this step was committed. Retry: a rerun takes the batch up "
                                 f"again under the same id and no row is loaded twice.")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (namespaced to the exchange)."""
    digest = hashlib.sha256(f"agency-data-exchange:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def feed_lock(engine: Engine, feed_id: str, *, wait_seconds: float = 0.0) -> Iterator[HeldLock]:
    from exchange.warehouse.dialects import dialect_of

    with dialect_of(engine).feed_lock(engine, feed_id, wait_seconds) as held:
        yield held


def busy(feed_id: str, wait_seconds: float, holder: str) -> TransientError:
    return TransientError(f"feed {feed_id}: another run holds its lock ({holder}); waited {wait_seconds:g}s. "
                          f"Runs of one feed are serialised — retry when it has finished "
                          f"(or set EXCHANGE_LOCK_WAIT to wait longer).")
