"""Unified social credit codes (GB 32100-2015, 统一社会信用代码).

18 characters from ``0123456789ABCDEFGHJKLMNPQRTUWXY`` (no I, O, S, V, Z):
1 registration authority (登记管理部门), 2 entity type (机构类别), 3-8 GB/T 2260 region
of the registrar, 9-17 organization code (GB 11714), 18 check character.

Rules (first failing wins):

- ``credit_code.format``: not 18 characters of the alphabet, or positions 2-8 are not
  all digits (the entity type and region code are numeric in every code GB 32100
  defines; python-stdnum's ``uscc.validate`` requires digits there too).
- ``credit_code.registrar``: the first character is not ``1``-``9``, ``A``, ``N`` or ``Y``
  (GB 32100 and its amendments: 1 机构编制, 2 外交, 3 司法行政, 4 文化, 5 民政,
  6 旅游, 7 宗教, 8 工会, 9 市场监管 (工商), A 中央军委改革和编制办公室, N 农业,
  Y 其他). python-stdnum is stricter (first 8 all digits) and so rejects real codes
  starting with A, N or Y; this rule follows the standard instead.
- ``credit_code.checksum``: the check character does not match.

python-stdnum 2.2 does not validate the embedded GB 11714 organization code, so no
rule is applied to positions 9-17 beyond the alphabet.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from exchange.formats.text import (
    as_string_array,
    bool_np,
    codes_to_array,
    fixed_width_bytes,
    normalize_text,
    remove_spaces,
)

__all__ = [
    "CREDIT_CODE_ALPHABET",
    "CREDIT_CODE_REASONS",
    "check_credit_code",
    "credit_code_check_char",
    "normalize_credit_code",
]

CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_REASONS = ("credit_code.format", "credit_code.registrar", "credit_code.checksum")
_REASON_CODES: tuple[str | None, ...] = (None, *CREDIT_CODE_REASONS)
_CLASS = "[0-9A-HJ-NPQRTUWXY]"
CREDIT_CODE_PATTERN = rf"^{_CLASS}[0-9]{{7}}{_CLASS}{{10}}$"
REGISTRARS = "123456789ANY"
_WEIGHTS = np.array([pow(3, i, 31) for i in range(17)], dtype=np.int64)
_VALUE = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(CREDIT_CODE_ALPHABET):
    _VALUE[ord(_c)] = _i
_REGISTRAR_OK = np.zeros(256, dtype=bool)
_REGISTRAR_OK[[ord(c) for c in REGISTRARS]] = True


def normalize_credit_code(values: Any) -> pa.StringArray:
    """normalize_text, upper-case (ASCII letters), remove internal spaces."""
    return remove_spaces(pc.ascii_upper(normalize_text(values)))


def _check_values(raw17: np.ndarray) -> np.ndarray:
    total = _VALUE[raw17] @ _WEIGHTS
    return (31 - total % 31) % 31


def credit_code_check_char(first17: Any) -> pa.StringArray:
    """GB 32100 check character for 17-character strings of the alphabet (null otherwise)."""
    arr = as_string_array(first17)
    ok = bool_np(pc.match_substring_regex(arr, rf"^{_CLASS}{{17}}$"))
    idx = np.flatnonzero(ok)
    index = np.zeros(len(arr), dtype=np.int8)
    if idx.size:
        index[idx] = _check_values(fixed_width_bytes(arr.take(pa.array(idx)), 17)) + 1
    return codes_to_array(index, (None, *CREDIT_CODE_ALPHABET))


def check_credit_code(codes: Any) -> pa.StringArray:
    """Reason codes: ``credit_code.format``, ``credit_code.registrar``, ``credit_code.checksum``."""
    arr = as_string_array(codes)
    reason = np.zeros(len(arr), dtype=np.int8)
    ok = bool_np(pc.match_substring_regex(arr, CREDIT_CODE_PATTERN))
    reason[bool_np(arr.is_valid()) & ~ok] = 1
    idx = np.flatnonzero(ok)
    if idx.size:
        raw = fixed_width_bytes(arr.take(pa.array(idx)), 18)
        sub = np.zeros(idx.size, dtype=np.int8)
        sub[_check_values(raw[:, :17]) != _VALUE[raw[:, 17]]] = 3
        sub[~_REGISTRAR_OK[raw[:, 0]]] = 2
        reason[idx] = sub
    return codes_to_array(reason, _REASON_CODES)
