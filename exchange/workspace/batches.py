"""The batches component: run a feed through its stages, check a file without loading it, reprocess
quarantined rows, list the ledger's batches, migrate the warehouse. The stages and their driver are
in :mod:`exchange.pipeline`; :mod:`exchange.runner` composes them."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from exchange.pipeline.driver import BatchRun
from exchange.pipeline.extract import ConnectorSource
from exchange.pipeline.plans import FEED
from exchange.pipeline.reprocess import reprocess_quarantine
from exchange.pipeline.stage import Stage
from exchange.runner import (
    BatchOutcome,
    ValidationReport,
    migrate_warehouse,
    publish_catalog,
    recent_batches,
    run_feed,
    run_tolerant,
    validate_file,
)
from exchange.spec.catalog import Catalog
from exchange.spec.settings import Settings

__all__ = ["BatchOutcome", "BatchRun", "ValidationReport", "feed_source", "feed_stage", "migrate_warehouse",
           "open_batch_run", "publish_catalog", "recent_batches", "reprocess_quarantine", "run_feed", "run_tolerant",
           "validate_file"]


@contextlib.contextmanager
def open_batch_run(feed_id: str, settings: Settings, catalog: Catalog) -> Iterator[BatchRun]:
    """The driver of ``feed_id``'s batches, for running one stage at a time (an Airflow task); its
    engine disposed after."""
    run = BatchRun(feed_id, settings=settings, catalog=catalog)
    try:
        yield run
    finally:
        run.engine.dispose()


def feed_stage(name: str) -> Stage:
    """The feed pipeline's stage ``name`` (one after extract)."""
    return FEED.stage(name)


def feed_source(interval: tuple[dt.datetime, dt.datetime] | None) -> ConnectorSource:
    """The feed's own source for extract, reading ``interval`` when the source is incremental."""
    return ConnectorSource(interval)
