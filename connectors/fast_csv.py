"""A fast path for ``CsvReader``: the same rows, parsed by ``pyarrow.csv`` instead of Python.

``CsvReader`` parses with the ``csv`` module over the strictly decoded text (values exactly as
written, ragged rows and strict-quoting errors reported per record with their line). That is
the reference. This module reads the same file with Arrow's streaming CSV reader (every column
a string, no type inference, empty cells ``""``) for the files where both give the **same**
records, and refuses (``Unsupported``) at the first sign of anything else, so the caller goes
on with the reference parser from the first record not yet delivered:

- the file is UTF-8 (with or without a BOM) and the delimiter one ASCII character;
- the whole file is checked before Arrow reads it (``QuoteCheck``): no NUL, and quotes only in
  the strict RFC 4180 shape both parsers agree on — a quoted field opens at the start of a
  field, a quote inside it is doubled, and it closes before a delimiter, a line end or the end
  of the file. A quote anywhere else (``a"b``, ``"a"b``) or an unterminated quoted field is
  refused: the ``csv`` module reads those differently (strict errors, literal quotes). So is
  CR LF inside a quoted field: Arrow (26) drops the LF when its block boundary falls between them;
- every record has the header's number of fields (Arrow raises otherwise: a ragged record
  must become a ``parse.error`` naming its line, which only the reference parser knows);
- the header row Arrow reads equals the reference parser's header (e.g. no whitespace-only
  line before it); values Arrow cannot decode, records larger than a block, a field longer than
  the ``csv`` module's field limit (it refuses the file), ... raise.

Blank lines are skipped by both. ``tests/unit/test_fast_csv.py`` runs both paths over many
generated tricky files and requires identical values, errors and record numbers.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from exchange.formats.masking import scrub_identifiers

log = logging.getLogger(__name__)

ENABLED = True  # tests switch it off to get the reference parser alone
BLOCK_BYTES = 1 << 20  # a record longer than this makes Arrow raise: the reference parser reads it
UTF8_BOM = codecs.BOM_UTF8
QUOTE, LF, CR, NUL = 0x22, 0x0A, 0x0D, 0x00


class Unsupported(Exception):
    """This file (from this point on) is not one the fast path reads identically."""


def usable(codec: str, delimiter: str) -> bool:
    """Whether the fast path can try a file of this codec and delimiter at all."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    return (ENABLED and name in ("utf-8", "utf-8-sig") and len(delimiter) == 1 and delimiter.isascii()
            and delimiter not in '"\r\n\x00')


class QuoteCheck:
    """Streaming check that a byte stream is in the quoting subset both parsers read alike.

    Quotes are numbered from the start of the stream. With the checks below, quote number k
    opens (or re-enters) a quoted field when k is even and closes (or starts a doubled quote)
    when k is odd: an even quote must follow a delimiter, a line end, the start of the stream
    or another quote; an odd one must precede a delimiter, a line end, the end of the stream or
    another quote; the stream must end outside a quoted field; no CR LF inside a quoted field.
    The last byte of each piece is held back until the next byte is known.
    """

    def __init__(self, delimiter: int) -> None:
        self.before_ok = np.zeros(256, dtype=bool)
        self.before_ok[[delimiter, LF, CR, QUOTE]] = True
        self.after_ok = self.before_ok  # the same set of neighbours
        self.odd = False    # inside a quoted field after the bytes checked so far
        self.prev = -1      # the byte before the held-back one (-1: start of the stream)
        self.held = b""
        self.offset = 0     # stream offset of ``held`` (or of the next byte when nothing is held)

    def feed(self, data: bytes, *, final: bool = False) -> None:
        """Check ``data`` (the next bytes of the stream); raise ``Unsupported`` on a problem."""
        buf = self.held + data if self.held else data
        nul = buf.find(b"\x00")
        if nul >= 0:
            raise Unsupported(f"NUL byte at offset {self.offset + nul}")
        end = len(buf) if final else max(len(buf) - 1, 0)  # bytes checked now
        if self.odd or buf.find(b'"', 0, end) >= 0:
            self._check(buf, end)
        if end:
            self.prev = buf[end - 1]
        self.offset += end
        self.held = buf[end:]
        if final and self.odd:
            raise Unsupported("a quoted field runs to the end of the file")

    def _check(self, buf: bytes, end: int) -> None:
        arr = np.frombuffer(buf, dtype=np.uint8)
        q = np.flatnonzero(arr[:end] == QUOTE)
        before = np.where(q > 0, arr[np.maximum(q - 1, 0)].astype(np.int16), self.prev)
        has_next = q + 1 < len(buf)
        after = np.where(has_next, arr[np.minimum(q + 1, len(buf) - 1)].astype(np.int16), -1)
        even = (np.arange(q.size) + (1 if self.odd else 0)) % 2 == 0
        ok_before = (before < 0) | self.before_ok[np.maximum(before, 0)]
        ok_after = (after < 0) | self.after_ok[np.maximum(after, 0)]
        bad = np.flatnonzero((even & ~ok_before) | (~even & ~ok_after))
        if bad.size:
            at = self.offset + int(q[bad[0]])
            what = "inside an unquoted field" if even[bad[0]] else "closing a quoted field not followed by a delimiter"
            raise Unsupported(f"quote at offset {at} {what}")
        # CR LF inside a quoted field: Arrow drops the LF when a block boundary falls between the two
        crlf = np.flatnonzero((arr[:end] == CR) & (arr[1:end + 1] == LF)) if end < len(buf) else \
            np.flatnonzero((arr[:end - 1] == CR) & (arr[1:end] == LF))
        if crlf.size:
            inside = (np.searchsorted(q, crlf) + (1 if self.odd else 0)) % 2 == 1
            if inside.any():
                at = self.offset + int(crlf[np.argmax(inside)])
                raise Unsupported(f"CR LF inside a quoted field at offset {at}")
        if q.size % 2:
            self.odd = not self.odd


def check_file(path: Path, delimiter: str) -> None:
    """Read the whole file once through ``QuoteCheck`` (BOM skipped); ``Unsupported`` on a problem."""
    check = QuoteCheck(ord(delimiter))
    with path.open("rb") as f:
        head = f.read(len(UTF8_BOM))
        if head != UTF8_BOM:
            check.feed(head)
        while data := f.read(BLOCK_BYTES):
            check.feed(data)
    check.feed(b"", final=True)


def csv_chunks(path: Path, *, delimiter: str, header: list[str], size: int, clean: Callable[[str], str],
               field_limit: int, named: int | None = None) -> Iterator[list[pa.Array]]:
    """The data records of a CSV file as chunks of exactly ``size`` rows (the last one shorter):
    one ``pa.string()`` array per column, in file order.

    ``header`` is the header the reference parser read (after ``clean``); a field longer than
    ``field_limit`` characters is left to it (it refuses the file). ``named``: only the first
    ``named`` columns are delivered, the others (unnamed) must be blank in every record. Raises
    ``Unsupported`` (possibly after some chunks) as soon as the file departs from what this path
    reads identically.
    """
    width = len(header)
    named = width if named is None else named
    check_file(path, delimiter)  # before any record is delivered: quoting both parsers read alike
    try:
        reader = _open(path, delimiter, width)
        pending: list[pa.RecordBatch] = []
        have = 0
        header_seen = False
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            if batch.num_columns != width:
                raise Unsupported(f"Arrow read {batch.num_columns} columns, the header has {width}")
            if not header_seen:
                if batch.num_rows == 0:
                    continue
                names = [clean(batch.column(i)[0].as_py()) for i in range(width)]
                if names != header:
                    raise Unsupported("the first record Arrow read is not the header row")
                header_seen = True
                batch = batch.slice(1)
            if batch.num_rows:
                for column in batch.columns:
                    if (pc.max(pc.utf8_length(column)).as_py() or 0) > field_limit:
                        raise Unsupported(f"a field longer than {field_limit} characters")
                for column in batch.columns[named:]:
                    if pc.any(pc.not_equal(pc.utf8_trim_whitespace(column), "")).as_py():
                        raise Unsupported("a value in a column without a name")
                pending.append(batch)
                have += batch.num_rows
            while have >= size:
                table = pa.Table.from_batches(pending)
                yield _columns(table.slice(0, size), named)
                rest = table.slice(size)
                pending = rest.to_batches() if rest.num_rows else []
                have -= size
        if have:
            yield _columns(pa.Table.from_batches(pending), named)
    except Unsupported:
        raise
    except (pa.ArrowException, ValueError) as exc:  # ragged record, bad UTF-8, a record longer than a block
        raise Unsupported(_problem(exc)) from exc


def _problem(exc: BaseException) -> str:
    """Arrow's error without the record it quotes (``Expected 10 columns, got 11: <the row>``): the
    reason is logged, and a log line never carries a row's values."""
    lines = str(exc).splitlines()
    text = re.sub(r"(got \d+)\s*:.*$", r"\1", lines[0] if lines else "")
    return scrub_identifiers(f"{type(exc).__name__}: {text}")


def _open(path: Path, delimiter: str, width: int) -> pacsv.CSVStreamingReader:
    # a native file: Arrow reads ahead on its own threads, which must never need the GIL (a reader
    # dropped half-way waits for them). Arrow skips a UTF-8 BOM itself.
    try:
        return pacsv.open_csv(
            pa.OSFile(str(path), mode="r"),
            read_options=pacsv.ReadOptions(use_threads=True, block_size=BLOCK_BYTES, autogenerate_column_names=True),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pacsv.ConvertOptions(
                column_types={f"f{i}": pa.string() for i in range(width)}, null_values=[],
                strings_can_be_null=False, quoted_strings_can_be_null=False, check_utf8=True))
    except (pa.ArrowException, ValueError) as exc:
        raise Unsupported(_problem(exc)) from exc


def _columns(table: pa.Table, width: int) -> list[pa.Array]:
    out = []
    for i in range(width):
        col = table.column(i)
        out.append(col.combine_chunks() if col.num_chunks != 1 else col.chunk(0))
    return out
