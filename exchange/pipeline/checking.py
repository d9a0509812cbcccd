"""Checking rows: map a source's columns to the canonical fields, validate them with the schema's GX
suite, apply the fields' severity, catch duplicate keys, and split the rows into typed valid rows and
rejects with every reason. The validate stage and ``exchange validate`` (a file, nothing loaded) use it."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import META_COLUMNS
from exchange import staging
from exchange.flagging import apply_severity, extra_columns
from exchange.mapping import MappedChunk, Mapper, show_nul
from exchange.pipeline.column_signs import ColumnSigns
from exchange.pipeline.records import Split
from exchange.spec import faults
from exchange.spec.arrow import staged_schema, to_typed
from exchange.spec.catalog import Catalog
from exchange.spec.reasons import GENERIC_MESSAGES, Reason
from exchange.spec.schema import FLAGS, SOURCE_RECORD_ID
from exchange.spec.settings import Settings

if TYPE_CHECKING:  # Great Expectations takes a second or two to import: only where validation runs
    from exchange.validation.engine import BatchValidator
    from exchange.validation.suites import CompiledSuite

Progress = Callable[[str, int], None]
"""Called with (stage, rows done) as rows go by."""


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


class FeedChecks:
    """Everything one feed needs to check rows: spec, schema, suite, mapper; ``stream`` maps, validates and
    splits them into valid and rejected."""

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
               progress: Progress | None = None, keys: Any = None, *, prefetch: bool = False,
               notes: Callable[[], list[str]] = list) -> Split:
        """Map, validate and split every batch; ``keys`` tracks natural keys for duplicates
        (``staging.SeenKeys`` on disk for a batch; in memory by default). ``prefetch``: see ``_prepared``;
        ``notes``: what the source noticed about itself, said with a missing mapped column."""
        split = Split()
        keys = keys if keys is not None else MemoryKeys()
        source_columns: list[str] | None = None
        signs = ColumnSigns.of({column: m.field for column, m in self.mapper.columns.items()}, self.schema)
        for rb, mapped, hashes in self._prepared(batches, prefetch, notes):
            signs.add(rb)
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
        split.notes = signs.notes()
        return split

    def _prepared(self, batches: Iterator[pa.RecordBatch], prefetch: bool,
                  notes: Callable[[], list[str]] = list) -> Iterator[tuple[pa.RecordBatch, MappedChunk, pa.Array]]:
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
                self.mapper.check_columns(source_columns_of(rb.schema.names), str(rb.column("_source_file")[0]),
                                          notes())
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

    def check_empty_source(self, connector: Any, split: Split) -> None:
        """A source with no rows must still have the mapped columns (a header-only file)."""
        if split.rows_in == 0:
            source = self.feed.source
            self.mapper.check_columns(connector.columns(), source.path if source.kind == "file" else source.summary(),
                                      connector.notes())

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
