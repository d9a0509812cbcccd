"""The DAG factory: one Airflow DAG per feed spec, written in YAML, never in Python.

Every valid ``feeds/<agency>/<feed>.yaml`` becomes the DAG ``feed.<agency>.<feed>``::

    extract → validate → stage → load → publish

Each task is a :class:`PythonOperator` calling :mod:`exchange_airflow.tasks` with the feed id
(the data interval comes from the run). ``load`` has the feed's core table as outlet
(:mod:`exchange_airflow.assets`); ``publish`` also runs after a skipped ``load`` (nothing new
to load is not a failure). Owner, tags, description and docs come from the spec; the schedule
is the spec's cron expression or preset, with real data intervals (``@daily`` runs over the
previous day), so incremental sources read the run's window and a backfill over a date range
is one run per interval.

A spec that is invalid is left out and reported by ``exchange_feed_errors.py`` as an import
error naming the file and every problem in it, while the other feeds load. With
``EXCHANGE_DAGS_STRICT=1`` (CI) the feeds DAG file itself fails instead.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from typing import Any

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import (
    DAG,
    CronDataIntervalTimetable,
    DeadlineAlert,
    DeadlineReference,
    SyncCallback,
    TriggerRule,
    chain,
)
from airflow.sdk.configuration import conf

from exchange.spec.feed import FeedSpec
from exchange.spec.schema import EntitySchema
from exchange_airflow import tasks
from exchange_airflow.assets import core_asset
from exchange_airflow.notify import ExchangeAlertNotifier
from exchange_airflow.specs import FeedSpecs, load_specs, strict_mode

DAG_ID_PREFIX = "feed."
START_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
"""First data interval a backfill may start from; runs before it are never created."""

RETRIES = 3
RETRY_DELAY = dt.timedelta(minutes=1)
MAX_RETRY_DELAY = dt.timedelta(minutes=15)
TIMEOUT_ENV = "EXCHANGE_TASK_TIMEOUT"
"""A task running longer than this (a duration: 90m, 4h) is failed, so a hung source cannot hold a worker."""
HEAVY_POOL_ENV = "EXCHANGE_HEAVY_POOL"
"""The Airflow pool of the heavy tasks (validate; person linking): a pool of a few slots keeps them from
taking every worker slot from the light ones (create it: ``airflow pools set exchange_heavy 2 …``)."""
HEAVY_TASKS = ("validate",)
RUN_DEADLINE_ENV = "EXCHANGE_RUN_DEADLINE"
"""A feed run not finished this long after it was queued (a duration: 4h, 90m; ``off``: no deadline) is
an alert (Airflow's deadline alert, its callback run by the executor)."""


def task_timeout() -> dt.timedelta:
    from exchange.spec.feed import duration_seconds

    return dt.timedelta(seconds=duration_seconds(os.environ.get(TIMEOUT_ENV) or "2h"))


def heavy_pool() -> str:
    return os.environ.get(HEAVY_POOL_ENV) or "default_pool"


def run_deadline(feed_id: str) -> DeadlineAlert | None:
    """The deadline of a feed's runs: ``EXCHANGE_RUN_DEADLINE`` (default 4h) after a run is queued —
    waiting for a pool slot counts, as the data's consumers wait too."""
    from exchange.spec.feed import duration_seconds
    from exchange_airflow.notify import run_overdue

    text = (os.environ.get(RUN_DEADLINE_ENV) or "4h").strip()
    if text.lower() in ("off", "none", "0"):
        return None
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT,
                         interval=dt.timedelta(seconds=duration_seconds(text)),
                         callback=SyncCallback(run_overdue, kwargs={"feed_id": feed_id}))

TASK_DOCS = {
    "extract": "Read the source once (for incremental sources: the run's data interval) into raw Parquet. "
                   "The batch id, derived from the source's fingerprint, goes to the later tasks as an XCom; "
                   "a batch already loaded makes them no-ops.",
    "validate": "Map the agency's columns to the canonical fields and validate every row with the schema's "
                    "Great Expectations suite; rejected rows are staged with their reasons.",
    "stage": "Seal the staged Parquet files with a SHA-256 manifest.",
    "load": "Quarantine the rejected rows; upsert the valid ones into the core table unless the batch is over "
                "its reject ratio (then the task fails at once). Emits the core table's asset event when rows "
                "were inserted or updated; skipped when nothing changed.",
    "publish": "Mark the batch published and refresh the validation reports index.",
}


def feed_dag_id(feed_id: str) -> str:
    """``police.residents`` → ``feed.police.residents`` (stable: the DAG's history hangs on it)."""
    return f"{DAG_ID_PREFIX}{feed_id}"


def default_timezone() -> Any:
    """Airflow's ``[core] default_timezone`` (the schedules' cron expressions are read in it)."""
    name = conf.get("core", "default_timezone", fallback="utc")
    return pendulum.local_timezone() if name == "system" else pendulum.timezone(name)


def timetable(schedule: str | None) -> Any:
    """A spec's schedule as a timetable with real data intervals (``None``: triggered only), shown in
    Airflow as written (:class:`~exchange_airflow.timetables.WrittenCron`) where its plugin is loaded."""
    if schedule is None or schedule in ("@once", "@continuous"):
        return schedule
    if written_cron_registered():
        from exchange_airflow.timetables import WrittenCron

        return WrittenCron(schedule, timezone=default_timezone())
    return CronDataIntervalTimetable(schedule, timezone=default_timezone())


@functools.cache
def written_cron_registered() -> bool:
    from exchange_airflow.timetables import registered

    return registered()


def dag_tags(spec: FeedSpec, schema: EntitySchema) -> list[str]:
    return list(dict.fromkeys([*spec.tags, f"agency:{spec.agency}", f"entity:{schema.name}", "exchange-feed"]))


def dag_doc(spec: FeedSpec, schema: EntitySchema, spec_file: str) -> str:
    source = spec.source
    where = getattr(source, "summary", None)
    lines = [
        f"# {spec.feed_id}",
        "",
        spec.description.strip(),
        "",
        "| | |",
        "| --- | --- |",
        f"| spec | `{spec_file}` |",
        f"| agency / owner | {spec.agency} / {spec.owner} |",
        f"| source | {where() if callable(where) else source.kind} |",
        f"| target | `core.{schema.name}` (schema {schema.name} {schema.version}, `{spec.target}`) |",
        f"| natural key | {', '.join(spec.key)} |",
        f"| max reject ratio | {spec.quality.max_reject_ratio:.1%} |",
        f"| schedule | {spec.schedule or 'triggered only'} |",
        f"| new data expected | {_freshness(spec)} |",
        f"| contact | {spec.contact or spec.owner} |",
        "",
        f"Same work as `exchange run {spec.feed_id}`. Rejected rows land in `quarantine.{schema.name}` with their "
        f"reasons; every batch is in `audit.batch`. `load` emits the asset `core.{schema.name}` when rows changed.",
    ]
    return "\n".join(lines)


def _freshness(spec: FeedSpec) -> str:
    if spec.freshness is None:
        return "not declared (no lateness alert)"
    return f"every {spec.freshness.expect_every} (+{spec.freshness.grace} grace); health: /exchange/health"


def feed_dag(spec: FeedSpec, schema: EntitySchema, spec_file: str) -> DAG:
    """The DAG of one feed (see the module docstring)."""
    with DAG(
        dag_id=feed_dag_id(spec.feed_id),
        description=" ".join(spec.description.split())[:200],
        schedule=timetable(spec.schedule),
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        tags=dag_tags(spec, schema),
        doc_md=dag_doc(spec, schema, spec_file),
        deadline=run_deadline(spec.feed_id),
        default_args={
            "owner": spec.owner,
            "retries": RETRIES,
            "retry_delay": RETRY_DELAY,
            "retry_exponential_backoff": True,
            "max_retry_delay": MAX_RETRY_DELAY,
            "execution_timeout": task_timeout(),
            "on_failure_callback": [ExchangeAlertNotifier(spec.feed_id)],
        },
    ) as dag:
        ops = []
        for name in tasks.FEED_TASKS:  # the pipeline's stages, in order
            call, kwargs = tasks.task_call(name, spec.feed_id)
            extra: dict[str, Any] = {"python_callable": call, "op_kwargs": kwargs}
            if name == tasks.LOAD:
                extra["outlets"] = [core_asset(schema.name)]
            if name in HEAVY_TASKS:
                extra["pool"] = heavy_pool()
            if name == "publish":
                extra["trigger_rule"] = TriggerRule.NONE_FAILED  # after a skipped load too
            ops.append(PythonOperator(task_id=name, doc_md=TASK_DOCS[name], **extra))
        chain(*ops)
    return dag


def build_feed_dags(specs: FeedSpecs | None = None, *, strict: bool | None = None) -> dict[str, DAG]:
    """One DAG per valid feed spec, by DAG id. Strict (default: ``EXCHANGE_DAGS_STRICT``): any
    invalid spec raises a ConfigError listing every problem, each with its file."""
    specs = specs or load_specs()
    if (strict_mode() if strict is None else strict) and specs.problems:
        raise specs.error()
    catalog = specs.catalog
    return {feed_dag_id(fid): feed_dag(spec, catalog.schema_for(spec), catalog.feed_files[fid])
            for fid, spec in sorted(catalog.feeds.items())}
