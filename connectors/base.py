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

The fingerprint of an incremental source is a SHA-256 of (source spec, starting state,
interval, and what the source holds beyond the state: a probe of the window for ``sql``, the
records' digest for ``http``, the new files' hashes for a drop folder). The same spec, state,
interval and data give the same batch id, so a failed run is retried as the same batch. When
the source holds nothing beyond the state, the fingerprint is the one saved in the state
(``state["fingerprint"]``, the batch that produced it): re-running is then a no-op
("already loaded"), not a new empty batch.

Source kinds are a closed set (``file``, ``sql``, ``http``), each registered by its
``kind``; a spec names a kind, never a Python import path.
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
        """The source's own column names (no meta columns), known even when it has no rows.

        A source that can only learn them from its rows (a JSON API, an empty drop folder)
        answers from its state, or on a feed's very first run raises SourceError saying so.
        """

    def describe(self) -> dict[str, object]:
        """What was read, for the batch manifest and lineage (files and their hashes)."""
        return {"kind": self.kind}

    def new_state(self) -> dict[str, Any] | None:
        """State to save once this run's batch is loaded (None: nothing to remember)."""
        return None

    def notes(self) -> list[str]:
        """What reading the source noticed about it as a whole, for the batch report (asked once read)."""
        return []


def batch_schema(columns: list[str]) -> pa.Schema:
    """The schema of every batch: the source columns as strings, then the meta columns."""
    import pyarrow as pa

    return pa.schema([pa.field(c, pa.string()) for c in columns]
                     + [pa.field("_source_file", pa.string()), pa.field("_source_row", pa.int64()),
                        pa.field("_parse_error", pa.string())])


def string_batch(schema: pa.Schema, rows: list[list[str | None]], source: str, first_row: int,
                 errors: list[str | None] | None = None) -> pa.RecordBatch:
    """Rows of source values (strings or None) as one record batch, numbered from ``first_row``."""
    import pyarrow as pa

    width = len(schema) - len(META_COLUMNS)
    n = len(rows)
    if n:
        columns = [pa.array(list(col), type=pa.string()) for col in zip(*rows, strict=True)]
    else:
        columns = [pa.array([], type=pa.string()) for _ in range(width)]
    if width == 0:
        columns = []
    return columns_batch(schema, columns, source, first_row, errors if errors is not None else [None] * n)


def columns_batch(schema: pa.Schema, columns: list[pa.Array], source: str, first_row: int,
                  errors: list[str | None]) -> pa.RecordBatch:
    """String columns of source values (one per source column, in the schema's order) and one parse
    error per row as one record batch, numbered from ``first_row``."""
    import pyarrow as pa

    n = len(errors)
    arrays = [*columns, pa.array([source] * n, type=pa.string()),
              pa.array(range(first_row, first_row + n), type=pa.int64()), pa.array(errors, type=pa.string())]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def connector_for(spec: SourceSpec, *, base_dir: Path, feed_id: str,
                  batch_rows: int = DEFAULT_BATCH_ROWS, state: dict[str, Any] | None = None,
                  interval: Interval | None = None) -> Connector:
    """Build the connector registered for ``spec.kind``."""
    import connectors.file
    import connectors.http
    import connectors.sql  # noqa: F401  (each module registers its kind)

    cls = Connector.registry.get(spec.kind)
    if cls is None:
        known = ", ".join(sorted(Connector.registry))
        raise ConfigError(f"feed {feed_id}: source.kind: unknown source kind {spec.kind!r}; "
                          f"known kinds: {known}")
    return cls(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows, state=state,
               interval=interval)
