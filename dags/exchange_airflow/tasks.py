"""What the tasks of the exchange's DAGs run: thin calls into the batches component.

A feed DAG has one task per stage of :data:`exchange.pipeline.order.STEPS` — the list ``exchange run
FEED`` runs — each driving its stage through the same driver (``exchange.workspace.batches``),
passing only the feed id and the DAG run's data interval; the batch id travels from ``extract`` to
the later tasks as an XCom. XComs hold ids and counts only, never row values or personal data.

Errors: a :class:`~exchange.errors.TransientError` (an outage, a busy lock) is raised as is,
so Airflow retries the task; every other error — ``TerminalError``, ``DataQualityError``,
``ConfigError``, or anything unexpected — becomes an ``AirflowFailException``, which fails the
task at once without spending retries on work that cannot succeed unchanged.

This module is imported when a DAG file is parsed: the runner (pyarrow, Great Expectations,
SQLAlchemy engines) is imported inside the callables, when a task runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from exchange.errors import TransientError
from exchange.pipeline import order

if TYPE_CHECKING:
    from exchange.workspace.batches import BatchOutcome, BatchRun
log = logging.getLogger(__name__)

FEED_TASKS = order.NAMES
"""One task per stage, in the pipeline's order (``exchange.pipeline.order``: nothing heavy)."""
EXTRACT, LOAD = "extract", "load"


# --- plumbing ------------------------------------------------------------------------------------


def scrub_chain(exc: BaseException) -> bool:
    """Mask, in place, the message of ``exc`` and of every exception chained to it (what Airflow's
    traceback prints). True when every message in the chain is now clean; False when one could
    not be rewritten (an exception class with its own ``__str__``)."""
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    clean, seen = True, set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            text = str(current)
        except Exception:  # noqa: BLE001 - an exception whose __str__ fails shows nothing to leak
            text = ""
        masked = redact(text)
        if masked != text:
            with contextlib.suppress(Exception):
                current.args = (masked,)
            with contextlib.suppress(Exception):
                clean = clean and redact(str(current)) == str(current)
        current = current.__cause__ or current.__context__
    return clean


@contextlib.contextmanager
def failing_fast(what: str) -> Iterator[None]:
    """Let TransientError through (Airflow retries it); fail the task at once on anything else.

    Messages are masked first (:func:`scrub_chain`: a library's error may quote a row's value or a
    URL with its password), the original exception chained. Should a message in the chain resist
    masking, the traceback is logged masked and the original is not chained, so Airflow's own
    traceback cannot print it."""
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    try:
        yield
    except (TransientError, AirflowException) as exc:
        scrub_chain(exc)
        raise
    except Exception as exc:
        message = redact(f"{what}: {type(exc).__name__}: {exc}")
        if scrub_chain(exc):
            raise AirflowFailException(message) from exc
        log.error("%s failed:\n%s", what, redact("".join(traceback.format_exception(exc))).rstrip())
        raise AirflowFailException(message) from None


def data_interval(context: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime] | None:
    """The DAG run's data interval as timezone-aware UTC datetimes (None for a run without one)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None
    return (dt.datetime.fromtimestamp(start.timestamp(), tz=dt.UTC),
            dt.datetime.fromtimestamp(end.timestamp(), tz=dt.UTC))


def _runtime_setup() -> None:
    """Run-time only: feeds resolve their named connections from Airflow connections first, then
    from ``EXCHANGE_CONN_<NAME>`` (idempotent)."""
    from exchange_airflow.connections import register

    register()


@contextlib.contextmanager
def batch_run(feed_id: str) -> Iterator[BatchRun]:
    """A BatchRun of ``feed_id`` on the settings of the environment, its engine disposed after."""
    from exchange.spec.settings import Settings
    from exchange.workspace.batches import open_batch_run
    from exchange_airflow.specs import feed_catalog

    _runtime_setup()
    settings = Settings.from_env()
    with open_batch_run(feed_id, settings, feed_catalog(feed_id, settings.root)) as run:
        yield run


def _extracted(context: Mapping[str, Any]) -> dict[str, Any]:
    batch = context["ti"].xcom_pull(task_ids=EXTRACT)
    if not batch or not batch.get("batch_id"):
        raise AirflowFailException("no batch id from the extract task of this run; clear the run from extract")
    return batch


def _counts(outcome: BatchOutcome) -> dict[str, Any]:
    return {"batch_id": outcome.batch_id, "state": outcome.state, "rows_in": outcome.rows_in,
            "rows_loaded": outcome.rows_loaded, "rows_quarantined": outcome.rows_quarantined,
            "inserted": outcome.inserted, "updated": outcome.updated, "unchanged": outcome.unchanged,
            "reject_ratio": round(outcome.reject_ratio, 6)}


# --- the feed DAG's tasks ------------------------------------------------------------------------


def extract(feed_id: str, **context: Any) -> dict[str, Any]:
    """Read the source once (for incremental sources: the run's data interval) into raw Parquet."""
    interval = data_interval(context)
    from exchange.workspace.batches import feed_source

    with failing_fast(f"feed {feed_id}, extract"), batch_run(feed_id) as run, run.lock():
        outcome = run.begin(feed_source(interval))
    if outcome.already_loaded:
        log.info("feed %s: batch %s is already %s; the later tasks have nothing to do",
                 feed_id, outcome.batch_id, outcome.state)
    else:
        log.info("feed %s: batch %s extracted, %s rows", feed_id, outcome.batch_id, outcome.rows_in)
    return {"batch_id": outcome.batch_id, "already_loaded": outcome.already_loaded,
            "state": outcome.state, "rows_in": outcome.rows_in,
            "interval": [x.isoformat() for x in interval] if interval else None}


def run_stage(stage: str, feed_id: str, **context: Any) -> dict[str, Any]:
    """A stage after extract on the batch extract named (``validate``, ``stage``, ``publish``; ``load``
    has its asset event, see :func:`load`)."""
    batch = _extracted(context)
    if batch["already_loaded"]:
        log.info("feed %s: batch %s was already loaded before this run; nothing to %s", feed_id, batch["batch_id"],
                 stage)
        return {"batch_id": batch["batch_id"], "already_loaded": True}
    with failing_fast(f"feed {feed_id}, batch {batch['batch_id']}, {stage}"), batch_run(feed_id) as run, \
            run.lock():
        outcome = run.step(feed_stage(stage), batch["batch_id"])
    return _counts(outcome)


def task_call(name: str, feed_id: str) -> tuple[Callable[..., dict[str, Any]], dict[str, Any]]:
    """The callable and keyword arguments of a feed DAG's task for the stage ``name``: ``extract``
    and ``load`` have their own (the batch id's XCom; the asset event), the others ``run_stage``."""
    if name == EXTRACT:
        return extract, {"feed_id": feed_id}
    if name == LOAD:
        return load, {"feed_id": feed_id}
    return run_stage, {"stage": name, "feed_id": feed_id}


def feed_stage(name: str) -> Any:
    from exchange.workspace.batches import feed_stage as stage

    return stage(name)


def load(feed_id: str, **context: Any) -> dict[str, Any]:
    """Quarantine the rejects and upsert the valid rows into ``core.<entity>``.

    Emits the asset event of ``core.<entity>`` (the task's outlet) only when rows of that table
    were inserted or updated: a batch already loaded, or one whose rows were all unchanged,
    ends this task as *skipped* — no asset event, so downstream DAGs do not run for nothing.
    Over the feed's reject ratio, the DataQualityError fails the task at once.
    """
    batch = _extracted(context)
    if batch["already_loaded"]:
        raise AirflowSkipException(f"feed {feed_id}: batch {batch['batch_id']} was already loaded; "
                                   f"no rows changed, no asset event")
    with failing_fast(f"feed {feed_id}, batch {batch['batch_id']}, load"), batch_run(feed_id) as run, \
            run.lock():
        outcome = run.step(feed_stage(LOAD), batch["batch_id"])
        entity = run.schema.name
    counts = _counts(outcome)
    log.info("feed %s: batch %s loaded: %s inserted, %s updated, %s unchanged, %s quarantined",
             feed_id, outcome.batch_id, outcome.inserted, outcome.updated, outcome.unchanged,
             outcome.rows_quarantined)
    if outcome.inserted + outcome.updated == 0:
        raise AirflowSkipException(f"feed {feed_id}: batch {outcome.batch_id} loaded, but no row of core.{entity} "
                                   f"was inserted or updated; no asset event")
    events = context["outlet_events"]
    for asset in context["task"].outlets:
        events[asset].extra = {"feed": feed_id, **counts}
    return counts


# --- downstream DAGs -------------------------------------------------------------------------------


def triggering_batches(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The feed batches whose asset events started this run (ids and counts from the events' extra)."""
    found = []
    events = context.get("triggering_asset_events") or {}
    for asset, asset_events in events.items():
        for event in asset_events:
            extra = dict(getattr(event, "extra", None) or {})
            found.append({"asset": getattr(asset, "name", str(asset)), "feed": extra.get("feed"),
                          "batch_id": extra.get("batch_id"), "inserted": extra.get("inserted"),
                          "updated": extra.get("updated")})
    return found


def _triggered(context: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    """The batches that started this downstream run, logged as ``what`` triggered by them."""
    batches = triggering_batches(context)
    log.info("%s triggered by %s asset event(s): %s", what, len(batches),
             ", ".join(f"{b['asset']} ← {b['feed']} batch {b['batch_id']}" for b in batches) or "(manual run)")
    return batches


def _settings_and_catalog() -> tuple[Any, Any]:
    from exchange.spec.settings import Settings
    from exchange_airflow.specs import load_specs

    _runtime_setup()
    settings = Settings.from_env()
    return settings, load_specs(settings.root).catalog


def link_persons(**context: Any) -> dict[str, Any]:
    """Link the person records of the warehouse into the master person index (``mdm.person``)."""
    batches = _triggered(context, "person linking")
    with failing_fast("person linking"):
        from exchange.workspace.persons import link_persons as linker
        from exchange.workspace.space import Workspace

        settings, catalog = _settings_and_catalog()
        with Workspace(settings, catalog):
            result = linker()
    summary = _summary(result)
    log.info("person linking done: %s", summary)
    return {"triggered_by": [b["batch_id"] for b in batches], **summary}


def index_elements(**context: Any) -> dict[str, Any]:
    """Bring the element index up to every batch in core it lacks (``exchange search-index``)."""
    batches = _triggered(context, "element index")
    with failing_fast("element index"):
        from exchange.workspace.investigate import reindex
        from exchange.workspace.space import Workspace

        settings, catalog = _settings_and_catalog()
        with Workspace(settings, catalog):
            counts = reindex(settings, say=log.info)
    return {"triggered_by": [b["batch_id"] for b in batches], "elements": counts}


def publish_catalog(**context: Any) -> dict[str, Any]:
    """Refresh what consumers and auditors read after a core table changed (the reports index and
    the catalog snapshot; the grants' share views join here when they exist)."""
    batches = _triggered(context, "publishing")
    with failing_fast("publish shares"):
        from exchange.workspace.batches import publish_catalog as publish
        from exchange.workspace.space import Workspace

        settings, catalog = _settings_and_catalog()
        with Workspace(settings, catalog):
            snapshot = publish()
    return {"triggered_by": [b["batch_id"] for b in batches], **_summary(snapshot)}


def ops_check(**context: Any) -> dict[str, Any]:
    """Feed health and the ledger's verification; alerts raised and resolved (``exchange ops check``)."""
    with failing_fast("operations check"):
        from exchange.workspace.ops import check
        from exchange.workspace.space import Workspace

        settings, catalog = _settings_and_catalog()
        with Workspace(settings, catalog):
            result = check()
    states: dict[str, int] = {}
    for h in result.health:
        states[h.state] = states.get(h.state, 0) + 1
        if h.state != "ok":
            log.info("feed %s: %s (%s)", h.feed, h.state, "; ".join(h.reasons))
    return {"states": states, "fired": result.fired, "resolved": result.resolved,
            "still_firing": result.still_firing, "messages": len(result.deliveries)}


def _summary(result: Any) -> dict[str, Any]:
    """Ids and counts of a runner result, fit for an XCom (no row values)."""
    if result is None:
        return {}
    if isinstance(result, Mapping):
        data = dict(result)
    elif hasattr(result, "__dataclass_fields__"):
        import dataclasses

        data = dataclasses.asdict(result)
    else:
        return {"result": str(result)}
    return {k: v for k, v in data.items() if isinstance(v, int | float | str | bool) or v is None
            or (isinstance(v, dict) and all(isinstance(x, int | float | str | bool) for x in v.values()))}
