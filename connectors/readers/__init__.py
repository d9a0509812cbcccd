"""One reader per file format, each turning one file into chunks of string columns.

A reader knows its file's column names (``columns()``, header order) and streams the
rows as ``Chunk`` objects of at most ``size`` rows: one ``pa.string()`` array per
column, in the reader's own column order, plus one parse error (or None) per row.
The connector adds the meta columns and reconciles column order across files.

Values are never coerced or trimmed; an empty CSV cell is ``""``, a missing value
(short row, absent JSON key, empty Excel cell) is null. Every failure to read is a
``SourceError`` naming the file and, where known, the byte offset, line or record.

One module per format (``csv_reader``, ``json_reader``, ``xlsx_reader``, ``parquet_reader``),
what they share in ``common``; :func:`make_reader` picks the reader of a format.
"""

from __future__ import annotations

from pathlib import Path

from connectors.readers.common import (
    FORMAT_BY_EXTENSION,
    Chunk,
    Reader,
    ReadOptions,
    TextReader,
    check_header,
    source_error,
)
from connectors.readers.csv_reader import RECORD_TEXT_MAX_CHARS, CsvReader, RecordText, as_sent
from connectors.readers.json_reader import (
    JsonReader,
    NdjsonReader,
    json_chunks,
    json_line,
    json_text,
    json_type_name,
    loads_exact,
)
from connectors.readers.parquet_reader import ParquetReader
from connectors.readers.xlsx_reader import XlsxReader, xlsx_has_formulas
from exchange.errors import ConfigError

READERS: dict[str, type[Reader]] = {fmt: cls for cls in (CsvReader, JsonReader, NdjsonReader, XlsxReader, ParquetReader)
                                    for fmt in cls.formats}
"""File format → its reader class (each declares the formats it reads)."""

__all__ = [
    "FORMAT_BY_EXTENSION", "RECORD_TEXT_MAX_CHARS", "Chunk", "CsvReader", "JsonReader", "NdjsonReader",
    "ParquetReader", "Reader", "RecordText", "TextReader", "XlsxReader", "as_sent", "check_header",
    "infer_format", "json_chunks", "json_line", "json_text", "json_type_name", "loads_exact", "make_reader",
    "source_error", "xlsx_has_formulas",
]


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
                records_path: str | None = None, header_row: int | None = None) -> Reader:
    """The reader for one file of format ``fmt`` (see ``infer_format``), from the registry."""
    reader = READERS.get(fmt)
    if reader is None:
        raise ConfigError(f"{display}: unknown file format {fmt!r}; known: {', '.join(sorted(READERS))}")
    return reader.open(path, display, fmt, ReadOptions(encoding=encoding, delimiter=delimiter, sheet=sheet,
                                                       records_path=records_path, header_row=header_row))


