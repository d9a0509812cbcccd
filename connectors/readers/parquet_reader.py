"""Parquet files (``format: parquet``): every column read as text, floats exactly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.readers.common import MAX_EXACT_FLOAT_INT, Chunk, Reader, ReadOptions, check_header, source_error
from exchange.errors import SourceError


def to_string_array(arr: pa.Array) -> pa.Array:
    """Any Arrow array as strings: integral floats without '.0', timestamps ISO (with 'T')."""
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_dictionary(t):
        return to_string_array(arr.dictionary_decode())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), type=pa.string())
    if pa.types.is_floating(t):
        return _float_strings(arr)
    if pa.types.is_timestamp(t):
        return pc.replace_substring(pc.cast(arr, pa.string()), pattern=" ", replacement="T",
                                    max_replacements=1)
    if pa.types.is_nested(t):
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"),
                                                          default=str)
                         for v in arr.to_pylist()], type=pa.string())
    return pc.cast(arr, pa.string())


def _float_strings(arr: pa.Array) -> pa.Array:
    arr = pc.cast(arr, pa.float64())
    integral = pc.and_(pc.equal(pc.floor(arr), arr),
                       pc.less_equal(pc.abs(arr), float(MAX_EXACT_FLOAT_INT)))
    as_int = pc.cast(pc.cast(pc.if_else(integral, arr, 0.0), pa.int64()), pa.string())
    return pc.if_else(integral, as_int, pc.cast(arr, pa.string()))


class ParquetReader(Reader):
    formats = ("parquet",)

    @classmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> ParquetReader:
        return cls(path, display)

    """Parquet via ``ParquetFile.iter_batches``; every column cast to string."""

    ERRORS = (pa.ArrowException, OSError, ValueError)

    def _read_columns(self) -> list[str]:
        try:
            with pq.ParquetFile(self.path) as pf:
                names = list(pf.schema_arrow.names)
        except self.ERRORS as exc:
            raise self._error(exc) from exc
        check_header(names, self.display, allow_empty=True)
        return names

    def chunks(self, size: int) -> Iterator[Chunk]:
        self.columns()
        done = 0
        try:
            with pq.ParquetFile(self.path) as pf:
                for batch in pf.iter_batches(batch_size=size):
                    columns = [self._column(batch, i) for i in range(batch.num_columns)]
                    done += batch.num_rows
                    if batch.num_rows:
                        yield Chunk(columns, [None] * batch.num_rows)
        except self.ERRORS as exc:
            raise self._error(exc, done) from exc

    def _column(self, batch: pa.RecordBatch, i: int) -> pa.Array:
        try:
            return to_string_array(batch.column(i))
        except self.ERRORS as exc:
            name = batch.schema.field(i).name
            raise source_error(self.display, f"column {name!r} ({batch.schema.field(i).type}) cannot be "
                                             f"read as text: {exc}") from exc

    def _error(self, exc: BaseException, done: int | None = None) -> SourceError:
        where = f" after {done} rows" if done else ""
        return source_error(self.display, f"not a readable Parquet file{where} ({type(exc).__name__}: "
                                          f"{exc}); re-export it", row=done or None)
