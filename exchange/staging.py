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
whole or absent, whatever kills the process; the next attempt removes what a killed one left
(``discard_partial``).
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

import numpy as np
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


def discard_partial(folder: Path) -> list[Path]:
    """Remove the temporary files a killed attempt left in a batch folder (``.<name>.tmp-<pid>``);
    the caller holds the feed's lock, so no live process is writing them. Returns what was removed."""
    if not folder.is_dir():
        return []
    found = [f for f in folder.iterdir() if f.name.startswith(".") and ".tmp-" in f.name and f.is_file()]
    for f in found:
        f.unlink(missing_ok=True)
    if found:
        log.info("removed %s partial files of an interrupted attempt in %s", len(found), folder)
    return found


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
        # no dictionary pages: the staged columns are mostly distinct strings, where Parquet's dictionary
        # is built, overflows and is thrown away; zstd alone writes and reads faster and smaller
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd", use_dictionary=False)

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


class HashRuns:
    """A set of 64-bit hashes as sorted numpy runs, each at least twice the size of the next (merged
    like a binary counter): membership is a few binary searches, adding is amortised O(log n)."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []
        self.size = 0  # hashes held (one added again before a merge counts twice)

    def contains(self, probe: np.ndarray) -> np.ndarray:
        """Which of the (sorted: the binary searches then walk each run in order) hashes are in the set."""
        hit = np.zeros(len(probe), dtype=bool)
        for run in self.runs:
            at = np.minimum(np.searchsorted(run, probe), len(run) - 1)
            hit |= run[at] == probe
        return hit

    def add(self, h: np.ndarray) -> None:
        if not len(h):
            return
        run = _sorted_unique(h)
        while self.runs and len(self.runs[-1]) <= 2 * len(run):
            run = _sorted_unique(np.concatenate([self.runs.pop(), run]))
        self.runs.append(run)
        self.size = sum(len(r) for r in self.runs)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a = np.sort(a, kind="stable")  # merges sorted runs in linear time (np.unique hashes: far slower here)
    if len(a) < 2:
        return a
    return a[np.concatenate(([True], a[1:] != a[:-1]))]


class SeenKeys:
    """The natural keys already accepted in a batch, kept on disk (DuckDB, beside the staged
    files) so duplicate detection does not grow the process's memory with the batch size.

    A 64-bit hash of every key is also kept in memory (8 bytes a key, at most ``MEMORY_HASHES``
    keys: 128 MB), so a key whose hash was never seen — nearly every key — costs no lookup on disk;
    a key whose hash was seen is compared with the stored keys themselves. Past ``MEMORY_HASHES``
    keys every chunk is compared on disk (slower, same answers, memory still bounded).
    """

    MEMORY_HASHES = 1 << 24

    def __init__(self, folder: Path, memory_limit: str = "64MB") -> None:
        import duckdb

        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / ".keys.duckdb"
        for leftover in (self.path, self.path.with_name(self.path.name + ".wal")):
            leftover.unlink(missing_ok=True)
        self.db = duckdb.connect(str(self.path))
        self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.execute("SET threads = 2")
        self.db.execute("CREATE TABLE seen (h UBIGINT NOT NULL, key VARCHAR NOT NULL, row BIGINT NOT NULL)")
        self.hashes: HashRuns | None = HashRuns()  # None once past MEMORY_HASHES keys

    def duplicates(self, keys: pa.Array, rows: pa.Array) -> dict[int, int]:
        """The positions in ``keys`` of keys accepted before — in an earlier chunk, or earlier in this
        one — with the record where each was first accepted. The other keys (first occurrences, not
        null) are remembered."""
        pos = np.flatnonzero(np.asarray(keys.is_valid(), dtype=bool))
        if not pos.size:
            return {}
        self.db.register("chunk", pa.table({"key": keys}))
        try:  # DuckDB's hash() of a string, in row order
            h = self.db.sql("SELECT hash(key) AS h FROM chunk").fetchnumpy()["h"][pos]
        finally:
            self.db.unregister("chunk")
        order = np.argsort(h, kind="stable")
        sorted_h = h[order]
        same = np.flatnonzero(sorted_h[1:] == sorted_h[:-1])
        suspect = np.zeros(len(pos), dtype=bool)
        suspect[order[same]] = suspect[order[same + 1]] = True  # hash repeated in this chunk
        if self.hashes is None:
            suspect[:] = True
        else:
            suspect[order[self.hashes.contains(sorted_h)]] = True  # hash seen before
        out: dict[int, int] = {}
        if suspect.any():
            out = self._resolve(pos[suspect], h[suspect], keys, rows)
        new = np.setdiff1d(pos, np.fromiter(out, dtype=np.int64, count=len(out)), assume_unique=True) \
            if out else pos
        keep = np.isin(pos, new, assume_unique=True) if out else slice(None)
        added = pa.table({"h": pa.array(h[keep], pa.uint64()), "key": keys.take(pa.array(new)),
                          "row": rows.take(pa.array(new)).cast(pa.int64())})
        self.db.register("added", added)
        try:
            self.db.execute("INSERT INTO seen SELECT h, key, row FROM added")
        finally:
            self.db.unregister("added")
        if self.hashes is not None:
            self.hashes.add(h[keep])
            if self.hashes.size > self.MEMORY_HASHES:
                self.hashes = None
        return out

    def _resolve(self, suspects: np.ndarray, hashes: np.ndarray, keys: pa.Array, rows: pa.Array) -> dict[int, int]:
        """Compare the keys themselves, for the (few) rows whose hash was seen before or repeats."""
        idx = pa.array(suspects)
        probe = pa.table({"h": pa.array(hashes, pa.uint64()), "key": keys.take(idx)})
        self.db.register("probe", probe)
        try:
            earlier = dict(self.db.execute("SELECT DISTINCT s.key, s.row FROM probe p JOIN seen s "
                                           "ON s.h = p.h AND s.key = p.key").fetchall())
        finally:
            self.db.unregister("probe")
        out: dict[int, int] = {}
        first_here: dict[str, int] = {}
        for i, key, row in zip(suspects.tolist(), probe.column("key").to_pylist(), rows.take(idx).to_pylist(),
                               strict=True):
            if key in earlier:
                out[i] = earlier[key]
            elif key in first_here:
                out[i] = first_here[key]
            else:
                first_here[key] = row
        return out

    def close(self) -> None:
        self.db.close()
        for f in (self.path, self.path.with_name(self.path.name + ".wal")):
            f.unlink(missing_ok=True)
