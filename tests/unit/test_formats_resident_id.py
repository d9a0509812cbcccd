from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pytest
from stdnum.cn import ric

from exchange.formats import (
    check_resident_id,
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_check_char,
    resident_id_gender,
)

TODAY = datetime.date(2024, 6, 30)


def with_check(first17: str) -> str:
    """A complete number using python-stdnum's check digit (independent of our code)."""
    return first17 + ric.calc_check_digit(first17 + "?")


def digit_strings(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    digits = rng.integers(0, 10, size=(n, width), dtype=np.uint8) + ord("0")
    return digits.view(f"S{width}").ravel().astype(f"U{width}")


def test_check_char_matches_stdnum_on_100k_values() -> None:
    rng = np.random.default_rng(20240630)
    first17 = digit_strings(rng, 100_000, 17)
    ours = np.asarray(resident_id_check_char(pa.array(first17)).to_pylist())
    theirs = np.array([ric.calc_check_digit(v + "?") for v in first17])
    assert (ours == theirs).all()
    assert set(theirs) == set("0123456789X")


def test_check_char_of_invalid_input_is_null() -> None:
    values = ["1101011990010112", "1101011990010112a", None, "１１０１０１１９９００１０１１２３"]
    assert resident_id_check_char(values).to_pylist() == [None, None, None, None]


def test_all_eleven_check_characters_are_accepted() -> None:
    found: dict[str, str] = {}
    for seq in range(1, 1000):  # 000 is never issued (resident_id.sequence_000)
        number = with_check(f"11010119900307{seq:03d}")
        found.setdefault(number[-1], number)
        if len(found) == 11:
            break
    assert sorted(found) == sorted("0123456789X")
    numbers = list(found.values())
    assert all(ric.is_valid(n) for n in numbers)
    assert check_resident_id(numbers, today=TODAY).to_pylist() == [None] * 11


def test_lower_case_x_is_normalised_then_valid() -> None:
    number = next(with_check(f"11010519491231{s:03d}") for s in range(1000)
                  if with_check(f"11010519491231{s:03d}").endswith("X"))
    raw = [number[:-1] + "x", " " + number[:6] + " " + number[6:-1] + "x\u3000",
           "１１０１０５１９４９１２３１" + number[14:]]
    normalised = normalize_resident_id(raw)
    assert normalised.to_pylist() == [number, number, number]
    assert check_resident_id(normalised, today=TODAY).to_pylist() == [None, None, None]
    # without normalisation the lower-case x is a format error
    assert check_resident_id([number[:-1] + "x"], today=TODAY).to_pylist() == ["resident_id.format"]


def test_reason_codes_in_priority_order() -> None:
    valid = with_check("11010519800101002")  # 17th digit 2: female
    bad_check = valid[:-1] + ("0" if valid[-1] != "0" else "1")
    cases = {
        valid: None,
        "110105800101002": "resident_id.legacy_15",
        "11010519800101002": "resident_id.format",
        "1101051980010100211": "resident_id.format",
        "11010519800101002Y": "resident_id.format",
        "X10105198001010021": "resident_id.format",
        "": "resident_id.format",
        "１１０１０５１９８００１０１００２１": "resident_id.format",
        bad_check: "resident_id.checksum",
        with_check("11010519800230001"): "resident_id.birth_date",  # 1980-02-30
        with_check("11010519801301001"): "resident_id.birth_date",  # month 13
        with_check("11010518491231001"): "resident_id.birth_date",  # before 1850
        with_check("11010520240701001"): "resident_id.birth_future",  # after TODAY
        with_check("99010519800101001"): "resident_id.region",  # unknown province
        with_check("11019919800101001"): "resident_id.region",  # unknown county
    }
    result = check_resident_id(list(cases), today=TODAY).to_pylist()
    assert dict(zip(cases, result, strict=True)) == cases


def test_checksum_wins_over_later_rules() -> None:
    # bad date, unknown region and a wrong check character: checksum is reported
    number = with_check("99019919800230001")
    wrong = number[:-1] + ("1" if number[-1] != "1" else "2")
    assert check_resident_id([wrong], today=TODAY).to_pylist() == ["resident_id.checksum"]
    # bad date and unknown region: birth_date before region
    assert check_resident_id([number], today=TODAY).to_pylist() == ["resident_id.birth_date"]


def test_leap_days() -> None:
    numbers = [with_check("11010520000229001"), with_check("11010519000229001"),
               with_check("11010519960229001"), with_check("11010519970229001")]
    assert check_resident_id(numbers, today=TODAY).to_pylist() == [
        None, "resident_id.birth_date", None, "resident_id.birth_date"]


def test_future_birth_date_uses_today_default() -> None:
    tomorrow = datetime.date.today() + datetime.timedelta(days=1)
    number = with_check(f"110105{tomorrow:%Y%m%d}001")
    assert check_resident_id([number]).to_pylist() == ["resident_id.birth_future"]
    assert check_resident_id([number], today=tomorrow).to_pylist() == [None]


def test_abolished_region_is_accepted_in_id_numbers() -> None:
    # 110103 崇文区 was abolished in 2010 but numbers issued before remain valid
    number = with_check("11010319800101001")
    assert check_resident_id([number], today=TODAY).to_pylist() == [None]


def test_gender_parity() -> None:
    male = with_check("11010519800101001")  # 17th digit 1: odd → male
    female = with_check("11010519800101002")
    ids = [male, male, male, male, female, female, female, None, "123"]
    genders = ["M", "F", "U", None, "F", "M", "", "M", "F"]
    assert check_resident_id(ids, genders, today=TODAY).to_pylist() == [
        None, "resident_id.gender", None, None, None, "resident_id.gender", None, None, "resident_id.format"]
    with pytest.raises(ValueError, match="genders"):
        check_resident_id(ids, genders[:-1], today=TODAY)


def test_nulls_pass_through() -> None:
    assert check_resident_id([None, None], today=TODAY).to_pylist() == [None, None]
    assert check_resident_id(pa.nulls(2), ["M", "F"], today=TODAY).to_pylist() == [None, None]
    assert check_resident_id([], today=TODAY).to_pylist() == []
    assert normalize_resident_id([None, "", "  "]).to_pylist() == [None, None, None]


def test_sliced_and_chunked_inputs() -> None:
    valid = with_check("11010519800101002")
    arr = pa.array(["bad", valid, None, valid[:-1] + "Z", valid])
    assert check_resident_id(arr.slice(1, 3), today=TODAY).to_pylist() == [None, None, "resident_id.format"]
    chunked = pa.chunked_array([arr.slice(0, 2), arr.slice(2)])
    assert check_resident_id(chunked, today=TODAY).to_pylist() == [
        "resident_id.format", None, None, "resident_id.format", None]


def test_birth_date_and_gender_derivation() -> None:
    female = with_check("11010519491231002")
    ids = [female, "110105491231003", with_check("11010519800230001"), "bad", None,
           female[:-1] + "0" if female[-1] != "0" else female[:-1] + "1"]
    assert resident_id_birth_date(ids).to_pylist() == [
        datetime.date(1949, 12, 31), datetime.date(1949, 12, 31), None, None, None,
        datetime.date(1949, 12, 31)]
    assert resident_id_birth_date(ids).type == pa.date32()
    assert resident_id_gender(ids).to_pylist() == ["F", "M", "M", None, None, "F"]


def test_agrees_with_stdnum_on_random_numbers() -> None:
    """Where python-stdnum accepts a number, we accept it; checksum verdicts agree."""
    from exchange.formats import load_division_codes

    rng = np.random.default_rng(7)
    codes = np.array(load_division_codes().codes())
    n = 3000
    region = rng.choice(codes, n)
    days = rng.integers(-25000, 19000, n).astype("datetime64[D]")
    birth = np.char.replace(np.datetime_as_string(days), "-", "")
    seq = digit_strings(rng, n, 3)
    first17 = np.char.add(np.char.add(region, birth), seq)
    checks = np.array([ric.calc_check_digit(v + "?") for v in first17])
    corrupt = rng.random(n) < 0.3
    checks[corrupt] = rng.choice(list("0123456789X"), int(corrupt.sum()))
    ids = np.char.add(first17, checks).tolist()
    ours = check_resident_id(ids, today=TODAY).to_pylist()
    for number, reason in zip(ids, ours, strict=True):
        try:
            ric.validate(number)
            stdnum_reason = None
        except ric.InvalidChecksum:
            stdnum_reason = "checksum"
        except ric.ValidationError:
            stdnum_reason = "other"
        if stdnum_reason is None:
            assert reason is None, number
        assert (reason == "resident_id.checksum") == (stdnum_reason == "checksum"), number


def test_scalar_check_char_is_the_vectorised_one() -> None:
    import random

    from exchange.formats import check_char_of, resident_id_check_char

    rng = random.Random(11643)
    first17 = [f"{rng.randrange(10**17):017d}" for _ in range(5_000)]
    assert [check_char_of(v) for v in first17] == resident_id_check_char(first17).to_pylist()
    with pytest.raises(ValueError, match="17 digits"):
        check_char_of("6109021990010112")


def test_separators_between_digit_groups_are_removed_like_spaces() -> None:
    from exchange.formats.resident_id import normalize_resident_id

    typed = ["110105-19850104-0027", "110105\u201319850104\u20130027", "110105 19850104 0027",
             "110105\u00a019850104\t0027", "110105\uff0d19850104\uff0d0027", "110105198501040027"]
    assert normalize_resident_id(typed).to_pylist() == ["110105198501040027"] * len(typed)


def test_a_sequence_code_of_000_is_its_own_reason() -> None:
    padded = with_check("11010519850104000")  # what Excel leaves of a number it rounded to 15 digits
    assert check_resident_id([padded], today=TODAY).to_pylist() == ["resident_id.sequence_000"]
    assert check_resident_id([with_check("11010519850104001")], today=TODAY).to_pylist() == [None]


def test_a_county_abolished_before_the_birth_date_cannot_have_issued_the_number() -> None:
    # 110110 燕山区 was abolished in 1986 (the division list's validity years)
    assert check_resident_id([with_check("11011019800101001"), with_check("11011019860101001"),
                              with_check("11011019870101001")], today=TODAY).to_pylist() == [
        None, None, "resident_id.region_expired"]
