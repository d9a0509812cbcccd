"""The batches component: run a feed through its stages, check a file without loading it, reprocess
quarantined rows, list the ledger's batches, migrate the warehouse. The stages and their driver are
in :mod:`exchange.pipeline`; :mod:`exchange.runner` composes them."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import Any

from exchange.pipeline.driver import BatchRun
from exchange.pipeline.extract import ConnectorSource
from exchange.pipeline.plans import FEED
from exchange.pipeline.publish import refresh_reports_index
from exchange.pipeline.reprocess import reprocess_quarantine
from exchange.pipeline.stage import Stage
from exchange.pipeline.stamps import now
from exchange.runner import BatchOutcome, ValidationReport, run_feed, run_tolerant, validate_file
from exchange.spec.catalog import Catalog
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.workspace.space import warehouse, workspace

log = logging.getLogger(__name__)

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


CATALOG_SNAPSHOT = "catalog.json"


def publish_catalog(*, settings: Settings | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
    """Refresh what consumers and auditors read after core tables changed: the reports index and
    ``<reports>/catalog.json`` — per entity its schema version, the rows of ``core.<entity>`` and
    the last published batch (ids, counts and times only, never row values). The Airflow DAG
    ``exchange.publish_shares`` runs it on the core tables' asset events. Returns a summary."""
    from sqlalchemy import func, select

    from exchange.audit import tables as audit_tables
    from exchange.warehouse.tables import EntityTables

    with workspace(settings, catalog) as ws:
        schemas = ws.all_schemas()
        engine = ws.migrated(schemas)
        batch = audit_tables.batch
        entities: dict[str, Any] = {}
        with engine.connect() as conn:
            for schema in schemas:
                rows = conn.execute(select(func.count()).select_from(EntityTables(schema).core)).scalar_one()
                last = conn.execute(
                    select(batch.c.batch_id, batch.c.feed, batch.c.rows_loaded, batch.c.finished_at)
                    .where(batch.c.entity == schema.name, batch.c.state.in_(("loaded", "published")))
                    .order_by(batch.c.finished_at.desc(), batch.c.batch_id.desc()).limit(1)).mappings().first()
                entities[schema.name] = {
                    "table": f"core.{schema.name}", "schema_version": schema.version, "rows": int(rows),
                    "last_published_batch": ({**dict(last), "finished_at": str(last["finished_at"])}
                                             if last else None)}
        generated = now()
        index = refresh_reports_index(engine, ws.settings)
        snapshot = {"generated": generated.isoformat(), "warehouse": dialect_of(engine).name, "entities": entities}
        path = ws.settings.reports_dir / CATALOG_SNAPSHOT
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(snapshot, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        log.info("catalog snapshot of %s tables written to %s", len(entities), path)
        return {"snapshot": str(path), "reports_index": str(index), "tables": len(entities),
                "rows": {name: e["rows"] for name, e in entities.items()}}


def recent_batches(feed: str | None = None, limit: int = 20, *, settings: Settings | None = None
                   ) -> list[dict[str, Any]]:
    """The newest batches of the ledger (``audit.batch``), of one feed or all."""
    from exchange.audit import ledger

    with warehouse(settings) as engine, engine.connect() as conn:
        return ledger.recent_batches(conn, feed, limit)


def migrate_warehouse(*, settings: Settings | None = None, catalog: Catalog | None = None) -> tuple[list[str], str]:
    """Create or upgrade the warehouse for every schema: (the changes applied, the warehouse described)."""
    from exchange.warehouse.engine import describe
    from exchange.warehouse.migrate import migrate

    with workspace(settings, catalog) as ws:
        return migrate(ws.engine, ws.catalog.schemas.values()), describe(ws.engine)
