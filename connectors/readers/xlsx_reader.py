"""Excel workbooks (``format: xlsx``): zip-bomb checks, formulas without values, the cell text."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.readers.common import (
    MAX_EXACT_FLOAT_INT,
    Chunk,
    Reader,
    ReadOptions,
    Row,
    check_header,
    clean_header_name,
    fit_row,
    in_batches,
    pairs_to_chunk,
    ragged_message,
    refuse_title,
    source_error,
    unnamed_tail,
)
from exchange.errors import SourceError

XLSX_MAX_UNCOMPRESSED = 512 << 20
XLSX_MAX_RATIO = 200
XLSX_RATIO_MIN_BYTES = 1 << 20  # a member smaller than this cannot be a bomb, whatever its ratio


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
    formats = ("xlsx",)

    @classmethod
    def open(cls, path: Path, display: str, fmt: str, options: ReadOptions) -> XlsxReader:
        return cls(path, display, sheet=options.sheet, header_row=options.header_row)

    """The first (or the named) worksheet; the first non-empty row (or ``header_row``) is the header."""

    def __init__(self, path: Path, display: str, *, sheet: str | None, header_row: int | None = None) -> None:
        super().__init__(path, display)
        self.sheet = sheet
        self.header_row = header_row
        self.sheets: list[str] = []
        """The workbook's sheet names (known once it is opened)."""

    def _read_columns(self) -> list[str]:
        rows = self._rows()
        for sheet_row, values, _ in rows:
            names = self._header(values)
            following = next(rows, None) if self.header_row is None and len(names) == 1 else None
            if following is not None:  # a title above the header?
                at, cells, _ = following
                refuse_title(self.display, names, "sheet row", sheet_row, at, len(cells),
                             sum(1 for v in cells if v not in (None, "")), "cells")
            return names
        where = f" at or after row {self.header_row} (source.header_row)" if self.header_row else ""
        raise source_error(self.display, f"worksheet {self._chosen!r} is empty{where}: no header row; "
                                         f"{self._sheet_choice()}")

    def _sheet_choice(self) -> str:
        if len(self.sheets) < 2:
            return "the workbook has no other sheet"
        names = ", ".join(repr(n) for n in self.sheets)
        return f"the workbook's sheets: {names}; choose one with source.sheet in the feed"

    def chunks(self, size: int) -> Iterator[Chunk]:
        rows_iter = self._rows()
        width = 0
        for _, values, _ in rows_iter:
            width = len(self._header(values))
            break

        def pairs() -> Iterator[tuple[Row, str | None]]:
            for sheet_row, values, uncalculated in rows_iter:
                row, error = self._row(values, width, sheet_row)
                if uncalculated:
                    problem = (f"sheet row {sheet_row}: cell(s) {', '.join(uncalculated)} hold a formula but no "
                               f"value calculated by Excel (the workbook was written by a program that does not "
                               f"calculate formulas); open and save it in Excel, or export the values")
                    error = f"{error}; {problem}" if error else problem
                yield row, error

        for batch in in_batches(pairs(), size):
            yield pairs_to_chunk(batch, width)

    def _header(self, values: list[str | None]) -> list[str]:
        names = [clean_header_name(v or "") for v in values]
        unnamed = unnamed_tail(names)
        if unnamed:  # formatting often extends a sheet past its last header cell
            names = names[:-unnamed]
        check_header(names, self.display)
        if len(self.sheets) > 1 and self.sheet is None:
            self.note(f"read the first sheet, {self._chosen!r}, of {len(self.sheets)}: "
                      f"{', '.join(repr(n) for n in self.sheets)} (source.sheet chooses another)")
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

    @property
    def _chosen(self) -> str:
        return self.sheet if self.sheet is not None else (self.sheets[0] if self.sheets else "")

    def _worksheet(self, wb: Any) -> Any:
        self.sheets = list(wb.sheetnames)
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
                    if sheet_row < (self.header_row or 0):
                        continue  # a title or notes above the declared header
                    values = [cell_text(v) for v in cells]
                    if any(v is not None and v != "" for v in values):
                        yield sheet_row, values, []
                return
            from openpyxl.utils import get_column_letter

            pairs = itertools.zip_longest(ws.iter_rows(), formulas.iter_rows(values_only=True), fillvalue=())
            for sheet_row, (cells, written) in enumerate(pairs, start=1):
                if sheet_row < (self.header_row or 0):
                    continue
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
