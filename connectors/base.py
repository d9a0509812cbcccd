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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from exchange.errors import ConfigError

if TYPE_CHECKING:
    import pyarrow as pa

    from exchange.spec.feed import SourceSpec

META_COLUMNS = ("_source_file", "_source_row", "_parse_error")
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
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.feed_id = feed_id
        self.batch_rows = batch_rows

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


def connector_for(spec: SourceSpec, *, base_dir: Path, feed_id: str,
                  batch_rows: int = DEFAULT_BATCH_ROWS) -> Connector:
    """Build the connector registered for ``spec.kind``."""
    import connectors.file  # noqa: F401  (registers the file kind)

    cls = Connector.registry.get(spec.kind)
    if cls is None:
        known = ", ".join(sorted(Connector.registry))
        raise ConfigError(f"feed {feed_id}: source.kind: unknown source kind {spec.kind!r}; "
                          f"known kinds: {known}")
    return cls(spec, base_dir=base_dir, feed_id=feed_id, batch_rows=batch_rows)
