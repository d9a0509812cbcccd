from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from exchange.formats import as_string_array, normalize_text


def test_as_string_array_accepts_common_inputs() -> None:
    expected = pa.array(["a", None, "b"], type=pa.string())
    for values in (
        ["a", None, "b"],
        ("a", None, "b"),
        pa.array(["a", None, "b"]),
        pa.array(["a", None, "b"], type=pa.large_string()),
        pa.array(["a", None, "b"]).dictionary_encode(),
        pa.chunked_array([["a"], [None, "b"]]),
        pa.chunked_array([pa.array(["a", None, "b"], type=pa.large_string())]),
        pd.Series(["a", None, "b"]),
        pd.Series(["a", np.nan, "b"], dtype=object),
        pd.Series(["a", None, "b"], dtype="string"),
        np.array(["a", None, "b"], dtype=object),
        (v for v in ["a", None, "b"]),
    ):
        result = as_string_array(values)
        assert isinstance(result, pa.StringArray), type(values)
        assert result.equals(expected), values


def test_as_string_array_gx_style_conversion() -> None:
    series = pd.Series(["x", None, float("nan")], dtype=object)
    result = as_string_array(pa.array(series, from_pandas=True))
    assert result.to_pylist() == ["x", None, None]


def test_as_string_array_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError):
        as_string_array("110101")


def test_as_string_array_empty_and_all_null() -> None:
    assert len(as_string_array([])) == 0
    assert as_string_array([None, None]).to_pylist() == [None, None]
    assert as_string_array(pa.nulls(3)).type == pa.string()


def test_normalize_text_full_width_and_spaces() -> None:
    values = [
        "ＡＢＣ１２３",  # full-width letters and digits
        "（０１０）－１２３４",  # full-width punctuation
        "\u3000张三\u3000",  # ideographic spaces around
        "\u00a0a\u00a0b\u00a0",  # NBSP
        "  keep Case  ",
        "",
        "   ",
        "\u3000",
        None,
        "～！＠",  # U+FF5E, U+FF01, U+FF20
        "｟",  # U+FF5F: outside the range, unchanged
        "中文不变",
    ]
    assert normalize_text(values).to_pylist() == [
        "ABC123", "(010)-1234", "张三", "a b", "keep Case", None, None, None, None, "~!@", "｟", "中文不变",
    ]


def test_normalize_text_sliced_input_keeps_alignment() -> None:
    arr = pa.array(["ｘ", None, " ａ ", "b", "\u3000c"])
    assert normalize_text(arr.slice(1, 3)).to_pylist() == [None, "a", "b"]
    assert normalize_text(arr.slice(2)).to_pylist() == ["a", "b", "c"]


def test_normalize_text_is_vectorised_over_large_input() -> None:
    values = pa.array(["１２３４５\u3000"] * 100_000 + [None] * 10)
    result = normalize_text(values)
    assert result[0].as_py() == "12345"
    assert result.null_count == 10


def test_normalize_text_maps_the_whole_full_width_block() -> None:
    full = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    ascii_ = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))
    assert ascii_ == "".join(chr(c) for c in range(0x21, 0x7F))
    assert normalize_text([full, "a" + full + "b"]).to_pylist() == [ascii_, "a" + ascii_ + "b"]
