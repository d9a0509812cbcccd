"""The staging zone: every validated batch as Parquet (zstd) files plus a manifest.

Layout: ``<staging>/<agency>/<feed>/<batch_id>/{valid.parquet, rejects.parquet, manifest.json}``.
A batch is written into a temporary folder and renamed into place when complete, so a
staged batch is either whole or absent. Staged files are immutable: the load step reads
them, never the source, and verifies their SHA-256 against the manifest first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
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
MANIFEST = "manifest.json"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        return cls(**json.loads((folder / MANIFEST).read_text(encoding="utf-8")))


def batch_dir(root: Path, feed_id: str, batch_id: str) -> Path:
    agency, feed = feed_id.split(".", 1)
    return root / agency / feed / batch_id


class StagingWriter:
    """Writes one batch's valid and rejected rows; ``commit`` makes it visible atomically."""

    def __init__(self, root: Path, feed_id: str, batch_id: str, valid_schema: pa.Schema) -> None:
        self.final = batch_dir(root, feed_id, batch_id)
        self.tmp = self.final.with_name(f".{batch_id}.tmp-{os.getpid()}")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        self._valid = pq.ParquetWriter(self.tmp / "valid.parquet", valid_schema, compression="zstd")
        self._rejects = pq.ParquetWriter(self.tmp / "rejects.parquet", REJECT_SCHEMA, compression="zstd")
        self.rows_valid = 0
        self.rows_rejected = 0

    def write_valid(self, table: pa.Table) -> None:
        if table.num_rows:
            self._valid.write_table(table)
            self.rows_valid += table.num_rows

    def write_rejects(self, table: pa.Table) -> None:
        if table.num_rows:
            self._rejects.write_table(table)
            self.rows_rejected += table.num_rows

    def commit(self, manifest: Manifest) -> Path:
        self._valid.close()
        self._rejects.close()
        for name in ("valid.parquet", "rejects.parquet"):
            path = self.tmp / name
            manifest.files[name] = {"sha256": sha256_file(path), "bytes": path.stat().st_size,
                                    "rows": self.rows_valid if name == "valid.parquet" else self.rows_rejected}
        (self.tmp / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
        if self.final.exists():
            # A batch staged by an earlier attempt that never loaded: same id means same input.
            shutil.rmtree(self.final)
        os.replace(self.tmp, self.final)
        log.info("staged batch %s: %s valid, %s rejected rows at %s", manifest.batch_id,
                 self.rows_valid, self.rows_rejected, self.final)
        return self.final

    def abort(self) -> None:
        for w in (self._valid, self._rejects):
            with contextlib.suppress(Exception):  # best effort while already failing
                w.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def verify(folder: Path) -> Manifest:
    """Read the manifest and check every staged file against its SHA-256."""
    try:
        manifest = Manifest.read(folder)
    except FileNotFoundError:
        raise TerminalError(f"staged batch {folder}: no {MANIFEST}; the batch was not staged "
                            f"completely — rerun the feed") from None
    for name, meta in manifest.files.items():
        actual = sha256_file(folder / name)
        if actual != meta["sha256"]:
            raise TerminalError(f"staged file {folder / name} changed after staging "
                                f"(sha256 {actual[:12]}… ≠ manifest {meta['sha256'][:12]}…); "
                                f"staged files are immutable — rerun the feed to restage it")
    return manifest


def read_batches(folder: Path, name: str, batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
    pf = pq.ParquetFile(folder / name)
    yield from pf.iter_batches(batch_size=batch_rows)
