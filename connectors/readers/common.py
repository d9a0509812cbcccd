"""What every file reader shares: the chunk a reader yields, the reader base classes, errors that
name the file, header checks and ragged rows."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pyarrow as pa

from connectors.base import META_COLUMNS
from connectors.encoding import resolve_encoding
from exchange.errors import SourceError

T = TypeVar("T")

log = logging.getLogger(__name__)

_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a lone surrogate: no character (JSON \ud800 escapes)

EXTRA_VALUES_MAX_CHARS = 200
MAX_EXACT_FLOAT_INT = 2**53

FORMAT_BY_EXTENSION = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".json": "json",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet",
}

Row = list[str | None]


@dataclass(frozen=True)
class Chunk:
    """Up to ``size`` rows of one file: string columns in the reader's order, one error per row."""

    columns: list[pa.Array]
    errors: list[str | None]

    @property
    def num_rows(self) -> int:
        return len(self.errors)




def source_error(display: str, message: str, *, offset: int | None = None,
                 row: int | None = None) -> SourceError:
    return SourceError(f"{display}: {message}", source=display, offset=offset, row=row)


def clean_header_name(name: str) -> str:
    """A header name as written, without surrounding whitespace or a BOM."""
    return name.strip().strip("\ufeff").strip()


def check_header(names: list[str], display: str, *, allow_empty: bool = False) -> None:
    """Refuse empty, duplicated or reserved column names, reporting all of them at once."""
    problems: list[str] = []
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        if name == "" and not allow_empty:
            problems.append(f"empty column name at position {i}")
            continue
        if not name.isascii() and _SURROGATE.search(name):
            problems.append(f"column name {name!a} at position {i} holds a lone UTF-16 surrogate, "
                            f"which is not a character")
            continue
        positions.setdefault(name, []).append(i)
    for name, where in positions.items():
        if len(where) > 1:
            problems.append(f"duplicate column name {name!r} at positions "
                            f"{', '.join(str(p) for p in where)}")
        if name in META_COLUMNS:
            problems.append(f"column name {name!r} (position {where[0]}) is reserved for the "
                            f"exchange's own metadata")
    if problems:
        raise source_error(display, "bad header: " + "; ".join(problems)
                           + "; fix the header row and re-export")


def refuse_title(display: str, names: list[str], place: str, first_at: int, next_at: int, next_width: int,
                 next_filled: int, unit: str) -> None:
    """Refuse a title above the header — the header read has one name and the row after it fills two
    cells or more (a merged title cell over the table) — saying how to skip it. ``place``: "line" or
    "sheet row"; ``unit``: what the next row holds ("fields", "cells")."""
    if len(names) != 1 or next_filled < 2:
        return
    raise source_error(display, f"{place} {first_at} holds one value ({names[0]!r}) above a row with {next_width} "
                                f"{unit} ({place} {next_at}): it looks like a title (a merged cell) above the "
                                f"header; set source.header_row: {next_at} in the feed to read the column names "
                                f"from there")


def unnamed_tail(names: list[str]) -> int:
    """How many columns at the end of a header have no name (a delimiter after the last name, cells
    formatted past the last header cell)."""
    n = 0
    while n < len(names) and names[len(names) - 1 - n] == "":
        n += 1
    return n


def unnamed_note(count: int) -> str:
    return (f"the header row ends in {count} column(s) without a name: left out (empty in a row, they are "
            f"ignored; a value in one is reported on its row)")


def ragged_message(values: list[Any], width: int) -> str:
    """``_parse_error`` text of a row whose field count differs from the header's."""
    text = f"row has {len(values)} fields, header has {width}"
    if len(values) > width:
        extra = repr(list(values[width:]))
        if len(extra) > EXTRA_VALUES_MAX_CHARS:
            extra = extra[:EXTRA_VALUES_MAX_CHARS - 3] + "..."
        text += f"; extra values: {extra}"
    return text


def fit_row(values: list[Any], width: int) -> list[Any]:
    """Pad a short row with nulls, drop values beyond the header."""
    if len(values) < width:
        return values + [None] * (width - len(values))
    return values[:width]


def in_batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (the last one shorter), read lazily: how every reader
    turns its rows into chunks."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def pairs_to_chunk(pairs: list[tuple[Row, str | None]], width: int) -> Chunk:
    """(row, parse error or None) pairs as one chunk."""
    return rows_to_chunk([row for row, _ in pairs], [error for _, error in pairs], width)


def rows_to_chunk(rows: list[Row], errors: list[str | None], width: int) -> Chunk:
    if not rows:
        return Chunk([pa.array([], type=pa.string()) for _ in range(width)], errors)
    return Chunk([pa.array(col, type=pa.string()) for col in zip(*rows, strict=True)], errors)


@dataclass(frozen=True)
class ReadOptions:
    """What a file source declares about how to read its files (``source.*`` of the feed spec)."""

    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    records_path: str | None = None
    header_row: int | None = None
    """The line (sheet row) of the column names; None: the first non-blank one."""


class Reader(ABC):
    """One file: its column names and its rows as bounded chunks. A reader class names the formats
    it reads (``formats``) and opens a file of one of them (``open``); ``connectors.readers`` keeps
    the registry."""

    formats: ClassVar[tuple[str, ...]] = ()

    @classmethod
    @abstractmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> Reader: ...

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self._columns: list[str] | None = None
        self.notes: list[str] = []
        """What the reader noticed about the file as a whole (said in the batch report)."""

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def columns(self) -> list[str]:
        """The file's column names in file order (cached; cheap to call again)."""
        if self._columns is None:
            self._columns = self._read_columns()
        return self._columns

    @abstractmethod
    def _read_columns(self) -> list[str]: ...

    @abstractmethod
    def chunks(self, size: int) -> Iterator[Chunk]:
        """Stream the file's rows as chunks of at most ``size`` rows."""


class TextReader(Reader):
    """A reader of a text format: the encoding is resolved (and proven) once per file."""

    def __init__(self, path: Path, display: str, *, encoding: str) -> None:
        super().__init__(path, display)
        self.declared_encoding = encoding
        self._codec: str | None = None

    @property
    def codec(self) -> str:
        if self._codec is None:
            self._codec = resolve_encoding(self.path, self.declared_encoding, self.display)
        return self._codec

    def decode_error(self, exc: UnicodeDecodeError) -> SourceError:
        return source_error(self.display, f"cannot decode as {self.codec} ({exc.reason}); the file "
                                          f"changed while it was read, or is not {self.codec}")
