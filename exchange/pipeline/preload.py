"""The load overlapped with validation (``exchange run`` on PostgreSQL): each chunk of valid rows, as the
validate stage writes it to ``valid.parquet``, is also sent down one COPY into core (or into the upsert's
stage table) on a connection of its own, while the next chunk is validated; the load stage then takes
that connection and does the rest of its work — the quarantine, the upsert's merge, the ledger — and
commits everything in that one transaction, as it would have done alone.

What does not change: nothing reaches core before the load stage commits (the transaction stays open
through validate and seal: a run killed anywhere leaves nothing, PostgreSQL rolls it back), the load
stage still verifies the sealed files against their manifest, and counts what was copied against the
manifest's valid rows. What is different: the rows copied are the validated tables themselves, not read
back from ``valid.parquet`` (the same tables the sink wrote, whose SHA-256 the seal recorded).

Used when the batch is validated and loaded in one process (``Pipeline.run``; Airflow's tasks are
separate processes, each stage alone), on a server warehouse (SQLite has one writer: the open transaction
would lock the ledger's own writes out), unless ``EXCHANGE_OVERLAP_LOAD=off``. A batch that stops before
its load (over its reject ratio, an error) rolls the copy back.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa

from exchange.pipeline.stamps import now
from exchange.warehouse.load import CoreUpsert
from exchange.warehouse.tables import EntityTables

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun

log = logging.getLogger(__name__)

_END = object()
AHEAD = 1
"""Validated chunks waiting for the COPY at most (memory stays bounded; validation waits for a slow server)."""
PIECE = 50_000
"""Rows encoded for the COPY at a time (the binary encoding holds a few copies of what it encodes)."""


class Preload:
    """One batch's valid rows copied on a thread while they are validated; taken by the load stage."""

    def __init__(self, run: BatchRun, batch_id: str) -> None:
        self.batch_id = batch_id
        self._conn: Connection = run.engine.connect()
        self._tx = self._conn.begin()
        try:
            self.upsert = CoreUpsert(self._conn, EntityTables(run.schema), batch_id=batch_id,
                                     agency=run.feed.agency, now=now(), unique_keys=True)
        except BaseException:
            self._close(commit=False)
            raise
        self._chunks: queue.Queue[object] = queue.Queue(maxsize=AHEAD)
        self._error: BaseException | None = None
        self._ended = False
        self._taken_end = False
        self._thread = threading.Thread(target=self._copy, name=f"exchange-preload-{batch_id}", daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        try:
            self.upsert.copy(self._stream())
        except BaseException as exc:  # noqa: BLE001 - told to the validate stage at its next chunk, or to the load
            # stage
            self._error = exc
            while not self._taken_end:  # let the producer go on to its end (it may have been taken already:
                self._taken_end = self._chunks.get() is _END  # a COPY that fails as it ends)

    def _stream(self) -> Iterator[pa.RecordBatch]:
        while (item := self._chunks.get()) is not _END:
            yield from item.to_batches(max_chunksize=PIECE)  # type: ignore[attr-defined]
        self._taken_end = True

    def put(self, table: pa.Table) -> None:
        """A chunk of valid rows, as the sink wrote it (raises the COPY's error, if it failed)."""
        if self._error is not None:
            raise self._error
        if table.num_rows:
            self._chunks.put(table)

    def end(self) -> None:
        """Every valid row was put: the COPY completes (its error raised here)."""
        if not self._ended:
            self._ended = True
            self._chunks.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """The load stage's transaction: the copy's own, committed when the block ends (rolled back if it raises)."""
        self.end()
        try:
            yield self._conn
        except BaseException:
            self._close(commit=False)
            raise
        self._close(commit=True)

    def discard(self) -> None:
        """The batch stops before its load: the copy rolled back."""
        try:
            if self._thread.is_alive():
                self.end()
        except BaseException:  # the copy is being thrown away; the batch's own error stands
            log.debug("batch %s: the overlapped copy had failed too", self.batch_id, exc_info=True)
        self._close(commit=False)

    def _close(self, *, commit: bool) -> None:
        """Commit (its error raised) or roll back (never raising: the copy is thrown away because of another
        error, which stands — a connection the server lost rolls back by itself) and close."""
        try:
            if commit:
                self._tx.commit()
            elif self._tx.is_active:
                self._tx.rollback()
        except Exception:
            if commit:
                raise
            log.debug("batch %s: rolling the overlapped copy back failed", self.batch_id, exc_info=True)
        finally:
            with contextlib.suppress(Exception):
                self._conn.close()
