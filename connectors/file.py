"""The ``file`` source kind: CSV, TSV, Excel, JSON, NDJSON and Parquet files on disk.

``source.path`` is a file or a glob relative to the landing folder; the files it
matches are read in sorted order and must all have the same column set (the first
file's column order is used). See ``connectors.readers`` for the formats and
``connectors.encoding`` for how text encodings are detected.

``mode: snapshot`` (the default) reads every matching file on every run; the fingerprint
is the SHA-256 of their paths and contents.

``mode: drop_folder`` takes each new file exactly once. The state remembers every file
taken, by name and SHA-256 (with its size and mtime, so an unchanged file is not hashed
again); a file whose name and content were taken before is never re-read, and the same name
with new content is a new file. A file is not taken while it may still be written: a name
ending ``.part``/``.tmp``/``.partial``/``.crdownload`` or starting with ``.`` or ``~$``, a file
modified less than ``settle_seconds`` ago, or one whose size or mtime changes while it is
hashed; it is picked up by a later run. The fingerprint is the SHA-256 of the new files'
paths and contents; with no new file it is the state's (the batch that took the last files).
State: ``{"taken": {path: {"sha256", "bytes", "mtime_ns"}}, "columns", "fingerprint"}``.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from connectors.base import DEFAULT_BATCH_ROWS, META_COLUMNS, Connector
from connectors.readers import Chunk, Reader, infer_format, make_reader
from exchange.errors import SourceError

if TYPE_CHECKING:
    from exchange.spec.feed import FileSourceSpec

log = logging.getLogger(__name__)

HASH_CHUNK_BYTES = 1 << 20
GLOB_CHARS = frozenset("*?[")
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".filepart")
IN_PROGRESS_PREFIXES = (".", "~$")


def in_progress_name(name: str) -> bool:
    """A name that, by convention, marks a file still being written (``x.csv.part``, ``.x.csv.swp``)."""
    return name.startswith(IN_PROGRESS_PREFIXES) or name.lower().endswith(IN_PROGRESS_SUFFIXES)
META_TYPES = (pa.string(), pa.int64(), pa.string())  # _source_file, _source_row, _parse_error


@dataclass(frozen=True)
class FileInfo:
    """One matched file: its display path (relative to base_dir), size and content hash."""

    path: str
    sha256: str
    bytes: int


@dataclass
class SourceFile:
    """One matched file and the reader for its format."""

    display: str
    path: Path
    reader: Reader


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex digest and size of a file, hashed in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK_BYTES):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _os_error(f: SourceFile, exc: OSError) -> SourceError:
    return SourceError(f"{f.display}: cannot read the file ({exc.strerror or exc}); check that it "
                       f"exists and is readable", source=f.display)


def _file_columns(f: SourceFile) -> list[str]:
    try:
        return f.reader.columns()
    except OSError as exc:
        raise _os_error(f, exc) from exc


class FileConnector(Connector):
    """Reads the files ``source.path`` matches as string record batches."""

    kind = "file"
    spec: FileSourceSpec

    def __init__(self, spec: FileSourceSpec, *, base_dir: Path, feed_id: str,
                 batch_rows: int = DEFAULT_BATCH_ROWS, **kwargs: Any) -> None:
        super().__init__(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows, **kwargs)
        self._files: list[SourceFile] | None = None
        self._infos: list[FileInfo] | None = None
        self._columns: list[str] | None = None
        self._fingerprint: str | None = None
        self._taken: dict[str, dict[str, Any]] = {}
        self._not_yet: list[str] = []
        self._read_done = False

    @property
    def drop_folder(self) -> bool:
        return self.spec.mode == "drop_folder"

    # ------------------------------------------------------------ public surface

    def files(self) -> list[SourceFile]:
        """The matched files in sorted order (SourceError if none match)."""
        if self._files is None:
            matched = self._match()
            if self.drop_folder:
                matched = self._new_files(matched)
            self._files = [self._source_file(display, path) for display, path in matched]
        return self._files

    def columns(self) -> list[str]:
        """The source's column names (meta columns excluded), reading only what is needed.

        For CSV/TSV/XLSX that is the header row (after the encoding check), for NDJSON a
        streaming pass over the keys. Every matched file must have the same column set.
        """
        if self._columns is None:
            files = self.files()
            if not files:
                known = (self.state or {}).get("columns")
                if known is not None:
                    self._columns = list(known)
                    return self._columns
                raise SourceError(f"feed {self.feed_id}: no file has arrived in the drop folder "
                                  f"({self.spec.path!r} under {self.base_dir}) yet; nothing to load",
                                  source=self.spec.path)
            first = files[0]
            columns = _file_columns(first)
            for other in files[1:]:
                self._check_same_columns(first, columns, other, _file_columns(other))
            self._columns = columns
        return self._columns

    def schema(self) -> pa.Schema:
        """The schema of every batch: the source columns as strings, then the meta columns."""
        fields = [pa.field(name, pa.string()) for name in self.columns()]
        fields += [pa.field(name, type_) for name, type_ in zip(META_COLUMNS, META_TYPES, strict=True)]
        return pa.schema(fields)

    def file_infos(self) -> list[FileInfo]:
        """Path, SHA-256 and size of every matched file (hashed once, then cached)."""
        files = self.files()  # a drop folder hashes its new files while choosing them
        if self._infos is None:
            infos = []
            for f in files:
                try:
                    digest, size = sha256_file(f.path)
                except OSError as exc:
                    raise _os_error(f, exc) from exc
                infos.append(FileInfo(f.display, digest, size))
            self._infos = infos
        return self._infos

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            infos = self.file_infos()
            state = self.state or {}
            if self.drop_folder and not infos and state.get("fingerprint"):
                log.info("%s: no new file in the drop folder", self.feed_id)
                self._fingerprint = str(state["fingerprint"])
            else:
                h = hashlib.sha256()
                for info in sorted(infos, key=lambda i: i.path):
                    h.update(f"{info.path}\0{info.sha256}\n".encode())
                self._fingerprint = h.hexdigest()
        return self._fingerprint

    def describe(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "files": [{"path": i.path, "sha256": i.sha256, "bytes": i.bytes} for i in self.file_infos()]}
        if self.drop_folder:
            out["mode"] = "drop_folder"
            out["not_yet_settled"] = list(self._not_yet)
        return out

    def notes(self) -> list[str]:
        return [f"{f.display}: {note}" for f in self.files() for note in f.reader.notes]

    def new_state(self) -> dict[str, Any] | None:
        if not self.drop_folder or not self._read_done:
            return None
        taken = dict((self.state or {}).get("taken") or {})
        taken.update(self._taken)
        return {"taken": dict(sorted(taken.items())), "columns": self._columns or (self.state or {}).get("columns"),
                "fingerprint": self.fingerprint()}

    def batches(self) -> Iterator[pa.RecordBatch]:
        if not self.files():  # a drop folder with no new file
            self._read_done = True
            return
        columns = self.columns()
        schema = self.schema()
        for f in self.files():
            position = {name: i for i, name in enumerate(f.reader.columns())}
            order = [position[name] for name in columns]
            n = 0
            try:
                for chunk in f.reader.chunks(self.batch_rows):
                    if chunk.num_rows:
                        yield self._batch(schema, chunk, order, f.display, n)
                        n += chunk.num_rows
            except OSError as exc:
                raise _os_error(f, exc) from exc
            log.info("%s: read %s rows", f.display, n)
        self._read_done = True

    # ------------------------------------------------------------ internals

    @staticmethod
    def _batch(schema: pa.Schema, chunk: Chunk, order: list[int], display: str, done: int) -> pa.RecordBatch:
        n = chunk.num_rows
        arrays = [chunk.columns[i] for i in order]
        arrays.append(pa.array([display] * n, type=pa.string()))
        arrays.append(pa.array(np.arange(done + 1, done + n + 1, dtype=np.int64)))
        arrays.append(pa.array(chunk.errors, type=pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    def _match(self) -> list[tuple[str, Path]]:
        pattern = self.spec.path
        hits = glob.glob(pattern, root_dir=self.base_dir, recursive=True) if GLOB_CHARS & set(pattern) else [pattern]
        found = []
        for hit in hits:
            path = self.base_dir / hit
            if path.is_file():
                found.append((self._display(hit), path))
        if not found and not self.drop_folder:
            raise SourceError(f"feed {self.feed_id}: source.path {pattern!r} matched no file under "
                              f"{self.base_dir}; check the path (relative to the project folder) and "
                              f"that the export has arrived", source=pattern)
        found.sort(key=lambda item: item[0])
        log.debug("%s: %s matched %s files", self.feed_id, pattern, len(found))
        return found

    def _new_files(self, matched: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
        """Drop folder: the matched files not taken before and no longer being written, hashed."""
        taken = (self.state or {}).get("taken") or {}
        settle = self.spec.settle_seconds
        now = time.time()
        new: list[tuple[str, Path]] = []
        infos: list[FileInfo] = []
        for display, path in matched:
            if in_progress_name(path.name):
                log.debug("%s: %s is still being written (its name says so)", self.feed_id, display)
                continue
            try:
                before = path.stat()
                if now - before.st_mtime < settle:
                    log.info("%s: %s was modified %.0fs ago (settle_seconds %s); left for a later run",
                             self.feed_id, display, max(0.0, now - before.st_mtime), settle)
                    self._not_yet.append(display)
                    continue
                prev = taken.get(display)
                if prev and prev.get("bytes") == before.st_size and prev.get("mtime_ns") == before.st_mtime_ns:
                    continue
                digest, size = sha256_file(path)
                after = path.stat()
            except FileNotFoundError:
                continue  # removed while we looked: not ours to take
            except OSError as exc:
                raise SourceError(f"{display}: cannot read the file ({exc.strerror or exc}); check that it is "
                                  f"readable", source=display) from exc
            if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or size != after.st_size:
                log.info("%s: %s changed while it was hashed; left for a later run", self.feed_id, display)
                self._not_yet.append(display)
                continue
            record = {"sha256": digest, "bytes": size, "mtime_ns": after.st_mtime_ns}
            if prev and prev.get("sha256") == digest:
                self._taken[display] = record  # same content touched again: remember its new mtime
                continue
            self._taken[display] = record
            new.append((display, path))
            infos.append(FileInfo(display, digest, size))
        self._infos = infos
        log.info("%s: %s new file(s) in the drop folder, %s not settled yet", self.feed_id, len(new),
                 len(self._not_yet))
        return new

    def _display(self, hit: str) -> str:
        p = Path(hit)
        if p.is_absolute():
            with contextlib.suppress(ValueError):
                p = p.relative_to(self.base_dir)
        return p.as_posix()

    def _source_file(self, display: str, path: Path) -> SourceFile:
        fmt = infer_format(path, self.spec.format, display)
        reader = make_reader(path, display, fmt, encoding=self.spec.encoding,
                             delimiter=self.spec.delimiter, sheet=self.spec.sheet,
                             records_path=self.spec.records_path, header_row=self.spec.header_row)
        return SourceFile(display, path, reader)

    @staticmethod
    def _check_same_columns(first: SourceFile, columns: list[str], other: SourceFile,
                            other_columns: list[str]) -> None:
        if set(columns) == set(other_columns):
            return
        only_first = [c for c in columns if c not in set(other_columns)]
        only_other = [c for c in other_columns if c not in set(columns)]
        raise SourceError(
            f"{other.display}: its columns differ from {first.display}: only in {first.display}: "
            f"{only_first}; only in {other.display}: {only_other}; every file the glob matches must "
            f"have the same columns", source=other.display)

