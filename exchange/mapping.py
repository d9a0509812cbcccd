"""Map an agency's columns onto a shared schema's canonical fields.

Pure logic on pyarrow: a raw record batch (the agency's columns, all strings, plus the
connector's meta columns) becomes a table of canonical fields, still strings but
normalised (full-width digits, date spellings, phone prefixes, value maps), ready for
validation. Values are never coerced silently: what cannot be mapped stays visible and is
rejected by validation, or is reported here as a ``mapping.value`` reason (a value holding a NUL
character as a ``parse.error``).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from exchange import formats
from exchange.errors import SourceError, listed
from exchange.formats.fields import field_format
from exchange.spec.feed import ColumnMapping, FeedSpec
from exchange.spec.reasons import GENERIC_MESSAGES, Reason
from exchange.spec.schema import SOURCE_RECORD_ID, EntitySchema, FieldSpec

META = ("_source_file", "_source_row", "_parse_error")
KEY_SEPARATOR = "|"
NUL = "\x00"
# A NUL character is valid in UTF-16 text, JSON ("\u0000") and Parquet strings, but no warehouse
# text column can hold it (PostgreSQL refuses it outright): the row is quarantined, not loaded.
NUL_MESSAGE = ("the value of column {column!r} contains a NUL character (U+0000), which no text column "
               "can store; fix the export")
# The quarantined row keeps it: its original values are JSON (NUL as the escape \u0000); its
# source_record_id, plain text, shows each NUL as those six characters, and its reason says so.
NUL_SHOWN = "\\u0000"
KEY_NUL_NOTE = ("; in quarantine the row's source_record_id shows each NUL as the six characters \\u0000 "
                "(its original values keep the NUL exactly, JSON-escaped)")
KEY_NUL_MESSAGE = "the record key contains a NUL character (U+0000), which no text column can store"

_BOOLEAN_WORDS = {"true": "true", "false": "false", "1": "true", "0": "false", "y": "true", "n": "false",
                  "yes": "true", "no": "false", "t": "true", "f": "false", "是": "true", "否": "false",
                  "有": "true", "无": "false"}


def _normalizer(f: FieldSpec) -> Callable[[pa.Array], pa.Array]:
    if f.format:
        return field_format(f.format).normalize
    if f.type == "date":
        return formats.normalize_dates
    if f.type == "datetime":
        return formats.normalize_datetimes
    if f.type == "boolean":
        return _normalize_boolean
    if f.type in ("integer", "decimal"):
        return _normalize_number
    return formats.normalize_text


def _normalize_boolean(values: pa.Array) -> pa.Array:
    text = formats.normalize_text(values)
    lower = pc.utf8_lower(text)
    keys = pa.array(list(_BOOLEAN_WORDS), type=pa.string())
    idx = pc.index_in(lower, value_set=keys)
    mapped = pc.take(pa.array(list(_BOOLEAN_WORDS.values()), type=pa.string()), idx)
    return pc.if_else(pc.is_null(idx), text, mapped)


def _normalize_number(values: pa.Array) -> pa.Array:
    # Thousands separators are a spelling, not a value: "1,200" is 1200.
    text = formats.normalize_text(values)
    grouped = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?$"), False)
    return pc.if_else(grouped, pc.replace_substring(text, ",", ""), text)


def _apply_value_map(values: pa.Array, m: ColumnMapping) -> tuple[pa.Array, pa.Array | None]:
    """Translate agency codes; return (values, mask of strict misses or None)."""
    assert m.values is not None
    keys = pa.array(list(m.values), type=pa.string())
    idx = pc.index_in(values, value_set=keys)
    mapped = pc.take(pa.array(list(m.values.values()), type=pa.string()), idx)
    miss = pc.and_(pc.is_valid(values), pc.is_null(idx))
    if m.strict_values:
        return pc.if_else(miss, pa.scalar(None, pa.string()), mapped), miss
    return pc.if_else(miss, values, mapped), None


@dataclass
class MappedChunk:
    """Canonical fields (strings) + meta columns, and the reasons found while mapping."""

    table: pa.Table
    reasons: dict[int, list[Reason]] = field(default_factory=dict)


class Mapper:
    """Maps the record batches of one feed onto its target schema."""

    def __init__(self, feed: FeedSpec, schema: EntitySchema) -> None:
        self.feed = feed
        self.schema = schema
        self.columns = feed.field_for_column()
        self.derive_key = feed.key != [SOURCE_RECORD_ID]

    def check_columns(self, available: list[str], source: str, notes: list[str] | None = None) -> None:
        """Every mapped column must exist in the source; say which are missing and what is there (and
        what the reader noticed: another sheet, ...)."""
        missing = [c for c in self.columns if c not in available]
        if missing:
            names = listed(repr(c) for c in missing)
            there = f"its {len(available):,} column(s) are: {listed(available)}" if available else "it has no column"
            noticed = "".join(f" Note: {n}." for n in notes or [])
            raise SourceError(
                f"feed {self.feed.feed_id}: {source}: mapped column(s) {names} not found in the source; "
                f"{there}.{noticed} Fix the export or the feed's mapping.", source=source)

    def map(self, batch: pa.RecordBatch | pa.Table) -> MappedChunk:
        n = batch.num_rows
        out: dict[str, pa.Array] = {}
        reasons: dict[int, list[Reason]] = defaultdict(list)
        for column, m in self.columns.items():
            f = self.schema.fields[m.field]
            raw = formats.as_string_array(batch.column(column))
            for i in pc.indices_nonzero(pc.fill_null(pc.match_substring(raw, NUL), False)).to_pylist():
                reasons[i].append(Reason(m.field, "parse.error", None, NUL_MESSAGE.format(column=column)))
            values = formats.normalize_text(raw)
            if m.values:
                values, miss = _apply_value_map(values, m)
                if miss is not None:
                    for i in pc.indices_nonzero(miss).to_pylist():
                        reasons[i].append(Reason(m.field, "mapping.value", raw[i].as_py(),
                                                 f"{GENERIC_MESSAGES['mapping.value']} (column {column!r})"))
            out[m.field] = _normalizer(f)(values)
        for name, value in self.feed.constants.items():
            out[name] = pa.array([value] * n, type=pa.string())
        if self.derive_key:
            parts = [out[k] for k in self.feed.key]
            out[SOURCE_RECORD_ID] = pc.binary_join_element_wise(*parts, KEY_SEPARATOR)
        if SOURCE_RECORD_ID in out:
            self._note_nul_keys(out[SOURCE_RECORD_ID], reasons)
        arrays = [out.get(name, pa.nulls(n, pa.string())) for name in self.schema.fields]
        names = list(self.schema.fields)
        for meta in META:
            arrays.append(batch.column(meta))
            names.append(meta)
        parse = batch.column("_parse_error")
        for i in pc.indices_nonzero(pc.is_valid(parse)).to_pylist():
            reasons[i].append(Reason(None, "parse.error", None, str(parse[i].as_py())))
        return MappedChunk(pa.table(arrays, names=names), dict(reasons))

    @staticmethod
    def _note_nul_keys(keys: pa.Array, reasons: dict[int, list[Reason]]) -> None:
        """A record key holding a NUL: its row's reason on the key says how quarantine shows the key."""
        for i in pc.indices_nonzero(pc.fill_null(pc.match_substring(keys, NUL), False)).to_pylist():
            rs = reasons[i]
            at = next((j for j, r in enumerate(rs) if r.field == SOURCE_RECORD_ID and r.rule == "parse.error"), None)
            if at is None:
                rs.append(Reason(SOURCE_RECORD_ID, "parse.error", None, KEY_NUL_MESSAGE + KEY_NUL_NOTE))
            else:
                rs[at] = dataclasses.replace(rs[at], message=rs[at].message + KEY_NUL_NOTE)


def show_nul(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text with each NUL character written as the six characters ``\\u0000``, for a quarantine column
    that is plain text (no warehouse text column can store a NUL; see ``KEY_NUL_NOTE``)."""
    return pc.replace_substring(values, NUL, NUL_SHOWN)
