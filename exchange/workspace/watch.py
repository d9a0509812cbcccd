"""The watchlist component (布控): an agency whose grant allows it (``watch: true``) registers, lists and
revokes watches, reads the alerts they raised and acknowledges them — through its grant, each use on
record in ``audit.access`` and each change in the ledger (``watch``: added or revoked; ``watch_ack``).
Matching itself happens where new data becomes readable (``exchange.investigate.watch_alerts``: the
publish stage, the linking run); :func:`sweep` re-runs it over batches already published (it tells
nothing twice), for a gap after an outage.

``exchange watch …`` is the operator's use on behalf of an agency (``--agency`` is required: a watch
is always some agency's, matched through its grant); ``/watches`` on the API and ``/console/watch``
go through the gate with the caller's own grant.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.workspace.investigate import operator_tool
from exchange.workspace.record import _operator_record

LIST, ADD, REVOKE, ALERTS, ACK = "watch.list", "watch.add", "watch.revoke", "watch.alerts", "watch.ack"
DEFAULT_DAYS = 30


def _allowed(lens: Any) -> None:
    if lens.grant is not None and not lens.grant.watch:
        raise ConfigError(f"{lens.consumer}: its grant does not allow watches (grants/{lens.consumer}.yaml: "
                          f"watch: true)")


def _now() -> dt.datetime:
    from exchange.pipeline.stamps import now

    return now()


def _check_routes(routes: list[str]) -> None:
    """Every route names a connection that resolves to a channel (e-mail, webhook): a typo is told now,
    not when the first alert cannot be sent."""
    from exchange.ops.channels import channel_for

    for route in routes:
        try:
            channel_for(route)
        except ConfigError as exc:
            raise ConfigError(f"notify {route!r}: {exc}") from None


def run_add(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    """Register a watch for the lens's agency (the operator's lens cannot: a watch is an agency's)."""
    from exchange.audit import chain
    from exchange.investigate import watch

    if lens.grant is None:
        raise ConfigError("a watch belongs to an agency: name it (--agency)")
    _allowed(lens)
    at = _now()
    days = int(params.get("days") or DEFAULT_DAYS)
    expires = params.get("expires_at") or at + dt.timedelta(days=days)
    if isinstance(expires, str):
        expires = dt.datetime.fromisoformat(expires)
    notify = [r for r in (params.get("notify") or []) if r]
    _check_routes(notify)
    watch.ensure(engine)
    by = f"{lens.consumer}/{params.get('user') or '-'}"
    with engine.begin() as conn:
        w = watch.register(conn, agency=lens.consumer, kind=str(params.get("kind") or ""),
                           value=str(params.get("value") or ""), reason=str(params.get("reason") or ""),
                           case_number=str(params.get("case_number") or ""), expires_at=expires, notify=notify,
                           by=by, at=at)
        chain.append(conn, "watch", w.watch_id, {"action": "add", **{k: v for k, v in w.public().items()
                                                                     if k not in ("state", "revoked_at")}})
    return w.public(at), 1, None


def run_revoke(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any] | None, int, None]:
    """Revoke one of the agency's watches (None: no such watch of it)."""
    from exchange.audit import chain
    from exchange.investigate import watch

    _allowed(lens)
    watch.ensure(engine)
    at = _now()
    with engine.begin() as conn:
        w = watch.get(conn, str(params.get("watch_id") or ""))
        if w is None or (lens.grant is not None and w.agency != lens.consumer):
            return None, 0, None
        if w.revoked_at is None:
            by = f"{lens.consumer}/{params.get('user') or '-'}"
            watch.revoke(conn, w.watch_id, by=by, at=at)
            chain.append(conn, "watch", w.watch_id, {"action": "revoke", "watch_id": w.watch_id, "agency": w.agency,
                                                     "by": by, "reason": params.get("reason")})
        w = watch.get(conn, w.watch_id)
    assert w is not None
    return w.public(at), 1, None


def run_list(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    """The agency's watches (every agency's for the operator), values masked."""
    from exchange.investigate import watch

    watch.ensure(engine)
    at = _now()
    with engine.connect() as conn:
        found = watch.listing(conn, None if lens.grant is None else lens.consumer)
    return {"watches": [w.public(at) for w in found]}, len(found), None


def run_alerts(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    """The matches of the agency's watches, newest first, each record read through its grant."""
    from exchange.access.lens import Lens
    from exchange.investigate import watch

    watch.ensure(engine)
    with engine.connect() as conn:
        found = watch.matches_of(conn, None if lens.grant is None else lens.consumer,
                                 open_only=bool(params.get("open_only")), limit=int(params.get("limit") or 200))
        if lens.grant is None:  # the operator reads each as the watching agency would
            from exchange.workspace.investigate import _lens

            alerts = [watch.shown_match(conn, _lens(ws, m["agency"]) if m["agency"] else Lens(None), m)
                      for m in found]
        else:
            alerts = [watch.shown_match(conn, lens, m) for m in found]
    return {"alerts": alerts, "open": sum(1 for a in alerts if not a["acknowledged_at"])}, len(alerts), None


def run_ack(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any] | None, int, None]:
    """Acknowledge a match of the agency's watches: its alert resolved, the acknowledgement in the ledger."""
    from exchange.audit import alerts, chain
    from exchange.investigate import watch

    watch.ensure(engine)
    at = _now()
    by = f"{lens.consumer}/{params.get('user') or '-'}"
    try:
        match_id = int(params.get("match_id") or 0)
    except ValueError:
        raise ConfigError(f"match {params.get('match_id')!r}: a number") from None
    with engine.begin() as conn:
        found = watch.acknowledge(conn, match_id, agency=None if lens.grant is None else lens.consumer, by=by,
                                  note=params.get("note"), at=at)
        if found is None:
            return None, 0, None
        if found["acknowledged_at"] == at:  # this acknowledgement, not an earlier one
            if found.get("alert_id"):
                alerts.resolve(conn, int(found["alert_id"]), at)
            chain.append(conn, "watch_ack", f"{found['watch_id']}:{match_id}", {
                "watch_id": found["watch_id"], "match_id": match_id, "by": by, "note": params.get("note")})
    return {"match_id": match_id, "watch_id": found["watch_id"], "acknowledged_by": found["acknowledged_by"],
            "acknowledged_at": f"{found['acknowledged_at']:%Y-%m-%d %H:%M:%S}"}, 1, None


RUNNERS = {LIST: run_list, ADD: run_add, REVOKE: run_revoke, ALERTS: run_alerts, ACK: run_ack}


def described(tool: str, params: dict[str, Any]) -> str:
    """A watch request as it goes on record: never the watched value, only its kind and mask."""
    from exchange.investigate.watch import KINDS, normalized, shown

    if tool == ADD:
        kind = str(params.get("kind") or "")
        try:
            value = shown(kind, normalized(kind, str(params.get("value") or ""))) if kind in KINDS else "?"
        except ConfigError:
            value = "(not valid)"
        return f"watch add {kind} {value} case {params.get('case_number') or '-'}"
    if tool == REVOKE:
        return f"watch revoke {params.get('watch_id')}"
    if tool == ACK:
        return f"watch ack {params.get('match_id')}"
    return tool.replace(".", " ")


def use(tool: str, params: dict[str, Any], *, agency: str | None, settings: Settings | None = None,
        purpose: str | None = None, case_number: str | None = None) -> dict[str, Any] | None:
    """``exchange watch …``: the operator's use as ``agency`` (its grant), on record in ``audit.access``."""
    from exchange.access.operator import Operator

    if tool not in RUNNERS:
        raise ConfigError(f"unknown watch action {tool!r}")
    record = _operator_record("cli", described(tool, params) + (f" as {agency}" if agency else ""), tool, purpose,
                              case_number)
    params = {**params, "user": Operator.current().user}
    return operator_tool(record, settings, agency,
                         lambda engine, ws, lens: RUNNERS[tool](engine, ws, lens, params))


def sweep(since: dt.datetime, *, settings: Settings | None = None) -> dict[str, int]:
    """Match the active watches against every batch published since ``since`` — each watch only the
    batches published while it was registered — and tell what was missed (nothing is told twice)."""
    from sqlalchemy import select

    from exchange.audit import tables as audit_tables
    from exchange.investigate import watch_alerts
    from exchange.workspace.space import workspace

    told = batches = 0
    with workspace(settings) as ws:
        engine = ws.migrated(ws.all_schemas())
        b = audit_tables.batch
        with engine.connect() as conn:
            rows = conn.execute(select(b.c.batch_id, b.c.feed, b.c.entity, b.c.finished_at).where(
                b.c.state == "published", b.c.finished_at >= since).order_by(b.c.finished_at)).all()
        for batch_id, feed, entity, published in rows:
            schema = ws.catalog.schemas.get(entity)
            if schema is None:
                continue
            batches += 1
            told += watch_alerts.on_publish(engine, ws.settings, ws.catalog, schema, batch_id, at=_now(),
                                            feed=feed, published_at=published)["matched"]
    return {"batches": batches, "alerts": told}
