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
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy import exc as sa_exc

from exchange.errors import TransientError
from exchange.warehouse.outages import is_outage

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
# pg_locks rows of the advisory lock on bigint :k (its high and low 32 bits are classid and objid)
_HELD = "l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = (:k)::bigint"


class HeldLock:
    """A feed lock this process holds (see ``check``)."""

    def __init__(self, feed_id: str, key: int | None = None, backend_pid: int | None = None) -> None:
        self.feed_id, self.key, self.backend_pid = feed_id, key, backend_pid

    def check(self, conn: Connection) -> None:
        """Raise TransientError unless the lock is still held by the session that took it
        (PostgreSQL; a lock file cannot be lost while its process lives)."""
        if self.key is None or conn.dialect.name != "postgresql":
            return
        holders = [r[0] for r in conn.execute(text(f"SELECT l.pid FROM pg_locks l WHERE {_HELD}"), {"k": self.key})]
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
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, feed_id, wait_seconds) as held:
            yield held
    else:
        with _file_lock(Path(engine.url.database).parent / "locks" / f"{feed_id}.lock", feed_id, wait_seconds):
            yield HeldLock(feed_id)


def _busy(feed_id: str, wait_seconds: float, holder: str) -> TransientError:
    return TransientError(f"feed {feed_id}: another run holds its lock ({holder}); waited {wait_seconds:g}s. "
                          f"Runs of one feed are serialised — retry when it has finished "
                          f"(or set EXCHANGE_LOCK_WAIT to wait longer).")


@contextlib.contextmanager
def _pg_lock(engine: Engine, feed_id: str, wait_seconds: float) -> Iterator[HeldLock]:
    key = lock_key(feed_id)
    deadline = time.monotonic() + wait_seconds
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
            if time.monotonic() >= deadline:
                holder = conn.execute(text(
                    "SELECT string_agg(a.pid::text || ' since ' || a.backend_start::text, ', ') "
                    f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {_HELD}"), {"k": key}).scalar()
                raise _busy(feed_id, wait_seconds, f"PostgreSQL backend {holder or 'unknown'}")
            time.sleep(POLL_SECONDS)
        held = HeldLock(feed_id, key, conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
        try:
            yield held
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except sa_exc.DBAPIError as exc:
                if not is_outage(exc):
                    raise
                # the session is gone, and its advisory lock with it; do not hide why the run ended
                log.warning("feed %s: the connection holding its lock was lost (%s); the server released the lock",
                            feed_id, " ".join(str(exc.orig).split())[:200])
    finally:
        conn.close()


@contextlib.contextmanager
def _file_lock(path: Path, feed_id: str, wait_seconds: float) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with path.open("a+") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    raise _busy(feed_id, wait_seconds, f"process {fh.read().strip() or 'unknown'}") from None
                time.sleep(POLL_SECONDS)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
