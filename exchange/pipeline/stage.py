"""What a stage and a source are to the driver.

A :class:`Stage` does its own work only; the driver (:mod:`exchange.pipeline.driver`) decides whether
it runs, times it, commits its ledger state in the same transaction as its warehouse writes, and
records its failure. A :class:`Source` opens the batch the first stage (extract) writes: it names
the batch (a deterministic id) and writes its raw rows.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from exchange.pipeline import order
from exchange.pipeline.checking import Progress

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from exchange.pipeline.driver import BatchRun
    from exchange.pipeline.records import BatchOutcome


class Stage:
    """One stage of a batch. The driver calls, in order: ``work`` (files, outside any transaction),
    ``commit`` (inside the transaction that sets the ledger state; returns the ledger's fields, and
    may override ``state``), ``record`` (the hash-chained ledger entry, same transaction, after the
    state), then ``finish`` once committed (may raise, e.g. a batch over its reject ratio)."""

    name: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]] = ()
    """Files of the staging folder that must exist for a batch at or past this stage to skip it."""
    needs: ClassVar[tuple[str, ...]] = ()
    """Ledger states the batch must be in for the stage to run at all (empty: any)."""

    @property
    def state(self) -> str:
        return order.step(self.name).state

    def work(self, run: BatchRun, batch_id: str, progress: Progress | None) -> Any:
        return None

    def transaction(self, run: BatchRun, batch_id: str, done: Any) -> AbstractContextManager[Connection]:
        """The transaction ``commit`` and ``record`` run in (a new one; the load stage may take over the one
        its rows were copied in while they were validated: ``exchange.pipeline.preload``)."""
        return run.engine.begin()

    def commit(self, run: BatchRun, conn: Connection, batch_id: str, done: Any) -> dict[str, Any]:
        return {}

    def record(self, run: BatchRun, conn: Connection, batch_id: str, done: Any) -> None:
        return None

    def finish(self, run: BatchRun, batch_id: str, done: Any, outcome: BatchOutcome) -> BatchOutcome:
        return outcome


@dataclass
class Opened:
    """A batch a source is ready to extract."""

    batch_id: str
    fingerprint: str
    describe: Callable[[], dict[str, Any]]
    """How the source describes itself in the ledger (paths, sizes, pages read; never credentials):
    asked when the batch starts and again once it is read."""
    write_raw: Callable[[Path, Progress | None], tuple[int, list[str]]]
    """Writes ``raw.parquet`` into a folder: (rows, the source's columns)."""
    new_state: Callable[[], dict[str, Any] | None] = lambda: None
    """The state an incremental source moves to once this batch is loaded (asked once it is read)."""
    notes: Callable[[], list[str]] = list
    """What the source noticed about itself as a whole while it was read (asked once it is read)."""
    interval: list[str] | None = None
    requested_by: str | None = None


class Source(Protocol):
    nothing: str
    """The outcome's state when there is nothing to extract."""

    def open(self, run: BatchRun) -> Opened | None: ...
