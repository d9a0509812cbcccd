"""``audit.alert`` and ``audit.alert_delivery``: one firing row per alert key at a time (so a condition
that lasts is told once, and its end is told once), and every message sent about it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection, insert, select, update

from exchange.audit.tables import alert, alert_delivery

FIRING, RESOLVED = "firing", "resolved"


def firing(conn: Connection, key: str) -> dict[str, Any] | None:
    row = conn.execute(select(alert).where(alert.c.key == key, alert.c.state == FIRING)
                       .order_by(alert.c.id.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def all_firing(conn: Connection, prefix: str = "") -> list[dict[str, Any]]:
    q = select(alert).where(alert.c.state == FIRING)
    if prefix:
        q = q.where(alert.c.key.startswith(prefix))
    return [dict(r) for r in conn.execute(q.order_by(alert.c.id)).mappings()]


def fire(conn: Connection, *, key: str, kind: str, feed: str | None, summary: str, at: dt.datetime) -> int:
    result = conn.execute(insert(alert).values(key=key, kind=kind, feed=feed, state=FIRING, summary=summary,
                                               first_at=at, last_at=at))
    return int(result.inserted_primary_key[0])


def seen_again(conn: Connection, alert_id: int, at: dt.datetime) -> None:
    conn.execute(update(alert).where(alert.c.id == alert_id).values(last_at=at))


def resolve(conn: Connection, alert_id: int, at: dt.datetime) -> None:
    conn.execute(update(alert).where(alert.c.id == alert_id).values(state=RESOLVED, resolved_at=at, last_at=at))


def record_delivery(conn: Connection, *, alert_id: int, event: str, route: str, channel: str, recipient: str,
                    subject: str, body: str, status: str, at: dt.datetime) -> None:
    conn.execute(insert(alert_delivery).values(alert_id=alert_id, event=event, route=route, channel=channel,
                                               recipient=recipient, subject=subject, body=body, status=status,
                                               at=at))


def recorder(engine: Any) -> Any:
    """A function storing one delivery record (``exchange.ops.deliver``'s ``record``) in its own transaction."""

    def record(sent: dict[str, Any]) -> None:
        with engine.begin() as conn:
            record_delivery(conn, **sent)

    return record


def recent(conn: Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The newest alerts with how they were delivered (newest first)."""
    rows = [dict(r) for r in conn.execute(select(alert).order_by(alert.c.id.desc()).limit(limit)).mappings()]
    if rows:
        deliveries = conn.execute(select(alert_delivery).where(alert_delivery.c.alert_id.in_([r["id"] for r in rows]))
                                  .order_by(alert_delivery.c.id)).mappings()
        by_alert: dict[int, list[dict[str, Any]]] = {}
        for d in deliveries:
            by_alert.setdefault(int(d["alert_id"]), []).append(dict(d))
        for r in rows:
            r["deliveries"] = by_alert.get(int(r["id"]), [])
    return rows
