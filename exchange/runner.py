"""The runner: composes the stages of one batch. The CLI and the Airflow tasks call this.

extract (connector → raw Parquet) → validate (map + GX → valid / rejected Parquet)
→ stage (manifest with SHA-256: sealed) → load (quarantine always; core by upsert unless the
batch is over its reject ratio) → publish; each stage recorded in ``audit.batch``, with the
invariant rows_in = rows_valid + rows_quarantined. Each stage is a method of ``BatchRun``
(what an Airflow task calls); ``run_feed`` runs them all under the feed's lock.

Crashes and outages: every stage commits its work and its ledger state in one transaction and
writes files under temporary names, so a run killed anywhere leaves the batch at its last
recorded stage; the next run records a new attempt and goes on from there
(tests/integration/test_crash_recovery.py kills one at every fault point). A warehouse outage
(connection lost, server restarting, deadlock) is raised as ``TransientError``
(``exchange.warehouse.outages``), which Airflow retries.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import exchange
from connectors import connector_for
from connectors.base import META_COLUMNS
from exchange import staging
from exchange.audit import ledger
from exchange.audit import records as audit_records
from exchange.audit import tables as audit_tables
from exchange.errors import DataQualityError, TerminalError, TransientError
from exchange.flagging import apply_severity, extra_columns
from exchange.mapping import MappedChunk, Mapper, show_nul
from exchange.spec import faults
from exchange.spec.arrow import staged_schema, to_typed
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.feed import FeedSpec, FileSourceSpec
from exchange.spec.reasons import GENERIC_MESSAGES, Reason
from exchange.spec.schema import FLAGS, SOURCE_RECORD_ID, EntitySchema
from exchange.spec.settings import Settings
from exchange.validation.docs import DataDocs, write_index
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import UpsertCounts, ensure_tables, load_quarantine, upsert_core
from exchange.warehouse.locks import HeldLock, feed_lock
from exchange.warehouse.outages import as_transient, outages_as_transient
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:  # Great Expectations takes a second or two to import: only where validation runs
    from exchange.validation.engine import BatchValidator
    from exchange.validation.suites import CompiledSuite

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def code_version(root: Path) -> str:
    """The package version, plus the git commit when run from a checkout."""
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{exchange.__version__}+{sha}" if sha else exchange.__version__


def batch_id_for(feed: FeedSpec, schema: EntitySchema, fingerprint: str) -> str:
    """Deterministic: the same feed spec, schema version and source bytes give the same id."""
    spec = json.dumps(feed.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(f"{spec}\n{schema.version}\n{fingerprint}".encode()).hexdigest()
    return f"{feed.agency}-{feed.feed}-{digest[:16]}"


# What a raw batch carries besides the source's own columns: the connector's meta columns, and the batch
# a reprocessed row was quarantined in. A source column may well start with "_" itself (MongoDB's "_id").
RAW_META = (*META_COLUMNS, "_origin_batch")


def source_columns_of(names: list[str]) -> list[str]:
    """The source's own columns among a raw batch's column names."""
    return [c for c in names if c not in RAW_META]


def row_hashes(table: pa.Table, fields: list[str]) -> pa.Array:
    """SHA-256 (hex, 32 chars) of each row's canonical values, for change detection."""
    import duckdb

    joined = pa.table({"s": pc.binary_join_element_wise(*[pc.fill_null(table.column(f), "\\N") for f in fields],
                                                        "\x1f")})
    if not joined.num_rows:
        return pa.array([], type=pa.string())
    con = duckdb.connect()  # its sha256 of the UTF-8 text: the same digest as hashlib, vectorised
    try:
        con.register("joined", joined)
        out = con.sql("SELECT left(sha256(s), 32) AS h FROM joined").to_arrow_table().column("h")
    finally:
        con.close()
    return out.combine_chunks().cast(pa.string())


@dataclass
class BatchOutcome:
    feed: str
    batch_id: str
    state: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_flagged: int = 0
    """Loaded rows with flagged fields (inside rows_loaded)."""
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    reject_ratio: float = 0.0
    max_reject_ratio: float = 0.0
    top_reasons: list[tuple[str, str, int]] = field(default_factory=list)
    report_path: str | None = None
    staging_path: str | None = None
    error: str | None = None
    already_loaded: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def published(self) -> bool:
        return self.state in ("loaded", "published")


@dataclass
class _Split:
    """Running totals while a batch streams through map → validate → split."""

    rows_in: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    rows_flagged: int = 0
    """Valid rows loaded with flagged fields (counted inside rows_valid)."""
    flags: Counter = field(default_factory=Counter)


class MemoryKeys:
    """Natural keys seen so far, in memory (for checking a file; batches use staging.SeenKeys)."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def duplicates(self, keys: pa.Array, rows: pa.Array) -> dict[int, int]:
        """Like ``staging.SeenKeys.duplicates``: position → the record where the key was first accepted."""
        out: dict[int, int] = {}
        for i, (key, row) in enumerate(zip(keys.to_pylist(), rows.to_pylist(), strict=True)):
            if key is None:
                continue
            if key in self.seen:
                out[i] = self.seen[key]
            else:
                self.seen[key] = row
        return out

    def close(self) -> None:
        self.seen.clear()


class FeedRun:
    """Everything one feed needs to process a batch: spec, schema, suite, mapper."""

    def __init__(self, catalog: Catalog, feed_id: str, settings: Settings,
                 today: dt.date | None = None) -> None:
        self.catalog = catalog
        self.settings = settings
        self.feed = catalog.feed(feed_id)
        self.schema = catalog.schema_for(self.feed)
        self._compiled: CompiledSuite | None = None
        self._compiling = threading.Lock()
        self.mapper = Mapper(self.feed, self.schema)
        self.today = today
        self.valid_schema = staged_schema(self.schema)

    @property
    def compiled(self) -> CompiledSuite:
        """The schema's GX suite, compiled on first use: that imports Great Expectations (a second or
        two), which only the validate stage needs (an Airflow extract task never does)."""
        with self._compiling:
            if self._compiled is None:
                from exchange.validation.suites import compile_suite

                self._compiled = compile_suite(self.schema, self.catalog)
            return self._compiled

    def validator(self) -> BatchValidator:
        """A fresh validator of this feed's suite (one per batch: it accumulates the batch's report)."""
        from exchange.validation.engine import BatchValidator

        return BatchValidator(self.compiled, feed_id=self.feed.feed_id, today=self.today)

    def stream(self, batches: Iterator[pa.RecordBatch], validator: BatchValidator,
               on_valid: Callable[[pa.Table], None], on_reject: Callable[[pa.Table], None],
               progress: Progress | None = None, keys: Any = None, *, prefetch: bool = False) -> _Split:
        """Map, validate and split every batch; ``keys`` tracks natural keys for duplicates
        (``staging.SeenKeys`` on disk for a batch; in memory by default). ``prefetch``: see ``_prepared``."""
        split = _Split()
        keys = keys if keys is not None else MemoryKeys()
        source_columns: list[str] | None = None
        for rb, mapped, hashes in self._prepared(batches, prefetch):
            if source_columns is None:
                source_columns = source_columns_of(rb.schema.names)
            rows = mapped.table.column("_source_row").to_pylist()
            found = validator.validate(mapped.table.select(list(self.schema.fields)), rows)
            flagged = apply_severity(self.schema, mapped.table, _merge(mapped.reasons, found))
            table, reasons = flagged.table, flagged.reasons
            self._flag_duplicates(table, reasons, keys)
            bad = sorted(reasons)
            good_mask = pa.array([True] * rb.num_rows)
            if bad:
                good_mask = pc.invert(pc.is_in(pa.array(range(rb.num_rows)), pa.array(bad)))
            valid = table.filter(good_mask)
            on_valid(self._typed(valid, hashes.filter(good_mask)))
            on_reject(self._rejects(rb, table, reasons, bad, source_columns))
            split.rows_in += rb.num_rows
            split.rows_valid += valid.num_rows
            split.rows_rejected += len(bad)
            for rs in reasons.values():
                for r in rs:
                    split.reasons[(r.rule, r.field or "")] += 1
            n_flagged, flags = flagged.counts(reasons)
            split.rows_flagged += n_flagged
            split.flags.update(flags)
            if progress:
                progress("validate", rb.num_rows)
            faults.point("validate.chunk")
        return split

    def _prepared(self, batches: Iterator[pa.RecordBatch],
                  prefetch: bool) -> Iterator[tuple[pa.RecordBatch, MappedChunk, pa.Array]]:
        """Each batch with its mapped table and the hashes of its rows (``row_hashes``).

        With ``prefetch`` the next batch is read, mapped and hashed by a worker thread while the
        caller validates the current one: Arrow and DuckDB release the GIL, so this work overlaps
        Great Expectations (which holds it) on a second core. Only for a source whose batches have
        no side effects on the caller (the batch validation reads its staged raw file)."""
        fields = list(self.schema.fields)
        it = iter(batches)
        checked = False

        def prepare() -> tuple[pa.RecordBatch, MappedChunk, pa.Array] | None:
            nonlocal checked
            rb = next(it, None)
            if rb is None:
                return None
            if not checked:
                self.mapper.check_columns(source_columns_of(rb.schema.names), str(rb.column("_source_file")[0]))
                checked = True
            mapped = self.mapper.map(rb)
            return rb, mapped, row_hashes(mapped.table, fields)

        if not prefetch:
            while (item := prepare()) is not None:
                yield item
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="exchange-prepare") as pool:
            ahead = pool.submit(prepare)
            try:
                while (item := ahead.result()) is not None:
                    ahead = pool.submit(prepare)
                    yield item
            finally:
                ahead.cancel()  # not started yet; a running one is waited for by the pool

    def check_empty_source(self, connector: Any, split: _Split) -> None:
        """A source with no rows must still have the mapped columns (a header-only file)."""
        if split.rows_in == 0:
            source = self.feed.source
            self.mapper.check_columns(connector.columns(), source.path if source.kind == "file" else source.summary())

    @staticmethod
    def _flag_duplicates(table: pa.Table, reasons: dict[int, list[Reason]], keys: Any) -> None:
        """Among rows valid so far, the first occurrence of a key is kept, later ones rejected."""
        candidate = np.ones(table.num_rows, dtype=bool)
        candidate[list(reasons)] = False
        candidates = np.flatnonzero(candidate)
        if not candidates.size:
            return
        idx = pa.array(candidates)
        key_col = table.column(SOURCE_RECORD_ID).take(idx).combine_chunks()
        for j, first in keys.duplicates(key_col, table.column("_source_row").take(idx).combine_chunks()).items():
            key = key_col[j].as_py()
            reasons[int(candidates[j])] = [Reason(SOURCE_RECORD_ID, "key.duplicate", key,
                                                  f"{GENERIC_MESSAGES['key.duplicate']} (first at record {first})")]

    def _typed(self, valid: pa.Table, hashes: pa.Array) -> pa.Table:
        typed = to_typed(valid, self.schema)
        for name in [*extra_columns(self.schema), FLAGS]:
            typed = typed.append_column(name, valid.column(name))
        typed = typed.append_column("_source_file", valid.column("_source_file"))
        typed = typed.append_column("_source_row", valid.column("_source_row").cast(pa.int64()))
        typed = typed.append_column("_row_hash", hashes)
        return typed.cast(self.valid_schema)

    def _rejects(self, raw: pa.RecordBatch, mapped: pa.Table, reasons: dict[int, list[Reason]],
                 bad: list[int], source_columns: list[str]) -> pa.Table:
        if not bad:
            return staging.REJECT_SCHEMA.empty_table()
        idx = pa.array(bad)
        raw_rows = raw.select(source_columns).take(idx).to_pylist()
        return pa.table({
            "_source_file": mapped.column("_source_file").take(idx),
            "_source_row": mapped.column("_source_row").take(idx).cast(pa.int64()),
            "source_record_id": show_nul(mapped.column(SOURCE_RECORD_ID).take(idx)),  # plain text: no NUL
            "original": [json.dumps(r, ensure_ascii=False) for r in raw_rows],
            "reasons": [json.dumps([r.as_dict() for r in reasons[i]], ensure_ascii=False) for i in bad],
            "rules": [",".join(dict.fromkeys(r.rule for r in reasons[i])) for i in bad],
        }, schema=staging.REJECT_SCHEMA)


def _merge(pre: dict[int, list[Reason]], found: dict[int, list[Reason]]) -> dict[int, list[Reason]]:
    """Mapping reasons first; validation reasons on a field already rejected by mapping are noise."""
    out = {i: list(rs) for i, rs in pre.items()}
    for i, rs in found.items():
        covered = {r.field for r in out.get(i, [])}
        extra = [r for r in rs if r.field not in covered]
        if extra:
            out.setdefault(i, []).extend(extra)
    return out


def _top(reasons: Counter, n: int = 5) -> list[tuple[str, str, int]]:
    return [(rule, fld, c) for (rule, fld), c in reasons.most_common(n)]


STAGES = ("started", "extracted", "validated", "staged", "loaded", "published")
VALIDATE_CHUNK_FACTOR = 4
DONE = ("loaded", "published")


def _rank(state: str | None) -> int:
    return STAGES.index(state) if state in STAGES else -1


def _stage(name: str) -> Callable[[Callable[..., BatchOutcome]], Callable[..., BatchOutcome]]:
    """A stage method whose warehouse outages surface as TransientError naming the feed, batch and stage."""
    def wrap(method: Callable[..., BatchOutcome]) -> Callable[..., BatchOutcome]:
        @functools.wraps(method)
        def stage(self: BatchRun, *args: Any, **kwargs: Any) -> BatchOutcome:
            batch_id = args[0] if args else kwargs.get("batch_id")
            doing = f"feed {self.feed.feed_id}" + (f", batch {batch_id}" if batch_id else "") + f": {name}"
            with outages_as_transient(self.engine, doing):
                return method(self, *args, **kwargs)
        return stage
    return wrap


class BatchRun:
    """One feed's batch across its stages; every stage is a method the CLI and Airflow call."""

    def __init__(self, feed_id: str, *, settings: Settings | None = None, catalog: Catalog | None = None,
                 today: dt.date | None = None) -> None:
        self.settings = settings or Settings.from_env()
        self.catalog = catalog or load_catalog(self.settings.root)
        self.run = FeedRun(self.catalog, feed_id, self.settings, today=today)
        self.feed, self.schema = self.run.feed, self.run.schema
        self.engine = make_engine(self.settings.warehouse_url, root=self.settings.root)
        self.held: HeldLock | None = None
        with outages_as_transient(self.engine, f"feed {feed_id}: preparing the warehouse tables"):
            ensure_tables(self.engine, [self.schema], audit_tables.metadata)

    # --- helpers -------------------------------------------------------------------------------

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
        row = self.ledger_row(batch_id) or {}
        return BatchOutcome(
            feed=self.feed.feed_id, batch_id=batch_id, state=row.get("state", "started"),
            rows_in=row.get("rows_in") or 0, rows_loaded=row.get("rows_loaded") or 0,
            rows_quarantined=row.get("rows_quarantined") or 0, rows_flagged=row.get("rows_flagged") or 0,
            inserted=row.get("rows_inserted") or 0,
            updated=row.get("rows_updated") or 0, unchanged=row.get("rows_unchanged") or 0,
            reject_ratio=row.get("reject_ratio") or 0.0, max_reject_ratio=self.feed.quality.max_reject_ratio,
            report_path=row.get("report_path"), staging_path=row.get("staging_path"), error=row.get("error"),
            timings=json.loads(row.get("timings") or "{}"), **extra)

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
        mapped = as_transient(exc, self.engine, f"feed {self.feed.feed_id}, batch {batch_id}: {stage}") \
            if isinstance(exc, Exception) else None
        shown = mapped or exc
        try:
            with self.engine.begin() as conn:
                if ledger.get_batch(conn, batch_id):
                    ledger.set_state(conn, batch_id, "failed", error=f"{type(shown).__name__}: {shown}",
                                     finished_at=_now())
        except Exception as again:  # noqa: BLE001 - never hide the error that ended the stage
            log.warning("feed %s, batch %s: could not record its failure in audit.batch (%s: %s); it stays at its "
                        "last recorded stage", self.feed.feed_id, batch_id, type(again).__name__,
                        " ".join(str(again).split())[:300])
        if mapped is not None:
            raise mapped from exc

    # --- stages --------------------------------------------------------------------------------

    @_stage("extract")
    def extract(self, *, interval: tuple[dt.datetime, dt.datetime] | None = None,
                progress: Progress | None = None) -> BatchOutcome:
        """Read the source once into ``raw.parquet``; the batch id comes from the source fingerprint."""
        t = time.perf_counter()
        with self.engine.connect() as conn:
            state = ledger.get_feed_state(conn, self.feed.feed_id)
        connector = connector_for(self.feed.source, base_dir=self.settings.landing_dir,
                                  feed_id=self.feed.feed_id, batch_rows=self.settings.batch_rows,
                                  state=state, interval=interval)
        fingerprint = connector.fingerprint()
        batch_id = batch_id_for(self.feed, self.schema, fingerprint)
        prior = self.ledger_row(batch_id)
        folder = self.folder(batch_id)
        if prior and prior["state"] in DONE:
            log.info("batch %s of %s is already %s; nothing to do", batch_id, self.feed.feed_id, prior["state"])
            return self.outcome(batch_id, already_loaded=True)
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
                               fingerprint=fingerprint, source=connector.describe(),
                               code_version=code_version(self.settings.root),
                               max_reject_ratio=self.feed.quality.max_reject_ratio, now=_now())
        try:
            rows_in, columns = self._extract_to(folder, connector, progress)
            staging.write_json(folder / staging.EXTRACT, {
                "batch_id": batch_id, "feed": self.feed.feed_id, "fingerprint": fingerprint,
                "source": connector.describe(), "new_state": connector.new_state(), "rows_in": rows_in,
                "columns": columns, "interval": [str(x) for x in interval] if interval else None})
            with self.engine.begin() as conn:
                ledger.set_state(conn, batch_id, "extracted", rows_in=rows_in, staging_path=str(folder),
                                 timings=self._timed(conn, batch_id, "extract", time.perf_counter() - t))
        except BaseException as exc:
            self._failed(batch_id, exc, "extract")
            raise
        return self.outcome(batch_id)

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
            return prior["state"] if _rank(prior["state"]) >= _rank("extracted") else None
        if not str(prior.get("error") or "").startswith(f"{TransientError.__name__}:") \
                or prior.get("code_version") != code_version(self.settings.root):
            return None
        done = json.loads(prior.get("timings") or "{}")
        reached = [state for stage, state in (("extract", "extracted"), ("validate", "validated"),
                                              ("stage", "staged")) if stage in done]
        return reached[-1] if reached else None

    def _extract_to(self, folder: Path, connector: Any, progress: Progress | None) -> tuple[int, list[str]]:
        sink: staging.ParquetSink | None = None
        rows = 0
        try:
            for rb in connector.batches():
                if sink is None:
                    sink = staging.ParquetSink(folder / staging.RAW, rb.schema)
                sink.write(rb)
                rows += rb.num_rows
                faults.point("extract.batch")
                if progress:
                    progress("extract", rb.num_rows)
            if sink is None:  # no rows at all: keep the header so validation can check the mapping
                columns = connector.columns()
                schema = pa.schema([pa.field(c, pa.string()) for c in columns]
                                   + [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64()),
                                      pa.field("_parse_error", pa.string())])
                sink = staging.ParquetSink(folder / staging.RAW, schema)
            sink.close()
        except BaseException:
            if sink is not None:
                sink.abort()
            raise
        columns = source_columns_of(sink.schema.names)
        return rows, columns

    @_stage("validate")
    def validate(self, batch_id: str, *, progress: Progress | None = None) -> BatchOutcome:
        """Map and validate the raw rows with the schema's GX suite: valid and rejected rows staged."""
        prior = self.ledger_row(batch_id)
        folder = self.folder(batch_id)
        if prior and prior["state"] in DONE:
            return self.outcome(batch_id, already_loaded=True)
        if prior and _rank(prior["state"]) >= _rank("validated") and (folder / staging.VALIDATION).exists():
            return self.outcome(batch_id)
        t = time.perf_counter()
        try:
            info = staging.read_json(folder / staging.EXTRACT)
            source_name = ", ".join(f["path"] for f in info["source"].get("files", [])) or self.feed.feed_id
            self.run.mapper.check_columns(info["columns"], source_name)
            validator = self.run.validator()
            valid = staging.ParquetSink(folder / staging.VALID, self.run.valid_schema)
            rejects = staging.ParquetSink(folder / staging.REJECTS, staging.REJECT_SCHEMA)
            try:
                seen = staging.SeenKeys(folder)
                try:
                    split = self.run.stream(staging.read_batches(folder / staging.RAW, self.validate_rows),
                                            validator, valid.write, rejects.write, progress, keys=seen,
                                            prefetch=True)
                finally:
                    seen.close()
                valid.close()
                rejects.close()
            except BaseException:
                valid.abort()
                rejects.abort()
                raise
            if split.rows_in != info["rows_in"] or split.rows_in != split.rows_valid + split.rows_rejected:
                raise TerminalError(f"feed {self.feed.feed_id}, batch {batch_id}: extracted {info['rows_in']} "
                                    f"rows, validated {split.rows_in} = {split.rows_valid} valid + "
                                    f"{split.rows_rejected} rejected; nothing was loaded")
            report = None
            merged = validator.merged_result(batch_id=batch_id)
            if merged is not None:
                report = DataDocs(self.settings.reports_dir).publish(
                    self.run.compiled.suite, merged, batch_id=batch_id, feed_id=self.feed.feed_id,
                    run_time=(prior or {}).get("started_at") or _now())
            ratio = split.rows_rejected / split.rows_in if split.rows_in else 0.0
            summary = validator.summary()
            staging.write_json(folder / staging.VALIDATION, {
                "batch_id": batch_id, "suite": self.run.compiled.suite.name, "rows_in": split.rows_in,
                "rows_valid": split.rows_valid, "rows_rejected": split.rows_rejected, "reject_ratio": ratio,
                "rows_flagged": split.rows_flagged, "top_flags": _top(split.flags),
                "top_reasons": _top(split.reasons), "report": str(report) if report else None,
                "expectations": summary})
            with self.engine.begin() as conn:
                ledger.record_validation(conn, batch_id=batch_id, suite=self.run.compiled.suite.name,
                                         rows=summary, now=_now())
                ledger.set_state(conn, batch_id, "validated", rows_valid=split.rows_valid, reject_ratio=ratio,
                                 report_path=str(report) if report else None,
                                 timings=self._timed(conn, batch_id, "validate", time.perf_counter() - t))
                audit_records.record_validation_result(conn, batch_id, folder)  # hash-chained, counts only
        except BaseException as exc:
            self._failed(batch_id, exc, "validate")
            raise
        return self.outcome(batch_id, top_reasons=_top(split.reasons))

    @_stage("stage")
    def stage(self, batch_id: str) -> BatchOutcome:
        """Seal the staged files with a manifest of their SHA-256: from here on they are immutable."""
        prior = self.ledger_row(batch_id)
        folder = self.folder(batch_id)
        if prior and prior["state"] in DONE:
            return self.outcome(batch_id, already_loaded=True)
        if prior and _rank(prior["state"]) >= _rank("staged") and (folder / staging.MANIFEST).exists():
            return self.outcome(batch_id)
        t = time.perf_counter()
        try:
            info = staging.read_json(folder / staging.EXTRACT)
            checked = staging.read_json(folder / staging.VALIDATION)
            manifest = staging.seal(folder, staging.Manifest(
                feed=self.feed.feed_id, batch_id=batch_id, schema=self.schema.name,
                schema_version=self.schema.version, source_fingerprint=info["fingerprint"], source=info["source"],
                rows_in=info["rows_in"], rows_valid=checked["rows_valid"], rows_rejected=checked["rows_rejected"]))
            for name, rows in ((staging.VALID, manifest.rows_valid), (staging.REJECTS, manifest.rows_rejected),
                               (staging.RAW, manifest.rows_in)):
                if manifest.files[name]["rows"] != rows:
                    raise TerminalError(f"batch {batch_id}: {name} holds {manifest.files[name]['rows']} rows, "
                                        f"expected {rows}; rerun the feed")
            faults.point("stage.sealed")
            with self.engine.begin() as conn:
                ledger.set_state(conn, batch_id, "staged",
                                 timings=self._timed(conn, batch_id, "stage", time.perf_counter() - t))
                audit_records.record_manifest(conn, batch_id, folder)  # hash-chained manifest
        except BaseException as exc:
            self._failed(batch_id, exc, "stage")
            raise
        return self.outcome(batch_id)

    @_stage("load")
    def load(self, batch_id: str) -> BatchOutcome:
        """Quarantine the rejects; upsert the valid rows unless the batch is over its reject ratio.
        One transaction with the ledger entry and the feed's saved state."""
        prior = self.ledger_row(batch_id)
        if prior and prior["state"] in DONE:
            return self.outcome(batch_id, already_loaded=True)
        folder = self.folder(batch_id)
        t = time.perf_counter()
        try:
            manifest = staging.verify(folder)
            info = staging.read_json(folder / staging.EXTRACT)
            checked = staging.read_json(folder / staging.VALIDATION)
            ratio = manifest.rows_rejected / manifest.rows_in if manifest.rows_in else 0.0
            over = ratio > self.feed.quality.max_reject_ratio
            tables = EntityTables(self.schema)
            now = _now()
            counts = UpsertCounts()
            with self.engine.begin() as conn:
                quarantined = load_quarantine(conn, tables, batch_id=batch_id, agency=self.feed.agency,
                                              batches=staging.read_batches(folder / staging.REJECTS), now=now)
                if not over:
                    counts = upsert_core(conn, tables, batch_id=batch_id, agency=self.feed.agency,
                                         batches=staging.read_batches(folder / staging.VALID), now=now,
                                         unique_keys=True)
                    if info.get("new_state") is not None:
                        ledger.save_feed_state(conn, self.feed.feed_id, info["new_state"], batch_id=batch_id,
                                               now=now)
                loaded = counts.total
                if quarantined != manifest.rows_rejected or (not over and loaded != manifest.rows_valid) \
                        or manifest.rows_in != manifest.rows_valid + manifest.rows_rejected:
                    raise TerminalError(f"batch {batch_id}: staged {manifest.rows_valid} valid / "
                                        f"{manifest.rows_rejected} rejected of {manifest.rows_in} rows but loaded "
                                        f"{loaded} / {quarantined}; the load was rolled back")
                faults.point("load.before_ledger")
                error = None
                if over:
                    error = (f"DataQualityError: reject ratio {ratio:.1%} exceeds the feed's max_reject_ratio "
                             f"{self.feed.quality.max_reject_ratio:.1%}; nothing was published, {quarantined} "
                             f"rows are in quarantine.{self.schema.name} and {manifest.rows_valid} valid rows "
                             f"are held in {folder}")
                if self.held is not None:
                    self.held.check(conn)  # the feed's lock survived (a server restart drops it)
                ledger.set_state(conn, batch_id, "failed" if over else "loaded", rows_valid=manifest.rows_valid,
                                 rows_loaded=loaded, rows_quarantined=quarantined,
                                 rows_flagged=0 if over else int(checked.get("rows_flagged") or 0),
                                 rows_inserted=counts.inserted,
                                 rows_updated=counts.updated, rows_unchanged=counts.unchanged, reject_ratio=ratio,
                                 timings=self._timed(conn, batch_id, "load", time.perf_counter() - t), error=error,
                                 finished_at=_now())
                audit_records.record_load(conn, batch_id)  # hash-chained outcome
        except BaseException as exc:
            self._failed(batch_id, exc, "load")
            raise
        faults.point("load.committed")
        outcome = self.outcome(batch_id, top_reasons=[tuple(r) for r in checked.get("top_reasons", [])])
        if over:
            exc = DataQualityError(f"feed {self.feed.feed_id}, batch {batch_id}: {error}")
            exc.outcome = outcome  # type: ignore[attr-defined]
            raise exc
        return outcome

    @_stage("publish")
    def publish(self, batch_id: str) -> BatchOutcome:
        """Mark a loaded batch published: its rows are what consumers now read."""
        with self.engine.begin() as conn:
            row = ledger.get_batch(conn, batch_id)
            if row is None or row["state"] not in DONE:
                state = row["state"] if row else "unknown"
                raise TerminalError(f"batch {batch_id} of {self.feed.feed_id} is {state}, not loaded; "
                                    f"nothing to publish")
            if row["state"] == "loaded":
                ledger.set_state(conn, batch_id, "published", finished_at=_now())
        from exchange.access.apply import refresh_shares

        with self.engine.begin() as conn:  # the shares that hold copies of filtered rows (PostgreSQL)
            refreshed = refresh_shares(conn, self.schema.name)
        if refreshed:
            log.info("refreshed %s shared materialized view(s) over core.%s", len(refreshed), self.schema.name)
        refresh_reports_index(self.engine, self.settings)
        return self.outcome(batch_id)


def run_feed(feed_id: str, *, settings: Settings | None = None, catalog: Catalog | None = None,
             progress: Progress | None = None, today: dt.date | None = None,
             interval: tuple[dt.datetime, dt.datetime] | None = None) -> BatchOutcome:
    """Run one batch of ``feed_id`` through every stage; safe to re-run (see module docstring).

    ``interval`` is the data interval of the run (Airflow's), for incremental sources.
    """
    batch = BatchRun(feed_id, settings=settings, catalog=catalog, today=today)
    failed = False
    try:
        with batch.lock():
            first = batch.extract(interval=interval, progress=progress)
            if first.already_loaded:
                if first.state == "loaded":  # a run stopped between its load and publishing it
                    with batch.engine.begin() as conn:
                        ledger.resume_batch(conn, first.batch_id)
                    published = batch.publish(first.batch_id)
                    published.already_loaded = True
                    return published
                return first
            batch_id = first.batch_id
            checked = batch.validate(batch_id, progress=progress)
            batch.stage(batch_id)
            batch.load(batch_id)
            outcome = batch.publish(batch_id)
            outcome.top_reasons = checked.top_reasons
            return outcome
    except DataQualityError as exc:
        failed = True
        outcome = getattr(exc, "outcome", None)
        if outcome is not None:
            outcome.top_reasons = outcome.top_reasons or []
        raise
    except BaseException:
        failed = True
        raise
    finally:
        try:
            with outages_as_transient(batch.engine, f"feed {feed_id}: refreshing the reports index"):
                refresh_reports_index(batch.engine, batch.settings)
        except Exception as exc:
            if not failed:
                raise
            log.warning("feed %s: reports index not refreshed (%s)", feed_id, exc)  # keep the run's own error
        finally:
            batch.engine.dispose()


def refresh_reports_index(engine: Any, settings: Settings, limit: int = 500) -> Path:
    """Rewrite ``<reports>/index.html`` from the ledger."""
    with engine.connect() as conn:
        rows = ledger.recent_batches(conn, limit=limit)
    return write_index(settings.reports_dir, rows, generated=_now())


CATALOG_SNAPSHOT = "catalog.json"


def publish_catalog(*, settings: Settings | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
    """Refresh what consumers and auditors read after core tables changed: the reports index and
    ``<reports>/catalog.json`` — per entity its schema version, the rows of ``core.<entity>`` and
    the last published batch (ids, counts and times only, never row values). The Airflow DAG
    ``exchange.publish_shares`` runs it on the core tables' asset events. Returns a summary."""
    from sqlalchemy import func, select

    settings = settings or Settings.from_env()
    catalog = catalog or load_catalog(settings.root)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        schemas = [catalog.schemas[name] for name in sorted(catalog.schemas)]
        ensure_tables(engine, schemas, audit_tables.metadata)
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
        generated = _now()
        index = refresh_reports_index(engine, settings)
        snapshot = {"generated": generated.isoformat(), "warehouse": engine.url.get_backend_name(),
                    "entities": entities}
        path = settings.reports_dir / CATALOG_SNAPSHOT
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(snapshot, indent=2, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
        log.info("catalog snapshot of %s tables written to %s", len(entities), path)
        return {"snapshot": str(path), "reports_index": str(index), "tables": len(entities),
                "rows": {name: e["rows"] for name, e in entities.items()}}
    finally:
        engine.dispose()


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

    @property
    def reject_ratio(self) -> float:
        return self.rows_rejected / self.rows_in if self.rows_in else 0.0


def validate_file(path: Path, feed_id: str, *, settings: Settings | None = None,
                  catalog: Catalog | None = None, progress: Progress | None = None,
                  keep: int = 1000, today: dt.date | None = None) -> ValidationReport:
    """Map and validate ``path`` as ``feed_id`` would, without staging or loading anything."""
    settings = settings or Settings.from_env()
    catalog = catalog or load_catalog(settings.root)
    run = FeedRun(catalog, feed_id, settings, today=today)
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

    split = run.stream(connector.batches(), validator, on_valid, on_reject, progress)
    run.check_empty_source(connector, split)
    return ValidationReport(feed=feed_id, rows_in=split.rows_in, rows_valid=split.rows_valid,
                            rows_rejected=split.rows_rejected,
                            max_reject_ratio=run.feed.quality.max_reject_ratio, rejects=rejects,
                            rows_flagged=split.rows_flagged, flagged=flagged)


def _run_tolerant(feed_id: str, settings: Settings, catalog: Catalog) -> BatchOutcome:
    try:
        return run_feed(feed_id, settings=settings, catalog=catalog)
    except DataQualityError as exc:
        return exc.outcome  # type: ignore[attr-defined]


def recent_batches(feed: str | None = None, limit: int = 20, *, settings: Settings | None = None
                   ) -> list[dict[str, Any]]:
    """The newest batches of the ledger (``audit.batch``), of one feed or all."""
    settings = settings or Settings.from_env()
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        ensure_tables(engine, [], audit_tables.metadata)
        with engine.connect() as conn:
            return ledger.recent_batches(conn, feed, limit)
    finally:
        engine.dispose()


def migrate_warehouse(*, settings: Settings | None = None, catalog: Catalog | None = None) -> tuple[list[str], str]:
    """Create or upgrade the warehouse for every schema: (the changes applied, the warehouse described)."""
    from exchange.warehouse.engine import describe
    from exchange.warehouse.migrate import migrate

    settings = settings or Settings.from_env()
    catalog = catalog or load_catalog(settings.root)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        return migrate(engine, catalog.schemas.values()), describe(engine)
    finally:
        engine.dispose()
