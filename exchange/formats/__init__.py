"""Vectorised format rules (numpy + pyarrow): normalise, check, derive and mask.

Every function accepts a ``pa.Array``, ``pa.ChunkedArray`` or a sequence / pandas
Series of ``str``/``None`` and returns a ``pa.Array`` of the same length. Check
functions return reason codes (see :data:`REASON_MESSAGES`): null where the value is
valid or null, else the code of the first failing rule.
"""

from __future__ import annotations

from exchange.formats.credit_code import (
    CREDIT_CODE_ALPHABET,
    CREDIT_CODE_REASONS,
    check_credit_code,
    credit_code_check_char,
    normalize_credit_code,
)
from exchange.formats.dates import DATE_REASONS, check_date, normalize_dates
from exchange.formats.datetimes import DATETIME_REASONS, check_datetime, normalize_datetimes
from exchange.formats.division import (
    DIVISION_REASONS,
    DivisionCodes,
    DivisionRecord,
    check_division_code,
    division_prefix,
    load_division_codes,
    normalize_division_code,
)
from exchange.formats.masking import (
    mask_credit_code,
    mask_generic,
    mask_name,
    mask_phone,
    mask_resident_id,
    mask_value,
    scrub_identifiers,
)
from exchange.formats.person_name import PERSON_NAME_REASONS, check_person_name, normalize_person_name
from exchange.formats.phone import PHONE_REASONS, check_phone, normalize_phone
from exchange.formats.plate import PLATE_REASONS, PROVINCES, check_plate, normalize_plate
from exchange.formats.reasons import REASON_MESSAGES, reason_message
from exchange.formats.resident_id import (
    RESIDENT_ID_REASONS,
    check_char_of,
    check_resident_id,
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_birth_mismatch,
    resident_id_check_char,
    resident_id_gender,
    upgrade_legacy_resident_id,
)
from exchange.formats.text import as_string_array, normalize_text

ALL_REASONS: tuple[str, ...] = (
    RESIDENT_ID_REASONS + CREDIT_CODE_REASONS + DIVISION_REASONS + PHONE_REASONS + PLATE_REASONS + DATE_REASONS
    + DATETIME_REASONS + PERSON_NAME_REASONS
)

__all__ = [
    "ALL_REASONS",
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_REASONS",
    "DATETIME_REASONS",
    "DATE_REASONS",
    "DIVISION_REASONS",
    "PERSON_NAME_REASONS",
    "PHONE_REASONS",
    "PLATE_REASONS",
    "PROVINCES",
    "REASON_MESSAGES",
    "RESIDENT_ID_REASONS",
    "DivisionCodes",
    "DivisionRecord",
    "as_string_array",
    "check_char_of",
    "check_credit_code",
    "check_date",
    "check_datetime",
    "check_division_code",
    "check_person_name",
    "check_phone",
    "check_plate",
    "check_resident_id",
    "credit_code_check_char",
    "division_prefix",
    "load_division_codes",
    "mask_credit_code",
    "mask_generic",
    "mask_name",
    "mask_phone",
    "mask_resident_id",
    "mask_value",
    "normalize_credit_code",
    "normalize_dates",
    "normalize_datetimes",
    "normalize_division_code",
    "normalize_person_name",
    "normalize_phone",
    "normalize_plate",
    "normalize_resident_id",
    "normalize_text",
    "reason_message",
    "resident_id_birth_date",
    "resident_id_birth_mismatch",
    "resident_id_check_char",
    "resident_id_gender",
    "scrub_identifiers",
    "upgrade_legacy_resident_id",
]
