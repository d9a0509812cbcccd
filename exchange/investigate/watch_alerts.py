"""When watches match: right after a batch publishes (:func:`on_publish`, called by the publish stage)
and right after a linking run (:func:`on_linked`) — the moments new data becomes readable, so an alert
follows within seconds, never on a polling clock. Airflow reaches both through its asset-driven tasks
(a feed DAG's publish, the linking DAG scheduled on the person-bearing tables' assets).

Each new match, in one transaction: a row in ``mdm.watch_match`` (so it is told once), an
``audit.alert`` (kind ``watch``, firing until acknowledged) and a ledger entry ``watch_match``; then,
after the commit, a message to each of the watch's routes (e-mail, webhook: ``exchange.ops``), recorded
in ``audit.alert_delivery``. Nothing that leaves names a person: the alert, the message and the ledger
say which watch, which record (agency, table, record id, batch) and how it matched; the values are
read in the console or the API, through the watching agency's grant.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from exchange.access.lens import Lens
from exchange.investigate import watch
from exchange.spec.schema import EntitySchema

log = logging.getLogger(__name__)
ALERT_KIND = "watch"
VIA_WORDS = {"id": "its ID number", "phone": "its phone", "plate": "its plate", "person": "the person index"}


def lenses(settings: Any, catalog: Any) -> Callable[[str], Lens | None]:
    """agency → the lens of its grant when the grant allows watches (None otherwise)."""
    from exchange.access.changes import role_prefix
    from exchange.access.masks import KEY_ENV, consumer_key, master_key
    from exchange.access.spec import load_grants
    from exchange.formats import load_division_codes

    divisions = load_division_codes(settings.root / "schemas" / "reference" / "gb2260.csv")
    grants = load_grants(settings.root, catalog.schemas, catalog.allowed, divisions=divisions,
                         role_prefix=role_prefix())
    master = master_key(dict(os.environ)) if os.environ.get(KEY_ENV) else None

    def lens_of(agency: str) -> Lens | None:
        grant = grants.grants.get(agency)
        if grant is None or not grant.watch:
            return None
        return Lens(grant, consumer_key(master, agency) if master else None)

    return lens_of


def on_publish(engine: Engine, settings: Any, catalog: Any, schema: EntitySchema, batch_id: str, *,
               at: dt.datetime, feed: str | None = None, published_at: dt.datetime | None = None) -> dict[str, Any]:
    """Match the active watches against the rows ``batch_id`` has just published (``published_at``, default
    ``at``: a watch registered after the batch was published does not look back at it); tell the new
    matches. Returns ``matched`` (how many new) and ``deliveries`` (the messages sent or failed)."""
    since = published_at or at
    return _run(engine, settings, catalog, at, feed, lambda conn, lens_of, ws: watch.match_batch(
        conn, lens_of, schema, batch_id, [w for w in ws if w.created_at <= since]))


def on_linked(engine: Engine, settings: Any, catalog: Any, run_id: int, *, at: dt.datetime) -> dict[str, Any]:
    """Match the person and ID watches against the records a linking run has just tied to a person."""
    return _run(engine, settings, catalog, at, None,
                lambda conn, lens_of, ws: watch.match_linked(conn, lens_of, run_id, ws))


def _run(engine: Engine, settings: Any, catalog: Any, at: dt.datetime, feed: str | None,
         find: Callable[[Any, Callable[[str], Lens | None], list[watch.Watch]], list[watch.Match]]
         ) -> dict[str, Any]:
    from exchange.audit import alerts, chain
    from exchange.ops.deliver import Condition, deliver
    watch.ensure(engine)
    with engine.connect() as conn:
        active = watch.active(conn, at)
    if not active:
        return {"matched": 0, "deliveries": []}
    lens_of = lenses(settings, catalog)
    sends = []
    told = 0
    with engine.begin() as conn:
        found = find(conn, lens_of, active)
        for m, match_id in watch.record_new(conn, found, at):
            w, (agency, record) = m.watch, m.row.key
            subject = f"{m.row.entity}/{agency}/{record}"
            summary = (f"watch {w.watch_id} ({w.agency}, case {w.case_number}): a {m.row.entity} record "
                       f"{agency}/{record} matched by {VIA_WORDS[m.via]}")
            alert_id = alerts.fire(conn, key=f"watch:{w.watch_id}:{subject}", kind=ALERT_KIND, feed=feed,
                                   summary=summary, at=at)
            watch.set_alert(conn, match_id, alert_id)
            chain.append(conn, "watch_match", f"{w.watch_id}:{subject}", {
                "watch_id": w.watch_id, "agency": w.agency, "match_id": match_id, "record": subject,
                "batch": m.row.raw.get("_batch_id"), "via": m.via})
            detail = (f"Watched: {w.kind} {w.shown} — {w.reason}\nBatch: {m.row.raw.get('_batch_id')}\n"
                      f"Open the console's 布控预警 page (or GET /watches/alerts) to read the record through your "
                      f"grant, and acknowledge it.")
            if w.notify:  # a watch without routes is read in the console and the API only
                sends.append((alert_id, "firing", Condition(f"watch:{w.watch_id}:{subject}", ALERT_KIND, feed,
                                                            summary, detail, list(w.notify))))
            told += 1
    if told:
        log.info("watches: %s new match(es)", told)
    return {"matched": told, "deliveries": deliver(sends, at, alerts.recorder(engine))}
