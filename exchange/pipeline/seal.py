"""The stage stage: seal the staged files with a manifest of their SHA-256 and row counts; from here
on they are immutable, and the load verifies them before reading a row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange import staging
from exchange.audit import records as audit_records
from exchange.errors import TerminalError
from exchange.pipeline.checking import Progress
from exchange.pipeline.records import Extracted, Validated
from exchange.pipeline.stage import Stage
from exchange.spec import faults

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun


class Seal(Stage):
    name = "stage"
    outputs = (staging.MANIFEST,)
    files = (staging.RAW, staging.VALID, staging.REJECTS)

    def expected_rows(self, manifest: staging.Manifest) -> dict[str, int]:
        """The rows each sealed file must hold."""
        return {staging.VALID: manifest.rows_valid, staging.REJECTS: manifest.rows_rejected,
                staging.RAW: manifest.rows_in}

    def work(self, run: BatchRun, batch_id: str, progress: Progress | None) -> staging.Manifest:
        folder = run.folder(batch_id)
        extracted, validated = Extracted.read(folder), Validated.read(folder)
        manifest = staging.seal(folder, staging.Manifest(
            feed=run.feed.feed_id, batch_id=batch_id, schema=run.schema.name, schema_version=run.schema.version,
            source_fingerprint=extracted.fingerprint, source=extracted.source, rows_in=extracted.rows_in,
            rows_valid=validated.rows_valid, rows_rejected=validated.rows_rejected), names=self.files)
        for name, rows in self.expected_rows(manifest).items():
            if manifest.files[name]["rows"] != rows:
                raise TerminalError(f"batch {batch_id}: {name} holds {manifest.files[name]['rows']} rows, "
                                    f"expected {rows}; rerun the feed")
        faults.point("stage.sealed")
        return manifest

    def record(self, run: BatchRun, conn: Connection, batch_id: str, done: staging.Manifest) -> None:
        audit_records.record_manifest(conn, batch_id, run.folder(batch_id))  # hash-chained manifest
