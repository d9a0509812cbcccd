"""Quarantine reprocessing: a batch whose source is the feed's open quarantine rows, re-validated under
the current mapping, schema and code, staged and sealed like any other, and loaded by resolving the rows
that now pass (``exchange quarantine reprocess``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from exchange import staging
from exchange.audit import ledger
from exchange.audit import records as audit_records
from exchange.errors import TerminalError
from exchange.runner import DONE, BatchOutcome, BatchRun, _now, _top, code_version, source_columns_of
from exchange.spec.catalog import Catalog
from exchange.spec.reasons import Reason
from exchange.spec.schema import SOURCE_RECORD_ID
from exchange.spec.settings import Settings
from exchange.validation.docs import DataDocs
from exchange.warehouse.load import upsert_core
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:  # Great Expectations takes a second or two to import: only where validation runs
    pass

log = logging.getLogger(__name__)


RESOLUTION = "resolution.parquet"
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
        with run.lock():
            return _reprocess(run, batch, requested_by)
    finally:
        run.engine.dispose()


def _reprocess(run: BatchRun, only: str | None, requested_by: str | None) -> BatchOutcome:
    from exchange.audit import quarantine as audit_q
    from exchange.validation.suites import suite_to_golden

    feed, schema = run.feed, run.schema
    tables = EntityTables(schema)
    version = code_version(run.settings.root)
    spec = json.dumps(feed.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    suite = hashlib.sha256(json.dumps(suite_to_golden(run.run.compiled), sort_keys=True, ensure_ascii=False,
                                      default=str).encode()).hexdigest()
    context = audit_q.context_digest(spec, schema.version, suite, version)
    with run.engine.connect() as conn:
        origins = audit_q.origin_batches(conn, feed.feed_id, only)
        rows = audit_q.open_rows(conn, tables.quarantine, origins,
                                 skip_checked_by=audit_q.checked_in_context(conn, feed.feed_id, context))
    if not rows:  # none open, or every open row already failed under this very spec, suite and code
        return BatchOutcome(feed=feed.feed_id, batch_id="", state="nothing to reprocess",
                            max_reject_ratio=feed.quality.max_reject_ratio)
    digest = audit_q.rows_digest(rows)
    batch_id = audit_q.reprocess_batch_id(feed.agency, feed.feed, context, digest)
    prior = run.ledger_row(batch_id)
    if prior and prior["state"] in DONE:
        return run.outcome(batch_id, already_loaded=True)
    folder = run.folder(batch_id)
    source = {"kind": audit_q.SOURCE_KIND, "table": f"quarantine.{schema.name}", "rows": len(rows),
              "rows_sha256": digest, "context": context, "batches": sorted({r["_batch_id"] for r in rows})}
    with run.engine.begin() as conn:
        ledger.start_batch(conn, batch_id=batch_id, feed=feed.feed_id, agency=feed.agency, entity=schema.name,
                           schema_version=schema.version, fingerprint=digest, source=source, code_version=version,
                           max_reject_ratio=feed.quality.max_reject_ratio, now=_now())
    try:
        t = time.perf_counter()
        columns = _reprocess_raw(folder, rows)
        staging.write_json(folder / staging.EXTRACT, {
            "batch_id": batch_id, "feed": feed.feed_id, "fingerprint": digest, "source": source, "new_state": None,
            "rows_in": len(rows), "columns": columns, "interval": None, "requested_by": requested_by})
        with run.engine.begin() as conn:
            ledger.set_state(conn, batch_id, "extracted", rows_in=len(rows), staging_path=str(folder),
                             timings=run._timed(conn, batch_id, "extract", time.perf_counter() - t))
        top = _reprocess_validate(run, tables, batch_id, folder, origins)
        _reprocess_stage(run, batch_id, folder)
        _reprocess_load(run, tables, batch_id, folder, requested_by)
    except BaseException as exc:
        run._failed(batch_id, exc, "reprocessing")
        raise
    outcome = run.publish(batch_id)
    outcome.top_reasons = top
    return outcome


def _reprocess_raw(folder: Path, rows: list[dict[str, Any]]) -> list[str]:
    """``raw.parquet`` of a reprocessing batch: each row's original columns as the agency sent them,
    the meta columns, and the batch it was quarantined in."""
    from exchange.audit import quarantine as audit_q

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
    return columns


def _reprocess_validate(run: BatchRun, tables: EntityTables, batch_id: str, folder: Path,
                        origins: dict[str, dt.datetime]) -> list[tuple[str, str, int]]:
    from exchange.audit import quarantine as audit_q

    feed = run.feed
    validator = run.run.validator()
    valid = staging.ParquetSink(folder / staging.VALID, run.run.valid_schema)
    rejects = staging.ParquetSink(folder / staging.REJECTS, staging.REJECT_SCHEMA)
    resolution = staging.ParquetSink(folder / RESOLUTION, RESOLUTION_SCHEMA)
    current: dict[str, Any] = {}
    counts: Counter = Counter()
    superseded = 0

    def chunks() -> Iterator[pa.RecordBatch]:
        # One origin batch per chunk, so the callbacks below know where each row came from.
        for rb in staging.read_batches(folder / staging.RAW, run.settings.batch_rows):
            col = rb.column("_origin_batch")
            for origin in dict.fromkeys(col.to_pylist()):
                part = rb.filter(pc.equal(col, origin))
                current.update(origin=origin, raw=part)
                yield part

    def resolved(table: pa.Table, outcome: str, hashes: Any, reasons: Any) -> None:
        n = table.num_rows
        resolution.write(pa.table({
            "_origin_batch": pa.array([current["origin"]] * n, type=pa.string()),
            "_source_file": table.column("_source_file"), "_source_row": table.column("_source_row"),
            "outcome": pa.array([outcome] * n, type=pa.string()), "_row_hash": hashes, "reasons": reasons,
        }, schema=RESOLUTION_SCHEMA))

    def on_valid(table: pa.Table) -> None:
        nonlocal superseded
        keys = table.column(SOURCE_RECORD_ID).to_pylist()
        with run.engine.connect() as conn:
            have = audit_q.current_origin_times(conn, tables.core, tables.quarantine, feed.agency, keys)
        arrived = origins[current["origin"]]
        stale = [i for i, k in enumerate(keys) if k in have and have[k][1] >= arrived]
        fresh = table
        if stale:
            keep = pc.invert(pc.is_in(pa.array(range(table.num_rows)), pa.array(stale)))
            fresh = table.filter(keep)
            on_reject(_superseded_rejects(table, stale, current["raw"], {k: have[k][0] for k in keys if k in have}))
            superseded += len(stale)
        valid.write(fresh)
        counts["valid"] += fresh.num_rows
        resolved(fresh, "loaded", fresh.column("_row_hash"), pa.nulls(fresh.num_rows, pa.string()))

    def on_reject(table: pa.Table) -> None:
        rejects.write(table)
        counts["rejected"] += table.num_rows
        resolved(table, "quarantined", pa.nulls(table.num_rows, pa.string()), table.column("reasons"))

    t = time.perf_counter()
    try:
        split = run.run.stream(chunks(), validator, on_valid, on_reject)
        for sink in (valid, rejects, resolution):
            sink.close()
    except BaseException:
        for sink in (valid, rejects, resolution):
            sink.abort()
        raise
    if counts["valid"] + counts["rejected"] != split.rows_in:
        raise TerminalError(f"reprocessing batch {batch_id}: {split.rows_in} rows in but {counts['valid']} valid + "
                            f"{counts['rejected']} rejected; nothing was loaded")
    if superseded:
        split.reasons[("key.superseded", SOURCE_RECORD_ID)] += superseded
    report = None
    merged = validator.merged_result(batch_id=batch_id)
    if merged is not None:
        report = DataDocs(run.settings.reports_dir).publish(run.run.compiled.suite, merged, batch_id=batch_id,
                                                             feed_id=feed.feed_id, run_time=_now())
    summary = validator.summary()
    ratio = counts["rejected"] / split.rows_in if split.rows_in else 0.0
    staging.write_json(folder / staging.VALIDATION, {
        "batch_id": batch_id, "suite": run.run.compiled.suite.name, "rows_in": split.rows_in,
        "rows_valid": counts["valid"], "rows_rejected": counts["rejected"], "reject_ratio": ratio,
        "rows_flagged": split.rows_flagged, "top_flags": _top(split.flags), "top_reasons": _top(split.reasons),
        "report": str(report) if report else None, "expectations": summary,
        "reprocessing": True, "superseded": superseded})
    with run.engine.begin() as conn:
        ledger.record_validation(conn, batch_id=batch_id, suite=run.run.compiled.suite.name, rows=summary, now=_now())
        ledger.set_state(conn, batch_id, "validated", rows_valid=counts["valid"], reject_ratio=ratio,
                         report_path=str(report) if report else None,
                         timings=run._timed(conn, batch_id, "validate", time.perf_counter() - t))
        audit_records.record_validation_result(conn, batch_id, folder)
    return _top(split.reasons)


def _superseded_rejects(table: pa.Table, stale: list[int], raw: pa.RecordBatch,
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


def _reprocess_stage(run: BatchRun, batch_id: str, folder: Path) -> None:
    t = time.perf_counter()
    info = staging.read_json(folder / staging.EXTRACT)
    checked = staging.read_json(folder / staging.VALIDATION)
    manifest = staging.seal(folder, staging.Manifest(
        feed=run.feed.feed_id, batch_id=batch_id, schema=run.schema.name, schema_version=run.schema.version,
        source_fingerprint=info["fingerprint"], source=info["source"], rows_in=info["rows_in"],
        rows_valid=checked["rows_valid"], rows_rejected=checked["rows_rejected"]),
        names=(staging.RAW, staging.VALID, staging.REJECTS, RESOLUTION))
    if manifest.files[RESOLUTION]["rows"] != manifest.rows_in:
        raise TerminalError(f"reprocessing batch {batch_id}: {RESOLUTION} holds {manifest.files[RESOLUTION]['rows']} "
                            f"rows, expected {manifest.rows_in}; run it again")
    with run.engine.begin() as conn:
        ledger.set_state(conn, batch_id, "staged", timings=run._timed(conn, batch_id, "stage", time.perf_counter() - t))
        audit_records.record_manifest(conn, batch_id, folder)


def _reprocess_load(run: BatchRun, tables: EntityTables, batch_id: str, folder: Path,
                    requested_by: str | None) -> None:
    import pyarrow.parquet as pq

    from exchange.audit import quarantine as audit_q

    t = time.perf_counter()
    manifest = staging.verify(folder)
    rows = pq.read_table(folder / RESOLUTION).to_pylist()
    loaded = [(r["_origin_batch"], r["_source_file"], r["_source_row"], r["_row_hash"]) for r in rows
              if r["outcome"] == "loaded"]
    failing = [(r["_origin_batch"], r["_source_file"], r["_source_row"], r["reasons"]) for r in rows
               if r["outcome"] != "loaded"]
    now = _now()
    with run.engine.begin() as conn:
        if run.held is not None:
            run.held.check(conn)
        counts = upsert_core(conn, tables, batch_id=batch_id, agency=run.feed.agency,
                             batches=staging.read_batches(folder / staging.VALID), now=now)
        resolved = audit_q.mark_resolved(conn, tables.quarantine, [k[:3] for k in loaded], by=batch_id, at=now)
        still = audit_q.mark_rechecked(conn, tables.quarantine, failing, by=batch_id, at=now)
        if counts.total != manifest.rows_valid or resolved != len(loaded) or still != len(failing) \
                or manifest.rows_in != resolved + still:
            raise TerminalError(f"reprocessing batch {batch_id}: {manifest.rows_in} rows in, staged "
                                f"{manifest.rows_valid} to load, but loaded {counts.total}, resolved {resolved} and "
                                f"kept {still} open (expected {len(failing)}); the load was rolled back")
        ledger.set_state(conn, batch_id, "loaded", rows_valid=manifest.rows_valid, rows_loaded=resolved,
                         rows_quarantined=still,
                         rows_flagged=int(staging.read_json(folder / staging.VALIDATION).get("rows_flagged") or 0),
                         rows_inserted=counts.inserted, rows_updated=counts.updated,
                         rows_unchanged=counts.unchanged, reject_ratio=still / manifest.rows_in,
                         timings=run._timed(conn, batch_id, "load", time.perf_counter() - t), finished_at=_now())
        audit_records.record_load(conn, batch_id)
        audit_q.record_resolution(
            conn, batch_id=batch_id, feed=run.feed.feed_id, entity=run.schema.name, rows_in=manifest.rows_in,
            resolved=loaded, by=requested_by,
            still_open=[(b, f, r, ",".join(dict.fromkeys(x["rule"] for x in json.loads(reasons))))
                        for b, f, r, reasons in failing])
