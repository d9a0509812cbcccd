"""Quarantine reprocessing: the feed pipeline's variant whose source is the feed's open quarantine
rows, re-validated under the current mapping, schema and code, staged and sealed like any other
batch, and loaded by resolving the rows that now pass (``exchange quarantine reprocess``). The same
driver runs it: skip if done, resume, timing, ledger and failures are the feed pipeline's own."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from exchange import staging
from exchange.audit import quarantine as audit_q
from exchange.audit import records as audit_records
from exchange.errors import TerminalError
from exchange.pipeline.checking import source_columns_of
from exchange.pipeline.driver import BatchRun
from exchange.pipeline.load import Load, Verified
from exchange.pipeline.plans import Pipeline
from exchange.pipeline.publish import Publish
from exchange.pipeline.records import BatchOutcome, Extracted, Split
from exchange.pipeline.seal import Seal
from exchange.pipeline.stage import Opened
from exchange.pipeline.stamps import code_version, now
from exchange.pipeline.validate import RowSinks, Validate
from exchange.spec.catalog import Catalog
from exchange.spec.reasons import Reason
from exchange.spec.schema import SOURCE_RECORD_ID
from exchange.spec.settings import Settings
from exchange.warehouse.load import upsert_core
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger(__name__)

RESOLUTION = "resolution.parquet"
REPROCESSED = "reprocessed"
"""The feed attempt of a reprocessing batch: not new data from the source (freshness ignores it)."""
RESOLUTION_SCHEMA = pa.schema([
    pa.field("_origin_batch", pa.string()), pa.field("_source_file", pa.string()),
    pa.field("_source_row", pa.int64()), pa.field("outcome", pa.string()),
    pa.field("_row_hash", pa.string()), pa.field("reasons", pa.string()),
])


def reprocess_quarantine(feed_id: str, *, batch: str | None = None, settings: Settings | None = None,
                         catalog: Catalog | None = None, today: dt.date | None = None,
                         requested_by: str | None = None) -> BatchOutcome:
    """Re-validate the open quarantine rows of ``feed_id`` (or of one of its batches) with the
    current mapping and suite, as one reprocessing batch staged and sealed like any other.

    Rows that now pass are upserted into core and their quarantine rows marked ``resolved``;
    rows that still fail stay open with their new reasons; one ``quarantine_resolution``
    ledger entry records which. rows_in = rows_loaded + rows_quarantined holds for the batch.
    A version older than the one already in core is not loaded (``key.superseded``). The id is
    deterministic: running it again with nothing changed is a no-op."""
    run = BatchRun(feed_id, settings=settings, catalog=catalog, today=today)
    try:
        source = QuarantineSource(batch, requested_by)
        return reprocessing(source).run(run, source)
    finally:
        run.engine.dispose()


def reprocessing(source: QuarantineSource) -> Pipeline:
    return Pipeline((ResolvingValidate(source), ResolvingSeal(), ResolvingLoad(), Publish(REPROCESSED)))


class QuarantineSource:
    """The feed's open quarantine rows (of all its batches, or of one), skipping rows that already
    failed under this very spec, suite and code."""

    nothing = "nothing to reprocess"

    def __init__(self, only: str | None, requested_by: str | None) -> None:
        self.only, self.requested_by = only, requested_by
        self.origins: dict[str, dt.datetime] = {}
        """The batches the rows were quarantined in, and when each arrived."""

    def open(self, run: BatchRun) -> Opened | None:
        from exchange.validation.suites import suite_to_golden

        feed, schema, tables = run.feed, run.schema, EntityTables(run.schema)
        version = code_version(run.settings.root)
        spec = json.dumps(feed.data_spec(), sort_keys=True, ensure_ascii=False)
        suite = hashlib.sha256(json.dumps(suite_to_golden(run.checks.compiled), sort_keys=True, ensure_ascii=False,
                                          default=str).encode()).hexdigest()
        context = audit_q.context_digest(spec, schema.version, suite, version)
        with run.engine.connect() as conn:
            self.origins = audit_q.origin_batches(conn, feed.feed_id, self.only)
            rows = audit_q.open_rows(conn, tables.quarantine, self.origins,
                                     skip_checked_by=audit_q.checked_in_context(conn, feed.feed_id, context))
        if not rows:
            return None
        digest = audit_q.rows_digest(rows)
        source = {"kind": audit_q.SOURCE_KIND, "table": f"quarantine.{schema.name}", "rows": len(rows),
                  "rows_sha256": digest, "context": context, "batches": sorted({r["_batch_id"] for r in rows})}
        return Opened(batch_id=audit_q.reprocess_batch_id(feed.agency, feed.feed, context, digest),
                      fingerprint=digest, describe=lambda: source,
                      write_raw=lambda folder, _progress: write_quarantine_raw(folder, rows),
                      requested_by=self.requested_by)


def write_quarantine_raw(folder: Path, rows: list[dict[str, Any]]) -> tuple[int, list[str]]:
    """``raw.parquet`` of a reprocessing batch: each row's original columns as the agency sent them,
    the meta columns, and the batch it was quarantined in."""
    originals = [json.loads(r["original"]) for r in rows]
    columns = list(dict.fromkeys(c for o in originals for c in o))
    data: dict[str, Any] = {c: [None if o.get(c) is None else str(o[c]) for o in originals] for c in columns}
    data["_source_file"] = [r["_source_file"] for r in rows]
    data["_source_row"] = pa.array([int(r["_source_row"]) for r in rows], type=pa.int64())
    data["_parse_error"] = [audit_q.parse_error(r["reasons"]) for r in rows]
    data["_origin_batch"] = [r["_batch_id"] for r in rows]
    table = pa.table({k: v if isinstance(v, pa.Array) else pa.array(v, type=pa.string()) for k, v in data.items()})
    sink = staging.ParquetSink(folder / staging.RAW, table.schema)
    try:
        sink.write(table)
        sink.close()
    except BaseException:
        sink.abort()
        raise
    return len(rows), columns


class ResolvingValidate(Validate):
    """Validation one origin batch per chunk, so each row's resolution (loaded or still quarantined)
    names the batch it came from; a row older than the version already in core stays quarantined."""

    prefetch = False  # the chunks tell the sinks their origin: read in step
    holds_ratio = False  # rows still failing stay open in quarantine: there is no batch to refuse

    def __init__(self, source: QuarantineSource) -> None:
        self.source = source
        self.current: dict[str, Any] = {}

    def check_mapping(self, run: BatchRun, extracted: Extracted) -> None:
        return None  # the rows passed it when they were first extracted

    def chunks(self, run: BatchRun, folder: Path) -> Iterator[pa.RecordBatch]:
        for rb in staging.read_batches(folder / staging.RAW, run.settings.batch_rows):
            col = rb.column("_origin_batch")
            for origin in dict.fromkeys(col.to_pylist()):
                part = rb.filter(pc.equal(col, origin))
                self.current.update(origin=origin, raw=part)
                yield part

    def sinks(self, run: BatchRun, folder: Path) -> RowSinks:
        return ResolvingSinks(run, folder, self.source.origins, self.current)


class ResolvingSinks(RowSinks):
    """Valid and rejected rows as usual, and ``resolution.parquet``: each row's outcome with its origin."""

    def __init__(self, run: BatchRun, folder: Path, origins: dict[str, dt.datetime], current: dict[str, Any]) -> None:
        super().__init__(run, folder)
        self.run, self.origins, self.current = run, origins, current
        self.tables = EntityTables(run.schema)
        self.resolution = staging.ParquetSink(folder / RESOLUTION, RESOLUTION_SCHEMA)
        self.superseded = 0

    def files(self) -> list[staging.ParquetSink]:
        return [*super().files(), self.resolution]

    def resolved(self, table: pa.Table, outcome: str, hashes: Any, reasons: Any) -> None:
        n = table.num_rows
        self.resolution.write(pa.table({
            "_origin_batch": pa.array([self.current["origin"]] * n, type=pa.string()),
            "_source_file": table.column("_source_file"), "_source_row": table.column("_source_row"),
            "outcome": pa.array([outcome] * n, type=pa.string()), "_row_hash": hashes, "reasons": reasons,
        }, schema=RESOLUTION_SCHEMA))

    def on_valid(self, table: pa.Table) -> None:
        run, tables = self.run, self.tables
        keys = table.column(SOURCE_RECORD_ID).to_pylist()
        with run.engine.connect() as conn:
            have = audit_q.current_origin_times(conn, tables.core, tables.quarantine, run.feed.agency, keys)
        arrived = self.origins[self.current["origin"]]
        stale = [i for i, k in enumerate(keys) if k in have and have[k][1] >= arrived]
        fresh = table
        if stale:
            keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), pa.array(stale)))
            fresh = table.filter(keep)
            self.on_reject(superseded_rejects(table, stale, self.current["raw"],
                                              {k: have[k][0] for k in keys if k in have}))
            self.superseded += len(stale)
        super().on_valid(fresh)
        self.resolved(fresh, "loaded", fresh.column("_row_hash"), pa.nulls(fresh.num_rows, pa.string()))

    def on_reject(self, table: pa.Table) -> None:
        super().on_reject(table)
        self.resolved(table, "quarantined", pa.nulls(table.num_rows, pa.string()), table.column("reasons"))

    def noted(self, split: Split) -> dict[str, Any]:
        if self.superseded:
            split.reasons[("key.superseded", SOURCE_RECORD_ID)] += self.superseded
        return {"reprocessing": True, "superseded": self.superseded}


def superseded_rejects(table: pa.Table, stale: list[int], raw: pa.RecordBatch,
                       current_batch: dict[str, str]) -> pa.Table:
    source_columns = source_columns_of(raw.schema.names)
    originals = {(f, r): {c: row[c] for c in source_columns}
                 for row in raw.to_pylist() for f, r in [(row["_source_file"], row["_source_row"])]}
    out: dict[str, list[Any]] = {name: [] for name in staging.REJECT_SCHEMA.names}
    for i in stale:
        f, r = table.column("_source_file")[i].as_py(), table.column("_source_row")[i].as_py()
        key = table.column(SOURCE_RECORD_ID)[i].as_py()
        reason = Reason(SOURCE_RECORD_ID, "key.superseded", None,
                        f"a newer version of this record is already loaded (batch {current_batch.get(key)}); "
                        f"this older one stays in quarantine")
        out["_source_file"].append(f)
        out["_source_row"].append(r)
        out["source_record_id"].append(key)
        out["original"].append(json.dumps(originals.get((f, r), {}), ensure_ascii=False))
        out["reasons"].append(json.dumps([reason.as_dict()], ensure_ascii=False))
        out["rules"].append("key.superseded")
    return pa.table(out, schema=staging.REJECT_SCHEMA)


class ResolvingSeal(Seal):
    files = (*Seal.files, RESOLUTION)

    def expected_rows(self, manifest: staging.Manifest) -> dict[str, int]:
        return {**super().expected_rows(manifest), RESOLUTION: manifest.rows_in}


class ResolvingLoad(Load):
    """The rows that now pass upserted into core and their quarantine rows marked resolved; the rest
    kept open with their new reasons; one ``quarantine_resolution`` ledger entry says which."""

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Verified) -> dict[str, Any]:
        import pyarrow.parquet as pq

        folder, manifest, tables = run.folder(batch_id), done.manifest, EntityTables(run.schema)
        rows = pq.read_table(folder / RESOLUTION).to_pylist()
        loaded = [(r["_origin_batch"], r["_source_file"], r["_source_row"], r["_row_hash"]) for r in rows
                  if r["outcome"] == "loaded"]
        failing = [(r["_origin_batch"], r["_source_file"], r["_source_row"], r["reasons"]) for r in rows
                   if r["outcome"] != "loaded"]
        at = now()
        if run.held is not None:
            run.held.check(conn)
        counts = upsert_core(conn, tables, batch_id=batch_id, agency=run.feed.agency,
                             batches=staging.read_batches(folder / staging.VALID), now=at)
        resolved = audit_q.mark_resolved(conn, tables.quarantine, [k[:3] for k in loaded], by=batch_id, at=at)
        still = audit_q.mark_rechecked(conn, tables.quarantine, failing, by=batch_id, at=at)
        if counts.total != manifest.rows_valid or resolved != len(loaded) or still != len(failing) \
                or manifest.rows_in != resolved + still:
            raise TerminalError(f"reprocessing batch {batch_id}: {manifest.rows_in} rows in, staged "
                                f"{manifest.rows_valid} to load, but loaded {counts.total}, resolved {resolved} and "
                                f"kept {still} open (expected {len(failing)}); the load was rolled back")
        self.resolution = (loaded, failing)
        return {"rows_valid": manifest.rows_valid, "rows_loaded": resolved, "rows_quarantined": still,
                "rows_flagged": done.validated.rows_flagged, "rows_inserted": counts.inserted,
                "rows_updated": counts.updated, "rows_unchanged": counts.unchanged,
                "reject_ratio": still / manifest.rows_in, "finished_at": now()}

    def record(self, run: BatchRun, conn: Connection, batch_id: str, done: Verified) -> None:
        loaded, failing = self.resolution
        audit_records.record_load(conn, batch_id)
        audit_q.record_resolution(
            conn, batch_id=batch_id, feed=run.feed.feed_id, entity=run.schema.name, rows_in=done.manifest.rows_in,
            resolved=loaded, by=done.extracted.requested_by,
            still_open=[(b, f, r, ",".join(dict.fromkeys(x["rule"] for x in json.loads(reasons))))
                        for b, f, r, reasons in failing])

    def finish(self, run: BatchRun, batch_id: str, done: Verified, outcome: BatchOutcome) -> BatchOutcome:
        return outcome
