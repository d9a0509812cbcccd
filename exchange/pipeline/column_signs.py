"""What a whole column says that no single row does: ID numbers a spreadsheet rounded.

Excel stores a number with 15 significant digits. A column of 18-digit resident ID numbers opened
in Excel as numbers and saved again keeps the first 15 digits and writes ``000`` for the last
three (``110105198501040027`` → ``110105198501040000``), or shows them as ``1.10105E+17``. Row by
row such a value is refused or flagged (``resident_id.sequence_000``, ``resident_id.format``); only
the column as a whole tells the cause, which the batch report then names (:meth:`ColumnSigns.notes`).
A real ID number ends in ``000`` about once in a thousand (sequence digits ``00``, check digit
``0``): a column where at least :data:`ROUNDED_SHARE` of the ID numbers do, or any is written
in exponent form, was rounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from exchange.spec.schema import EntitySchema

ROUNDED_SHARE = 0.05
"""The share of a column's ID numbers ending in 000 from which the column is said to be rounded."""
ROUNDED_MIN = 2
"""... and at least this many of them."""
_ENDS_000 = r"^\s*\d{15}000\s*$"
_EXPONENT = r"^\s*\d(\.\d{1,5})?E\+\d{2}\s*$"
"""How Excel shows a long number in a General cell, and saves it as CSV: ``6.10902E+17`` (six
significant digits at most — a JSON or Parquet float's full digits are no sign of a spreadsheet)."""


@dataclass
class _Counts:
    values: int = 0
    ends_000: int = 0
    exponent: int = 0
    example: str | None = None


@dataclass
class ColumnSigns:
    """Counts over every row of a batch of the source columns mapped to resident ID numbers."""

    columns: dict[str, str]
    """source column → the schema field it fills."""
    counts: dict[str, _Counts] = field(default_factory=dict)

    @classmethod
    def of(cls, mapped: dict[str, str], schema: EntitySchema) -> ColumnSigns:
        """``mapped``: source column → field; the columns of ``resident_id`` fields are watched."""
        return cls({c: f for c, f in mapped.items() if schema.fields[f].format == "resident_id"})

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        for column in self.columns:
            if column not in batch.schema.names:
                continue
            values = batch.column(column)
            if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
                values = pc.cast(values, pa.string())
            c = self.counts.setdefault(column, _Counts())
            c.values += int(pc.sum(pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(values), ""), False)).as_py() or 0)
            c.ends_000 += int(pc.sum(pc.fill_null(pc.match_substring_regex(values, _ENDS_000), False)).as_py() or 0)
            exponent = pc.fill_null(pc.match_substring_regex(values, _EXPONENT), False)
            c.exponent += int(pc.sum(exponent).as_py() or 0)
            if c.example is None and pc.any(exponent).as_py():
                c.example = values.filter(exponent)[0].as_py().strip()

    def notes(self) -> list[str]:
        """One sentence per rounded column: what was seen, the likely cause and what to do."""
        out = []
        for column, c in self.counts.items():
            rounded = c.ends_000 >= max(ROUNDED_MIN, ROUNDED_SHARE * c.values)
            if not (rounded or c.exponent):
                continue
            seen = []
            if c.ends_000:
                seen.append(f"{c.ends_000:,} of its {c.values:,} ID numbers end in 000")
            if c.exponent:
                seen.append(f"{c.exponent:,} {'is' if c.exponent == 1 else 'are'} written as a number in exponent "
                            f"form (like {c.example})")
            out.append(f"column {column!r} ({self.columns[column]}): {' and '.join(seen)} — the likely cause: the "
                       f"column was opened in Excel as numbers, which keep 15 significant digits, and saved "
                       f"again, so the last digits are lost and cannot be recovered from this file; re-export "
                       f"from the source system with the column formatted as text")
        return out
