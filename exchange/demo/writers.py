"""Writers for the file formats of the demo feeds, looked up by format in :data:`WRITERS`.

All output is reproducible byte for byte: xlsx archives get fixed member timestamps and
document properties, Parquet carries no creation time, and text is written as bytes.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


@dataclass(frozen=True)
class WriteOptions:
    encoding: str = "utf-8"
    delimiter: str = ","
    line_terminator: str = "\n"
    records_path: str | None = None
    sheet: str = "Sheet1"
    timestamp: datetime.datetime = datetime.datetime(2026, 1, 1, 8, 0, 0)


Writer = Callable[[Path, list[str], list[list[str]], WriteOptions], None]


def write_delimited(path: Path, columns: list[str], rows: list[list[str]], options: WriteOptions) -> None:
    """CSV/TSV with a header row; rows may be ragged (a seeded parse error)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=options.delimiter, lineterminator=options.line_terminator)
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(options.encoding))


def write_xlsx(path: Path, columns: list[str], rows: list[list[str]], options: WriteOptions) -> None:
    """One sheet, header in row 1, every cell text (an empty string is an empty cell)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(options.sheet)
    ws.append(columns)
    for row in rows:
        ws.append([value if value != "" else None for value in row])
    wb.properties.creator = "exchange demo"
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_reproducible_zip(buffer.getvalue(), options.timestamp))


def _reproducible_zip(data: bytes, timestamp: datetime.datetime) -> bytes:
    """Rewrite an xlsx archive with fixed member dates and document times."""
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _CORE_TIMES.sub(lambda m: m.group(1) + stamp + m.group(3), content)
            member = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, content)
    return out.getvalue()


def _records(columns: list[str], rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


def write_json(path: Path, columns: list[str], rows: list[list[str]], options: WriteOptions) -> None:
    """A JSON document with the records at ``records_path`` (e.g. data.records); values are strings."""
    document: object = _records(columns, rows)
    for part in reversed(options.records_path.split(".") if options.records_path else []):
        document = {part: document}
    path.write_bytes(json.dumps(document, ensure_ascii=False).encode(options.encoding))


def write_ndjson(path: Path, columns: list[str], rows: list[list[str]], options: WriteOptions) -> None:
    """One JSON object per line, values strings."""
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in _records(columns, rows))
    path.write_bytes(text.encode(options.encoding))


def write_parquet(path: Path, columns: list[str], rows: list[list[str]], options: WriteOptions) -> None:
    """Every column a string column; an empty string is written as null."""
    arrays = [pa.array([row[i] if row[i] != "" else None for row in rows], type=pa.string())
              for i in range(len(columns))]
    pq.write_table(pa.Table.from_arrays(arrays, names=columns), path, compression="zstd")


WRITERS: dict[str, Writer] = {
    "csv": write_delimited,
    "tsv": write_delimited,
    "xlsx": write_xlsx,
    "json": write_json,
    "ndjson": write_ndjson,
    "parquet": write_parquet,
}
DEFAULT_DELIMITERS = {"csv": ",", "tsv": "\t"}
