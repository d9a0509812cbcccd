"""The staging zone: every batch as Parquet (zstd) files plus a manifest.

Layout: ``<staging>/<agency>/<feed>/<batch_id>/``

- ``raw.parquet`` + ``extract.json`` — the source exactly as read (all strings), what was
  read (files/query and hashes), the connector state to save once loaded;
- ``valid.parquet``, ``rejects.parquet`` + ``validation.json`` — typed valid rows with
  lineage, rejected rows with their original values and every reason, the GX summary;
- ``manifest.json`` — written last by the stage step: counts, schema version, source
  fingerprint and the SHA-256 of every file. Once it exists the batch is sealed: the load
  step reads the staged files (never the source) and verifies every hash first.

Every file is written under a temporary name and renamed into place, so a file is either
whole or absent, whatever kills the process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from exchange.errors import TerminalError

log = logging.getLogger(__name__)

REJECT_SCHEMA = pa.schema([
    pa.field("_source_file", pa.string()),
    pa.field("_source_row", pa.int64()),
    pa.field("source_record_id", pa.string()),
    pa.field("original", pa.string()),
    pa.field("reasons", pa.string()),
    pa.field("rules", pa.string()),
])
RAW, VALID, REJECTS = "raw.parquet", "valid.parquet", "rejects.parquet"
EXTRACT, VALIDATION, MANIFEST = "extract.json", "validation.json", "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def batch_dir(root: Path, feed_id: str, batch_id: str) -> Path:
    agency, feed = feed_id.split(".", 1)
    return root / agency / feed / batch_id


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


class ParquetSink:
    """Streams tables into one Parquet file, renamed into place by ``close``."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.tmp = _tmp(path)
        self.schema = schema
        self.rows = 0
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, table: pa.Table | pa.RecordBatch) -> None:
        if table.num_rows:
            if isinstance(table, pa.RecordBatch):
                table = pa.Table.from_batches([table])
            self._writer.write_table(table.cast(self.schema) if table.schema != self.schema else table)
            self.rows += table.num_rows

    def close(self) -> Path:
        self._writer.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        with contextlib.suppress(Exception):  # best effort while already failing
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def read_batches(path: Path, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
    pf = pq.ParquetFile(path)
    yield from pf.iter_batches(batch_size=batch_rows)


@dataclass
class Manifest:
    feed: str
    batch_id: str
    schema: str
    schema_version: str
    source_fingerprint: str
    source: dict[str, Any]
    rows_in: int
    rows_valid: int
    rows_rejected: int
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        return cls(**read_json(folder / MANIFEST))


def seal(folder: Path, manifest: Manifest, names: Iterable[str] = (RAW, VALID, REJECTS)) -> Manifest:
    """Hash the staged files and write the manifest: the batch is now immutable."""
    for name in names:
        path = folder / name
        manifest.files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size,
                                "rows": pq.ParquetFile(path).metadata.num_rows}
    write_json(folder / MANIFEST, asdict(manifest))
    log.info("sealed batch %s: %s valid, %s rejected rows at %s", manifest.batch_id,
             manifest.rows_valid, manifest.rows_rejected, folder)
    return manifest


def verify(folder: Path) -> Manifest:
    """Read the manifest and check every staged file against its SHA-256."""
    try:
        manifest = Manifest.read(folder)
    except FileNotFoundError:
        raise TerminalError(f"staged batch {folder}: no {MANIFEST}; the batch was not staged "
                            f"completely — rerun the feed") from None
    for name, meta in manifest.files.items():
        path = folder / name
        if not path.exists():
            raise TerminalError(f"staged file {path} is missing; rerun the feed to restage the batch")
        actual = sha256_file(path)
        if actual != meta["sha256"]:
            raise TerminalError(f"staged file {path} changed after staging "
                                f"(sha256 {actual[:12]}… ≠ manifest {meta['sha256'][:12]}…); "
                                f"staged files are immutable — rerun the feed to restage it")
    return manifest


class SeenKeys:
    """The natural keys already accepted in a batch, kept on disk (DuckDB, beside the staged
    files) so duplicate detection does not grow the process's memory with the batch size."""

    def __init__(self, folder: Path, memory_limit: str = "256MB") -> None:
        import duckdb

        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ".keys.duckdb"
        for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        self.db = duckdb.connect(str(self.path))
        self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.execute("SET threads = 1")
        self.db.execute("CREATE TABLE seen (key VARCHAR PRIMARY KEY, row BIGINT NOT NULL)")

    def first_rows(self, keys: pa.Array, rows: pa.Array) -> list[int | None]:
        """For each key: the record where it was first accepted (an earlier chunk, or earlier
        in this one), or None when this is its first occurrence — which is then remembered."""
        chunk = pa.table({"i": pa.array(range(len(keys)), pa.int64()), "key": keys, "row": rows.cast(pa.int64())})
        self.db.register("chunk", chunk)
        try:
            found = self.db.execute(
                "SELECT c.i, coalesce(s.row, CASE WHEN c.first_i < c.i THEN c.first_row END) "
                "FROM (SELECT i, key, min(i) OVER (PARTITION BY key) AS first_i, "
                "             arg_min(row, i) OVER (PARTITION BY key) AS first_row FROM chunk "
                "      WHERE key IS NOT NULL) c LEFT JOIN seen s ON s.key = c.key").fetchall()
            self.db.execute("INSERT INTO seen SELECT key, arg_min(row, i) FROM chunk WHERE key IS NOT NULL "
                            "AND key NOT IN (SELECT key FROM seen) GROUP BY key")
        finally:
            self.db.unregister("chunk")
        out: list[int | None] = [None] * len(keys)
        for i, first in found:
            out[i] = first
        return out

    def close(self) -> None:
        self.db.close()
        for f in (self.path, self.path.with_name(self.path.name + ".wal")):
            f.unlink(missing_ok=True)
