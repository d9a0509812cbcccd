"""Severity of a failed rule: quarantine the row, or keep the row and flag the field.

A field declared ``on_invalid: flag`` in its schema (an ID number the row can live without) does
not cost the row when its value fails the field's format rule or a cross-check (check character,
legacy 15-digit form, gender parity, embedded birth date): the row loads with the field empty, the
value kept in ``<field>_unverified`` (a legacy number upgraded to 18 digits by the standard rule)
and every reason in the row's ``_flags`` (a JSON list shaped like a quarantine row's reasons).
Any other failure of the row still quarantines it, with all its reasons, the flags included.
So a dispute whose respondent's ID number is wrong still loads its applicant.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from exchange.formats.fields import field_format, severity
from exchange.spec.reasons import Reason
from exchange.spec.schema import FLAGS, EntitySchema, unverified_column


@dataclass
class Flagged:
    """The rows of one chunk after severities are applied."""

    table: pa.Table
    """The chunk with flagged values moved to their ``_unverified`` column and ``_flags`` filled."""
    reasons: dict[int, list[Reason]]
    """Reasons of the rows still to be quarantined (all of their reasons, flags included)."""
    kept: dict[int, list[Reason]] = field(default_factory=dict)
    """Rows kept with flags → their flags."""

    def counts(self, quarantined: dict[int, list[Reason]]) -> tuple[int, Counter]:
        """(rows loaded with flags, (rule, field) → count) once ``quarantined`` is final (a flagged row can
        still be quarantined later, e.g. as a duplicate key)."""
        rows = {i: rs for i, rs in self.kept.items() if i not in quarantined}
        return len(rows), Counter((r.rule, r.field or "") for rs in rows.values() for r in rs)


def extra_columns(schema: EntitySchema) -> list[str]:
    """The columns flagging adds to a schema's rows, in order."""
    return [unverified_column(name) for name in schema.flagged_fields]


def apply_severity(schema: EntitySchema, table: pa.Table, reasons: dict[int, list[Reason]]) -> Flagged:
    """Split ``reasons`` (row index → reasons) into rows kept with flags and rows to quarantine."""
    n = table.num_rows
    fields = schema.flagged_fields
    quarantine: dict[int, list[Reason]] = {}
    kept: dict[int, list[Reason]] = {}
    for i, rs in reasons.items():
        (kept if all(severity(schema, r.field, r.rule) == "flag" for r in rs) else quarantine)[i] = rs
    out = Flagged(table=table, reasons=quarantine, kept=kept)
    moved = {name: [None] * n for name in fields}
    flags: list[str | None] = [None] * n
    for i, rs in kept.items():
        for r in rs:
            moved[r.field or ""][i] = r.value
        flags[i] = json.dumps([r.as_dict() for r in rs], ensure_ascii=False)
    for name in fields:
        values = pa.array(moved[name], pa.string())
        if kept:
            column = table.column(name).combine_chunks()
            table = table.set_column(table.schema.get_field_index(name), name,
                                     pa.compute.if_else(values.is_null(), column, pa.scalar(None, pa.string())))
            values = field_format(schema.fields[name].format or "").unverified(values)
        table = table.append_column(unverified_column(name), values)
    out.table = table.append_column(FLAGS, pa.array(flags, pa.string()))
    return out
