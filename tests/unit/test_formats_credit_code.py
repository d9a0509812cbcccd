from __future__ import annotations

import numpy as np
import pyarrow as pa
from stdnum.cn import uscc

from exchange.formats import (
    CREDIT_CODE_ALPHABET,
    check_credit_code,
    credit_code_check_char,
    normalize_credit_code,
)


def with_check(first17: str) -> str:
    """A complete code using python-stdnum's check character (independent of our code)."""
    return first17 + uscc.calc_check_digit(first17)


def test_weights_and_alphabet() -> None:
    assert len(CREDIT_CODE_ALPHABET) == 31
    assert not set("IOSVZ") & set(CREDIT_CODE_ALPHABET)


def test_check_char_matches_stdnum_on_100k_values() -> None:
    rng = np.random.default_rng(32100)
    table = np.frombuffer(CREDIT_CODE_ALPHABET.encode(), dtype=np.uint8)
    first17 = table[rng.integers(0, 31, size=(100_000, 17))].view("S17").ravel().astype("U17")
    ours = np.asarray(credit_code_check_char(pa.array(first17)).to_pylist())
    theirs = np.array([uscc.calc_check_digit(v) for v in first17])
    assert (ours == theirs).all()
    assert set(theirs) == set(CREDIT_CODE_ALPHABET)


def test_check_char_of_invalid_input_is_null() -> None:
    assert credit_code_check_char(["9111000060003734", "911100006000373I1", None, "91110000600037341L"]
                                  ).to_pylist() == [None, None, None, None]


def test_known_good_codes() -> None:
    codes = [
        "91110000600037341L",  # python-stdnum's documented valid example
        with_check("11100000000013127"),  # 1: organ (机构编制)
        with_check("52100000500021676"),  # 5: social organisation (民政)
        with_check("A1110000MA0000001"),  # A: central military commission
        with_check("N2370100MA0000001"),  # N: agriculture (rural collective)
        with_check("Y1110000MA0000001"),  # Y: other
        with_check("93440300MA5EXAMPL"),  # letters of the alphabet in the organization code
    ]
    assert check_credit_code(codes).to_pylist() == [None] * len(codes)


def test_reason_codes() -> None:
    good = "91110000600037341L"
    cases = {
        good: None,
        good[:-1]: "credit_code.format",
        good + "0": "credit_code.format",
        "91110000600037341I": "credit_code.format",
        "9111000060003734OL": "credit_code.format",
        "911100006000373S1L": "credit_code.format",
        "91110000600037V41L": "credit_code.format",
        "Z1110000600037341L": "credit_code.format",
        "91110000600037341l": "credit_code.format",  # not normalised
        "9A110000600037341L": "credit_code.format",  # entity type must be a digit
        "911100A0600037341L": "credit_code.format",  # region must be digits
        "": "credit_code.format",
        with_check("01110000600037341"): "credit_code.registrar",
        with_check("B1110000600037341"): "credit_code.registrar",
        with_check("M1110000600037341"): "credit_code.registrar",
        "91110000600037341A": "credit_code.checksum",
        "A1110000600037341L": "credit_code.checksum",
        # registrar is reported before a checksum error
        "B1110000600037341L": "credit_code.registrar",
    }
    result = check_credit_code(list(cases)).to_pylist()
    assert dict(zip(cases, result, strict=True)) == cases


def test_normalise_then_check() -> None:
    raw = [" 9111 0000 6000 3734 1l ", "９１１１００００６０００３７３４１ｌ", None, "   "]
    normalised = normalize_credit_code(raw)
    assert normalised.to_pylist() == ["91110000600037341L", "91110000600037341L", None, None]
    assert check_credit_code(normalised).to_pylist() == [None, None, None, None]


def test_stdnum_agrees_on_digit_registrars() -> None:
    rng = np.random.default_rng(5)
    table = np.frombuffer(CREDIT_CODE_ALPHABET.encode(), dtype=np.uint8)
    body = table[rng.integers(0, 31, size=(2000, 10))].view("S10").ravel().astype("U10")
    head = (rng.integers(1, 10, 2000).astype(str).astype(object)
            + np.char.zfill(rng.integers(0, 10**7, 2000).astype(str), 7).astype(object))
    first17 = [h + b[:9] for h, b in zip(head, body, strict=True)]
    codes = [f + (uscc.calc_check_digit(f) if i % 3 else b[9]) for i, (f, b) in enumerate(zip(first17, body,
                                                                                               strict=True))]
    ours = check_credit_code(codes).to_pylist()
    assert [r is None for r in ours] == [uscc.is_valid(c) for c in codes]
