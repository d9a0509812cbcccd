"""Plate numbers (exchange.formats.plate), case by case: what a clerk or a camera writes, what it
normalises to, and whether the plate can exist — with the reason when it cannot."""

from __future__ import annotations

import pytest

from exchange.formats import check_plate, normalize_plate

CASES = [
    # (written, normalised, reason or None, why the case is here)
    ("陕A12345", "陕A12345", None, "ordinary plate"),
    ("陕a12345", "陕A12345", None, "lower-case letters from a form"),
    ("陕A·12345", "陕A12345", None, "the middle dot printed on the plate"),
    ("陕A 123 45", "陕A12345", None, "spaces typed between groups"),
    ("陕Ａ１２３４５", "陕A12345", None, "full-width letters and digits"),
    ("京AD12345", "京AD12345", None, "small new-energy car, battery-electric (D)"),
    ("粤BFA1234", "粤BFA1234", None, "small new-energy car, a letter after the F"),
    ("粤BF1A234", "粤BF1A234", "plate.format", "new-energy plate with a letter among its last four"),
    ("沪A12345F", "沪A12345F", None, "large new-energy vehicle (5 digits + F)"),
    ("粤B1234学", "粤B1234学", None, "driving-school car"),
    ("苏E1234挂", "苏E1234挂", None, "trailer"),
    ("粤Z1234港", "粤Z1234港", None, "cross-border Hong Kong plate"),
    ("使123456", "使123456", None, "embassy plate"),
    ("渝I12345", "渝I12345", "plate.letters", "I is never issued (reads as 1)"),
    ("陕AO1234", "陕AO1234", "plate.letters", "O is never issued (reads as 0)"),
    ("广A12345", "广A12345", "plate.province", "广 is a city's first character, not Guangdong's 粤"),
    ("台A12345", "台A12345", "plate.province", "no mainland province abbreviation"),
    ("陕A1234", "陕A1234", "plate.format", "one character short"),
    ("陕A1234567", "陕A1234567", "plate.format", "too long"),
    ("陕AD1234X", "陕AD1234X", "plate.format", "new-energy plate ending in a letter"),
    ("陕A12D345", "陕A12D345", "plate.format", "D in the wrong place"),
    ("陕G1?345", "陕G1?345", "plate.format", "a character the camera could not read"),
    ("A12345", "A12345", "plate.format", "province missing"),
    ("12345", "12345", "plate.format", "digits only"),
    ("", None, None, "empty: a missing value, not a bad one"),
    (None, None, None, "null"),
]


@pytest.mark.parametrize(("written", "normalised", "reason", "why"), CASES, ids=[c[3] for c in CASES])
def test_plate(written: str | None, normalised: str | None, reason: str | None, why: str) -> None:
    got = normalize_plate([written])
    assert got.to_pylist() == [normalised], why
    assert check_plate(got).to_pylist() == [reason], why
