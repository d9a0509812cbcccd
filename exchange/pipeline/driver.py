"""The driver: runs a batch's stages, doing once for all of them what every stage needs — skip if
done, the resume point of a new attempt, timing, the ledger state (committed with the stage's own
warehouse writes), failure handling, and warehouse outages raised as ``TransientError``.

Crashes and outages: every stage commits its work and its ledger state in one transaction and
writes files under temporary names, so a run killed anywhere leaves the batch at its last recorded
stage; the next run records a new attempt and goes on from there
(tests/integration/test_crash_recovery.py kills one at every fault point). A warehouse outage
(connection lost, server restarting, deadlock) is raised as ``TransientError``
(``exchange.warehouse.outages``), which Airflow retries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exchange import staging
from exchange.audit import attempts, ledger
from exchange.audit import tables as audit_tables
from exchange.errors import TerminalError, TransientError
from exchange.pipeline import order
from exchange.pipeline.checking import FeedChecks, Progress
from exchange.pipeline.extract import Extract
from exchange.pipeline.records import BatchOutcome, Validated
from exchange.pipeline.stage import Source, Stage

if TYPE_CHECKING:
    from exchange.pipeline.preload import Preload
from exchange.pipeline.stamps import code_version, now
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables
from exchange.warehouse.locks import HeldLock, feed_lock
from exchange.warehouse.outages import as_transient, outages_as_transient

log = logging.getLogger(__name__)

VALIDATE_CHUNK_FACTOR = 4


class BatchRun:
    """One feed's batches through a pipeline's stages; what ``run_feed`` and the Airflow tasks drive."""

    def __init__(self, feed_id: str, *, settings: Settings | None = None, catalog: Catalog | None = None,
                 today: dt.date | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.catalog = catalog or load_catalog(self.settings.root)
        self.checks = FeedChecks(self.catalog, feed_id, self.settings, today=today)
        self.feed, self.schema = self.checks.feed, self.checks.schema
        self.engine = make_engine(self.settings.warehouse_url, root=self.settings.root)
        self.held: HeldLock | None = None
        self.overlap = False
        """Copy the valid rows into core while validating (``exchange.pipeline.preload``): set by a pipeline
        that validates and loads in this process, on a server warehouse."""
        self.preload: Preload | None = None
        with outages_as_transient(self.engine, f"feed {feed_id}: preparing the warehouse tables"):
            ensure_tables(self.engine, [self.schema], audit_tables.metadata)

    # --- what stages share ----------------------------------------------------------------------

    @property
    def validate_rows(self) -> int:
        """Rows per validated chunk: GX has a fixed cost per chunk it validates (building its metric
        graph and results: about as much as the checks of 50,000 rows), so validation reads the staged
        raw rows ``VALIDATE_CHUNK_FACTOR`` × ``EXCHANGE_BATCH_ROWS`` at a time."""
        return self.settings.batch_rows * VALIDATE_CHUNK_FACTOR

    def folder(self, batch_id: str) -> Path:
        return staging.batch_dir(self.settings.staging_dir, self.feed.feed_id, batch_id)

    @contextlib.contextmanager
    def lock(self) -> Iterator[HeldLock]:
        """The feed's lock for the block; a load checks it still holds it before committing."""
        with outages_as_transient(self.engine, f"feed {self.feed.feed_id}"), \
                feed_lock(self.engine, self.feed.feed_id, wait_seconds=self.settings.lock_wait) as held:
            self.held = held
            try:
                yield held
            finally:
                self.held = None

    def ledger_row(self, batch_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return ledger.get_batch(conn, batch_id)

    def outcome(self, batch_id: str, **extra: Any) -> BatchOutcome:
        """The batch as the ledger has it, with the top reasons of its validation when it has one."""
        row = self.ledger_row(batch_id) or {}
        checked = self.folder(batch_id) / Validated.FILE
        if "top_reasons" not in extra and checked.exists():
            extra["top_reasons"] = [tuple(r) for r in Validated.read(checked.parent).top_reasons]
        return BatchOutcome(
            feed=self.feed.feed_id, batch_id=batch_id, state=row.get("state", "started"),
            rows_in=row.get("rows_in") or 0, rows_loaded=row.get("rows_loaded") or 0,
            rows_quarantined=row.get("rows_quarantined") or 0, rows_flagged=row.get("rows_flagged") or 0,
            inserted=row.get("rows_inserted") or 0,
            updated=row.get("rows_updated") or 0, unchanged=row.get("rows_unchanged") or 0,
            reject_ratio=row.get("reject_ratio") or 0.0, max_reject_ratio=self.feed.quality.max_reject_ratio,
            report_path=row.get("report_path"), staging_path=row.get("staging_path"), error=row.get("error"),
            timings=json.loads(row.get("timings") or "{}"), notes=json.loads(row.get("notes") or "[]"), **extra)

    def start_preload(self, batch_id: str) -> Preload | None:
        """The copy of ``batch_id``'s valid rows as they are validated, when this run overlaps them."""
        self.discard_preload()
        if self.overlap:
            from exchange.pipeline.preload import Preload

            self.preload = Preload(self, batch_id)
        return self.preload

    def take_preload(self, batch_id: str) -> Preload | None:
        """The load stage takes the copy of its batch's rows, if one was made in this run."""
        found, self.preload = self.preload, None
        if found is not None and found.batch_id != batch_id:
            found.discard()
            return None
        return found

    def discard_preload(self) -> None:
        if self.preload is not None:
            found, self.preload = self.preload, None
            found.discard()

    def doing(self, batch_id: str | None, stage: str) -> str:
        return f"feed {self.feed.feed_id}" + (f", batch {batch_id}" if batch_id else "") + f": {stage}"

    # --- driving ----------------------------------------------------------------------------------

    def begin(self, source: Source, progress: Progress | None = None) -> BatchOutcome:
        """The extract stage: open the source's batch; a batch already loaded is left alone, one an
        earlier attempt left part-way goes on from its resume point, any other is extracted anew."""
        with outages_as_transient(self.engine, self.doing(None, "extract")):
            try:
                opened = source.open(self)
            except BaseException as exc:  # before any batch exists: on record as the feed's attempt
                self._attempt_failed(None, exc, "extract")
                raise
            if opened is None:
                return BatchOutcome(feed=self.feed.feed_id, batch_id="", state=source.nothing,
                                    max_reject_ratio=self.feed.quality.max_reject_ratio)
            batch_id = opened.batch_id
            prior = self.ledger_row(batch_id)
            if prior and prior["state"] in order.DONE:
                log.info("batch %s of %s is already %s; nothing to do", batch_id, self.feed.feed_id, prior["state"])
                with self.engine.begin() as conn:
                    attempts.record_attempt(conn, feed=self.feed.feed_id, stage="extract", batch_id=batch_id,
                                            outcome=attempts.NO_NEW_DATA, rows_in=prior.get("rows_in"), at=now())
                return self.outcome(batch_id, already_loaded=True)
            folder = self.folder(batch_id)
            staging.discard_partial(folder)  # what a killed attempt was writing (we hold the feed's lock)
            point = self._resume_point(prior, folder)
            if point is not None:
                with self.engine.begin() as conn:
                    attempt = ledger.resume_batch(conn, batch_id, state=point)
                log.info("batch %s of %s: attempt %s resumes after %s", batch_id, self.feed.feed_id, attempt, point)
                return self.outcome(batch_id)
            with self.engine.begin() as conn:
                ledger.start_batch(conn, batch_id=batch_id, feed=self.feed.feed_id, agency=self.feed.agency,
                                   entity=self.schema.name, schema_version=self.schema.version,
                                   fingerprint=opened.fingerprint, source=opened.describe(),
                                   code_version=code_version(self.settings.root),
                                   max_reject_ratio=self.feed.quality.max_reject_ratio, now=now())
            return self._run(Extract(opened), batch_id, progress)

    def step(self, stage: Stage, batch_id: str, progress: Progress | None = None) -> BatchOutcome:
        """Run one stage of a batch, unless the batch is already past it."""
        with outages_as_transient(self.engine, self.doing(batch_id, stage.name)):
            prior = self.ledger_row(batch_id)
            state = prior["state"] if prior else None
            if stage.needs and state not in stage.needs:
                raise TerminalError(f"batch {batch_id} of {self.feed.feed_id} is {state or 'unknown'}, not "
                                    f"{' or '.join(stage.needs)}; nothing to {stage.name}")
            folder = self.folder(batch_id)
            if state is not None and order.rank(state) >= order.rank(stage.state) and (
                    state in order.DONE or all((folder / name).exists() for name in stage.outputs)):
                return self.outcome(batch_id, already_loaded=state in order.DONE)  # already past it
            return self._run(stage, batch_id, progress)

    def _run(self, stage: Stage, batch_id: str, progress: Progress | None) -> BatchOutcome:
        t = time.perf_counter()
        try:
            done = stage.work(self, batch_id, progress)
            with stage.transaction(self, batch_id, done) as conn:
                fields = stage.commit(self, conn, batch_id, done)
                state = fields.pop("state", stage.state)
                ledger.set_state(conn, batch_id, state, **fields,
                                 timings=self._timed(conn, batch_id, stage.name, time.perf_counter() - t))
                stage.record(self, conn, batch_id, done)
        except BaseException as exc:
            self._failed(batch_id, exc, stage.name)
            raise
        return stage.finish(self, batch_id, done, self.outcome(batch_id))

    @staticmethod
    def _timed(conn: Any, batch_id: str, stage: str, seconds: float) -> dict[str, float]:
        row = ledger.get_batch(conn, batch_id) or {}
        timings = json.loads(row.get("timings") or "{}")
        timings[stage] = round(seconds, 3)
        return timings

    def _failed(self, batch_id: str, exc: BaseException, stage: str) -> None:
        """Record the batch failed with its error; a warehouse outage is raised as TransientError.

        Called while ``exc`` propagates. If the warehouse is down the failure cannot be recorded:
        the batch then stays at its last recorded stage, from where the next run resumes."""
        mapped = self._attempt_failed(batch_id, exc, stage)
        if mapped is not None:
            raise mapped from exc

    def _attempt_failed(self, batch_id: str | None, exc: BaseException, stage: str) -> Exception | None:
        """Put the failure on record — the batch's state (when it has one) and the feed's attempt —
        and return the TransientError a warehouse outage maps to (None for any other error)."""
        mapped = as_transient(exc, self.engine, self.doing(batch_id, stage)) if isinstance(exc, Exception) else None
        shown = mapped or exc
        error = f"{type(shown).__name__}: {shown}"
        try:
            with self.engine.begin() as conn:
                if batch_id and ledger.get_batch(conn, batch_id):
                    # rows are counted once validation has read every one of them; before that (a source
                    # that cannot be read, a mapped column missing) what a reader took for rows is not
                    # a count of the batch's records: a failed batch holds true counts or none
                    counts = {} if order.rank(order.step(stage).state) > order.rank("validated") \
                        else dict.fromkeys(order.COUNTS)
                    ledger.set_state(conn, batch_id, "failed", error=error, finished_at=now(), **counts)
                attempts.record_attempt(conn, feed=self.feed.feed_id, stage=stage, batch_id=batch_id,
                                        outcome=attempts.FAILED, error=error, at=now())
        except Exception as again:  # noqa: BLE001 - never hide the error that ended the stage
            log.warning("feed %s, batch %s: could not record its failure in audit.batch (%s: %s); it stays at its "
                        "last recorded stage", self.feed.feed_id, batch_id, type(again).__name__,
                        " ".join(str(again).split())[:300])
        return mapped

    def _resume_point(self, prior: dict[str, Any] | None, folder: Path) -> str | None:
        """The stage a new attempt of this batch can go on from, or None to start again from the source.

        A run interrupted part-way (killed, the machine stopped) goes on from its last recorded stage.
        A run that failed with a TransientError (the warehouse restarting, a lost connection) goes
        on from the last stage it completed — its staged files are sealed and checked again before
        they are loaded — if the code is the same; any other failure (one that would repeat, or code
        that may have been fixed since) redoes every stage."""
        if not prior or not (folder / staging.RAW).exists() or not (folder / staging.EXTRACT).exists():
            return None
        if prior["state"] != "failed":
            return prior["state"] if order.rank(prior["state"]) >= order.rank("extracted") else None
        if not str(prior.get("error") or "").startswith(f"{TransientError.__name__}:") \
                or prior.get("code_version") != code_version(self.settings.root):
            return None
        done = json.loads(prior.get("timings") or "{}")
        reached = [step.state for step in order.STEPS if step.name in done and order.rank(step.state)
                   < order.rank("loaded")]
        return reached[-1] if reached else None
