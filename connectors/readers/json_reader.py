"""JSON (an array of records, or a path to one) and NDJSON files (``format: json | ndjson``), with the
exact reading shared by the HTTP source: numbers as written, duplicate keys and lone surrogates caught."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from connectors.encoding import open_text
from connectors.readers.common import (
    _SURROGATE,
    Chunk,
    ReadOptions,
    Row,
    TextReader,
    check_header,
    in_batches,
    rows_to_chunk,
    source_error,
)
from connectors.readers.csv_reader import as_sent


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
    def rows() -> Iterator[tuple[Row, str | None, str]]:
        for label, value, problem in records:
            if problem is None:
                row, error = json_row(value, columns, label)
            else:
                row, error = [None] * len(columns), f"{label} is not a JSON object: {problem}"
            yield row, error, label

    for batch in in_batches(rows(), size):
        yield json_chunk([r for r, _, _ in batch], [e for _, e, _ in batch], [label for _, _, label in batch], columns)


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


def _ndjson_hint(text: str, exc: json.JSONDecodeError) -> str:
    """What to do when a file read as one JSON document is one JSON value per line (NDJSON)."""
    if exc.msg != "Extra data":
        return ""
    first = next((line for line in text.splitlines() if line.strip()), "")
    try:
        json.loads(first)
    except (json.JSONDecodeError, RecursionError):
        return ""
    return ("; the file holds one JSON value per line: it looks like NDJSON (JSON Lines), not one JSON document; "
            "declare source.format: ndjson in the feed (or name the file .ndjson or .jsonl)")


class JsonReader(TextReader):
    formats = ("json",)

    @classmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> JsonReader:
        return cls(path, display, encoding=options.encoding, records_path=options.records_path)

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
                                             f"(byte offset {offset}): {exc.msg}{_ndjson_hint(text, exc)}",
                               offset=offset) from exc
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
    formats = ("ndjson",)

    @classmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> NdjsonReader:
        return cls(path, display, encoding=options.encoding)

    """One JSON object per line; two streaming passes (key set, then rows), memory bounded."""

    def _read_columns(self) -> list[str]:
        names = union_keys(value for _, value, _ in self._lines())
        if not names:
            self._no_objects()
        check_header(names, self.display, allow_empty=True)
        return names

    def _no_objects(self) -> None:
        """No line holds a JSON object: say what the file looks like instead (an empty file, one JSON
        array or document, lines of other values) and what to declare."""
        values = [(n, value, error) for n, value, error in itertools.islice(self._lines(), 3)]
        if not values:
            raise source_error(self.display, "file is empty: no JSON line", offset=0)
        try:
            with open_text(self.path, self.codec) as f:
                head = f.read(1 << 16).removeprefix("\ufeff").lstrip()
        except UnicodeDecodeError as exc:
            raise self.decode_error(exc) from exc
        if head.startswith("["):
            raise source_error(self.display, "no line is a JSON object: the file looks like one JSON array "
                                             "(JSON, not NDJSON, which holds one object per line); declare "
                                             "source.format: json in the feed (or name the file .json)")
        n, value, error = values[0]
        found = error or f"a JSON {json_type_name(value)}"
        raise source_error(self.display, f"no line is a JSON object, so the file has no columns (line {n}: "
                                         f"{found}); NDJSON holds one object per line, e.g. "
                                         f'{{"id": "1", "name": "…"}}', row=n)

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
