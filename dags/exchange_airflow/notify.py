"""The exchange's Airflow notifier: a task that failed after its retries becomes an alert of the ops
component (``exchange.workspace.ops.task_failed``) — told once by the feed's alert routes (else
``EXCHANGE_ALERT_ROUTES``), recorded with every message sent, resolved by the next ``exchange ops
check`` once the feed succeeds again. Used as every exchange task's ``on_failure_callback``. A feed
run not finished by its deadline (:func:`run_overdue`, a deadline alert's callback) is told the same way.

Imported at parse time: the exchange's core is imported when a notification is sent.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

log = logging.getLogger(__name__)


class ExchangeAlertNotifier(BaseNotifier):
    """``on_failure_callback=[ExchangeAlertNotifier(feed_id)]``: Airflow calls it once a task has failed
    for good (retries spent, or failed at once: a bad file, a refused batch, a configuration error)."""

    template_fields = ()

    def __init__(self, feed_id: str | None = None) -> None:
        super().__init__()
        self.feed_id = feed_id

    def notify(self, context: Any) -> None:
        from exchange.formats.masking import redact
        from exchange.workspace.ops import task_failed
        from exchange.workspace.space import Workspace
        from exchange_airflow.tasks import _settings_and_catalog

        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "unknown")
        task_id = getattr(ti, "task_id", None) or "unknown"
        error = context.get("exception")
        text = redact(f"{type(error).__name__}: {error}") if error is not None else "failed"
        settings, catalog = _settings_and_catalog()
        with Workspace(settings, catalog):
            sent = task_failed(dag_id=dag_id, task_id=task_id, feed=self.feed_id, error=text,
                               try_number=getattr(ti, "try_number", None))
        log.info("alert for %s.%s: %s message(s)", dag_id, task_id, len(sent))


def run_overdue(context: dict[str, Any] | None = None, feed_id: str | None = None) -> None:
    """The callback of a feed DAG's deadline alert (``exchange_airflow.factory.run_deadline``): run by the
    executor when a run is still not finished at its deadline. ``context`` is what Airflow gives a deadline
    callback: the run (``dag_run``) and the deadline."""
    from exchange.workspace.ops import run_overdue as record
    from exchange.workspace.space import Workspace
    from exchange_airflow.tasks import _settings_and_catalog

    run = (context or {}).get("dag_run") or {}
    deadline = (context or {}).get("deadline") or {}
    settings, catalog = _settings_and_catalog()
    with Workspace(settings, catalog):
        sent = record(dag_id=str(run.get("dag_id") or "unknown"), run_id=str(run.get("dag_run_id") or "unknown"),
                      feed=feed_id, queued_at=run.get("queued_at"), deadline=str(deadline.get("deadline_time")))
    log.info("deadline missed by %s of %s: %s message(s)", run.get("dag_run_id"), run.get("dag_id"), len(sent))
