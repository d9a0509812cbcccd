"""The batch ledger: ``audit.batch`` as a state machine, and ``audit.validation`` rows.

States: ``started`` → ``extracted`` → ``validated`` → ``staged`` → ``loaded`` → ``published``; or
``failed`` with its error (including a batch over its reject ratio, of which nothing is
published). Functions take a connection so the runner can put a state change in the same
transaction as the work it records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from exchange.audit.tables import batch, feed_state, validation
from exchange.formats.masking import redact

STATES = ("started", "extracted", "validated", "staged", "loaded", "published", "failed")


def get_batch(conn: Connection, batch_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(batch).where(batch.c.batch_id == batch_id)).mappings().first()
    return dict(row) if row else None


def start_batch(conn: Connection, *, batch_id: str, feed: str, agency: str, entity: str,
                schema_version: str, fingerprint: str, source: dict[str, Any], code_version: str,
                max_reject_ratio: float, now: dt.datetime) -> int:
    """Record a new batch, or a new attempt of one that did not load; return the attempt number."""
    existing = get_batch(conn, batch_id)
    values = dict(feed=feed, agency=agency, entity=entity, schema_version=schema_version,
                  fingerprint=fingerprint, source=json.dumps(source, ensure_ascii=False, sort_keys=True),
                  code_version=code_version, max_reject_ratio=max_reject_ratio, state="started",
                  started_at=now, finished_at=None, error=None, timings="{}",  # a fresh attempt: no stage done yet
                  notes=None)
    if existing is None:
        conn.execute(insert(batch).values(batch_id=batch_id, attempts=1, **values))
        return 1
    attempt = int(existing["attempts"] or 0) + 1
    conn.execute(update(batch).where(batch.c.batch_id == batch_id).values(attempts=attempt, **values))
    return attempt


def resume_batch(conn: Connection, batch_id: str, *, state: str | None = None) -> int:
    """Record a new attempt of a batch an earlier run left part-way — interrupted (its state is kept)
    or failed after ``state`` was reached (the state is set back to it) — that goes on from there;
    return the attempt number."""
    existing = get_batch(conn, batch_id)
    if existing is None:
        raise ValueError(f"no batch {batch_id!r} to resume")
    attempt = int(existing["attempts"] or 0) + 1
    values: dict[str, Any] = {"attempts": attempt, "finished_at": None, "error": None}
    if state is not None:
        if state not in STATES or state == "failed":
            raise ValueError(f"cannot resume batch {batch_id!r} at {state!r}")
        values["state"] = state
    conn.execute(update(batch).where(batch.c.batch_id == batch_id).values(**values))
    return attempt


def set_state(conn: Connection, batch_id: str, state: str, **fields: Any) -> None:
    if state not in STATES:
        raise ValueError(f"unknown batch state {state!r}")
    if "timings" in fields and not isinstance(fields["timings"], str):
        fields["timings"] = json.dumps(fields["timings"], sort_keys=True)
    if isinstance(fields.get("error"), str):  # shown in reports and logs: no identifier, no password
        # nor a NUL character (a source's column name may hold one): no text column can store it, and
        # PostgreSQL refusing it would leave the batch without its failure recorded
        fields["error"] = redact(fields["error"]).replace("\x00", "\\u0000")
    conn.execute(update(batch).where(batch.c.batch_id == batch_id).values(state=state, **fields))


def record_validation(conn: Connection, *, batch_id: str, suite: str, rows: Iterable[dict[str, Any]],
                      now: dt.datetime) -> None:
    conn.execute(delete(validation).where(validation.c.batch_id == batch_id))
    values = [{
        "batch_id": batch_id, "seq": i, "suite": suite, "expectation": r["expectation"],
        "field": r["field"], "rule": r["rule"], "success": r["success"],
        "element_count": r["element_count"], "missing_count": r["missing_count"],
        "unexpected_count": r["unexpected_count"], "unexpected_percent": r["unexpected_percent"],
        "sample_values": json.dumps(r["sample_values"], ensure_ascii=False, default=str),
        "sample_rows": json.dumps(r["sample_rows"]), "validated_at": now,
    } for i, r in enumerate(rows)]
    if values:
        conn.execute(insert(validation), values)


def validation_rows(conn: Connection, batch_id: str) -> list[dict[str, Any]]:
    """The expectations a batch was validated against, in order, with their results (``audit.validation``)."""
    return [dict(r) for r in conn.execute(select(validation).where(validation.c.batch_id == batch_id)
                                          .order_by(validation.c.seq)).mappings()]


def recent_batches(conn: Connection, feed: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    q = select(batch).order_by(batch.c.started_at.desc()).limit(limit)
    if feed:
        q = q.where(batch.c.feed == feed)
    return [dict(r) for r in conn.execute(q).mappings()]


def get_feed_state(conn: Connection, feed: str) -> dict[str, Any] | None:
    row = conn.execute(select(feed_state.c.state).where(feed_state.c.feed == feed)).first()
    return json.loads(row[0]) if row else None


def save_feed_state(conn: Connection, feed: str, state: dict[str, Any], *, batch_id: str,
                    now: dt.datetime) -> None:
    values = {"state": json.dumps(state, ensure_ascii=False, sort_keys=True, default=str),
              "batch_id": batch_id, "updated_at": now}
    done = conn.execute(update(feed_state).where(feed_state.c.feed == feed).values(**values)).rowcount
    if not done:
        conn.execute(insert(feed_state).values(feed=feed, **values))
