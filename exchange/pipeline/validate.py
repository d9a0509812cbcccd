"""The validate stage: map and validate the raw rows with the schema's GX suite; valid rows (typed)
and rejected rows (with every reason) staged as Parquet, the split and the suite's results in
``validation.json`` and ``audit.validation``, the GX report published.

A batch over its feed's ``max_reject_ratio`` fails here, at once: its rejected rows go to
``quarantine.<entity>`` (with the failed state, in one transaction), its valid rows stay in
staging, nothing reaches core, and the ``DataQualityError`` names the feed, the file(s) and the
top reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from exchange import staging
from exchange.audit import attempts, ledger
from exchange.audit import records as audit_records
from exchange.errors import DataQualityError, TerminalError
from exchange.pipeline.checking import Progress
from exchange.pipeline.records import BatchOutcome, Extracted, Split, Validated, top
from exchange.pipeline.stage import Stage
from exchange.pipeline.stamps import now
from exchange.validation.docs import DataDocs
from exchange.warehouse.load import load_quarantine
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun


class RowSinks:
    """Where checked rows go: ``valid.parquet`` and ``rejects.parquet``, counted as written."""

    def __init__(self, run: BatchRun, folder: Path) -> None:
        self.valid_file = staging.ParquetSink(folder / staging.VALID, run.checks.valid_schema)
        self.rejects_file = staging.ParquetSink(folder / staging.REJECTS, staging.REJECT_SCHEMA)
        self.valid = self.rejected = 0
        self.preload: Any = None
        """Where valid rows are copied into core as they are written (``exchange.pipeline.preload``), if so."""

    def files(self) -> list[staging.ParquetSink]:
        return [self.valid_file, self.rejects_file]

    def on_valid(self, table: pa.Table) -> None:
        self.valid_file.write(table)
        self.valid += table.num_rows
        if self.preload is not None:
            self.preload.put(table)

    def on_reject(self, table: pa.Table) -> None:
        self.rejects_file.write(table)
        self.rejected += table.num_rows

    def noted(self, split: Split) -> dict[str, Any]:
        """Fields of the validation record this way of sorting rows adds (none)."""
        return {}


class Validate(Stage):
    name = "validate"
    outputs = (staging.VALIDATION,)
    prefetch = True
    """Read, map and hash the next chunk on a second thread (the raw file has no side effects)."""
    holds_ratio = True
    """A batch over the feed's max_reject_ratio fails here."""

    def over(self, run: BatchRun, done: Validated) -> bool:
        return self.holds_ratio and done.reject_ratio > run.feed.quality.max_reject_ratio

    def over_message(self, run: BatchRun, done: Validated, quarantined: int) -> str:
        reasons = "; ".join(f"{rule}{' on ' + fld if fld else ''} ({n:,})" for rule, fld, n in done.top_reasons[:3])
        files = Extracted.read(run.folder(done.batch_id)).source_name()
        return (f"reject ratio {done.reject_ratio:.1%} exceeds the feed's max_reject_ratio "
                f"{run.feed.quality.max_reject_ratio:.1%} ({done.rows_rejected:,} of {done.rows_in:,} rows of "
                f"{files}); top reasons: {reasons or 'none'}. Nothing was loaded into core: the {quarantined:,} "
                f"rejected rows are in quarantine.{run.schema.name} with their reasons, the {done.rows_valid:,} "
                f"valid rows are held in {run.folder(done.batch_id)}; fix the source and send it again")

    def chunks(self, run: BatchRun, folder: Path) -> Iterator[pa.RecordBatch]:
        return staging.read_batches(folder / staging.RAW, run.validate_rows)

    def sinks(self, run: BatchRun, folder: Path) -> RowSinks:
        return RowSinks(run, folder)

    def check_mapping(self, run: BatchRun, extracted: Extracted) -> None:
        """Every mapped column is in the source (a missing one fails the batch, naming it)."""
        run.checks.mapper.check_columns(extracted.columns, extracted.source_name(), extracted.notes)

    def work(self, run: BatchRun, batch_id: str, progress: Progress | None) -> Validated:
        folder = run.folder(batch_id)
        extracted = Extracted.read(folder)
        self.check_mapping(run, extracted)
        validator = run.checks.validator()
        sinks = self.sinks(run, folder)
        sinks.preload = run.start_preload(batch_id)
        try:
            seen = staging.SeenKeys(folder)
            try:
                split = run.checks.stream(self.chunks(run, folder), validator, sinks.on_valid, sinks.on_reject,
                                          progress, keys=seen, prefetch=self.prefetch)
            finally:
                seen.close()
            for sink in sinks.files():
                sink.close()
        except BaseException:
            for sink in sinks.files():
                sink.abort()
            run.discard_preload()
            raise
        if split.rows_in != extracted.rows_in or split.rows_in != sinks.valid + sinks.rejected:
            raise TerminalError(f"feed {run.feed.feed_id}, batch {batch_id}: extracted {extracted.rows_in} "
                                f"rows, validated {split.rows_in} = {sinks.valid} valid + {sinks.rejected} "
                                f"rejected; nothing was loaded")
        noted = sinks.noted(split)
        report = None
        merged = validator.merged_result(batch_id=batch_id)
        if merged is not None:
            started = (run.ledger_row(batch_id) or {}).get("started_at")
            report = DataDocs(run.settings.reports_dir).publish(
                run.checks.compiled.suite, merged, batch_id=batch_id, feed_id=run.feed.feed_id,
                run_time=started or now())
        validated = Validated(
            batch_id=batch_id, suite=run.checks.compiled.suite.name, rows_in=split.rows_in,
            rows_valid=sinks.valid, rows_rejected=sinks.rejected,
            reject_ratio=sinks.rejected / split.rows_in if split.rows_in else 0.0,
            rows_flagged=split.rows_flagged, top_flags=top(split.flags), top_reasons=top(split.reasons),
            report=str(report) if report else None, expectations=validator.summary(),
            notes=[*extracted.notes, *split.notes], **noted)
        validated.write(folder)
        return validated

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Validated) -> dict[str, Any]:
        ledger.record_validation(conn, batch_id=batch_id, suite=done.suite, rows=done.expectations, now=now())
        fields: dict[str, Any] = {"rows_in": done.rows_in, "rows_valid": done.rows_valid,
                                  "reject_ratio": done.reject_ratio, "report_path": done.report,
                                  "notes": json.dumps(done.notes, ensure_ascii=False) if done.notes else None}
        if self.over(run, done):
            quarantined = load_quarantine(conn, EntityTables(run.schema), batch_id=batch_id, agency=run.feed.agency,
                                          batches=staging.read_batches(run.folder(batch_id) / staging.REJECTS),
                                          now=now())
            if quarantined != done.rows_rejected:
                raise TerminalError(f"batch {batch_id}: staged {done.rows_rejected} rejected rows but quarantined "
                                    f"{quarantined}; rolled back")
            if run.held is not None:
                run.held.check(conn)
            error = f"{DataQualityError.__name__}: {self.over_message(run, done, quarantined)}"
            fields.update(state="failed", rows_loaded=0, rows_quarantined=quarantined, rows_flagged=0, error=error,
                          finished_at=now())
            attempts.record_attempt(conn, feed=run.feed.feed_id, stage=self.name, batch_id=batch_id,
                                    outcome=attempts.FAILED, error=error, rows_in=done.rows_in, at=now())
        return fields

    def record(self, run: BatchRun, conn: Connection, batch_id: str, done: Validated) -> None:
        audit_records.record_validation_result(conn, batch_id, run.folder(batch_id))  # hash-chained, counts only
        if self.over(run, done):
            audit_records.record_load(conn, batch_id)  # the batch's outcome: failed, its rows in quarantine

    def finish(self, run: BatchRun, batch_id: str, done: Validated, outcome: BatchOutcome) -> BatchOutcome:
        if self.over(run, done):
            exc = DataQualityError(f"feed {run.feed.feed_id}, batch {batch_id}: "
                                   f"{self.over_message(run, done, outcome.rows_quarantined)}")
            exc.outcome = outcome  # type: ignore[attr-defined]
            raise exc
        return outcome
