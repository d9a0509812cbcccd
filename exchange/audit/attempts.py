"""``audit.feed_attempt``: one row per run attempt of a feed and how it ended — published, no new data,
or failed at a stage (a failure before any batch exists included: a missing connection, an
unreadable source). Feed health reads it; the batch ledger only knows batches."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, func, insert, select

from exchange.audit.tables import feed_attempt
from exchange.formats.masking import redact

PUBLISHED, NO_NEW_DATA, FAILED = "published", "no new data", "failed"
ERROR_CHARS = 1_000


def record_attempt(conn: Connection, *, feed: str, stage: str, outcome: str, at: dt.datetime,
                   batch_id: str | None = None, error: str | None = None, rows_in: int | None = None) -> None:
    text = None
    if error:
        text = redact(error).replace("\x00", "\\u0000")
        if len(text) > ERROR_CHARS:
            text = text[:ERROR_CHARS] + f"… ({len(text) - ERROR_CHARS:,} more characters)"
    conn.execute(insert(feed_attempt).values(feed=feed, batch_id=batch_id or None, stage=stage, outcome=outcome,
                                             error=text, rows_in=rows_in, at=at))


def latest_attempts(conn: Connection, feeds: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """The newest attempt of each feed."""
    newest = select(feed_attempt.c.feed, func.max(feed_attempt.c.id).label("id")).group_by(feed_attempt.c.feed)
    if feeds is not None:
        newest = newest.where(feed_attempt.c.feed.in_(feeds))
    sub = newest.subquery()
    rows = conn.execute(select(feed_attempt).join(sub, feed_attempt.c.id == sub.c.id)).mappings()
    return {r["feed"]: dict(r) for r in rows}


def last_failure(conn: Connection, feed: str) -> dict[str, Any] | None:
    row = conn.execute(select(feed_attempt).where(feed_attempt.c.feed == feed, feed_attempt.c.outcome == FAILED)
                       .order_by(feed_attempt.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None
