"""Pipelines: which stage object runs each step of :mod:`exchange.pipeline.order`, and how
``run_feed``, quarantine reprocessing and the Airflow tasks drive them."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from exchange.audit import ledger
from exchange.pipeline import order
from exchange.pipeline.checking import Progress
from exchange.pipeline.driver import BatchRun
from exchange.pipeline.load import Load
from exchange.pipeline.publish import Publish
from exchange.pipeline.records import BatchOutcome
from exchange.pipeline.seal import Seal
from exchange.pipeline.stage import Source, Stage
from exchange.pipeline.validate import Validate
from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pipeline:
    stages: tuple[Stage, ...]
    """The stages after extract, one per step of ``order.STEPS``, in that order."""
    overlap: bool = False
    """Copy the valid rows into core while validating, on a server warehouse (``exchange.pipeline.preload``)."""

    def __post_init__(self) -> None:
        names = tuple(s.name for s in self.stages)
        if names != order.NAMES[1:]:
            raise ValueError(f"a pipeline runs {', '.join(order.NAMES[1:])} after extract, not {', '.join(names)}")

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r} after extract; the stages are {', '.join(order.NAMES)}")

    def run(self, run: BatchRun, source: Source, progress: Progress | None = None, *,
            index: bool = True) -> BatchOutcome:
        """Every stage of one batch, under the feed's lock: a batch already loaded is left as it is
        (published, should an earlier run have stopped between its load and publishing it). Then, with
        ``index``, the element index takes the published batches it lacks (``catch_up_index``) — what
        Airflow's ``exchange.index_elements`` DAG does on the table's asset."""
        outcome = self._stages(run, source, progress)
        if index and outcome.state == "published":
            outcome.index = catch_up_index(run)
        return outcome

    def _stages(self, run: BatchRun, source: Source, progress: Progress | None) -> BatchOutcome:
        run.overlap = self.overlap and run.settings.overlap_load and not dialect_of(run.engine).embedded
        try:
            return self._each_stage(run, source, progress)
        finally:
            run.discard_preload()  # a batch that stopped before its load: the copy rolled back

    def _each_stage(self, run: BatchRun, source: Source, progress: Progress | None) -> BatchOutcome:
        with run.lock():
            first = run.begin(source, progress)
            if not first.batch_id:
                return first
            if first.already_loaded:
                if first.state != "loaded":
                    return first
                with run.engine.begin() as conn:  # a run stopped between its load and publishing it
                    ledger.resume_batch(conn, first.batch_id)
                published = run.step(self.stage("publish"), first.batch_id)
                published.already_loaded = True
                return published
            outcome = first
            for stage in self.stages:
                outcome = run.step(stage, first.batch_id, progress)
            return outcome


def catch_up_index(run: BatchRun) -> dict[str, Any]:
    """The element index brought up to the published batches of the run's table, off the batch's own path:
    the batch is published whatever happens here (a failure is logged and told in the outcome; the next
    catch-up takes the batch). Returns ``{"elements", "seconds"}`` or ``{"error"}``."""
    from exchange.investigate import elements

    if not elements.indexed(run.schema):
        return {}
    t = time.perf_counter()
    try:
        elements.ensure_tables(run.engine)  # not the core tables' lookups: that would wait for their loads
        written = elements.catch_up(run.engine, [run.schema], wait_seconds=max(run.settings.lock_wait, elements.WAIT))
    except Exception as exc:  # the batch stays published; its records wait for the next catch-up
        log.exception("feed %s: the element index did not take core.%s's new batches", run.feed.feed_id,
                      run.schema.name)
        return {"error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]} — run `exchange search-index` "
                         f"to take them"}
    return {"elements": sum(written.values()), "seconds": round(time.perf_counter() - t, 3)}


FEED = Pipeline((Validate(), Seal(), Load(), Publish()), overlap=True)
"""A feed's batch: its connector's rows validated, sealed, loaded and published."""
