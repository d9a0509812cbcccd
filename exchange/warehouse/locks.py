"""One run of a feed at a time: a PostgreSQL advisory lock, or a lock file beside SQLite.

Runs of different feeds proceed in parallel. A second run of the same feed waits up to
``wait_seconds`` for the first, then gives up with a TransientError that says who holds it
(Airflow retries such a task; the CLI prints the message).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, text

from exchange.errors import TransientError

POLL_SECONDS = 0.5


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (namespaced to the exchange)."""
    digest = hashlib.sha256(f"agency-data-exchange:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def feed_lock(engine: Engine, feed_id: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, feed_id, wait_seconds):
            yield
    else:
        with _file_lock(Path(engine.url.database).parent / "locks" / f"{feed_id}.lock", feed_id, wait_seconds):
            yield


def _busy(feed_id: str, wait_seconds: float, holder: str) -> TransientError:
    return TransientError(f"feed {feed_id}: another run holds its lock ({holder}); waited {wait_seconds:g}s. "
                          f"Runs of one feed are serialised — retry when it has finished "
                          f"(or set EXCHANGE_LOCK_WAIT to wait longer).")


@contextlib.contextmanager
def _pg_lock(engine: Engine, feed_id: str, wait_seconds: float) -> Iterator[None]:
    key = lock_key(feed_id)
    deadline = time.monotonic() + wait_seconds
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one():
            if time.monotonic() >= deadline:
                holder = conn.execute(text(
                    "SELECT string_agg(a.pid::text || ' since ' || a.backend_start::text, ', ') "
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND "
                    "((l.classid::bigint << 32) | l.objid::bigint) = (:k)::bigint"), {"k": key}).scalar()
                raise _busy(feed_id, wait_seconds, f"PostgreSQL backend {holder or 'unknown'}")
            time.sleep(POLL_SECONDS)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
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
