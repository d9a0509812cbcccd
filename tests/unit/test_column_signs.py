"""A column of ID numbers a spreadsheet rounded is named in the batch report; a column of real ones
never is, even where a few real numbers end in 000 by chance."""

from __future__ import annotations

import random

import pyarrow as pa

from exchange.pipeline.column_signs import ColumnSigns
from exchange.spec.catalog import load_catalog
from tests.hostile.generate import id18

SCHEMA = load_catalog(feeds=False).schema("person")


def _signs(*chunks: list[str | None]) -> list[str]:
    signs = ColumnSigns.of({"身份证号": "id_number", "姓名": "name"}, SCHEMA)
    for values in chunks:
        signs.add(pa.table({"身份证号": pa.array(values, pa.string()), "姓名": pa.array(["x"] * len(values))}))
    return signs.notes()


def test_only_resident_id_columns_are_watched() -> None:
    assert ColumnSigns.of({"身份证号": "id_number", "姓名": "name", "电话": "phone"}, SCHEMA).columns == \
        {"身份证号": "id_number"}


def test_real_numbers_say_nothing_even_with_one_ending_in_000() -> None:
    rng = random.Random(7)
    real = [id18("610902", f"19{rng.randint(40, 99)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}", rng.randint(1, 999))
            for _ in range(5000)]
    real[17] = "610902198501040000"  # one odd number in 5,000 (sequence 000): not a column's sign
    assert _signs(real[:2500], real[2500:]) == []


def test_a_rounded_column_is_named_with_its_counts_and_cause_across_chunks() -> None:
    rounded = [id18("110105", "19850104", s)[:15] + "000" for s in range(1, 4)]
    notes = _signs([rounded[0], "", None, "110105199001020243"], [rounded[1], rounded[2], " 6.10902E+17 "])
    assert len(notes) == 1
    assert notes[0].startswith("column '身份证号' (id_number): 3 of its 5 ID numbers end in 000 and 1 is written "
                               "as a number in exponent form (like 6.10902E+17)")
    assert "Excel" in notes[0] and "formatted as text" in notes[0]


def test_one_value_in_exponent_form_is_enough() -> None:
    assert len(_signs(["110105199001020243"] * 50 + ["1.10105E+17"])) == 1


def test_a_float_s_full_digits_are_no_sign_of_a_spreadsheet() -> None:
    """JSON, Parquet and an .xlsx numeric cell give a float's digits (1.1010519900102024e+17): no note."""
    assert _signs(["1.1010519900102024e+17", "1.10105199001020240e17", "110105199001020243"]) == []
