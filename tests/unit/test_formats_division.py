from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from exchange.errors import ConfigError
from exchange.formats import (
    DivisionCodes,
    check_division_code,
    division_prefix,
    load_division_codes,
    normalize_division_code,
)
from exchange.formats.division import read_division_csv


@pytest.fixture(scope="module")
def divisions() -> DivisionCodes:
    return load_division_codes()


def test_scalar_lookups(divisions: DivisionCodes) -> None:
    assert divisions.is_known("110101")
    assert divisions.is_current("110101")
    assert divisions.name("110101") == "东城区"
    assert divisions.is_known("110103")
    assert not divisions.is_current("110103")
    assert divisions.name("110103") == "崇文区"
    assert not divisions.is_known("990101")
    assert not divisions.is_current("990101")
    assert not divisions.is_known("11010")
    assert not divisions.is_known("abcdef")
    assert divisions.name("990101") is None


def test_renamed_code_keeps_current_name(divisions: DivisionCodes) -> None:
    # 130502: 桥东区 until 2019, 襄都区 since 2020
    assert divisions.is_current("130502")
    assert divisions.name("130502") == "襄都区"
    assert [p.name for p in divisions.periods("130502")] == ["桥东区", "襄都区"]


def test_vectorised_masks(divisions: DivisionCodes) -> None:
    codes = ["110101", "110103", "990101", None, "11010", "1101011", "ab0101"]
    assert divisions.known_mask(codes).to_pylist() == [True, True, False, None, False, False, False]
    assert divisions.current_mask(pa.array(codes)).to_pylist() == [True, False, False, None, False, False,
                                                                   False]


def test_load_is_cached() -> None:
    assert load_division_codes() is load_division_codes()


def test_check_division_code(divisions: DivisionCodes) -> None:
    cases = {
        "110101": None,  # current county
        "110000": None,  # province
        "110100": None,  # prefecture
        "110101001": None,  # town / street
        "110101001001": None,  # community / village
        "441900003": None,  # town directly under a prefecture-level city (东莞)
        "110103": "division_code.abolished",
        "110103001": "division_code.abolished",
        "990101": "division_code.unknown",
        "110199001001": "division_code.unknown",
        "11010": "division_code.format",
        "1101010": "division_code.format",
        "1101010011": "division_code.format",
        "11010100100": "division_code.format",
        "1101010010011": "division_code.format",
        "110 101": "division_code.format",
        "１１０１０１": "division_code.format",
        "": "division_code.format",
        None: None,
    }
    result = check_division_code(list(cases), divisions=divisions).to_pylist()
    assert dict(zip(cases, result, strict=True)) == cases
    assert check_division_code(["110103", "110103001", "990101"], allow_historical=True).to_pylist() == [
        None, None, "division_code.unknown"]


def test_normalize_division_code() -> None:
    assert normalize_division_code([" 110 101 ", "１１０１０１", "\u3000", None]).to_pylist() == [
        "110101", "110101", None, None]


def test_division_prefix() -> None:
    codes = ["110101001002", "110101", "11", None]
    assert division_prefix(codes, "city").to_pylist() == ["1101", "1101", None, None]
    assert division_prefix(codes, "district").to_pylist() == ["110101", "110101", None, None]
    assert division_prefix(codes, "town").to_pylist() == ["110101001", None, None, None]
    assert division_prefix(codes, "community").to_pylist() == ["110101001002", None, None, None]
    assert division_prefix(codes, "province").to_pylist() == ["11", "11", "11", None]
    with pytest.raises(ValueError, match="level"):
        division_prefix(codes, "village")


def test_missing_reference_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"gb2260\.csv.*python scripts/gen_gb2260\.py"):
        load_division_codes(tmp_path / "gb2260.csv")


@pytest.mark.parametrize("content", [
    "",
    "# only comments\n",
    "code,name\n110101,东城区\n",
    "code,name,province,level,valid_from,valid_to,status\n",
    "code,name,province,level,valid_from,valid_to,status\n11010,东城区,北京市,county,,,current\n",
    "code,name,province,level,valid_from,valid_to,status\n110101,东城区,北京市,county,,,gone\n",
    "code,name,province,level,valid_from,valid_to,status\n110101,东城区,北京市,county,19x,,current\n",
    "code,name,province,level,valid_from,valid_to,status\n110101,东城区,北京市\n",
])
def test_malformed_reference_file_is_a_config_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "gb2260.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"gb2260\.csv.*gen_gb2260\.py"):
        read_division_csv(path)


def test_small_custom_table(tmp_path: Path) -> None:
    path = tmp_path / "mini.csv"
    path.write_text("# comment, with a comma\ncode,name,province,level,valid_from,valid_to,status\n"
                    "110101,东城区,北京市,county,,,current\n"
                    "110103,崇文区,北京市,county,,2010,abolished\n", encoding="utf-8")
    mini = load_division_codes(path)
    assert len(mini) == 2
    assert check_division_code(["110101", "110103", "110102"], divisions=mini).to_pylist() == [
        None, "division_code.abolished", "division_code.unknown"]
