"""CSV and TSV files (``format: csv | tsv``): the fast Arrow path, and a record-by-record path for
what it cannot read cleanly."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors import fast_csv
from connectors.encoding import open_text
from connectors.readers.common import (
    Chunk,
    ReadOptions,
    Row,
    TextReader,
    check_header,
    clean_header_name,
    fit_row,
    in_batches,
    log,
    pairs_to_chunk,
    ragged_message,
    refuse_title,
    source_error,
    unnamed_note,
    unnamed_tail,
)
from exchange.errors import ConfigError, SourceError

RECORD_TEXT_MAX_CHARS = 500

CSV_FIELD_LIMIT = 64 << 20
FATAL_CSV_ERRORS = ("field larger than field limit", "unexpected end of data")


def as_sent(text: str, length: int | None = None) -> str:
    """The text of a record no value could be read from, for its parse error: quoted with control
    characters escaped (``repr``), without its line end, cut after ``RECORD_TEXT_MAX_CHARS`` characters
    with a note of how many more there were. ``text`` may be the start of a record ``length`` long."""
    if length is None:
        text = text.rstrip("\r\n")
        length = len(text)
    shown = text[:min(RECORD_TEXT_MAX_CHARS, length)]
    return repr(shown) + (f" … (+{length - len(shown):,} characters)" if length > len(shown) else "")


class RecordText:
    """The lines of ``f`` as the csv module reads them, keeping the text of the current record (its first
    characters: memory stays bounded whatever the record's size) until ``clear``."""

    def __init__(self, f: Iterable[str]) -> None:
        self._lines = iter(f)
        self.clear()

    def __iter__(self) -> RecordText:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        if self._room > 0:
            self._kept.append(line[:self._room])
            self._room -= len(line)
        self._length += len(line)
        self._end = 2 if line.endswith("\r\n") else 1 if line.endswith(("\n", "\r")) else 0
        return line

    def clear(self) -> None:
        self._kept: list[str] = []
        self._room = RECORD_TEXT_MAX_CHARS + 2  # and a CR LF
        self._length = self._end = 0

    def as_sent(self) -> str:
        """The record read since ``clear`` (see ``as_sent``)."""
        return as_sent("".join(self._kept), self._length - self._end)


@dataclass(frozen=True)
class CsvRecord:
    fields: list[str] | None  # None: the csv module could not parse this record
    line: int                 # physical line the record starts on
    error: str | None = None
    fatal: bool = False       # the reader cannot go on past this error
    text: str | None = None   # a record the csv module could not parse: its text as sent (see ``as_sent``)


class CsvReader(TextReader):
    formats = ("csv", "tsv")

    @classmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> CsvReader:
        if options.delimiter is not None and options.delimiter in '"\r\n':
            raise ConfigError(f"{display}: source.delimiter {options.delimiter!r} cannot separate fields; "
                              f"use e.g. ',', ';', '|' or a tab")
        return cls(path, display, encoding=options.encoding,
                   delimiter=options.delimiter or ("\t" if fmt == "tsv" else ","), header_row=options.header_row)

    """Delimited text, parsed by the ``csv`` module over the strictly decoded stream."""

    def __init__(self, path: Path, display: str, *, encoding: str, delimiter: str,
                 header_row: int | None = None) -> None:
        super().__init__(path, display, encoding=encoding)
        self.delimiter = delimiter
        self.header_row = header_row
        self.unnamed = 0
        """Columns without a name at the end of the header: left out, blank in every row."""
        self.header_line = 0

    def _read_columns(self) -> list[str]:
        with open_text(self.path, self.codec) as f:
            records = self._records(f)
            names = self._header(records)
            if self.header_row is None and len(names) == 1 and self.unnamed:  # a merged title saved as CSV?
                following = next((r for r in records if r.fields is not None), None)
                if following is not None and following.fields:
                    refuse_title(self.display, names, "line", self.header_line, following.line,
                                 len(following.fields), sum(1 for v in following.fields if v.strip()), "fields")
            return names

    def chunks(self, size: int) -> Iterator[Chunk]:
        done = 0
        if fast_csv.usable(self.codec, self.delimiter):
            # Arrow's parser where it reads the file exactly like the csv module (connectors/fast_csv.py);
            # from the first record it cannot, the csv module goes on
            try:
                for columns in fast_csv.csv_chunks(self.path, delimiter=self.delimiter,
                                                   header=self.columns() + [""] * self.unnamed, size=size,
                                                   clean=clean_header_name, field_limit=CSV_FIELD_LIMIT,
                                                   named=len(self.columns())):
                    n = len(columns[0])
                    yield Chunk(columns, [None] * n)
                    done += n
                return
            except fast_csv.Unsupported as exc:
                log.info("%s: parsed by the csv module from record %s on (%s)", self.display, done + 1, exc)
        yield from self._parsed_chunks(size, skip=done)

    def _parsed_chunks(self, size: int, skip: int = 0) -> Iterator[Chunk]:
        """The records parsed by the csv module, the first ``skip`` of them left out."""
        with open_text(self.path, self.codec) as f:
            records = self._records(f)
            width = len(self._header(records))

            def pairs() -> Iterator[tuple[Row, str | None]]:
                for n, rec in enumerate(records, start=1):
                    if rec.fatal:
                        raise self._fatal(rec, f"record {n} (starting at line {rec.line})", n)
                    if n > skip:
                        yield self._row(rec, width)

            for batch in in_batches(pairs(), size):
                yield pairs_to_chunk(batch, width)

    def _row(self, rec: CsvRecord, width: int) -> tuple[Row, str | None]:
        if rec.fields is None:  # no value can be told apart: the record's text goes with its reason
            return [None] * width, f"CSV error: {rec.error} (line {rec.line}); the record as sent: {rec.text}"
        if len(rec.fields) == width:
            return rec.fields, None
        if width < len(rec.fields) <= width + self.unnamed and not any(v.strip() for v in rec.fields[width:]):
            return rec.fields[:width], None  # the header's unnamed columns, blank here too
        return fit_row(rec.fields, width), f"{ragged_message(rec.fields, width)} (line {rec.line})"

    def _header(self, records: Iterator[CsvRecord]) -> list[str]:
        """The column names: of the first non-blank record, or of the one at ``source.header_row``
        (the records above it skipped); unnamed columns at the end are left out (``unnamed``)."""
        for rec in records:
            if self.header_row is not None and rec.line < self.header_row:
                continue  # a title or notes above the declared header
            if rec.fatal:
                raise self._fatal(rec, f"the header row (line {rec.line})", None)
            if rec.fields is None:
                raise source_error(self.display, f"cannot parse the header row at line {rec.line}: "
                                                 f"{rec.error}")
            if self._blank(rec.fields):
                continue  # whitespace-only line before the header
            names = [clean_header_name(n) for n in rec.fields]
            self.header_line = rec.line
            tail = unnamed_tail(names)
            self.unnamed = tail if tail < len(names) else 0  # no name at all: check_header says so
            if self.unnamed:
                names = names[:-self.unnamed]
                self.note(unnamed_note(self.unnamed))
            check_header(names, self.display)
            return names
        if self.header_row is not None:
            raise source_error(self.display, f"no header row at or after line {self.header_row} "
                                             f"(source.header_row): the file ends before it")
        raise source_error(self.display, "file is empty: no header row", offset=0)

    def _blank(self, fields: list[str]) -> bool:
        """A whitespace-only line (with a whitespace delimiter, e.g. tabs only, too)."""
        if any(clean_header_name(f) for f in fields):
            return False
        return len(fields) == 1 or self.delimiter.isspace()

    def _records(self, f: Iterable[str]) -> Iterator[CsvRecord]:
        """Non-blank records with their starting line; csv errors as records (``fatal`` or not)."""
        csv.field_size_limit(CSV_FIELD_LIMIT)
        tap = RecordText(f)
        reader = csv.reader(tap, delimiter=self.delimiter, strict=True)
        prev_line = 0
        while True:
            start = prev_line + 1
            tap.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # the csv module drops the rest of the line: the tap has all of it
                msg = str(exc)
                prev_line = reader.line_num
                fatal = any(m in msg for m in FATAL_CSV_ERRORS)
                yield CsvRecord(None, start, msg, fatal=fatal, text=None if fatal else tap.as_sent())
                continue
            except UnicodeDecodeError as exc:
                raise self.decode_error(exc) from exc
            prev_line = reader.line_num
            if fields:
                yield CsvRecord(fields, start)

    def _fatal(self, rec: CsvRecord, what: str, record: int | None) -> SourceError:
        if rec.error and "field larger than field limit" in rec.error:
            text = (f"{what} has a field larger than {CSV_FIELD_LIMIT} characters; check the quoting "
                    f"or split the value")
        else:
            text = (f"{what} has an unterminated quoted field that runs to the end of the file; "
                    f"fix the quoting and re-export")
        return source_error(self.display, text, row=record)
