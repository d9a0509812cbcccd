from __future__ import annotations

import pytest

from exchange.formats import check_phone, normalize_phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("13800138000", "13800138000"),
    (" 138 0013 8000 ", "13800138000"),
    ("138-0013-8000", "13800138000"),
    ("(138)00138000", "13800138000"),
    ("+86 138 0013 8000", "13800138000"),
    ("+86-13800138000", "13800138000"),
    ("0086 13800138000", "13800138000"),
    ("8613800138000", "13800138000"),
    ("１３８００１３８０００", "13800138000"),
    ("＋８６　１３８００１３８０００", "13800138000"),
    ("010-12345678", "010-12345678"),
    ("01012345678", "010-12345678"),
    ("(010)12345678", "010-12345678"),
    ("（０１０）１２３４５６７８", "010-12345678"),
    ("010 1234 5678", "010-12345678"),
    ("+86 10 12345678", "010-12345678"),
    ("+86 (0)10 12345678", "010-12345678"),
    ("021-1234567", "021-1234567"),
    ("02887654321", "028-87654321"),
    ("0755-12345678", "0755-12345678"),
    ("075512345678", "0755-12345678"),
    ("0086 755 1234 5678", "0755-12345678"),
    ("0571 8888888", "0571-8888888"),
    # left unchanged (after normalize_text) so the check reports the original
    ("12345678", "12345678"),
    ("400-800-1234", "400-800-1234"),
    ("010-12345678 转 123", "010-12345678 转 123"),
    ("12800138000", "12800138000"),
    ("phone: 13800138000", "phone: 13800138000"),
    ("", None),
    (None, None),
])
def test_normalize_phone(raw: str | None, expected: str | None) -> None:
    assert normalize_phone([raw]).to_pylist() == [expected]


def test_check_phone_kinds() -> None:
    values = ["13800138000", "19912345678", "010-12345678", "0755-1234567", "12800138000",
              "1380013800", "010-123456", "0755-123456789", "010 12345678", "+8613800138000", None]
    assert check_phone(values, kind="mobile").to_pylist() == [
        None, None, "phone.mobile", "phone.mobile", "phone.mobile", "phone.mobile", "phone.mobile",
        "phone.mobile", "phone.mobile", "phone.mobile", None]
    assert check_phone(values, kind="landline").to_pylist() == [
        "phone.landline", "phone.landline", None, None, "phone.landline", "phone.landline",
        "phone.landline", "phone.landline", "phone.landline", "phone.landline", None]
    assert check_phone(values).to_pylist() == [
        None, None, None, None, "phone.format", "phone.format", "phone.format", "phone.format",
        "phone.format", "phone.format", None]


def test_normalised_phones_pass_the_check() -> None:
    raw = ["+86 138 0013 8000", "（０１０）１２３４５６７８", "0086 755 1234 5678"]
    assert check_phone(normalize_phone(raw)).to_pylist() == [None, None, None]


def test_unknown_kind() -> None:
    with pytest.raises(ValueError, match="kind"):
        check_phone(["13800138000"], kind="fax")
