"""One reader per file format, each turning one file into chunks of string columns.

A reader knows its file's column names (``columns()``, header order) and streams the
rows as ``Chunk`` objects of at most ``size`` rows: one ``pa.string()`` array per
column, in the reader's own column order, plus one parse error (or None) per row.
The connector adds the meta columns and reconciles column order across files.

Values are never coerced or trimmed; an empty CSV cell is ``""``, a missing value
(short row, absent JSON key, empty Excel cell) is null. Every failure to read is a
``SourceError`` naming the file and, where known, the byte offset, line or record.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import logging
import re
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors import fast_csv
from connectors.base import META_COLUMNS
from connectors.encoding import open_text, resolve_encoding
from exchange.errors import ConfigError, SourceError

log = logging.getLogger(__name__)

CSV_FIELD_LIMIT = 64 << 20
XLSX_MAX_UNCOMPRESSED = 512 << 20
XLSX_MAX_RATIO = 200
XLSX_RATIO_MIN_BYTES = 1 << 20  # a member smaller than this cannot be a bomb, whatever its ratio
EXTRA_VALUES_MAX_CHARS = 200
MAX_EXACT_FLOAT_INT = 2**53

FORMAT_BY_EXTENSION = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".json": "json",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet",
}
FATAL_CSV_ERRORS = ("field larger than field limit", "unexpected end of data")

Row = list[str | None]


@dataclass(frozen=True)
class Chunk:
    """Up to ``size`` rows of one file: string columns in the reader's order, one error per row."""

    columns: list[pa.Array]
    errors: list[str | None]

    @property
    def num_rows(self) -> int:
        return len(self.errors)


def infer_format(path: Path, declared: str | None, display: str | None = None) -> str:
    """``source.format`` if declared, else the format the file's extension names."""
    if declared:
        return declared
    fmt = FORMAT_BY_EXTENSION.get(path.suffix.lower())
    if path.suffix.lower() == ".xls":
        raise ConfigError(f"{display or path}: old-style .xls workbooks are not read; re-save the file "
                          f"from Excel as .xlsx (or export CSV UTF-8)")
    if fmt is None:
        known = ", ".join(sorted(FORMAT_BY_EXTENSION))
        raise ConfigError(f"{display or path}: cannot tell the file format from the extension "
                          f"{path.suffix or '(none)'!r}; declare source.format or use one of: {known}")
    return fmt


def make_reader(path: Path, display: str, fmt: str, *, encoding: str = "auto",
                delimiter: str | None = None, sheet: str | None = None,
                records_path: str | None = None) -> Reader:
    """The reader for one file of format ``fmt`` (see ``infer_format``)."""
    if fmt in ("csv", "tsv"):
        if delimiter is not None and delimiter in '"\r\n':
            raise ConfigError(f"{display}: source.delimiter {delimiter!r} cannot separate fields; "
                              f"use e.g. ',', ';', '|' or a tab")
        return CsvReader(path, display, encoding=encoding,
                         delimiter=delimiter or ("\t" if fmt == "tsv" else ","))
    if fmt == "json":
        return JsonReader(path, display, encoding=encoding, records_path=records_path)
    if fmt == "ndjson":
        return NdjsonReader(path, display, encoding=encoding)
    if fmt == "xlsx":
        return XlsxReader(path, display, sheet=sheet)
    if fmt == "parquet":
        return ParquetReader(path, display)
    raise ConfigError(f"{display}: unknown file format {fmt!r}")


# ---------------------------------------------------------------- shared helpers


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


def rows_to_chunk(rows: list[Row], errors: list[str | None], width: int) -> Chunk:
    if not rows:
        return Chunk([pa.array([], type=pa.string()) for _ in range(width)], errors)
    return Chunk([pa.array(col, type=pa.string()) for col in zip(*rows, strict=True)], errors)


class Reader(ABC):
    """One file: its column names and its rows as bounded chunks."""

    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self._columns: list[str] | None = None

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


# ---------------------------------------------------------------- CSV / TSV


RECORD_TEXT_MAX_CHARS = 500


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
    """Delimited text, parsed by the ``csv`` module over the strictly decoded stream."""

    def __init__(self, path: Path, display: str, *, encoding: str, delimiter: str) -> None:
        super().__init__(path, display, encoding=encoding)
        self.delimiter = delimiter

    def _read_columns(self) -> list[str]:
        with open_text(self.path, self.codec) as f:
            return self._header(self._records(f))

    def chunks(self, size: int) -> Iterator[Chunk]:
        done = 0
        if fast_csv.usable(self.codec, self.delimiter):
            # Arrow's parser where it reads the file exactly like the csv module (connectors/fast_csv.py);
            # from the first record it cannot, the csv module goes on
            try:
                for columns in fast_csv.csv_chunks(self.path, delimiter=self.delimiter, header=self.columns(),
                                                   size=size, clean=clean_header_name, field_limit=CSV_FIELD_LIMIT):
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
            rows: list[Row] = []
            errors: list[str | None] = []
            for n, rec in enumerate(records, start=1):
                if rec.fatal:
                    raise self._fatal(rec, f"record {n} (starting at line {rec.line})", n)
                if n <= skip:
                    continue
                row, error = self._row(rec, width)
                rows.append(row)
                errors.append(error)
                if len(rows) >= size:
                    yield rows_to_chunk(rows, errors, width)
                    rows, errors = [], []
            if rows:
                yield rows_to_chunk(rows, errors, width)

    @staticmethod
    def _row(rec: CsvRecord, width: int) -> tuple[Row, str | None]:
        if rec.fields is None:  # no value can be told apart: the record's text goes with its reason
            return [None] * width, f"CSV error: {rec.error} (line {rec.line}); the record as sent: {rec.text}"
        if len(rec.fields) == width:
            return rec.fields, None
        return fit_row(rec.fields, width), f"{ragged_message(rec.fields, width)} (line {rec.line})"

    def _header(self, records: Iterator[CsvRecord]) -> list[str]:
        for rec in records:
            if rec.fatal:
                raise self._fatal(rec, f"the header row (line {rec.line})", None)
            if rec.fields is None:
                raise source_error(self.display, f"cannot parse the header row at line {rec.line}: "
                                                 f"{rec.error}")
            if self._blank(rec.fields):
                continue  # whitespace-only line before the header
            names = [clean_header_name(n) for n in rec.fields]
            check_header(names, self.display)
            return names
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


# ---------------------------------------------------------------- JSON / NDJSON


class JsonNumber(str):
    """A JSON number kept as its exact source text (no float rounding)."""


class JsonObject(dict):
    """A parsed JSON object. A plain dict keeps only the last value of a key written twice;
    ``pairs`` then holds every (key, value) as written (None when every key is unique)."""

    __slots__ = ("pairs",)


def _json_object(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject(pairs)
    obj.pairs = pairs if len(obj) < len(pairs) else None
    return obj


def loads_exact(text: str) -> Any:
    """``json.loads`` keeping every number as its source text (a ``JsonNumber``) and every
    object as a ``JsonObject`` (which remembers keys written twice)."""
    return json.loads(text, parse_int=JsonNumber, parse_float=JsonNumber, parse_constant=JsonNumber,
                      object_pairs_hook=_json_object)


def duplicate_keys(value: Any) -> list[str]:
    """The keys a parsed JSON object has more than once (a value would be lost), in order."""
    pairs = getattr(value, "pairs", None)
    if not pairs:
        return []
    seen: set[str] = set()
    dups: dict[str, None] = {}
    for key, _ in pairs:
        if key in seen:
            dups[key] = None
        seen.add(key)
    return list(dups)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _escape_surrogates(value: str) -> str:
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)


def json_row(value: Any, columns: list[str], label: str) -> tuple[Row, str | None]:
    """One parsed JSON record as a row and its parse error: not an object, or a key written twice."""
    if not isinstance(value, dict):
        return [None] * len(columns), (f"{label} is not a JSON object: got {json_type_name(value)}: "
                                       f"{as_sent(json_line(value))}")
    error = None
    dups = duplicate_keys(value)
    if dups:
        error = (f"{label}: key(s) {', '.join(repr(k) for k in dups)} appear more than once in the object; "
                 f"which value is meant is ambiguous (the row holds the last one): fix the export")
    return object_row(value, columns), error


def json_chunk(rows: list[Row], errors: list[str | None], labels: list[str], columns: list[str]) -> Chunk:
    """``rows_to_chunk`` for parsed JSON, whose strings may hold lone UTF-16 surrogates (an unpaired
    ``\\ud800`` escape is valid JSON but not a character, and UTF-8 cannot encode it): such a value
    keeps the escape as text and its row gets a parse error, so it is quarantined, not loaded."""
    try:
        return rows_to_chunk(rows, errors, len(columns))
    except UnicodeEncodeError:
        pass
    for i, row in enumerate(rows):
        bad = [c for c, v in zip(columns, row, strict=True) if v is not None and _SURROGATE.search(v)]
        if bad:
            rows[i] = [None if v is None else _escape_surrogates(v) for v in row]
            problem = (f"{labels[i]}: the value of {', '.join(repr(c) for c in bad)} holds a lone UTF-16 "
                       f"surrogate (an unpaired \\ud800-\\udfff escape), which is not a character; fix the export")
            errors[i] = f"{errors[i]}; {problem}" if errors[i] else problem
    return rows_to_chunk(rows, errors, len(columns))


def json_chunks(records: Iterable[tuple[str, Any, str | None]], columns: list[str], size: int) -> Iterator[Chunk]:
    """Parsed JSON records as chunks of at most ``size`` rows — the one way every JSON source (a file's
    array, NDJSON lines, an HTTP API's records) turns records into rows. Each record comes as (label,
    parsed value, why it could not be parsed or None); a record that is no object, has a key written
    twice or holds a lone surrogate gets a parse error naming ``label`` (see ``json_row``, ``json_chunk``)."""
    rows: list[Row] = []
    errors: list[str | None] = []
    labels: list[str] = []
    for label, value, problem in records:
        if problem is None:
            row, error = json_row(value, columns, label)
        else:
            row, error = [None] * len(columns), f"{label} is not a JSON object: {problem}"
        rows.append(row)
        errors.append(error)
        labels.append(label)
        if len(rows) >= size:
            yield json_chunk(rows, errors, labels, columns)
            rows, errors, labels = [], [], []
    if rows:
        yield json_chunk(rows, errors, labels, columns)


def json_line(value: Any) -> str:
    """A parsed JSON value as one line of compact JSON that UTF-8 can encode: a lone surrogate (only
    ever inside a string) stays the escape it was written as, so the line parses back to the same value."""
    line = compact_json(value)
    return line if line.isascii() or not _SURROGATE.search(line) else _escape_surrogates(line)


def json_text(value: Any) -> str | None:
    """A parsed JSON value as column text: null → None, true → "true", nested → compact JSON."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    return compact_json(value)


class _Text(str):
    """JSON punctuation (or a key) already written, on ``compact_json``'s stack."""


def compact_json(value: Any) -> str:
    """A parsed JSON value as compact JSON text: numbers as written, a key written twice twice.

    Without recursion, with a stack of its own: any value ``json.loads`` could read (hundreds of nested
    arrays) is written, where recursing would run out of Python's stack long before."""
    parts: list[str] = []
    todo: list[Any] = [value]
    while todo:
        v = todo.pop()
        if type(v) is _Text:
            parts.append(v)
        elif v is None:
            parts.append("null")
        elif isinstance(v, bool):
            parts.append("true" if v else "false")
        elif isinstance(v, JsonNumber):
            parts.append(str(v))
        elif isinstance(v, str):
            parts.append(json.dumps(v, ensure_ascii=False))
        elif isinstance(v, dict):
            pairs = getattr(v, "pairs", None) or list(v.items())  # a key written twice stays twice
            todo.append(_Text("}"))
            for i in range(len(pairs) - 1, -1, -1):  # pushed last first: popped in order
                todo.append(pairs[i][1])
                todo.append(_Text(("{" if i == 0 else ",") + json.dumps(pairs[i][0], ensure_ascii=False) + ":"))
            if not pairs:
                todo.append(_Text("{"))
        elif isinstance(v, list):
            todo.append(_Text("]"))
            for i in range(len(v) - 1, -1, -1):
                todo.append(v[i])
                todo.append(_Text("[" if i == 0 else ","))
            if not v:
                todo.append(_Text("["))
        else:
            parts.append(json.dumps(v, ensure_ascii=False))
    return "".join(parts)


def json_type_name(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, JsonNumber):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "null" if value is None else type(value).__name__


def union_keys(records: Iterable[Any]) -> list[str]:
    """Keys of the object records in order of first appearance."""
    seen: dict[str, None] = {}
    for rec in records:
        if isinstance(rec, dict):
            for key in rec:
                if key not in seen:
                    seen[key] = None
    return list(seen)


def object_row(rec: dict[str, Any], columns: list[str]) -> Row:
    return [json_text(rec.get(c)) for c in columns]


class JsonReader(TextReader):
    """A JSON array of objects (or one at ``records_path``); read whole, so keep it moderate."""

    def __init__(self, path: Path, display: str, *, encoding: str, records_path: str | None) -> None:
        super().__init__(path, display, encoding=encoding)
        self.records_path = records_path

    def _read_columns(self) -> list[str]:
        names = union_keys(self._records())
        check_header(names, self.display, allow_empty=True)
        return names

    def chunks(self, size: int) -> Iterator[Chunk]:
        records = ((f"record {n}", rec, None) for n, rec in enumerate(self._records(), start=1))
        yield from json_chunks(records, self.columns(), size)

    def _records(self) -> list[Any]:
        doc = self._load()
        where = "the top-level JSON value"
        if self.records_path:
            doc = self._follow(doc)
            where = f"records_path {self.records_path!r}"
        if isinstance(doc, list):
            return doc
        hint = ""
        if isinstance(doc, dict):
            keys = ", ".join(repr(k) for k in list(doc)[:10])
            hint = f"; its keys are {keys}: declare source.records_path to point at the record list"
        raise source_error(self.display, f"{where} is {json_type_name(doc)}, expected an array of "
                                         f"objects{hint}")

    def _load(self) -> Any:
        try:
            with open_text(self.path, self.codec) as f:
                text = f.read()
        except UnicodeDecodeError as exc:
            raise self.decode_error(exc) from exc
        text = text.removeprefix("\ufeff")
        if not text.strip():
            raise source_error(self.display, "file is empty: no JSON value", offset=0)
        try:
            return loads_exact(text)
        except json.JSONDecodeError as exc:
            offset = len(text[:exc.pos].encode(self.codec, errors="replace"))
            raise source_error(self.display, f"invalid JSON at line {exc.lineno} column {exc.colno} "
                                             f"(byte offset {offset}): {exc.msg}", offset=offset) from exc
        except RecursionError as exc:
            raise source_error(self.display, "JSON nested too deeply to read") from exc

    def _follow(self, doc: Any) -> Any:
        assert self.records_path is not None
        walked: list[str] = []
        for part in self.records_path.split("."):
            if isinstance(doc, dict) and part in doc:
                doc = doc[part]
            elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
                doc = doc[int(part)]
            else:
                at = ".".join(walked) or "the top level"
                keys = ""
                if isinstance(doc, dict):
                    keys = f" (keys: {', '.join(repr(k) for k in list(doc)[:10])})"
                raise source_error(self.display, f"records_path {self.records_path!r}: no {part!r} at "
                                                 f"{at}{keys}; fix source.records_path")
            walked.append(part)
        return doc


class NdjsonReader(TextReader):
    """One JSON object per line; two streaming passes (key set, then rows), memory bounded."""

    def _read_columns(self) -> list[str]:
        names = union_keys(value for _, value, _ in self._lines())
        check_header(names, self.display, allow_empty=True)
        return names

    def chunks(self, size: int) -> Iterator[Chunk]:
        columns = self.columns()
        yield from json_chunks(((f"line {n}", value, error) for n, value, error in self._lines()), columns, size)

    def _lines(self) -> Iterator[tuple[int, Any, str | None]]:
        """(line number, parsed value or None, JSON error or None) of every non-blank line."""
        try:
            with open_text(self.path, self.codec, newline=None) as f:
                for line_no, raw in enumerate(f, start=1):
                    line = raw.removeprefix("\ufeff") if line_no == 1 else raw
                    if not line.strip():
                        continue
                    line = line.rstrip("\r\n")  # a line cut short is then named at its end, not the next line's start
                    try:
                        yield line_no, loads_exact(line), None
                    except json.JSONDecodeError as exc:  # no value can be told apart: the line goes with it
                        yield line_no, None, f"{exc.msg} at column {exc.colno}; the line as sent: {as_sent(line)}"
                    except RecursionError:
                        yield line_no, None, f"nested too deeply; the line as sent: {as_sent(line)}"
        except UnicodeDecodeError as exc:
            raise self.decode_error(exc) from exc


# ---------------------------------------------------------------- Excel


def check_xlsx_zip(path: Path, display: str) -> None:
    """Refuse a non-zip, a corrupt zip or a zip bomb before openpyxl opens the file."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise source_error(display, f"not a readable .xlsx workbook (not a valid zip archive: {exc}; "
                                    f"a password-protected workbook is not a zip either); re-save it "
                                    f"from Excel as .xlsx without a password") from exc
    total = sum(info.file_size for info in infos)
    if total > XLSX_MAX_UNCOMPRESSED:
        raise source_error(display, f"refused: the workbook would expand to {total} bytes "
                                    f"(limit {XLSX_MAX_UNCOMPRESSED}); possible zip bomb")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > XLSX_RATIO_MIN_BYTES and ratio > XLSX_MAX_RATIO:
            raise source_error(display, f"refused: member {info.filename!r} expands {ratio:.0f}x "
                                        f"(limit {XLSX_MAX_RATIO}x); possible zip bomb")


_FORMULA_ELEMENT = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")


def xlsx_has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (a byte scan of its XML; the zip is
    checked against bombs first)."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if not (info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")):
                continue
            with zf.open(info) as member:
                tail = b""
                while chunk := member.read(1 << 20):
                    if _FORMULA_ELEMENT.search(tail + chunk):
                        return True
                    tail = chunk[-32:]
    return False


def is_formula(value: Any) -> bool:
    """A cell value openpyxl read with ``data_only=False`` that is a formula, not a constant."""
    if isinstance(value, str):
        return value.startswith("=")
    return type(value).__name__ in ("ArrayFormula", "DataTableFormula")


def cell_text(value: Any) -> str | None:
    """An Excel cell value as text: integral numbers without '.0' or exponent, dates ISO."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= MAX_EXACT_FLOAT_INT:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class XlsxReader(Reader):
    """The first (or the named) worksheet; the first non-empty row is the header."""

    def __init__(self, path: Path, display: str, *, sheet: str | None) -> None:
        super().__init__(path, display)
        self.sheet = sheet

    def _read_columns(self) -> list[str]:
        for _, values, _ in self._rows():
            return self._header(values)
        raise source_error(self.display, "worksheet is empty: no header row")

    def chunks(self, size: int) -> Iterator[Chunk]:
        rows_iter = self._rows()
        width = 0
        for _, values, _ in rows_iter:
            width = len(self._header(values))
            break
        rows: list[Row] = []
        errors: list[str | None] = []
        for sheet_row, values, uncalculated in rows_iter:
            row, error = self._row(values, width, sheet_row)
            if uncalculated:
                problem = (f"sheet row {sheet_row}: cell(s) {', '.join(uncalculated)} hold a formula but no value "
                           f"calculated by Excel (the workbook was written by a program that does not calculate "
                           f"formulas); open and save it in Excel, or export the values")
                error = f"{error}; {problem}" if error else problem
            rows.append(row)
            errors.append(error)
            if len(rows) >= size:
                yield rows_to_chunk(rows, errors, width)
                rows, errors = [], []
        if rows:
            yield rows_to_chunk(rows, errors, width)

    def _header(self, values: list[str | None]) -> list[str]:
        names = [clean_header_name(v or "") for v in values]
        while names and names[-1] == "":
            names.pop()  # formatting often extends a sheet past its last header cell
        check_header(names, self.display)
        return names

    @staticmethod
    def _row(values: list[str | None], width: int, sheet_row: int) -> tuple[Row, str | None]:
        if len(values) <= width:
            return fit_row(values, width), None
        used = len(values)
        while used > width and values[used - 1] is None:
            used -= 1
        if used <= width:
            return values[:width], None
        return values[:width], f"{ragged_message(values[:used], width)} (sheet row {sheet_row})"

    def _rows(self) -> Iterator[tuple[int, list[str | None], list[str]]]:
        """(sheet row number, cell texts, cells holding a formula without a calculated value) of
        every non-empty row, streamed.

        A formula cell is read as the value Excel calculated and saved with it. A workbook written by
        a program that does not calculate (openpyxl, many exporters) saves formulas without a value:
        such a cell would read as empty, silently. When the sheet holds any formula, a second
        read-only pass over the same XML (formulas as written) finds those cells."""
        check_xlsx_zip(self.path, self.display)
        import openpyxl

        books = []
        try:
            try:
                books.append(openpyxl.load_workbook(self.path, read_only=True, data_only=True))
                if xlsx_has_formulas(self.path):
                    books.append(openpyxl.load_workbook(self.path, read_only=True, data_only=False))
            except Exception as exc:  # openpyxl raises many types for damaged files
                raise source_error(self.display, f"not a readable .xlsx workbook ({type(exc).__name__}: "
                                                 f"{exc}); re-save it from Excel as .xlsx") from exc
            sheets = [self._worksheet(wb) for wb in books]
            yield from self._sheet_rows(*sheets)
        finally:
            for wb in books:
                wb.close()

    def _worksheet(self, wb: Any) -> Any:
        if self.sheet is None:
            if not wb.worksheets:
                raise source_error(self.display, "workbook has no worksheet")
            return wb.worksheets[0]
        if self.sheet not in wb.sheetnames:
            names = ", ".join(repr(n) for n in wb.sheetnames)
            raise source_error(self.display, f"no sheet named {self.sheet!r}; sheets: {names}; "
                                             f"fix source.sheet")
        return wb[self.sheet]

    def _sheet_rows(self, ws: Any, formulas: Any = None) -> Iterator[tuple[int, list[str | None], list[str]]]:
        sheet_row = 0
        try:
            for sheet in (ws, formulas):
                if hasattr(sheet, "reset_dimensions"):
                    sheet.reset_dimensions()  # the stored dimension may be wrong; read what is there
            if formulas is None:
                for sheet_row, cells in enumerate(ws.iter_rows(values_only=True), start=1):
                    values = [cell_text(v) for v in cells]
                    if any(v is not None and v != "" for v in values):
                        yield sheet_row, values, []
                return
            from openpyxl.utils import get_column_letter

            pairs = itertools.zip_longest(ws.iter_rows(), formulas.iter_rows(values_only=True), fillvalue=())
            for sheet_row, (cells, written) in enumerate(pairs, start=1):
                values = [cell_text(c.value) for c in cells]
                uncalculated = [f"{get_column_letter(i)}{sheet_row}"
                                for i, (c, f) in enumerate(itertools.zip_longest(cells, written), start=1)
                                if is_formula(f) and (c is None or (c.value is None and c.data_type != "str"))]
                if uncalculated or any(v is not None and v != "" for v in values):
                    yield sheet_row, values, uncalculated
        except SourceError:
            raise
        except Exception as exc:  # corrupt XML, bad zip member, ...
            raise source_error(self.display, f"cannot read sheet row {sheet_row + 1} "
                                             f"({type(exc).__name__}: {exc}); re-save it from Excel",
                               row=sheet_row + 1) from exc


# ---------------------------------------------------------------- Parquet


def to_string_array(arr: pa.Array) -> pa.Array:
    """Any Arrow array as strings: integral floats without '.0', timestamps ISO (with 'T')."""
    t = arr.type
    if pa.types.is_string(t):
        return arr
    if pa.types.is_dictionary(t):
        return to_string_array(arr.dictionary_decode())
    if pa.types.is_null(t):
        return pa.nulls(len(arr), type=pa.string())
    if pa.types.is_floating(t):
        return _float_strings(arr)
    if pa.types.is_timestamp(t):
        return pc.replace_substring(pc.cast(arr, pa.string()), pattern=" ", replacement="T",
                                    max_replacements=1)
    if pa.types.is_nested(t):
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"),
                                                          default=str)
                         for v in arr.to_pylist()], type=pa.string())
    return pc.cast(arr, pa.string())


def _float_strings(arr: pa.Array) -> pa.Array:
    arr = pc.cast(arr, pa.float64())
    integral = pc.and_(pc.equal(pc.floor(arr), arr),
                       pc.less_equal(pc.abs(arr), float(MAX_EXACT_FLOAT_INT)))
    as_int = pc.cast(pc.cast(pc.if_else(integral, arr, 0.0), pa.int64()), pa.string())
    return pc.if_else(integral, as_int, pc.cast(arr, pa.string()))


class ParquetReader(Reader):
    """Parquet via ``ParquetFile.iter_batches``; every column cast to string."""

    ERRORS = (pa.ArrowException, OSError, ValueError)

    def _read_columns(self) -> list[str]:
        try:
            with pq.ParquetFile(self.path) as pf:
                names = list(pf.schema_arrow.names)
        except self.ERRORS as exc:
            raise self._error(exc) from exc
        check_header(names, self.display, allow_empty=True)
        return names

    def chunks(self, size: int) -> Iterator[Chunk]:
        self.columns()
        done = 0
        try:
            with pq.ParquetFile(self.path) as pf:
                for batch in pf.iter_batches(batch_size=size):
                    columns = [self._column(batch, i) for i in range(batch.num_columns)]
                    done += batch.num_rows
                    if batch.num_rows:
                        yield Chunk(columns, [None] * batch.num_rows)
        except self.ERRORS as exc:
            raise self._error(exc, done) from exc

    def _column(self, batch: pa.RecordBatch, i: int) -> pa.Array:
        try:
            return to_string_array(batch.column(i))
        except self.ERRORS as exc:
            name = batch.schema.field(i).name
            raise source_error(self.display, f"column {name!r} ({batch.schema.field(i).type}) cannot be "
                                             f"read as text: {exc}") from exc

    def _error(self, exc: BaseException, done: int | None = None) -> SourceError:
        where = f" after {done} rows" if done else ""
        return source_error(self.display, f"not a readable Parquet file{where} ({type(exc).__name__}: "
                                          f"{exc}); re-export it", row=done or None)
