"""The publish stage: the shares that hold copies of filtered rows refreshed (PostgreSQL), then the loaded
batch marked published — its rows are what consumers now read — the reports index rewritten and the
watches told. The element index follows published batches as their consumer
(:func:`exchange.investigate.elements.catch_up`), off the batch's path."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange.audit import attempts, ledger
from exchange.pipeline import order
from exchange.pipeline.records import BatchOutcome
from exchange.pipeline.stage import Stage
from exchange.pipeline.stamps import now
from exchange.spec.settings import Settings
from exchange.validation.docs import write_index

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun

log = logging.getLogger(__name__)


class Publish(Stage):
    name = "publish"
    needs = order.DONE

    def __init__(self, outcome: str = attempts.PUBLISHED) -> None:
        self.outcome = outcome
        """How the feed's attempt is recorded: ``published`` (new data), or e.g. ``reprocessed``."""

    def work(self, run: BatchRun, batch_id: str, progress: Any) -> Any:
        """What consumers read follows the batch before it is marked published (and the time it takes is
        the stage's): the shares that hold copies of filtered rows (PostgreSQL). Idempotent: a publish
        that fails is simply run again."""
        from exchange.access.apply import refresh_shares

        with run.engine.begin() as conn:
            refreshed = refresh_shares(conn, run.schema.name)
        if refreshed:
            log.info("refreshed %s shared materialized view(s) over core.%s", len(refreshed), run.schema.name)
        return None

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Any) -> dict[str, Any]:
        row = ledger.get_batch(conn, batch_id) or {}
        attempts.record_attempt(conn, feed=run.feed.feed_id, stage=self.name, batch_id=batch_id, outcome=self.outcome,
                                rows_in=row.get("rows_in"), at=now())
        return {"finished_at": now()}

    def finish(self, run: BatchRun, batch_id: str, done: Any, outcome: BatchOutcome) -> BatchOutcome:
        refresh_reports_index(run.engine, run.settings)
        _watches(run, batch_id)
        return outcome


def _watches(run: BatchRun, batch_id: str) -> None:
    """Tell the watches the batch matches (exchange.investigate.watch_alerts). The batch is published
    whatever happens here; a failure is logged and raised as an ops alert, and ``exchange watch sweep``
    matches the batch again (nothing is told twice)."""
    from exchange.investigate import watch_alerts

    try:
        told = watch_alerts.on_publish(run.engine, run.settings, run.catalog, run.schema, batch_id, at=now(),
                                       feed=run.feed.feed_id)
    except Exception as exc:  # published rows stay published; the gap is told and sweepable
        log.exception("watches: matching batch %s failed", batch_id)
        _matching_failed(run, batch_id, exc)
        return
    if told["matched"]:
        log.info("watches: batch %s matched %s watch(es)", batch_id, told["matched"])


def _matching_failed(run: BatchRun, batch_id: str, exc: Exception) -> None:
    from exchange.audit import alerts
    from exchange.formats.masking import redact

    try:
        with run.engine.begin() as conn:
            key = f"watch_failed:{run.feed.feed_id}"
            if alerts.firing(conn, key) is None:
                alerts.fire(conn, key=key, kind="watch_failed", feed=run.feed.feed_id,
                            summary=redact(f"matching watches against batch {batch_id} failed: {exc}")[:300]
                            + f" — run `exchange watch sweep --since {now():%Y-%m-%d}`", at=now())
    except Exception:  # the log above already holds it
        log.exception("watches: could not raise the alert for batch %s", batch_id)


def refresh_reports_index(engine: Any, settings: Settings, limit: int = 500) -> Path:
    """Rewrite ``<reports>/index.html`` from the ledger."""
    with engine.connect() as conn:
        rows = ledger.recent_batches(conn, limit=limit)
    return write_index(settings.reports_dir, rows, generated=now())
