"""Person records: every person-bearing row of the warehouse in one shape.

Each canonical entity that names a person is mapped to the same columns (:data:`RECORD_SCHEMA`):
the record's identity ``(source_agency, entity, source_record_id, role)``, its lineage
(``batch_id``, ``loaded_at``) and the attributes the linker compares. Values are normalised
here, vectorised: ID numbers re-validated (legacy 15-digit numbers upgraded), birth date and
gender derived from a valid ID number where the record lacks them, phone numbers in one
spelling, addresses without the province/city prefix, names with their toneless and
"fuzzy" pinyin (zh/z, ch/c, sh/s, l/n, -ng/-n merged: the usual homophone confusions).

Records are read from the warehouse in bounded batches with plain SQL on the engine passed
in, so the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, inspect

from exchange.formats import (
    check_phone,
    check_resident_id,
    normalize_phone,
    normalize_resident_id,
    normalize_text,
    resident_id_birth_date,
    resident_id_gender,
    upgrade_legacy_resident_id,
)
from exchange.formats.pinyin import ROMAN, char_pinyin, name_tokens
from exchange.formats.resident_id import ID18_PATTERN
from exchange.formats.text import remove_spaces
from exchange.linking.store import stream_query
from exchange.spec.schema import UNVERIFIED_SUFFIX

log = logging.getLogger(__name__)

ATTRIBUTES = ("id_number", "name", "gender", "birth_date", "ethnicity", "phone", "address", "division_code",
              "household_number")
"""What a person record may say about a person (all optional but the name)."""

IDENTITY = ("source_agency", "entity", "source_record_id", "role")

RECORD_SCHEMA = pa.schema([
    ("source_agency", pa.string()), ("entity", pa.string()), ("source_record_id", pa.string()),
    ("role", pa.string()), ("batch_id", pa.string()), ("loaded_at", pa.string()),
    *[(a, pa.string()) for a in ATTRIBUTES],
    ("name_py", pa.string()), ("name_fpy", pa.string()),
    ("id_unverified", pa.string()), ("id_conflict", pa.bool_()),
    ("birth_from_id", pa.bool_()), ("gender_from_id", pa.bool_()),
])
"""``id_unverified``: an 18-character number the record holds but that is no key — kept unverified at
validation (check character, legacy form upgraded, gender or birth date contradiction) or a valid
number this record's own attributes contradict. Evidence for the model, never a key.
``id_conflict``: the record's own birth date or gender contradicts that number beyond a clerk's slip
(a number copied from another row): then it is no evidence either."""


@dataclass(frozen=True)
class RecordSource:
    """How one entity's rows become person records: which column holds which attribute."""

    entity: str
    role: str
    columns: dict[str, str]
    """attribute → column of ``core.<entity>``"""
    require_id: bool = False
    """Only rows whose ID column is filled (e.g. a respondent that may be an organization)."""

    @property
    def unverified_column(self) -> str | None:
        """Where the warehouse keeps this source's ID number when it failed its checks."""
        return f"{self.columns['id_number']}{UNVERIFIED_SUFFIX}" if "id_number" in self.columns else None

    def select_sql(self, schema: str, present: set[str] | None = None) -> str:
        """The source's records; ``present``: the table's columns, when known (the unverified column
        is read only where the warehouse has it)."""
        cols = [f"CAST({c} AS TEXT) AS {a}" if a == "birth_date" else f"{c} AS {a}"
                for a, c in self.columns.items()]
        unverified = self.unverified_column
        if unverified is not None and present is not None and unverified not in present:
            unverified = None  # a warehouse loaded before flagged ID numbers existed
        if unverified is not None:
            cols.append(f"{unverified} AS id_unverified")
        where = [f"{self.columns['name']} IS NOT NULL"]
        if self.require_id:
            held = [self.columns["id_number"], *([unverified] if unverified else [])]
            where.append("(" + " OR ".join(f"{c} IS NOT NULL" for c in held) + ")")
        table = f'{schema}."{self.entity}"' if schema else f'"{self.entity}"'
        return (f"SELECT source_agency, source_record_id, _batch_id AS batch_id, "
                f"CAST(_loaded_at AS TEXT) AS loaded_at, {', '.join(cols)} FROM {table} "
                f"WHERE {' AND '.join(where)}")


PERSON_SOURCES: tuple[RecordSource, ...] = (
    RecordSource("person", "subject", {a: a for a in ATTRIBUTES}),
    RecordSource("case_party", "subject", {"id_number": "id_number", "name": "name", "gender": "gender",
                                           "phone": "phone"}),
    RecordSource("special_population", "subject", {"id_number": "id_number", "name": "name",
                                                   "gender": "gender", "division_code": "division_code"}),
    RecordSource("dispute", "applicant", {"id_number": "applicant_id_number", "name": "applicant_name",
                                          "phone": "applicant_phone", "division_code": "division_code"}),
    RecordSource("dispute", "respondent", {"id_number": "respondent_id_number", "name": "respondent_name"},
                 require_id=True),
    RecordSource("household", "head", {"id_number": "head_id_number", "name": "head_name",
                                       "address": "address", "division_code": "division_code",
                                       "household_number": "household_number"}),
    RecordSource("organization", "legal_representative", {"id_number": "legal_rep_id_number",
                                                          "name": "legal_representative"}),
    RecordSource("vehicle", "owner", {"id_number": "owner_id_number", "name": "owner_name", "phone": "owner_phone",
                                      "division_code": "division_code"}, require_id=True),
)


def primary_role(entity: str) -> str:
    """The role of the first person an entity's rows name (``dispute`` → ``applicant``)."""
    for source in PERSON_SOURCES:
        if source.entity == entity:
            return source.role
    raise ValueError(f"{entity!r} is not a person-bearing entity "
                     f"(known: {', '.join(sorted({s.entity for s in PERSON_SOURCES}))})")


@dataclass
class SourceTables:
    """Where the person-bearing tables are: schema name (``core``) and which sources to read."""

    schema: str = "core"
    sources: tuple[RecordSource, ...] = PERSON_SOURCES
    batch_rows: int = 100_000
    skipped: list[str] = field(default_factory=list)


# -- normalisation -----------------------------------------------------------------------------

_ADDRESS_PREFIX = r"^(?:\p{Han}{2,3}(?:省|自治区))?(?:\p{Han}{2,4}市)?"


def surname_pinyin(names: pa.Array) -> pa.Array:
    """Fuzzy pinyin of the first character of Chinese names (劉 and 刘 agree, 陈 and 程 do not); else null."""
    out = []
    for name in names.to_pylist():
        first = name[:1] if name else ""
        out.append(char_pinyin(first)[1] if "\u3400" <= first <= "\u9fff" else None)
    return pa.array(out, pa.string())


def pinyin_columns(names: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Toneless and fuzzy pinyin of every name, and its pinyin words in a fixed order
    (:func:`name_tokens`), computed once per distinct name. A romanised name's pinyin is its letters."""
    encoded = pc.dictionary_encode(names)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    py, fpy, tok = [], [], []
    for name in encoded.dictionary.to_pylist():
        letters = name.replace(" ", "") if ROMAN.match(name) else name
        parts = [char_pinyin(c) for c in letters]
        py.append("".join(p for p, _ in parts))
        fpy.append("".join(f for _, f in parts))
        tok.append(name_tokens(name))
    indices = encoded.indices
    return (pa.array(py, pa.string()).take(indices), pa.array(fpy, pa.string()).take(indices),
            pa.array(tok, pa.string()).take(indices))


def normalize_id_numbers(values: Any, today: dt.date | None = None) -> pa.Array:
    """Valid 18-character ID numbers (legacy 15-digit ones upgraded), else null."""
    ids = upgrade_legacy_resident_id(normalize_resident_id(values))
    reasons = check_resident_id(ids, today=today)
    return pc.if_else(pc.is_null(reasons), ids, pa.scalar(None, pa.string()))


def beyond_variation(recorded: str, encoded: str) -> bool:
    """Two ``YYYY-MM-DD`` dates differ beyond a clerk's slip: more than one digit, and not month and
    day swapped."""
    if len(recorded) != len(encoded):
        return True
    if sum(a != b for a, b in zip(recorded, encoded, strict=True)) <= 1:
        return False
    return not (recorded[:4] == encoded[:4] and recorded[5:7] == encoded[8:10] and recorded[8:10] == encoded[5:7])


def contradicted(ids: pa.Array, gender: pa.Array, birth: pa.Array) -> pa.BooleanArray:
    """Where the record's own gender, or its birth date beyond a clerk's slip, contradicts the number."""
    id_gender = resident_id_gender(ids)
    id_birth = resident_id_birth_date(ids).cast(pa.string())
    gender_off = pc.fill_null(pc.not_equal(gender, id_gender), False)
    differs = pc.fill_null(pc.not_equal(birth, id_birth), False)
    birth_off = [False] * len(ids)
    for i in pc.indices_nonzero(differs).to_pylist():
        birth_off[i] = beyond_variation(birth[i].as_py(), id_birth[i].as_py())
    return pc.or_(gender_off, pa.array(birth_off, pa.bool_()))


def unverified_ids(values: Any) -> pa.Array:
    """Unverified numbers usable as evidence: 18 characters of the ID alphabet (legacy 15-digit numbers
    upgraded), else null — a number with a digit missing or letters in it says too little."""
    ids = upgrade_legacy_resident_id(normalize_resident_id(values))
    return pc.if_else(pc.fill_null(pc.match_substring_regex(ids, ID18_PATTERN), False), ids,
                      pa.scalar(None, pa.string()))


def normalize_records(table: pa.Table, today: dt.date | None = None, *, pinyin: bool = True) -> pa.Table:
    """Raw person records (string columns named after :data:`ATTRIBUTES`) → :data:`RECORD_SCHEMA`.

    ``pinyin=False`` leaves ``name_py``/``name_fpy`` null (a caller holding every record computes
    them once per distinct name instead of once per batch)."""
    n = table.num_rows
    null = pa.nulls(n, pa.string())

    def col(name: str) -> pa.Array:
        if name not in table.column_names:
            return null
        arr = table.column(name)
        arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
        return arr.cast(pa.string())

    ids = normalize_id_numbers(col("id_number"), today)
    raw_name = normalize_text(col("name"))
    roman = pc.match_substring_regex(raw_name, ROMAN.pattern)
    name = pc.if_else(pc.fill_null(roman, False), pc.utf8_title(raw_name), remove_spaces(raw_name))
    gender = pc.if_else(pc.is_in(col("gender"), pa.array(["M", "F"])), col("gender"), null)
    birth = pc.utf8_slice_codeunits(normalize_text(col("birth_date")), 0, 10)
    # a valid number the record itself contradicts is no key: it becomes evidence like an unverified one
    off = contradicted(ids, gender, birth)
    # (and an invalid number in the ID column itself, as a warehouse loaded before flagging may hold)
    unverified = pc.coalesce(unverified_ids(col("id_unverified")), pc.if_else(off, ids, null),
                             pc.if_else(pc.is_null(ids), unverified_ids(col("id_number")), null))
    ids = pc.if_else(off, null, ids)
    conflict = pc.or_(off, contradicted(unverified, gender, birth))
    # what a valid number encodes fills the record's gaps (an unverified one's may be the typo itself)
    gender_from_id = pc.and_(pc.is_null(gender), pc.is_valid(ids))
    birth_from_id = pc.and_(pc.is_null(birth), pc.is_valid(ids))
    gender = pc.coalesce(gender, resident_id_gender(ids))
    birth = pc.coalesce(birth, resident_id_birth_date(ids).cast(pa.string()))
    phone = normalize_phone(col("phone"))
    phone = pc.if_else(pc.is_null(check_phone(phone)), phone, null)
    address = remove_spaces(normalize_text(col("address")))
    address = pc.replace_substring_regex(address, _ADDRESS_PREFIX, "")
    address = pc.if_else(pc.equal(pc.utf8_length(address), 0), null, address)
    name_py, name_fpy = pinyin_columns(name)[:2] if pinyin else (null, null)
    out = {
        "source_agency": col("source_agency"), "entity": col("entity"),
        "source_record_id": col("source_record_id"), "role": col("role"),
        "batch_id": col("batch_id"), "loaded_at": col("loaded_at"),
        "id_number": ids, "name": name, "gender": gender, "birth_date": birth,
        "ethnicity": normalize_text(col("ethnicity")), "phone": phone, "address": address,
        "division_code": normalize_text(col("division_code")),
        "household_number": normalize_text(col("household_number")),
        "name_py": name_py, "name_fpy": name_fpy,
        "id_unverified": unverified, "id_conflict": pc.and_(conflict, pc.is_valid(unverified)),
        "birth_from_id": birth_from_id, "gender_from_id": gender_from_id,
    }
    return pa.table(out, schema=RECORD_SCHEMA)


# -- extraction --------------------------------------------------------------------------------

def _existing_tables(engine: Engine, schema: str) -> set[str]:
    try:
        return set(inspect(engine).get_table_names(schema=schema or None))
    except Exception:  # noqa: BLE001 - a missing schema means no tables yet
        return set()


def read_person_records(engine: Engine, tables: SourceTables | None = None,
                        today: dt.date | None = None, *, pinyin: bool = True) -> Iterator[pa.Table]:
    """Normalised person records of every source table present, in bounded batches."""
    tables = tables or SourceTables()
    present = _existing_tables(engine, tables.schema)
    for source in tables.sources:
        if source.entity not in present:
            tables.skipped.append(f"{tables.schema}.{source.entity}")
            continue
        columns = {c["name"] for c in inspect(engine).get_columns(source.entity, schema=tables.schema or None)}
        for raw in stream_query(engine, source.select_sql(tables.schema, columns), tables.batch_rows):
            n = raw.num_rows
            if not n:
                continue
            raw = raw.append_column("entity", pa.array([source.entity] * n, pa.string()))
            raw = raw.append_column("role", pa.array([source.role] * n, pa.string()))
            yield normalize_records(raw, today, pinyin=pinyin)
