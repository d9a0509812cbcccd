"""The load stage: the verified staged files into the warehouse in one transaction with the ledger
entry and the feed's saved state — the rejects into ``quarantine.<entity>``, the valid rows upserted
into ``core.<entity>``. A batch over its reject ratio has failed at validate already; should one
arrive here anyway (a batch staged by an older version, resumed), it fails the same way."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exchange import staging
from exchange.audit import ledger
from exchange.audit import records as audit_records
from exchange.errors import DataQualityError, TerminalError
from exchange.pipeline.checking import Progress
from exchange.pipeline.records import BatchOutcome, Extracted, Validated
from exchange.pipeline.stage import Stage
from exchange.pipeline.stamps import now
from exchange.spec import faults
from exchange.warehouse.load import UpsertCounts, load_quarantine, upsert_core
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun
    from exchange.pipeline.preload import Preload

log = logging.getLogger(__name__)


class _NotAsSealed(Exception):
    """What was copied while validating is not what the sealed files hold."""


@dataclass
class Verified:
    """A sealed batch checked against its manifest, and what its earlier stages recorded."""

    manifest: staging.Manifest
    extracted: Extracted
    validated: Validated
    error: str | None = None
    """Set when the batch is over its reject ratio."""
    preloaded: Preload | None = None
    """The valid rows already copied in this run, in the transaction the load then takes over."""

    @property
    def reject_ratio(self) -> float:
        m = self.manifest
        return m.rows_rejected / m.rows_in if m.rows_in else 0.0


class Load(Stage):
    name = "load"

    def work(self, run: BatchRun, batch_id: str, progress: Progress | None) -> Verified:
        folder = run.folder(batch_id)
        preloaded = run.take_preload(batch_id)
        try:
            done = Verified(staging.verify(folder), Extracted.read(folder), Validated.read(folder))
            if preloaded is not None:
                preloaded.end()  # the COPY finished (its error raised here)
                if done.reject_ratio > run.feed.quality.max_reject_ratio or \
                        preloaded.upsert.copied != done.manifest.rows_valid:
                    raise _NotAsSealed(f"batch {batch_id}: copied {preloaded.upsert.copied} rows while validating, "
                                       f"the sealed valid.parquet holds {done.manifest.rows_valid}")
        except _NotAsSealed as exc:  # the sealed files decide: loaded from them, as without the overlap
            log.warning("%s; loading from the sealed files", exc)
            preloaded.discard()  # type: ignore[union-attr]
            preloaded = None
        except BaseException:
            if preloaded is not None:
                preloaded.discard()
            raise
        done.preloaded = preloaded
        return done

    def transaction(self, run: BatchRun, batch_id: str, done: Verified) -> AbstractContextManager[Connection]:
        return done.preloaded.transaction() if done.preloaded is not None else run.engine.begin()

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Verified) -> dict[str, Any]:
        folder, feed, manifest = run.folder(batch_id), run.feed, done.manifest
        over = done.reject_ratio > feed.quality.max_reject_ratio
        tables, at, counts = EntityTables(run.schema), now(), UpsertCounts()
        quarantined = load_quarantine(conn, tables, batch_id=batch_id, agency=feed.agency,
                                      batches=staging.read_batches(folder / staging.REJECTS), now=at)
        if not over and done.preloaded is not None:
            counts = done.preloaded.upsert.finish()
        elif not over:
            counts = upsert_core(conn, tables, batch_id=batch_id, agency=feed.agency,
                                 batches=staging.read_batches(folder / staging.VALID), now=at, unique_keys=True)
        if not over and done.extracted.new_state is not None:
            ledger.save_feed_state(conn, feed.feed_id, done.extracted.new_state, batch_id=batch_id, now=at)
        loaded = counts.total
        if quarantined != manifest.rows_rejected or (not over and loaded != manifest.rows_valid) \
                or manifest.rows_in != manifest.rows_valid + manifest.rows_rejected:
            raise TerminalError(f"batch {batch_id}: staged {manifest.rows_valid} valid / "
                                f"{manifest.rows_rejected} rejected of {manifest.rows_in} rows but loaded "
                                f"{loaded} / {quarantined}; the load was rolled back")
        faults.point("load.before_ledger")
        if over:
            done.error = (f"DataQualityError: reject ratio {done.reject_ratio:.1%} exceeds the feed's "
                          f"max_reject_ratio {feed.quality.max_reject_ratio:.1%}; nothing was published, "
                          f"{quarantined} rows are in quarantine.{run.schema.name} and {manifest.rows_valid} "
                          f"valid rows are held in {folder}")
        if run.held is not None:
            run.held.check(conn)  # the feed's lock survived (a server restart drops it)
        return {"state": "failed" if over else "loaded", "rows_valid": manifest.rows_valid, "rows_loaded": loaded,
                "rows_quarantined": quarantined, "rows_flagged": 0 if over else done.validated.rows_flagged,
                "rows_inserted": counts.inserted, "rows_updated": counts.updated, "rows_unchanged": counts.unchanged,
                "reject_ratio": done.reject_ratio, "error": done.error, "finished_at": now()}

    def record(self, run: BatchRun, conn: Connection, batch_id: str, done: Verified) -> None:
        audit_records.record_load(conn, batch_id)  # hash-chained outcome

    def finish(self, run: BatchRun, batch_id: str, done: Verified, outcome: BatchOutcome) -> BatchOutcome:
        faults.point("load.committed")
        if done.error:
            exc = DataQualityError(f"feed {run.feed.feed_id}, batch {batch_id}: {done.error}")
            exc.outcome = outcome  # type: ignore[attr-defined]
            raise exc
        return outcome
