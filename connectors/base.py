"""The connector protocol shared by every source kind.

A connector yields ``pyarrow.RecordBatch`` objects of at most ``batch_rows`` rows.
Every batch has the source's own columns, all typed ``string`` (values exactly as
read, never coerced), followed by the meta columns:

- ``_source_file``  (string): the file (or table/endpoint) the row came from;
- ``_source_row``   (int64):  1-based record number within that file, header excluded;
- ``_parse_error``  (string): null, or why the row could not be read cleanly
  (e.g. a ragged row); such a row is quarantined with that reason.

The column set is the same in every batch of one run. ``fingerprint()`` is a
deterministic SHA-256 (hex) of what the run will read, so the same input always
yields the same batch id.

Incremental sources receive the ``state`` saved after the feed's last loaded batch (a
JSON-able dict: a watermark, the files already taken, ...) and the run's data ``interval``
(under Airflow: the DAG run's data interval). After ``batches()`` is exhausted,
``new_state()`` returns what to save; the runner stores it in ``audit.feed_state`` in the
same transaction as the load, so a batch that fails to load does not advance it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from exchange.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from exchange.spec.feed import SourceSpec

META_COLUMNS = ("_source_file", "_source_row", "_parse_error")
Interval = tuple[datetime, datetime]
DEFAULT_BATCH_ROWS = 50_000


class Connector(ABC):
    """One source kind. Subclasses register themselves by ``kind``."""

    kind: ClassVar[str]
    registry: ClassVar[dict[str, type[Connector]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        kind = getattr(cls, "kind", None)
        if kind:
            Connector.registry[kind] = cls

    def __init__(self, spec: SourceSpec, *, base_dir: Path, feed_id: str,
                 batch_rows: int = DEFAULT_BATCH_ROWS, state: dict[str, Any] | None = None,
                 interval: Interval | None = None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.feed_id = feed_id
        self.batch_rows = batch_rows
        self.state = state
        self.interval = interval

    @abstractmethod
    def fingerprint(self) -> str:
        """SHA-256 hex digest identifying exactly what ``batches()`` will read."""

    @abstractmethod
    def batches(self) -> Iterator[pa.RecordBatch]:
        """Stream the source as bounded record batches (see module docstring)."""

    @abstractmethod
    def columns(self) -> list[str]:
        """The source's own column names (no meta columns), known even when it has no rows."""

    def describe(self) -> dict[str, object]:
        """What was read, for the batch manifest and lineage (files and their hashes)."""
        return {"kind": self.kind}

    def new_state(self) -> dict[str, Any] | None:
        """State to save once this run's batch is loaded (None: nothing to remember)."""
        return None


def connector_for(spec: SourceSpec, *, base_dir: Path, feed_id: str,
                  batch_rows: int = DEFAULT_BATCH_ROWS, state: dict[str, Any] | None = None,
                  interval: Interval | None = None) -> Connector:
    """Build the connector registered for ``spec.kind``."""
    import connectors.file  # noqa: F401  (registers the file kind)

    cls = Connector.registry.get(spec.kind)
    if cls is None:
        known = ", ".join(sorted(Connector.registry))
        raise ConfigError(f"feed {feed_id}: source.kind: unknown source kind {spec.kind!r}; "
                          f"known kinds: {known}")
    return cls(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows, state=state,
               interval=interval)
