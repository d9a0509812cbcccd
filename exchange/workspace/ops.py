"""The ops component: feed health (``exchange feeds status``, the health page, the Airflow ops DAG) and
alerts — a periodic check that raises and resolves them (``exchange ops check``), the Airflow
failure notifier's entry point, and the record of every message sent.

An alert has a key (``late:<feed>``, ``failing:<feed>``, ``degraded:<feed>``, ``task:<dag>.<task>``,
``ledger``). While its condition holds the alert stays *firing* and is told once; when the
condition clears it is *resolved* and that is told once. Messages go to the feed's ``alerts:`` routes
(else ``EXCHANGE_ALERT_ROUTES``, comma-separated connection names) and every one, sent or failed, is
recorded in ``audit.alert_delivery``. Decisions are taken in one transaction (serialised), messages
are sent after it commits, so a slow mail server never holds the warehouse.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from exchange.audit import alerts as audit_alerts
from exchange.audit import attempts
from exchange.audit import tables as audit_tables
from exchange.ops import health as feed_health
from exchange.ops.deliver import ROUTES_ENV, Condition, deliver
from exchange.pipeline.stamps import now as _now
from exchange.spec.catalog import Catalog
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.workspace.space import workspace

log = logging.getLogger(__name__)

ALERT_LOCK = 7_300_042_017
CHECKED_KINDS = ("late", "failing", "degraded", "ledger")
AIRFLOW_KINDS = ("task_failed", "run_overdue")
"""Alerts Airflow raises (a callback); cleared once the feed has succeeded since."""
QUARANTINE_SOURCE = '"kind": "quarantine"'


def default_routes() -> list[str]:
    return [r.strip() for r in os.environ.get(ROUTES_ENV, "").split(",") if r.strip()]


def feeds_status(*, settings: Settings | None = None, catalog: Catalog | None = None,
                 now: dt.datetime | None = None) -> list[feed_health.FeedHealth]:
    """The health of every feed (see ``exchange.ops.health``), worst first."""
    with workspace(settings, catalog) as ws:
        engine = ws.migrated()
        at = now or _now()
        b, a = audit_tables.batch, audit_tables.feed_attempt
        out = []
        with engine.connect() as conn:
            latest = attempts.latest_attempts(conn)
            first_seen = dict(conn.execute(select(a.c.feed, func.min(a.c.at)).group_by(a.c.feed)).all())
            for fid, spec in sorted(ws.catalog.feeds.items()):
                rows = [dict(r) for r in conn.execute(
                    select(b).where(b.c.feed == fid).order_by(b.c.started_at.desc(), b.c.batch_id.desc())
                    .limit(spec.usual.learn_from * 3 + 10)).mappings()]
                batches = [r for r in rows if QUARANTINE_SOURCE not in (r["source"] or "")]  # not reprocessing
                out.append(feed_health.evaluate(spec, batches, latest.get(fid), attempts.last_failure(conn, fid),
                                                first_seen.get(fid), at))
    return sorted(out, key=lambda h: (feed_health.STATES.index(h.state), h.feed))


@dataclass
class CheckResult:
    health: list[feed_health.FeedHealth]
    fired: list[str]
    resolved: list[str]
    still_firing: list[str]
    deliveries: list[dict[str, Any]]


def conditions_of(healths: list[feed_health.FeedHealth], routes: dict[str, list[str]]) -> list[Condition]:
    """What is wrong now, one condition per alert key."""
    found = []
    for h in healths:
        to = routes.get(h.feed) or default_routes()
        if h.state == "failing":
            found.append(Condition(f"failing:{h.feed}", "failing", h.feed,
                                   f"the last attempt failed at {h.last_error_stage or 'a stage'}",
                                   h.last_error or "", to, h.contact))
        if h.late:
            found.append(Condition(f"late:{h.feed}", "late", h.feed, next(r for r in h.reasons if "expected" in r),
                                   f"last new data: {h.last_success or 'never'}; due {h.next_due}", to, h.contact))
        if h.far:
            found.append(Condition(f"degraded:{h.feed}", "degraded", h.feed, "; ".join(h.far),
                                   f"batch {h.last_batch}; usual {h.usual_source}", to, h.contact))
    return found


def check(*, settings: Settings | None = None, catalog: Catalog | None = None, now: dt.datetime | None = None,
          verify_ledger: bool = True, say: Callable[[str], None] = log.info) -> CheckResult:
    """Evaluate every feed and the ledger; fire new alerts, resolve cleared ones, tell the routes."""
    with workspace(settings, catalog) as ws:
        at = now or _now()
        healths = feeds_status(settings=ws.settings, catalog=ws.catalog, now=at)
        routes = {fid: list(spec.alerts) for fid, spec in ws.catalog.feeds.items()}
        found = conditions_of(healths, routes)
        if verify_ledger:
            from exchange.workspace.audit import verify_audit

            checked = verify_audit(settings=ws.settings)
            problems = [str(p) for p in checked.verification.problems] + checked.mismatches
            if problems:
                found.append(Condition("ledger", "ledger", None, f"the audit ledger does not verify ({len(problems)} "
                                       f"problem(s))", "\n".join(problems[:10]), default_routes()))
        failed_feeds = {h.feed for h in healths if h.state == "failing"}
        sends: list[tuple[int, str, Condition]] = []
        fired, resolved, still = [], [], []
        engine = ws.migrated()
        with engine.begin() as conn:
            dialect_of(conn).xact_lock(conn, ALERT_LOCK)  # one check at a time decides
            now_keys = {c.key for c in found}
            for c in found:
                open_ = audit_alerts.firing(conn, c.key)
                if open_ is None:
                    sends.append((audit_alerts.fire(conn, key=c.key, kind=c.kind, feed=c.feed, summary=c.summary,
                                                    at=at), "firing", c))
                    fired.append(c.key)
                else:
                    audit_alerts.seen_again(conn, int(open_["id"]), at)
                    still.append(c.key)
            for row in audit_alerts.all_firing(conn):
                kind, feed = row["kind"], row["feed"]
                cleared = (kind in CHECKED_KINDS and row["key"] not in now_keys) or (
                    kind in AIRFLOW_KINDS and feed is not None and feed not in failed_feeds
                    and _succeeded_since(conn, feed, row["first_at"]))
                if cleared:
                    audit_alerts.resolve(conn, int(row["id"]), at)
                    c = Condition(row["key"], kind, feed, f"cleared: {row['summary']}",
                                  routes=routes.get(feed or "", []) or default_routes(),
                                  contact=ws.catalog.feeds[feed].contact if feed in ws.catalog.feeds else None)
                    sends.append((int(row["id"]), "resolved", c))
                    resolved.append(row["key"])
        deliveries = deliver(sends, at, audit_alerts.recorder(engine))
        for key in fired:
            say(f"alert: {key}")
        for key in resolved:
            say(f"resolved: {key}")
        return CheckResult(healths, fired, resolved, still, deliveries)


def _succeeded_since(conn: Any, feed: str, since: dt.datetime) -> bool:
    a = audit_tables.feed_attempt
    return conn.execute(select(func.count()).select_from(a).where(
        a.c.feed == feed, a.c.at >= since, a.c.outcome != attempts.FAILED)).scalar_one() > 0


def task_failed(*, dag_id: str, task_id: str, feed: str | None, error: str, try_number: int | None = None,
                settings: Settings | None = None, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """A task failed after its retries (Airflow's failure notifier): one alert per DAG task until the
    feed succeeds again (resolved by the next check)."""
    summary = f"task {dag_id}.{task_id} failed" + (f" after {try_number} tries" if try_number else "")
    return _told_by_airflow(f"task:{dag_id}.{task_id}", "task_failed", feed, summary, error, settings, catalog)


def run_overdue(*, dag_id: str, run_id: str, feed: str | None, queued_at: str | None, deadline: str | None,
                settings: Settings | None = None, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """A feed's run still not finished at its deadline (Airflow's deadline alert, ``EXCHANGE_RUN_DEADLINE``
    after the run was queued): stuck behind a full pool, a hung source, a worker gone. One alert per DAG
    until the feed succeeds again (resolved by the next check, like a failed task)."""
    summary = f"run {run_id} of {dag_id} not finished by its deadline"
    detail = f"queued at {queued_at or 'unknown'}; deadline {deadline or 'unknown'}"
    return _told_by_airflow(f"overdue:{dag_id}", "run_overdue", feed, summary, detail, settings, catalog)


def _told_by_airflow(key: str, kind: str, feed: str | None, summary: str, detail: str, settings: Settings | None,
                     catalog: Catalog | None) -> list[dict[str, Any]]:
    """An alert Airflow raises (a callback): fired once while it lasts, told by the feed's routes."""
    with workspace(settings, catalog) as ws:
        spec = ws.catalog.feeds.get(feed) if feed else None
        at = _now()
        engine = ws.migrated()
        sends = []
        with engine.begin() as conn:
            dialect_of(conn).xact_lock(conn, ALERT_LOCK)
            open_ = audit_alerts.firing(conn, key)
            if open_ is None:
                c = Condition(key, kind, feed, summary, detail,
                              (list(spec.alerts) if spec else []) or default_routes(), spec.contact if spec else None)
                sends.append((audit_alerts.fire(conn, key=key, kind=kind, feed=feed, summary=summary, at=at),
                              "firing", c))
            else:
                audit_alerts.seen_again(conn, int(open_["id"]), at)
        return deliver(sends, at, audit_alerts.recorder(engine))


def alert_history(*, limit: int = 50, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The newest alerts and their deliveries (``exchange ops alerts``)."""
    with workspace(settings) as ws, ws.migrated().connect() as conn:
        return audit_alerts.recent(conn, limit)


def warehouse_name(settings: Settings | None = None) -> str:
    """Where the warehouse is, for the health page (no password)."""
    from exchange.warehouse.engine import describe

    with workspace(settings) as ws:
        return describe(ws.engine)


def health_html(healths: list[feed_health.FeedHealth], *, settings: Settings | None = None) -> str:
    """The feed health page (``exchange.ops.page``) of these healths, stamped now."""
    from exchange.ops.page import health_page

    return health_page(healths, generated=_now(), warehouse=warehouse_name(settings))


def status_json(healths: list[feed_health.FeedHealth]) -> str:
    return json.dumps([h.as_json() for h in healths], ensure_ascii=False, indent=2, default=str)
