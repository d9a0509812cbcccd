"""Telling an alert: one message per route (e-mail, webhook), each recorded (``audit.alert_delivery``,
by the caller) whether it was sent or not. Called after the decision to fire or resolve has committed,
so a slow mail server never holds the warehouse. Used by the feed-health check and by the watchlists."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exchange.formats.masking import redact
from exchange.ops.channels import channel_for
from exchange.ops.messages import message

log = logging.getLogger(__name__)
ROUTES_ENV = "EXCHANGE_ALERT_ROUTES"


@dataclass
class Condition:
    key: str
    kind: str
    feed: str | None
    summary: str
    detail: str = ""
    routes: list[str] = field(default_factory=list)
    contact: str | None = None


def deliver(sends: list[tuple[int, str, Condition]], at: dt.datetime,
            record: Callable[[dict[str, Any]], None]) -> list[dict[str, Any]]:
    """Tell each route; ``record`` every message, sent or not (called after the decisions committed; the
    caller stores it: ``audit.alert_delivery``)."""
    done = []
    for alert_id, event, c in sends:
        msg = message(event, c.kind, c.feed, c.summary, c.detail, f"{at:%Y-%m-%d %H:%M:%S}", c.contact)
        if not c.routes:
            log.warning("alert %s (%s): no route to tell; set the feed's alerts: or %s", c.key, event, ROUTES_ENV)
        for route in c.routes:
            channel_kind, recipient = "unknown", route
            try:
                channel = channel_for(route)
                channel_kind, recipient = channel.kind, channel.recipient
                channel.send(msg)
                status = "sent"
            except Exception as exc:  # noqa: BLE001 - a route that fails is recorded, the others still told
                status = redact(f"failed: {type(exc).__name__}: {exc}")[:500]
                log.warning("alert %s: route %s failed: %s", c.key, route, status)
            sent = {"alert_id": alert_id, "event": event, "route": route, "channel": channel_kind,
                    "recipient": recipient, "subject": msg.subject, "body": msg.text, "status": status, "at": at}
            record(sent)
            done.append(sent)
    return done


