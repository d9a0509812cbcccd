"""The runner: composes the stages of a batch (:mod:`exchange.pipeline`) for the CLI, the workspace's
components and the Airflow tasks, and checks a file without loading it.

extract (connector → raw Parquet) → validate (map + GX → valid / rejected Parquet)
→ stage (manifest with SHA-256: sealed) → load (quarantine always; core by upsert unless the
batch is over its reject ratio) → publish; each stage recorded in ``audit.batch``, with the
invariant rows_in = rows_valid + rows_quarantined. ``run_feed`` runs them all under the feed's
lock; an Airflow task runs one (``exchange_airflow.tasks``), through the same driver.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from connectors import connector_for
from exchange.errors import DataQualityError
from exchange.pipeline.checking import FeedChecks, Progress
from exchange.pipeline.driver import BatchRun
from exchange.pipeline.extract import ConnectorSource
from exchange.pipeline.plans import FEED
from exchange.pipeline.publish import refresh_reports_index
from exchange.pipeline.records import BatchOutcome
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.feed import FileSourceSpec
from exchange.spec.schema import FLAGS, SOURCE_RECORD_ID
from exchange.spec.settings import Settings
from exchange.warehouse.outages import outages_as_transient

log = logging.getLogger(__name__)

__all__ = ["BatchOutcome", "ValidationReport", "refresh_reports_index", "run_feed", "run_tolerant", "validate_file"]


def run_feed(feed_id: str, *, settings: Settings | None = None, catalog: Catalog | None = None,
             progress: Progress | None = None, today: dt.date | None = None,
             interval: tuple[dt.datetime, dt.datetime] | None = None, index: bool = True) -> BatchOutcome:
    """Run one batch of ``feed_id`` through every stage; safe to re-run (``exchange.pipeline.driver``).

    ``interval`` is the data interval of the run (Airflow's), for incremental sources. With ``index``
    the element index then takes the table's published batches (else Airflow's
    ``exchange.index_elements`` or ``exchange search-index`` does).
    """
    run = BatchRun(feed_id, settings=settings, catalog=catalog, today=today)
    failed = False
    try:
        return FEED.run(run, ConnectorSource(interval), progress, index=index)
    except BaseException:
        failed = True
        raise
    finally:
        try:
            with outages_as_transient(run.engine, f"feed {feed_id}: refreshing the reports index"):
                refresh_reports_index(run.engine, run.settings)
        except Exception as exc:
            if not failed:
                raise
            log.warning("feed %s: reports index not refreshed (%s)", feed_id, exc)  # keep the run's own error
        finally:
            run.engine.dispose()


def run_tolerant(feed_id: str, settings: Settings, catalog: Catalog) -> BatchOutcome:
    """``run_feed``, a batch over its reject ratio answered as its outcome rather than raised."""
    try:
        return run_feed(feed_id, settings=settings, catalog=catalog)
    except DataQualityError as exc:
        return exc.outcome  # type: ignore[attr-defined]


@dataclass
class ValidationReport:
    feed: str
    rows_in: int
    rows_valid: int
    rows_rejected: int
    max_reject_ratio: float
    rejects: list[dict[str, Any]]
    rows_flagged: int = 0
    """Valid rows that load with flagged fields (inside rows_valid)."""
    flagged: list[dict[str, Any]] = field(default_factory=list)
    """The first of them: record, source_record_id and the flags (shaped like reasons)."""
    notes: list[str] = field(default_factory=list)
    """What the batch report would say of the file as a whole (a column a spreadsheet rounded, ...)."""

    @property
    def reject_ratio(self) -> float:
        return self.rows_rejected / self.rows_in if self.rows_in else 0.0


def validate_file(path: Path, feed_id: str, *, settings: Settings | None = None,
                  catalog: Catalog | None = None, progress: Progress | None = None,
                  keep: int = 1000, today: dt.date | None = None) -> ValidationReport:
    """Map and validate ``path`` as ``feed_id`` would, without staging or loading anything."""
    settings = settings or Settings.from_env()
    catalog = catalog or load_catalog(settings.root)
    run = FeedChecks(catalog, feed_id, settings, today=today)
    path = path.resolve()
    declared = run.feed.source  # a sample of a sql/http feed is checked as a plain file
    source = (declared.model_copy(update={"path": path.name, "mode": "snapshot"}) if declared.kind == "file"
              else FileSourceSpec(kind="file", path=path.name))
    connector = connector_for(source, base_dir=path.parent, feed_id=feed_id, batch_rows=settings.batch_rows)
    validator = run.validator()
    rejects: list[dict[str, Any]] = []

    def on_reject(table: pa.Table) -> None:
        for r in table.slice(0, max(0, keep - len(rejects))).to_pylist():
            rejects.append({"row": r["_source_row"], "source_record_id": r["source_record_id"],
                            "reasons": json.loads(r["reasons"])})

    flagged: list[dict[str, Any]] = []

    def on_valid(table: pa.Table) -> None:
        if len(flagged) >= keep:
            return
        rows = table.filter(pc.is_valid(table.column(FLAGS))).select(["_source_row", SOURCE_RECORD_ID, FLAGS])
        for r in rows.slice(0, keep - len(flagged)).to_pylist():
            flagged.append({"row": r["_source_row"], "source_record_id": r[SOURCE_RECORD_ID],
                            "reasons": json.loads(r[FLAGS])})

    split = run.stream(connector.batches(), validator, on_valid, on_reject, progress, notes=connector.notes)
    run.check_empty_source(connector, split)
    notes = [*connector.notes(), *split.notes]
    return ValidationReport(feed=feed_id, rows_in=split.rows_in, rows_valid=split.rows_valid,
                            rows_rejected=split.rows_rejected,
                            max_reject_ratio=run.feed.quality.max_reject_ratio, rejects=rejects,
                            rows_flagged=split.rows_flagged, flagged=flagged, notes=notes)
