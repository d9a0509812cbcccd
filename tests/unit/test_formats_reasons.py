"""Reason-code coverage and robustness of every format function on arbitrary input."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import ric

import exchange.formats as fmt
from exchange.formats import ALL_REASONS, REASON_MESSAGES

TODAY = datetime.date(2024, 6, 30)

CHECKS: dict[str, Callable[[Any], pa.Array]] = {
    "resident_id": lambda v: fmt.check_resident_id(v, ["M"] * len(v), today=TODAY),
    "credit_code": fmt.check_credit_code,
    "division": fmt.check_division_code,
    "division_hist": lambda v: fmt.check_division_code(v, allow_historical=True),
    "phone_any": fmt.check_phone,
    "phone_mobile": lambda v: fmt.check_phone(v, kind="mobile"),
    "phone_landline": lambda v: fmt.check_phone(v, kind="landline"),
    "plate": fmt.check_plate,
    "person_name": fmt.check_person_name,
    "date": lambda v: fmt.check_date(v, not_future=True, today=TODAY),
    "datetime": lambda v: fmt.check_datetime(v, not_future=True, today=TODAY),
    # the birth-date cross-check (a pair rule): every record here says it was born on 1900-01-01
    "resident_id_birth": lambda v: pa.compute.if_else(fmt.resident_id_birth_mismatch(v, ["1900-01-01"] * len(v)),
                                                      "resident_id.birth_mismatch", pa.scalar(None, pa.string())),
}
NORMALISERS: dict[str, Callable[[Any], pa.Array]] = {
    "text": fmt.normalize_text,
    "resident_id": fmt.normalize_resident_id,
    "person_name": fmt.normalize_person_name,
    "credit_code": fmt.normalize_credit_code,
    "division": fmt.normalize_division_code,
    "phone": fmt.normalize_phone,
    "dates": fmt.normalize_dates,
    "datetimes": fmt.normalize_datetimes,
}
OTHERS: dict[str, Callable[[Any], pa.Array]] = {
    "resident_id_check_char": fmt.resident_id_check_char,
    "credit_code_check_char": fmt.credit_code_check_char,
    "resident_id_birth_date": fmt.resident_id_birth_date,
    "resident_id_gender": fmt.resident_id_gender,
    "division_prefix": lambda v: fmt.division_prefix(v, "town"),
    "mask_resident_id": fmt.mask_resident_id,
    "mask_phone": fmt.mask_phone,
    "mask_name": fmt.mask_name,
    "mask_credit_code": fmt.mask_credit_code,
    "mask_generic": fmt.mask_generic,
}



def _rid(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "?")


# a corpus that triggers every reason code (the gender check expects "M" everywhere)
CORPUS = [
    "110105800101002", "1101051980", _rid("11010519800101001")[:-1] + "Y",
    _rid("11010519800230001"), _rid("11010520240701001"), _rid("99010519800101001"),
    _rid("11010519800101002"), _rid("11010519800101001"), _rid("11010519850104000"), _rid("11011019870101001"),
    _rid("11010519800101001")[:-1] + ("0" if _rid("11010519800101001")[-1] != "0" else "1"),
    "91110000600037341L", "Z1110000600037341L", "B1110000600037341L", "91110000600037341A",
    "110101", "110103", "990101", "1101",
    "13800138000", "010-12345678", "12345",
    "陕A12345", "广A12345", "渝I12345", "陕G1?345", "å¼ ä¸‰",
    "1990-01-02", "1980-02-30", "2999-01-01", "1990/1/2",
    "1990-01-02 08:00:00", "1990-01-02 24:00:00", "2999-01-01 00:00:00",
    "", "\u3000", "x" * 1000, None,
]


def test_every_reason_code_has_a_message() -> None:
    assert set(ALL_REASONS) == set(REASON_MESSAGES)
    assert all(isinstance(m, str) and len(m) > 10 for m in REASON_MESSAGES.values())
    assert fmt.reason_message("resident_id.checksum") == (
        "check character does not match the first 17 digits (ISO 7064 MOD 11-2)")


def test_every_reason_code_is_reachable_and_documented() -> None:
    seen: set[str] = set()
    for check in CHECKS.values():
        seen |= {code for code in check(CORPUS).to_pylist() if code is not None}
    assert seen == set(REASON_MESSAGES)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_checks_return_null_for_null(name: str) -> None:
    assert CHECKS[name]([None, None]).to_pylist() == [None, None]


text_lists = st.lists(st.one_of(st.none(), st.text(max_size=40),
                                st.text(alphabet="0123456789Xx-/.年月日 +（）()０１２３４５６７８９\u3000",
                                        max_size=20)),
                      max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=text_lists)
def test_arbitrary_unicode_never_crashes(values: list[str | None]) -> None:
    n = len(values)
    for name, check in CHECKS.items():
        result = check(values)
        assert isinstance(result, pa.StringArray), name
        assert len(result) == n, name
        for value, code in zip(values, result.to_pylist(), strict=True):
            assert code is None or code in REASON_MESSAGES, (name, code)
            if value is None:
                assert code is None, name
    for name, normalise in NORMALISERS.items():
        once = normalise(values)
        assert isinstance(once, pa.StringArray), name
        assert len(once) == n, name
        assert once.null_count >= sum(v is None for v in values)
        for check in CHECKS.values():
            assert len(check(once)) == n
    for name, fn in OTHERS.items():
        assert len(fn(values)) == n, name


@settings(max_examples=100, deadline=None)
@given(values=text_lists)
def test_normalize_text_is_idempotent(values: list[str | None]) -> None:
    once = fmt.normalize_text(values)
    assert fmt.normalize_text(once).equals(once)
