"""What passes between the stages of a batch, typed: ``extract.json`` is :class:`Extracted`,
``validation.json`` is :class:`Validated` (the sealed manifest is :class:`exchange.staging.Manifest`),
and what a stage answers its caller is :class:`BatchOutcome`."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exchange import staging

Top = list[tuple[str, str, int]]
"""The most frequent (rule, field, count)."""


def top(reasons: Counter, n: int = 5) -> Top:
    return [(rule, fld, c) for (rule, fld), c in reasons.most_common(n)]


class _Record:
    """A record written as one JSON file of a batch's staging folder; optional keys left out when unset."""

    FILE = ""
    OPTIONAL: tuple[str, ...] = ()

    def write(self, folder: Path) -> None:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        for name in self.OPTIONAL:
            if not data[name]:
                del data[name]
        staging.write_json(folder / self.FILE, data)

    @classmethod
    def read(cls, folder: Path) -> Any:
        data = staging.read_json(folder / cls.FILE)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class Extracted(_Record):
    """``extract.json``: what was read, from where, and the state an incremental source moves to."""

    FILE = staging.EXTRACT
    OPTIONAL = ("requested_by", "notes")

    batch_id: str
    feed: str
    fingerprint: str
    source: dict[str, Any]
    new_state: dict[str, Any] | None
    rows_in: int
    columns: list[str]
    interval: list[str] | None = None
    requested_by: str | None = None
    """Who asked for a reprocessing batch."""
    notes: list[str] = field(default_factory=list)
    """What the reader noticed about the source as a whole (an unnamed empty column left out, ...)."""

    def source_name(self) -> str:
        return ", ".join(f["path"] for f in self.source.get("files", [])) or self.feed


@dataclass
class Validated(_Record):
    """``validation.json``: the split of the batch's rows and the suite's results (counts, never values)."""

    FILE = staging.VALIDATION
    OPTIONAL = ("reprocessing", "superseded", "notes")

    batch_id: str
    suite: str
    rows_in: int
    rows_valid: int
    rows_rejected: int
    reject_ratio: float
    rows_flagged: int
    top_flags: Top
    top_reasons: Top
    report: str | None
    expectations: list[dict[str, Any]]
    reprocessing: bool = False
    superseded: int = 0
    """Reprocessing: valid rows kept in quarantine because a newer version is already in core."""
    notes: list[str] = field(default_factory=list)
    """The batch report's notes: the reader's (:attr:`Extracted.notes`), then the columns' (:class:`Split`)."""


@dataclass
class Split:
    """Running totals while rows stream through map → validate → split."""

    rows_in: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    rows_flagged: int = 0
    """Valid rows loaded with flagged fields (counted inside rows_valid)."""
    flags: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    """What the batch's columns say as a whole (:mod:`exchange.pipeline.column_signs`)."""


@dataclass
class BatchOutcome:
    feed: str
    batch_id: str
    state: str
    rows_in: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_flagged: int = 0
    """Loaded rows with flagged fields (inside rows_loaded)."""
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    reject_ratio: float = 0.0
    max_reject_ratio: float = 0.0
    top_reasons: Top = field(default_factory=list)
    report_path: str | None = None
    staging_path: str | None = None
    error: str | None = None
    already_loaded: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the batch report says about the source as a whole (see :attr:`Validated.notes`)."""
    index: dict[str, Any] = field(default_factory=dict)
    """The element index's catch-up after the batch was published (``exchange run``): elements and
    seconds, or the error that left it behind; empty where none ran."""

    @property
    def published(self) -> bool:
        return self.state in ("loaded", "published")
